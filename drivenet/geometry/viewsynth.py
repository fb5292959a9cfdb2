"""View synthesis: a recorded frame as the camera would have seen it from beside and turned away from
where it stood, and the steering that brings the car back (ALVINN's and PilotNet's recovery views).

Geometry (vehicle axes X right, Y down, Z forward; camera of `drivenet.geometry.camera`, pitched down by α):
the ray of camera direction (a, b, 1) runs along d = (a, b·cos α + sin α, cos α - b·sin α) in vehicle
axes. The new camera stands s metres right of the recorded one, turned ψ clockwise seen from above, so
a direction d' of the new car is R·d' = (d'_X cos ψ + d'_Z sin ψ, d'_Y, -d'_X sin ψ + d'_Z cos ψ) in
the recorded car's axes (and it may also stand `advance` metres further ahead).

- Below the horizon (d'_Y > 0) the ray meets flat ground at P' = (h / d'_Y)·d', which the recorded
  camera saw at P = R·P' + (s, 0, advance): a homography per pixel through the ground plane.
- At or above the horizon the scene is infinitely far, so only the rotation matters: P = R·d'.

P is projected into the recorded camera: (a, b) = (P_X, P_Y cos α - P_Z sin α) / (P_Y sin α + P_Z cos α),
then read with bilinear interpolation. Pixels whose source falls outside the recorded frame (or behind
it) repeat the nearest edge pixel and are marked in the `filled` mask.

A moved view's label is the recorded steering plus `recovery_steering`, the command that brings the car
back onto the recorded path in a given time; `RecoveryViews` draws random moves for training batches.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from drivenet.geometry.camera import PRESETS, CameraModel

EPS = 1e-6


@lru_cache(maxsize=32)
def _scene(camera: CameraModel, shape: tuple[int, int], rows: tuple[float, float]) -> tuple[Any, ...]:
    """What the recorded camera saw through each pixel of an (h, w) image covering raw rows `rows`, in
    vehicle axes: the ground point t·d (t = h / d_Y) below the horizon, the direction d above it
    (float32 (h, w) each for X, Y, Z), the ground mask as 0/1, and the projection's constants."""
    h, w = shape
    top, bottom = rows
    scale_x, scale_y = w / camera.width, h / ((bottom - top) * camera.height)
    u = (np.arange(w) + 0.5) / scale_x  # raw column coordinate of each pixel centre
    v = top * camera.height + (np.arange(h) + 0.5) / scale_y
    f, alpha = camera.focal, camera.pitch
    a = np.broadcast_to(((u - camera.width / 2) / f)[None, :], shape)
    b = np.broadcast_to(((v - camera.height / 2) / f)[:, None], shape)
    d_y = b * np.cos(alpha) + np.sin(alpha)
    ground = d_y > EPS
    t = np.where(ground, camera.mount_height / np.where(ground, d_y, 1.0), 1.0)  # 1: a direction, not a point
    points = (a * t, d_y * t, (np.cos(alpha) - b * np.sin(alpha)) * t, ground)
    projection = (  # u·scale_x - ½ and (v - top·H)·scale_y - ½ in image pixels, from the ratios
        f * scale_x,
        camera.width / 2 * scale_x - 0.5,
        f * scale_y,
        (camera.height / 2 - top * camera.height) * scale_y - 0.5,
    )
    return (*(np.ascontiguousarray(x, np.float32) for x in points), projection, alpha)


