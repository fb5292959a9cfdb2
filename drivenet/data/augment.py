"""Training-time augmentation on uint8 image batches (N, H, W, C), each with its steering change.

- flip: mirror left-right and negate steering (a left bend becomes a right bend);
- shift: move the picture sideways by s pixels (edge pixels repeated) and add s * steering_per_pixel,
  as ALVINN did: content moved right means the car now sits left of its lane, so it must steer right;
- brightness: a random gamma p -> p ** g, log g uniform in [-b, b]. A plain scale a*p would be undone
  by the per-image standardisation of `Preprocess.to_inputs`; a gamma changes contrast in a way it keeps;
- channel brightness and contrast: each colour channel c of an image gets its own random gain and
  contrast, p -> m_c (1 + b_c) + (p - m_c)(1 + k_c), m_c the channel's mean, b_c and k_c uniform in
  [-b, b] and [-k, k]. The per-image standardisation undoes a change shared by all channels, not a
  change of their balance (a warmer or bluer light) or of one channel's contrast;
- shadow: darken a random band, the quadrilateral between two lines from the top edge to the bottom
  edge, by a factor in [1 - darkness, 1] (a tree or a pole across the road); steering unchanged;
- vertical shift: move the picture up or down by up to v pixels (edge rows repeated), as a bump or a
  slope tilts the camera; steering unchanged;
- drop near-zero: each epoch, leave out a share of the frames with |steering| below a threshold, so
  straight driving does not swamp the turns;
- smooth: label smoothing, a centred moving average of steering over a window of frames of one
  recording and camera (keyboard recordings steer in short full-lock taps).

Every augmentation draws once per image: the frames of a motion clip (stacked on the channel axis)
share the draw, so the change between them stays the car's own motion.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from drivenet.data.split import runs
from drivenet.errors import DrivenetError


def check_window(window: int, name: str) -> None:
    """Refuse an even smoothing window (it cannot be centred on the frame), naming the setting."""
    if window > 1 and window % 2 == 0:
        raise DrivenetError(
            f"{name} = {window}: a smoothing window must be odd to be centred on its frame; use "
            f"{window - 1} or {window + 1}"
        )


def flip(images: np.ndarray, steering: np.ndarray, rng: np.random.Generator) -> None:
    """Mirror a random half of the batch in place, negating its steering."""
    chosen = rng.random(len(images)) < 0.5
    images[chosen] = images[chosen, :, ::-1]
    steering[chosen] *= -1


def shift(
    images: np.ndarray, steering: np.ndarray, rng: np.random.Generator, pixels: int, per_pixel: float
) -> None:
    """Shift each image sideways by a random whole number of pixels in [-pixels, pixels], in place."""
    offsets = rng.integers(-pixels, pixels + 1, size=len(images))
    move(images, offsets, axis=2)
    steering += offsets.astype(np.float32) * np.float32(per_pixel)


def vertical_shift(images: np.ndarray, rng: np.random.Generator, pixels: int) -> None:
    """Shift each image up or down by a random whole number of pixels in [-pixels, pixels], in place."""
    move(images, rng.integers(-pixels, pixels + 1, size=len(images)), axis=1)


def move(images: np.ndarray, offsets: np.ndarray, axis: int) -> None:
    """Move image i by offsets[i] pixels along `axis` (1: down, 2: right), repeating the edge, in place."""
    size = images.shape[axis]
    source = np.clip(np.arange(size)[None, :] - offsets[:, None], 0, size - 1)  # source index per output
    shape = [len(images), 1, 1, 1]
    shape[axis] = size
    images[:] = np.take_along_axis(images, source.reshape(shape), axis=axis)


def gamma(images: np.ndarray, rng: np.random.Generator, strength: float) -> None:
    """Apply a random gamma per image, in place."""
    g = np.exp(rng.uniform(-strength, strength, size=len(images))).astype(np.float32)
    levels = np.arange(256, dtype=np.float32) / 255.0
    tables = np.round(255.0 * levels[None, :] ** g[:, None]).astype(np.uint8)  # one lookup table per image
    flat = images.reshape(len(images), -1)
    flat[:] = np.take_along_axis(tables, flat.astype(np.intp), axis=1)


def channel_jitter(
    images: np.ndarray, rng: np.random.Generator, brightness: float, contrast: float, channels: int
) -> None:
    """Random brightness and contrast for each colour channel of each image, in place.

    p -> m (1 + b) + (p - m)(1 + k), per image and channel, m the channel's mean over the image, b and k
    uniform in [-brightness, brightness] and [-contrast, contrast]; rounded and clipped to 0..255.
    `images` may hold clips (frames stacked on the channel axis, `channels` each): they share the draw.
    """
    n = len(images)
    frames = images.reshape(n, images.shape[1], images.shape[2], -1, channels)  # (N, H, W, k, C) view
    b = rng.uniform(-brightness, brightness, size=(n, 1, 1, 1, channels)).astype(np.float32)
    k = rng.uniform(-contrast, contrast, size=(n, 1, 1, 1, channels)).astype(np.float32)
    p = frames.astype(np.float32)
    mean = p.mean(axis=(1, 2), keepdims=True)
    p = mean * (1 + b) + (p - mean) * (1 + k)
    frames[:] = np.clip(np.rint(p), 0, 255).astype(np.uint8)


def shadow(images: np.ndarray, rng: np.random.Generator, share: float, darkness: float) -> None:
    """Darken a random band on a random `share` of the images, in place.

    The band lies between two straight lines, each joining random points of two opposite edges (top and
    bottom, or for half of the bands left and right: across the road); its pixels are multiplied by a
    factor uniform in [1 - darkness, 1].
    """
    n, height, width = images.shape[:3]
    chosen = rng.random(n) < share
    across = rng.random(n) < 0.5  # the lines join the left and right edges
    starts = np.sort(rng.random((n, 2), dtype=np.float32), axis=1)[:, :, None, None]  # where lines begin
    ends = np.sort(rng.random((n, 2), dtype=np.float32), axis=1)[:, :, None, None]  # ... and end
    factor = np.where(chosen, rng.uniform(1 - darkness, 1, size=n), 1).astype(np.float32)
    y = ((np.arange(height, dtype=np.float32) + 0.5) / height)[None, :, None]  # pixel centres, shares
    x = ((np.arange(width, dtype=np.float32) + 0.5) / width)[None, None, :]
    pick = across[:, None, None]
    along, position = np.where(pick, x, y), np.where(pick, y, x)  # (N, H, W) each
    lines = starts + (ends - starts) * along[:, None]  # (N, 2, H, W): each line's position at each pixel
    band = (position >= lines[:, 0]) & (position <= lines[:, 1]) & chosen[:, None, None]
    scale = np.where(band, factor[:, None, None], np.float32(1))[..., None]
    images[:] = np.rint(images * scale).astype(np.uint8)


def drop_near_zero(
    steering: np.ndarray, rng: np.random.Generator, share: float, threshold: float
) -> np.ndarray:
    """Mask of frames kept: each frame with |steering| < threshold is dropped with probability `share`."""
    return ~((np.abs(steering) < threshold) & (rng.random(len(steering)) < share))


def smooth_labels(frames: pd.DataFrame, window: int, part: np.ndarray | None = None) -> np.ndarray:
    """Steering averaged over the frames within window // 2 frame numbers of each frame (a centred window
    of an odd `window` frames; fewer where frames are missing or the run ends), within each run of
    consecutive frames of one recording, camera and split `part` (see `drivenet.data.split.runs`)."""
    check_window(window, "the smoothing window")
    steering = frames["steering"].to_numpy(dtype=np.float32)
    if window <= 1:
        return steering.copy()
    half = window // 2
    numbers = frames["frame"].to_numpy(dtype=np.int64)
    out = np.empty(len(frames), dtype=np.float32)
    for rows in runs(frames, part):
        f = numbers[rows]
        total = np.r_[0.0, np.cumsum(steering[rows], dtype=np.float64)]
        lo, hi = np.searchsorted(f, f - half, "left"), np.searchsorted(f, f + half, "right")
        out[rows] = (total[hi] - total[lo]) / (hi - lo)
    return out
