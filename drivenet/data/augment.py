"""Training-time augmentation on uint8 image batches (N, H, W, C), each with its steering change.

- flip: mirror left-right and negate steering (a left bend becomes a right bend);
- shift: move the picture sideways by s pixels (edge pixels repeated) and add s * steering_per_pixel,
  as ALVINN did: content moved right means the car now sits left of its lane, so it must steer right;
- brightness: a random gamma p -> p ** g, log g uniform in [-b, b]. A plain scale a*p would be undone
  by the per-image standardisation of `Preprocess.to_inputs`; a gamma changes contrast in a way it keeps;
- drop near-zero: each epoch, leave out a share of the frames with |steering| below a threshold, so
  straight driving does not swamp the turns;
- smooth: label smoothing, a centred moving average of steering over a window of frames of one
  recording and camera (keyboard recordings steer in short full-lock taps).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from drivenet.data.frames import sequences


def flip(images: np.ndarray, steering: np.ndarray, rng: np.random.Generator) -> None:
    """Mirror a random half of the batch in place, negating its steering."""
    chosen = rng.random(len(images)) < 0.5
    images[chosen] = images[chosen, :, ::-1]
    steering[chosen] *= -1


def shift(
    images: np.ndarray, steering: np.ndarray, rng: np.random.Generator, pixels: int, per_pixel: float
) -> None:
    """Shift each image sideways by a random whole number of pixels in [-pixels, pixels], in place."""
    width = images.shape[2]
    offsets = rng.integers(-pixels, pixels + 1, size=len(images))
    columns = np.clip(np.arange(width)[None, :] - offsets[:, None], 0, width - 1)  # source column per output
    rows = np.arange(len(images))[:, None]
    images[:] = images.transpose(0, 2, 1, 3)[rows, columns].transpose(0, 2, 1, 3)
    steering += offsets.astype(np.float32) * np.float32(per_pixel)


def gamma(images: np.ndarray, rng: np.random.Generator, strength: float) -> None:
    """Apply a random gamma per image, in place."""
    g = np.exp(rng.uniform(-strength, strength, size=len(images))).astype(np.float32)
    levels = np.arange(256, dtype=np.float32) / 255.0
    tables = np.round(255.0 * levels[None, :] ** g[:, None]).astype(np.uint8)  # one lookup table per image
    flat = images.reshape(len(images), -1)
    flat[:] = np.take_along_axis(tables, flat.astype(np.intp), axis=1)


def drop_near_zero(
    steering: np.ndarray, rng: np.random.Generator, share: float, threshold: float
) -> np.ndarray:
    """Mask of frames kept: each frame with |steering| < threshold is dropped with probability `share`."""
    return ~((np.abs(steering) < threshold) & (rng.random(len(steering)) < share))


def smooth_labels(frames: pd.DataFrame, window: int) -> np.ndarray:
    """Steering averaged over a centred window of `window` frames within each recording and camera."""
    steering = frames["steering"].to_numpy(dtype=np.float32)
    if window <= 1:
        return steering.copy()
    out = np.empty(len(frames), dtype=np.float32)
    for rows in sequences(frames):
        run = pd.Series(steering[rows]).rolling(window, center=True, min_periods=1).mean()
        out[rows] = run.to_numpy(dtype=np.float32)
    return out
