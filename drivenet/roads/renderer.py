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

from dataclasses import dataclass

import numpy as np

from drivenet.roads.track import Pose, Track

LUMA = np.array([0.299, 0.587, 0.114])  # grey value of an RGB colour (ITU-R 601)


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


def coverage(half_width: float | np.ndarray, d: np.ndarray, footprint: np.ndarray) -> np.ndarray:
    """Share of a pixel lying within `half_width` of the centre: a linear ramp one footprint wide."""
    return np.clip((half_width - d) / footprint + 0.5, 0.0, 1.0)


class RoadRenderer:
    """Renders uint8 RGB frames of a track seen from a camera at any pose; row geometry is precomputed."""

    view_distance = 120.0  # metres of road ahead that are drawn

    def __init__(self, camera: Camera | None = None) -> None:
        self.camera = cam = camera or Camera()
        f, alpha = cam.focal, cam.pitch
        b = (np.arange(cam.height) + 0.5 - cam.height / 2) / f
        fall = b * np.cos(alpha) + np.sin(alpha)
        self.ground_rows = np.flatnonzero(fall > 1e-6)  # rows that see the ground
        t = cam.mount_height / fall[self.ground_rows]
        self.distance = (t * (np.cos(alpha) - b[self.ground_rows] * np.sin(alpha))).astype(np.float32)
        self.across = (t[:, None] / f * (np.arange(cam.width) + 0.5 - cam.width / 2)).astype(np.float32)
        self.footprint = (t / f).astype(np.float32)  # metres one pixel spans sideways, per ground row
        depth = np.abs(np.gradient(self.distance)) if len(self.distance) > 1 else self.distance
        self.depth_footprint = depth.astype(np.float32)  # metres one pixel spans forward, per row
        sky_rows = np.flatnonzero(fall <= 1e-6)  # 1 at the horizon, less towards the top: the glow of haze
        self.sky_shade = np.clip(1.0 - (sky_rows.max(initial=0) - sky_rows) / max(cam.height, 1), 0.0, 1.0)

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
        """The camera frame uint8 (H, W, 3) at `pose`, whose nearest centreline point is at arc length `s`."""
        cam = self.camera
        image = np.empty((cam.height, cam.width, 3), np.float32)
        sky, horizon_colour = np.array(look.sky, np.float32), np.array(look.sky, np.float32) * 0.85 + 0.15
        near = self.sky_shade[:, None, None]
        image[: len(self.sky_shade)] = horizon_colour * near + sky * (1 - near)
        image[self.ground_rows] = self._ground(track, pose, s, look, horizon_colour)
        image = (image - 0.5) * look.contrast + 0.5
        image *= look.gain * np.array(look.cast, np.float32)
        image += look.noise * rng.standard_normal(image.shape, dtype=np.float32)
        return (np.clip(image, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)

    def _ground(self, track: Track, pose: Pose, s: float, look: Look, haze_colour: np.ndarray) -> np.ndarray:
        """Colours (rows, W, 3) of the ground rows: off-road texture, shoulder, road, edge lines, haze."""
        road = self.road_in_view(track, pose, s)
        z = self.distance
        visible = z <= road["Z"][-1]
        centre = np.interp(z, road["Z"], road["X"])
        phi = np.interp(z, road["Z"], road["phi"])
        half = (np.interp(z, road["Z"], road["width"]) / 2).astype(np.float32)[:, None]
        along = np.interp(z, road["Z"], road["s"]).astype(np.float32)[:, None]
        cos = np.abs(np.cos(phi)).astype(np.float32)[:, None]
        d = np.abs(self.across - centre.astype(np.float32)[:, None]) * cos
        d[~visible] = 1e4  # beyond the drawn road: plain ground
        foot = np.maximum(self.footprint[:, None] * cos, 1e-3)

        scale, (p1, p2) = look.texture_scale, look.texture_phase
        blur = np.clip(1.0 - self.depth_footprint / scale, 0.0, 1.0)[:, None]
        pattern = np.sin(2 * np.pi * d / scale + p1) * np.sin(2 * np.pi * along / (1.7 * scale) + p2)
        colour = np.array(look.ground, np.float32) * (1.0 + look.texture * blur * pattern)[..., None]

        for width, paint in ((half + look.shoulder_width, look.shoulder), (half, look.road)):
            share = coverage(width, d, foot)[..., None]
            colour = colour * (1 - share) + np.array(paint, np.float32) * share
        if look.edge_lines:
            line = (coverage(half - 0.1, d, foot) - coverage(half - 0.25, d, foot))[..., None]
            colour = colour * (1 - line) + np.array(look.line, np.float32) * line
        haze = (1.0 - np.exp(-z / look.visibility))[:, None, None]
        return colour * (1 - haze) + haze_colour * haze
