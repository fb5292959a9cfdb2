"""Mini-batches for training: a subset of a cache, shuffled and augmented anew each epoch."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from drivenet.config import DEFAULTS
from drivenet.data import augment
from drivenet.data.cache import SteeringCache


class SteeringDataset:
    """The frames `indices` of `cache`, with the `[augment]` settings `augment_cfg`."""

    def __init__(
        self,
        cache: SteeringCache,
        indices: Sequence[int] | np.ndarray,
        augment_cfg: Mapping[str, Any],
        seed: int = 0,
    ) -> None:
        self.cache = cache
        self.indices = np.asarray(indices, dtype=np.int64)
        self.cfg = {**DEFAULTS["augment"], **augment_cfg}
        self.rng = np.random.default_rng(seed)
        self.labels = augment.smooth_labels(cache.frames, int(self.cfg["smooth_window"]))

    def __len__(self) -> int:
        return len(self.indices)

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
            images = self.cache.images[rows]  # fancy indexing copies, so the cache is never changed
            steering = self.labels[rows].copy()
            self.augment(images, steering)
            yield self.cache.preprocess.to_inputs(images), steering

    def inputs(self) -> np.ndarray:
        """Un-augmented inputs of all frames, in index order, float32 (N, D)."""
        return self.cache.preprocess.to_inputs(self.cache.images[self.indices])

    def targets(self) -> np.ndarray:
        """Recorded (un-smoothed) steering of all frames, float32 (N,)."""
        return self.cache.steering[self.indices].astype(np.float32)
