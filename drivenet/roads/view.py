"""What a model sees of the road, rendered directly: only the rows its crop keeps, at a few samples per
input pixel, filtered down as preprocessing would filter a full camera frame.

`Preprocess` crops rows r0..r1 of a W x H frame and resizes the crop to w x h with Pillow's bilinear
filter: input pixel i is Σ_j t((y_j - y_i)/σ) F_j / Σ_j t(...), over camera pixel centres y_j, with
output centres y_i = (i + ½)·n/m (n camera pixels, m outputs, σ = max(n/m, 1)) and t(x) = max(0, 1 - |x|)
(separably in rows and columns). Here F is sampled on a grid `oversample` times finer than the output
instead of at every camera pixel, each sample blending edges over its own width, and the same triangle
weights are applied to the samples. Sensor noise is added after filtering, with the standard deviation
the filter leaves of per-pixel noise: σ_noise·sqrt(Σ_j t_j²) for normalised weights t_j. Grey inputs
are drawn straight as luma (ITU-R 601, as Pillow's "L") of the paints, each clipped to 0..255 first.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from drivenet.data.transform import MODES, Preprocess
from drivenet.geometry.track import Pose, Track
from drivenet.roads.renderer import LUMA, Camera, Look, RoadRenderer, clamp, noise_bank, noise_window

OVERSAMPLE = 4  # samples per input pixel along each axis (at most one per camera pixel)


def triangle_weights(centres: np.ndarray, span: float, outputs: int) -> np.ndarray:
    """(outputs, len(centres)) weights of Pillow's bilinear resize of `span` pixels to `outputs`,
    at sample positions `centres` (in pixels from the start of the span); each row sums to 1."""
    scale = span / outputs
    output_centres = (np.arange(outputs) + 0.5) * scale
    weights = np.maximum(0.0, 1.0 - np.abs(centres[None, :] - output_centres[:, None]) / max(scale, 1.0))
    return weights / weights.sum(axis=1, keepdims=True)


class ModelView:
    """Renders a camera's frame as the model's preprocessing would give it: uint8 (h, w, C)."""

    def __init__(self, camera: Camera, preprocess: Preprocess, oversample: int = OVERSAMPLE) -> None:
        self.camera, self.preprocess = camera, preprocess
        top = round(camera.height * preprocess.crop_top)
        rows = camera.height - round(camera.height * preprocess.crop_bottom) - top
        w, h = preprocess.width, preprocess.height
        n_rows, n_columns = min(h * oversample, rows), min(w * oversample, camera.width)  # never finer
        row_samples = (np.arange(n_rows) + 0.5) * rows / n_rows  # than the camera's own pixels
        column_samples = (np.arange(n_columns) + 0.5) * camera.width / n_columns
        self.renderer = RoadRenderer(camera, rows=top + row_samples, columns=n_columns)
        self.row_weights = triangle_weights(row_samples, rows, h).astype(np.float32)
        self.column_weights = triangle_weights(column_samples, camera.width, w).T.astype(np.float32)
        pixel_rows = triangle_weights(np.arange(rows) + 0.5, rows, h)
        pixel_columns = triangle_weights(np.arange(camera.width) + 0.5, camera.width, w)
        spread = 255 * np.sqrt(np.outer((pixel_rows**2).sum(1), (pixel_columns**2).sum(1)))
        self.grey = preprocess.color == "gray"
        self.mix = LUMA.astype(np.float32) if self.grey else None  # grey: drawn as luma straight away
        # grey levels of noise per unit of sensor noise; luma mixes three independent channels
        spread = spread * np.linalg.norm(LUMA) if self.grey else spread[..., None]
        self.noise_spread = spread.astype(np.float32)
        self.noise_bank = noise_bank(16 * h * w * 3)  # windows of one image, at many offsets

    def render(self, track: Track, pose: Pose, s: float, look: Look, rng: np.random.Generator) -> np.ndarray:
        """The model's input image uint8 (h, w, C) at `pose` (nearest centreline point at `s`)."""
        samples = clamp(self.renderer.shade(track, pose, s, look, self.mix), 0.0, 255.0)
        rows, columns, channels = samples.shape
        down = self.row_weights @ samples.reshape(rows, columns * channels)
        image = np.matmul(down.reshape(-1, columns, channels).transpose(0, 2, 1), self.column_weights)
        image = image[:, 0] if self.grey else image.transpose(0, 2, 1)  # (h, w) or (h, w, 3)
        if look.noise > 0:
            image += noise_window(self.noise_bank, image.shape, rng) * (self.noise_spread * look.noise)
        pixels = (clamp(image, 0.0, 255.0) + 0.5).astype(np.uint8)
        if self.preprocess.color in ("gray", "rgb"):
            return pixels.reshape(self.preprocess.shape)
        converted = Image.fromarray(pixels, "RGB").convert(MODES[self.preprocess.color])
        return np.asarray(converted, np.uint8).reshape(self.preprocess.shape)
