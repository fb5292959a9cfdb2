"""Mini-batches for training: a subset of a cache, shuffled and augmented anew each epoch.

With motion gaps (g_1, ..., g_m), each frame is trained on as a clip: the frame and the frames g_j
earlier in its recording, stacked on the channel axis, augmented together (one flip, shift and gamma
for the whole clip) and turned into inputs by `Preprocess.to_inputs`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from drivenet.config import DEFAULTS
from drivenet.data import augment
from drivenet.data.cache import SteeringCache
from drivenet.data.frames import sequences


def earlier_rows(frames: pd.DataFrame, gaps: Sequence[int]) -> np.ndarray:
    """int64 (N, len(gaps)): for each row, the row of the frame `gap` frames earlier in the same recording
    and camera, or of that recording's first frame when there is none so far back."""
    out = np.empty((len(frames), len(gaps)), dtype=np.int64)
    for rows in sequences(frames):
        for j, gap in enumerate(gaps):
            out[rows, j] = rows[np.maximum(np.arange(len(rows)) - gap, 0)]
    return out


def clips(images: np.ndarray, rows: np.ndarray, earlier: np.ndarray) -> np.ndarray:
    """uint8 (len(rows), H, W, (1 + m) * C): image `rows` followed by their m earlier frames `earlier[rows]`
    on the channel axis (a copy; with no earlier frames, just the images)."""
    parts = [images[rows], *(images[earlier[rows, j]] for j in range(earlier.shape[1]))]
    return np.concatenate(parts, axis=-1) if len(parts) > 1 else parts[0]


class SteeringDataset:
    """The frames `indices` of `cache`, with the `[augment]` settings `augment_cfg`, as clips with the
    earlier frames `motion_gaps` back (none: single frames)."""

    def __init__(
        self,
        cache: SteeringCache,
        indices: Sequence[int] | np.ndarray,
        augment_cfg: Mapping[str, Any],
        seed: int = 0,
        motion_gaps: Sequence[int] = (),
    ) -> None:
        self.cache = cache
        self.indices = np.asarray(indices, dtype=np.int64)
        self.cfg = {**DEFAULTS["augment"], **augment_cfg}
        self.reseed(seed)
        self.labels = augment.smooth_labels(cache.frames, int(self.cfg["smooth_window"]))
        self.earlier = earlier_rows(cache.frames, motion_gaps)

    def reseed(self, seed: int) -> None:
        """Start a new random stream for shuffling and augmentation (one per epoch, for exact resume)."""
        self.rng = np.random.default_rng(seed)

    def epoch_indices(self) -> np.ndarray:
        """This epoch's frames: near-zero frames thinned out, then shuffled."""
        cfg, labels = self.cfg, self.labels[self.indices]
        keep = augment.drop_near_zero(
            labels, self.rng, float(cfg["drop_zero_share"]), float(cfg["zero_threshold"])
        )
        return self.rng.permutation(self.indices[keep])

    def augment(self, images: np.ndarray, steering: np.ndarray) -> None:
        """Apply the configured image augmentations to a batch, in place."""
        cfg = self.cfg
        if cfg["flip"]:
            augment.flip(images, steering, self.rng)
        if cfg["shift_pixels"] > 0:
            augment.shift(
                images, steering, self.rng, int(cfg["shift_pixels"]), float(cfg["shift_steering_per_pixel"])
            )
        if cfg["brightness"] > 0:
            augment.gamma(images, self.rng, float(cfg["brightness"]))
        np.clip(steering, -1.0, 1.0, out=steering)

    def batches(self, batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """One epoch of (x float32 (B, D), y float32 (B,)), shuffled and augmented."""
        order = self.epoch_indices()
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            images = clips(self.cache.images, rows, self.earlier)  # a copy: the cache is never changed
            steering = self.labels[rows].copy()
            self.augment(images, steering)
            yield self.cache.preprocess.to_inputs(images), steering