def source_pixels(
    camera: CameraModel,
    shape: tuple[int, int],
    shift_m: np.ndarray,
    yaw_deg: np.ndarray,
    rows: tuple[float, float] = (0.0, 1.0),
    advance_m: np.ndarray | float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where each pixel of the moved view lies in the recorded image: float32 rows and columns (N, h, w)
    in image pixel coordinates (0 = centre of the first pixel), and bool (N, h, w) behind the camera."""
    p_x, p_y, p_z, ground, (fx, cx, fy, cy), alpha = _scene(camera, shape, (float(rows[0]), float(rows[1])))
    column = (-1, 1, 1)
    psi = np.radians(np.asarray(yaw_deg, np.float64))
    cos_psi = np.cos(psi).astype(np.float32).reshape(column)
    sin_psi = np.sin(psi).astype(np.float32).reshape(column)
    shift = np.asarray(shift_m, np.float32).reshape(column)
    forward = np.asarray(advance_m, np.float32).reshape(column)
    x = p_x * cos_psi + p_z * sin_psi + shift * ground  # R·P + (s, 0, advance) on the ground
    z = p_z * cos_psi - p_x * sin_psi + forward * ground
    depth = p_y * np.float32(np.sin(alpha)) + z * np.float32(np.cos(alpha))
    behind = depth <= EPS
    np.maximum(depth, EPS, out=depth)
    down = p_y * np.float32(np.cos(alpha)) - z * np.float32(np.sin(alpha))
    return down / depth * np.float32(fy) + np.float32(cy), x / depth * np.float32(fx) + np.float32(cx), behind


def sample(images: np.ndarray, rws: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bilinear reading of uint8 images (N, h, w, C) at float positions (N, h, w); positions beyond the
    image take its nearest edge. Returns uint8 (N, h, w, C) and bool (N, h, w) outside the image."""
    n, h, w, c = images.shape
    outside = (rws < -0.5) | (rws > h - 0.5) | (cols < -0.5) | (cols > w - 0.5)
    wy = np.clip(rws, 0, h - 1, dtype=np.float32)
    wx = np.clip(cols, 0, w - 1, dtype=np.float32)
    top = np.minimum(np.floor(wy), max(h - 2, 0))  # the upper-left of the four pixels read
    left = np.minimum(np.floor(wx), max(w - 2, 0))
    wy -= top  # now the weights of the lower and the right pixels
    wx -= left
    index = np.intp if n * h * w >= 2**31 else np.int32
    base = top.astype(index)
    base *= w
    base += left.astype(index)
    base += (np.arange(n, dtype=index) * (h * w))[:, None, None]
    flat = images.reshape(n * h * w, c)

    def pixel(offset: int) -> np.ndarray:  # the pixels `offset` places after the upper-left ones
        return np.take(flat[offset:], base, axis=0).astype(np.float32)

    step_y, step_x = w * int(h > 1), int(w > 1)
    wy, wx = wy[..., None], wx[..., None]
    out = pixel(0)
    out += (pixel(step_x) - out) * wx  # the upper row, then the lower one, then between them
    low = pixel(step_y)
    low += (pixel(step_y + step_x) - low) * wx
    out += (low - out) * wy
    out += np.float32(0.5)
    return out.astype(np.uint8), outside


def warp(
    images: np.ndarray,
    camera: CameraModel,
    shift_m: float | np.ndarray,
    yaw_deg: float | np.ndarray,
    rows: tuple[float, float] = (0.0, 1.0),
    advance_m: float | np.ndarray = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """The views from a camera moved `shift_m` metres to the right and turned `yaw_deg` degrees to the
    right (clockwise seen from above) of where each image was taken.

    `images` uint8 (H, W, C) or (N, H, W, C), at any resolution, covering the raw frame's full width and
    the rows between the shares `rows` = (crop_top, 1 - crop_bottom) of its height (so cropped, resized
    cache images can be warped); `shift_m`, `yaw_deg` and `advance_m` (metres further ahead, 0 by
    default) scalars or (N,). Returns the warped images (same shape, uint8) and `filled` bool (N, H, W)
    (or (H, W)): pixels the recorded camera never saw, filled with the nearest edge pixel.
    """
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim not in (3, 4):
        raise ValueError(
            f"expected uint8 images (H, W, C) or (N, H, W, C), got {images.dtype} {images.shape}"
        )
    if not 0.0 <= rows[0] < rows[1] <= 1.0:
        raise ValueError(f"rows = {rows}: expected shares 0 <= crop_top < 1 - crop_bottom <= 1")
    single = images.ndim == 3
    batch = images[None] if single else images
    n, h, w, _ = batch.shape
    shift = np.broadcast_to(np.asarray(shift_m, np.float64), (n,))
    yaw = np.broadcast_to(np.asarray(yaw_deg, np.float64), (n,))
    advance = np.broadcast_to(np.asarray(advance_m, np.float64), (n,))
    rws, cols, behind = source_pixels(camera, (h, w), shift, yaw, rows, advance)
    warped, outside = sample(batch, rws, cols)
    filled = outside | behind
    return (warped[0], filled[0]) if single else (warped, filled)


def recovery_steering(
    shift_m: float | np.ndarray,
    yaw_deg: float | np.ndarray,
    speed_mps: float | np.ndarray,
    seconds: float = 2.0,
    camera: CameraModel | None = None,
    min_distance: float = 3.0,
) -> np.ndarray:
    """The steering change that brings a car `shift_m` right of the recorded path and turned `yaw_deg`
    right of it back onto the path in `seconds` (to ADD to the recorded steering; right of path ->
    negative).

    Kinematic bicycle model, path locally straight: the car aims at the path point D = max(v·T,
    `min_distance`) metres ahead, which in the car's axes lies at X = -s·cos ψ - D·sin ψ (right),
    Z = D·cos ψ - s·sin ψ (ahead); the arc tangent to the car's heading through it has curvature
    κ = 2X / (X² + Z²), driven by the front-wheel angle δ = atan(L·κ), i.e. steering δ / δ_max. L and δ_max
    are the camera model's (`camera`; None: the Udacity preset, L = 2.87 m, 25° at steering 1.0).
    Returns float32, scalar-shaped or (N,).
    """
    camera = camera or PRESETS["udacity"]
    s = np.asarray(shift_m, np.float64)
    psi = np.radians(np.asarray(yaw_deg, np.float64))
    distance = np.maximum(np.asarray(speed_mps, np.float64) * seconds, min_distance)
    x = -s * np.cos(psi) - distance * np.sin(psi)
    z = distance * np.cos(psi) - s * np.sin(psi)
    kappa = 2 * x / (x * x + z * z)
    return (np.arctan(camera.wheelbase * kappa) / camera.max_wheel_angle).astype(np.float32)


@dataclass(frozen=True)
class RecoveryViews:
    """Training augmentation (`augment.shift_m`, `augment.yaw_deg`): each image is seen from a camera
    moved sideways by s ~ N(0, shift_m²) metres and turned by ψ ~ N(0, yaw_deg²) degrees, and its label
    gains `recovery_steering(s, ψ, speed, seconds)`: PilotNet's recovery views.

    A clip's earlier frames, taken t_j seconds before, are seen from where that car stood then: driving
    at `speed` with heading error ψ it drifts sideways, so frame j is seen from s_j = s - v·t_j·sin ψ,
    turned ψ. The clip then shows the drift that the car's heading causes, as replay's own frames do,
    instead of a car gliding parallel to the path."""

    camera: CameraModel
    shift_m: float
    yaw_deg: float
    seconds: float
    speed: float

    def apply(
        self,
        images: np.ndarray,
        steering: np.ndarray,
        rng: np.random.Generator,
        rows: tuple[float, float],
        lags: np.ndarray | None = None,
        channels: int | None = None,
    ) -> None:
        """Warp a batch of images (N, H, W, C) covering raw rows `rows`, in place, and add the recovery
        steering to `steering` (N,). Clips, 1 + m frames of `channels` each (None: single images)
        stacked on the channel axis and taken `lags` (N, m) seconds before the first, share one draw,
        each frame seen from where the turned car stood then."""
        n, h, w, stacked = images.shape
        shift = rng.normal(0.0, self.shift_m, n) if self.shift_m > 0 else np.zeros(n)
        yaw = rng.normal(0.0, self.yaw_deg, n) if self.yaw_deg > 0 else np.zeros(n)
        lags = np.zeros((n, 0)) if lags is None else np.asarray(lags, np.float64)
        frames = 1 + lags.shape[1]
        if lags.shape[0] != n or frames * (channels or stacked) != stacked:
            raise ValueError(f"{n} clips of {stacked} channels do not hold {frames} frames of {channels}")
        behind = self.speed * np.concatenate([np.zeros((n, 1)), lags], axis=1)  # metres since each frame
        shifts = shift[:, None] - behind * np.sin(np.radians(yaw))[:, None]  # (n, frames)
        split = images.reshape(n, h, w, frames, stacked // frames).transpose(0, 3, 1, 2, 4)
        split = split.reshape(n * frames, h, w, -1)
        moved = warp(split, self.camera, shifts.ravel(), yaw.repeat(frames), rows)
        images[:] = moved[0].reshape(n, frames, h, w, -1).transpose(0, 2, 3, 1, 4).reshape(images.shape)
        steering += recovery_steering(shift, yaw, self.speed, self.seconds, self.camera)
