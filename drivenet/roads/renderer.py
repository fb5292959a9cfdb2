"""A forward camera looking at a procedural road, drawn with vectorised numpy (no per-pixel loops).

Pinhole model: a camera `mount_height` metres above flat ground, pitched down so the horizon falls
`horizon` of the way down the image. The ray through pixel (u, v) has camera direction
(a_u, b_v, 1) with a_u = (u + ½ - W/2)/f and b_v = (v + ½ - H/2)/f; pitched down by α it falls
g_v = b_v cos α + sin α per unit and runs z_v = cos α - b_v sin α forward, so it meets the ground
t_v = h / g_v along: Z_v = t_v z_v metres ahead and X_uv = t_v a_u metres to the right. Every image
row is therefore one distance Z_v, and the road's centre crosses it at one lateral position c(Z_v).
A pixel's distance from the road centre is d = (X - c)·cos φ (φ the road's direction relative to
the car), and each edge is blended over one pixel's ground footprint, which anti-aliases the road.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from drivenet.geometry.track import Pose, Track

LUMA = np.array([0.299, 0.587, 0.114])  # grey value of an RGB colour (ITU-R 601)
NOISE_SEED = 20240  # the bank of sensor-noise deviates every renderer draws windows from


@dataclass(frozen=True)
class Camera:
    """Image size (pixels), horizontal field of view, mounting height (m) and horizon position."""

    width: int = 320
    height: int = 160
    fov_degrees: float = 60.0
    mount_height: float = 1.4
    horizon: float = 0.3  # share of the image height above the horizon

    @property
    def focal(self) -> float:
        """Focal length in pixels: f = (W/2) / tan(fov/2)."""
        return self.width / 2 / np.tan(np.radians(self.fov_degrees) / 2)

    @property
    def pitch(self) -> float:
        """Downward tilt α that puts the horizon at row horizon·H: tan α = (H/2 - horizon·H) / f."""
        return float(np.arctan((0.5 - self.horizon) * self.height / self.focal))


@dataclass(frozen=True)
class Look:
    """Everything about a frame's appearance that is not geometry: colours (RGB in 0..1), markings,
    haze, texture, lighting and sensor noise."""

    sky: tuple[float, float, float] = (0.60, 0.72, 0.90)
    road: tuple[float, float, float] = (0.35, 0.35, 0.36)
    shoulder: tuple[float, float, float] = (0.55, 0.50, 0.42)
    ground: tuple[float, float, float] = (0.25, 0.45, 0.18)
    line: tuple[float, float, float] = (0.92, 0.92, 0.88)
    edge_lines: bool = True
    shoulder_width: float = 0.6  # metres of gravel beside the road
    visibility: float = 150.0  # metres at which haze hides 63% of the scene
    texture: float = 0.08  # strength of the ground's patchy texture
    texture_scale: float = 4.0  # metres
    texture_phase: tuple[float, float] = (0.0, 0.0)
    gain: float = 1.0  # overall brightness
    contrast: float = 1.0  # scale of deviations from mid-grey
    cast: tuple[float, float, float] = (1.0, 1.0, 1.0)  # white balance, per channel
    noise: float = 0.01  # standard deviation of per-pixel sensor noise

    @classmethod
    def random(cls, rng: np.random.Generator) -> Look:
        """A random but plausible appearance. The road is asphalt: darker in grey level than the ground
        (by >= 0.12) and than its gravel shoulder (by >= 0.06), so grey-scale inputs always show it with
        the same polarity, as on most real roads."""
        while True:
            road = rng.uniform(0.15, 0.45) + rng.normal(0.0, 0.02, 3)
            shoulder = rng.uniform(0.3, 0.7) * np.array([1.0, 0.93, 0.8]) + rng.normal(0.0, 0.03, 3)
            ground = rng.choice(GROUNDS) * rng.uniform(0.7, 1.3) + rng.normal(0.0, 0.03, 3)
            grey_road, grey_shoulder, grey_ground = (float(LUMA @ c) for c in (road, shoulder, ground))
            if grey_ground - grey_road >= 0.12 and grey_shoulder - grey_road >= 0.06:
                break
        sky = np.array([0.55, 0.7, 0.92]) * rng.uniform(0.8, 1.1) + rng.uniform(0.0, 0.3)
        return cls(
            sky=_rgb(sky),
            road=_rgb(road),
            shoulder=_rgb(shoulder),
            ground=_rgb(ground),
            line=_rgb(rng.choice([[0.92, 0.92, 0.88], [0.9, 0.78, 0.2]])),
            edge_lines=bool(rng.random() < 0.6),
            shoulder_width=float(rng.uniform(0.0, 1.2)),
            visibility=float(rng.uniform(60.0, 300.0)),
            texture=float(rng.uniform(0.0, 0.15)),
            texture_scale=float(rng.uniform(2.0, 8.0)),
            texture_phase=(float(rng.uniform(0, 2 * np.pi)), float(rng.uniform(0, 2 * np.pi))),
            gain=float(rng.uniform(0.6, 1.3)),
            contrast=float(rng.uniform(0.7, 1.2)),
            cast=_rgb(1.0 + rng.normal(0.0, 0.05, 3)),
            noise=float(rng.uniform(0.0, 0.04)),
        )


GROUNDS = np.array([[0.25, 0.45, 0.18], [0.45, 0.55, 0.25], [0.55, 0.48, 0.3], [0.42, 0.32, 0.22]])


def _rgb(values: np.ndarray | list[float]) -> tuple[float, float, float]:
    """A colour clipped to 0..1, as a plain tuple (Look is frozen and hashable)."""
    r, g, b = (float(v) for v in np.clip(values, 0.0, 1.0))
    return r, g, b


def clamp(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """`values` limited to [low, high] in place (np.clip's checks cost more than the work on small arrays)."""
    return np.minimum(np.maximum(values, low, out=values), high, out=values)


def noise_bank(size: int) -> np.ndarray:
    """Standard normal deviates float32, 1.5 x `size` of them, always the same: sensor noise is a window
    of these at a random offset, since drawing fresh ones would take longer than drawing the frame."""
    return np.random.default_rng(NOISE_SEED).standard_normal(size + size // 2, np.float32)


def noise_window(bank: np.ndarray, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """A window of `bank` in `shape`, at an offset drawn from `rng` (a read-only view)."""
    size = math.prod(shape)
    offset = int(rng.integers(len(bank) - size + 1))
    return bank[offset : offset + size].reshape(shape)


class RoadRenderer:
    """Renders frames of a track seen from a camera at any pose; everything that depends on the row
    only is precomputed.

    By default every pixel of the camera is drawn. `rows` (pixel-centre coordinates in the camera's
    frame, e.g. 48.5) and `columns` (a count spread evenly over the full width) draw a coarser or finer
    grid of the same view instead; each sample then blends edges over its own footprint.
    """

    view_distance = 120.0  # metres of road ahead that are drawn

    def __init__(
        self, camera: Camera | None = None, rows: np.ndarray | None = None, columns: int = 0
    ) -> None:
        self.camera = cam = camera or Camera()
        f, alpha = cam.focal, cam.pitch
        v = np.arange(cam.height) + 0.5 if rows is None else np.asarray(rows, np.float64)
        spacing = cam.width / columns if columns else 1.0  # camera pixels between sample columns
        u = (np.arange(columns or cam.width) + 0.5) * spacing
        self.shape = (len(v), len(u))
        fall = (v - cam.height / 2) / f * np.cos(alpha) + np.sin(alpha)
        ground = fall > 1e-6  # rows that see the ground: all below the horizon
        self.sky_rows = int(np.count_nonzero(~ground))
        t = cam.mount_height / fall[ground]
        b = (v[ground] - cam.height / 2) / f
        self.distance = (t * (np.cos(alpha) - b * np.sin(alpha))).astype(np.float32)
        self.sample_width = (t / f * spacing).astype(np.float32)  # metres one sample spans sideways
        self.columns = ((u - cam.width / 2) / spacing).astype(np.float32)  # in sample widths from centre
        # metres one camera pixel spans forward: |dZ/dv| = h / (f g_v²)
        self.depth_footprint = (cam.mount_height / (f * fall[ground] ** 2)).astype(np.float32)
        pixel_fall = (np.arange(cam.height) + 0.5 - cam.height / 2) / f * np.cos(alpha) + np.sin(alpha)
        last_sky = np.flatnonzero(pixel_fall <= 1e-6).max(initial=0)  # haze glows towards the horizon
        sky_v = v[~ground]
        self.sky_shade = np.clip(1.0 - (last_sky + 0.5 - sky_v) / cam.height, 0.0, 1.0).astype(np.float32)
        self.noise_bank = noise_bank(self.shape[0] * self.shape[1] * 3)

    def road_in_view(self, track: Track, pose: Pose, s: float) -> dict[str, np.ndarray]:
        """The centreline ahead in the car's frame, cut where it stops running away from the camera.

        Returns per-sample forward distance `Z` (increasing), lateral position `X`, relative
        direction `phi`, road `width` and arc length `s`.
        """
        lo, hi = np.searchsorted(track.s, [s - 5.0, s + self.view_distance])
        dx, dy = track.x[lo:hi] - pose.x, track.y[lo:hi] - pose.y
        sin, cos = np.sin(pose.heading), np.cos(pose.heading)
        ahead, right = dx * sin + dy * cos, dx * cos - dy * sin
        turning_back = np.flatnonzero(np.diff(ahead) <= 0)
        end = turning_back[0] + 1 if len(turning_back) else len(ahead)
        cut = slice(lo, lo + end)
        return {
            "Z": ahead[:end],
            "X": right[:end],
            "phi": track.heading[cut] - pose.heading,
            "width": track.width[cut],
            "s": track.s[cut],
        }

    def render(self, track: Track, pose: Pose, s: float, look: Look, rng: np.random.Generator) -> np.ndarray:
        """The camera frame uint8 (H, W, 3) at `pose`, whose nearest centreline point is at arc length `s`.

        Sensor noise is a window of a fixed bank of normal deviates, at an offset drawn from `rng`.
        """
        image = self.shade(track, pose, s, look)
        if look.noise > 0:
            image += noise_window(self.noise_bank, image.shape, rng) * np.float32(look.noise * 255)
        clamp(image, 0.0, 255.0)
        image += 0.5
        return image.astype(np.uint8)

    def shade(
        self, track: Track, pose: Pose, s: float, look: Look, mix: np.ndarray | None = None
    ) -> np.ndarray:
        """Noise-free grey levels float32 (rows, columns, 3), 0..255 before clipping; with `mix`
        (weights of the three channels), that mix (rows, columns, 1) of the paints clipped to 0..255.

        Every step after the blend of paints is affine per row and channel (haze, contrast, gain,
        colour cast): A(c) = c·L + K. The blend weights m_k sum to 1, so A(Σ m_k paint_k) =
        Σ m_k A(paint_k): one matrix product of the weight maps with the per-row paints.
        """
        image = np.empty((*self.shape, 3 if mix is None else 1), np.float32)
        sky, haze_colour = np.array(look.sky, np.float32), np.array(look.sky, np.float32) * 0.85 + 0.15
        sky_v = len(self.sky_shade)
        if sky_v:
            linear, constant = self._tone(look, np.zeros(sky_v, np.float32), haze_colour)
            near = self.sky_shade[:, None]
            colours = (haze_colour * near + sky * (1 - near)) * linear + constant
            if mix is not None:
                colours = clamp(colours, 0.0, 255.0) @ mix[:, None]
            image[:sky_v] = colours[:, None, :]
        if sky_v < self.shape[0]:
            weights, texture_row = self._paint_weights(track, pose, s, look)
            haze = (1.0 - np.exp(-self.distance / np.float32(look.visibility))).astype(np.float32)
            linear, constant = self._tone(look, haze, haze_colour)
            paints = np.array([look.ground, look.shoulder, look.road, look.line, look.ground], np.float32)
            per_row = paints * linear[:, None] + constant[:, None]  # (rows, 5, 3)
            per_row[:, 4] = paints[4] * linear * texture_row[:, None]
            if mix is not None:  # mixed channels cannot be clipped one by one later: clip each paint
                clamp(per_row[:, :4], 0.0, 255.0)
                per_row = per_row @ mix[:, None]
            np.matmul(weights, per_row, out=image[sky_v:])
        return image

    def _tone(self, look: Look, haze: np.ndarray, haze_colour: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per row and channel (L, K) of the affine tone A(c) = c·L + K, in grey levels: haze blends
        towards `haze_colour`, then contrast about mid-grey, gain and colour cast."""
        scale = np.float32(look.gain * 255) * np.array(look.cast, np.float32)
        linear = (1 - haze)[:, None] * (scale * np.float32(look.contrast))
        constant = ((haze[:, None] * haze_colour - 0.5) * np.float32(look.contrast) + 0.5) * scale
        return linear, constant

    def _paint_weights(self, track: Track, pose: Pose, s: float, look: Look) -> tuple[np.ndarray, np.ndarray]:
        """Weights float32 (ground rows, columns, 5) of ground, shoulder, road and line paint plus the
        texture term, and the texture's per-row amplitude.

        A sample at distance d from the road centre (d = |X - c|·cos φ) is covered by a band of half
        width w by a share clip((w - d)/foot + ½, 0, 1), foot the sample's width across the road.
        """
        road = self.road_in_view(track, pose, s)
        z = self.distance
        centre = np.interp(z, road["Z"], road["X"])
        cos = np.abs(np.cos(np.interp(z, road["Z"], road["phi"]))).astype(np.float32)
        half = (np.interp(z, road["Z"], road["width"]) / 2).astype(np.float32)
        along = np.interp(z, road["Z"], road["s"]).astype(np.float32)
        foot = np.maximum(self.sample_width * cos, np.float32(1e-3))
        # d / foot = |u - c/sample_width| · sample_width·cos/foot, with u the column in sample widths
        span = np.abs(self.columns - (centre / self.sample_width).astype(np.float32)[:, None])
        span *= (self.sample_width * cos / foot)[:, None]
        beyond = z > road["Z"][-1]
        span[beyond] = (1e4 / foot[beyond])[:, None]  # beyond the drawn road: plain ground

        def covered(width: np.ndarray) -> np.ndarray:
            share = (width / foot + np.float32(0.5))[:, None] - span
            return clamp(share, 0.0, 1.0)

        weights = np.empty((*span.shape, 5), np.float32)
        road_share, shoulder_share = covered(half), covered(half + np.float32(look.shoulder_width))
        if look.edge_lines:
            line = covered(half - np.float32(0.1))
            line -= covered(half - np.float32(0.25))
            weights[..., 3] = line
            kept = 1 - line
        else:
            weights[..., 3] = 0
            kept = np.ones_like(span)
        np.multiply(road_share, kept, out=weights[..., 2])
        kept -= weights[..., 2]  # (1 - road)(1 - line)
        np.multiply(shoulder_share, kept, out=weights[..., 1])
        np.subtract(kept, weights[..., 1], out=weights[..., 0])  # (1 - shoulder)(1 - road)(1 - line)

        scale, (p1, p2) = look.texture_scale, look.texture_phase
        blur = clamp(1.0 - self.depth_footprint / np.float32(scale), 0.0, 1.0)
        amplitude = (look.texture * blur * np.sin(2 * np.pi * along / (1.7 * scale) + p2)).astype(np.float32)
        if look.texture > 0:
            span *= (2 * np.pi * foot / scale)[:, None]
            span += np.float32(p1)
            np.multiply(np.sin(span, out=span), weights[..., 0], out=weights[..., 4])
        else:
            weights[..., 4] = 0
        return weights, amplitude
