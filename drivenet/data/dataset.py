"""Mini-batches for training: a subset of a cache, shuffled and augmented anew each epoch.

With motion gaps (g_1, ..., g_m), each frame is trained on as a clip: the frame and the frames g_j
frame numbers earlier in its recording, stacked on the channel axis, augmented together (one draw of
each augmentation for the whole clip) and turned into inputs by `Preprocess.to_inputs`.

A model that also predicts pedals (`model.targets`: throttle, brake) is taught each frame's logged
pedal values, unchanged by augmentation: a flip, a shift or a synthesised view changes where the car
points, not how hard it accelerates, and label smoothing smooths steering only.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence

import numpy as np
import pandas as pd

from drivenet.config import AugmentConfig
from drivenet.data import augment
from drivenet.data.cache import SteeringCache
from drivenet.data.odometry import driven_steps, stamp_in_name
from drivenet.data.split import recording_rows, runs
from drivenet.errors import DrivenetError
from drivenet.geometry.viewsynth import RecoveryViews


def earlier_rows(frames: pd.DataFrame, gaps: Sequence[int], part: np.ndarray | None = None) -> np.ndarray:
    """int64 (N, len(gaps)): for each row, the row of the frame `gap` frame numbers earlier in the same
    run (recording, camera and split `part`, see `drivenet.data.split.runs`); where that frame is
    missing (skipped, deleted, or before the run), the earliest frame of the run less than `gap` back."""
    out = np.empty((len(frames), len(gaps)), dtype=np.int64)
    numbers = frames["frame"].to_numpy(dtype=np.int64)
    for rows in runs(frames, part):
        f = numbers[rows]
        for j, gap in enumerate(gaps):
            out[rows, j] = rows[np.searchsorted(f, f - gap, "left")]
    return out


def frame_clock(frames: pd.DataFrame, frame_rate: float) -> np.ndarray:
    """float64 (N,): seconds driven since the first frame of each frame's recording and camera, counted
    as replay counts them: the steps between the time stamps in consecutive frames' names; a step that is
    unknown, backwards, or longer than PAUSE per frame (the recording paused) counts as the typical one
    (the median known step per frame number, else 1 / `frame_rate`) times the frame numbers it spans."""
    times = np.array([stamp_in_name(str(path)) for path in frames["path"]], np.float64)
    numbers = frames["frame"].to_numpy(np.float64)
    clock = np.zeros(len(frames))
    for group in frames.groupby(["recording", "camera"], sort=False).indices.values():
        rows = group[np.argsort(numbers[group], kind="stable")]
        spans = np.maximum(np.diff(numbers[rows]), 1.0)
        per_frame = np.diff(times[rows]) / spans
        known, typical = driven_steps(per_frame, frame_rate)
        clock[rows] = np.concatenate([[0.0], np.cumsum(np.where(known, per_frame, typical) * spans)])
    return clock


def clip_lags(frames: pd.DataFrame, earlier: np.ndarray, frame_rate: float) -> np.ndarray:
    """float64 (N, m): seconds from each row's `earlier` frames (see `earlier_rows`) to it, on the
    `frame_clock`."""
    clock = frame_clock(frames, frame_rate)
    return clock[:, None] - clock[earlier]


def recording_repeats(frames: pd.DataFrame, repeats: Mapping[str, int]) -> np.ndarray:
    """int64 (N,): how many times each frame appears in an epoch, its recording's entry in `repeats`
    (`augment.recording_repeats`), else 1; a name no frame's recording has is a DrivenetError."""
    times = np.ones(len(frames), np.int64)
    for name, n in repeats.items():
        times[recording_rows(frames, [name], "augment.recording_repeats")] = n
    return times


def pedal_labels(frames: pd.DataFrame, pedals: Sequence[str], rows: np.ndarray) -> np.ndarray:
    """float32 (N, len(pedals)): the frame table's pedal columns (NaN where unknown). DrivenetError when
    one of the frames `rows` (those trained or validated on) has no value for a pedal, or one outside
    [0, 1], naming the pedal, the recording and the frame."""
    rows = np.asarray(rows, np.int64)
    out = np.full((len(frames), len(pedals)), np.nan, np.float32)
    for j, name in enumerate(pedals):
        if name in frames.columns:
            out[:, j] = frames[name].to_numpy(np.float32)
        values = out[rows, j]
        missing = np.isnan(values)
        wrong = missing if missing.any() else (values < 0) | (values > 1)
        if not wrong.any():
            continue
        k = int(np.argmax(wrong))
        where = f"recording {frames['recording'].iloc[rows[k]]} ({frames['path'].iloc[rows[k]]})"
        if missing.any():
            raise DrivenetError(
                f"model.targets has {name}, but {int(missing.sum())} of the frames trained on have no "
                f"{name} value, the first in {where}; train on recordings whose log has a {name} column, "
                f"or drop {name} from model.targets"
            )
        raise DrivenetError(
            f"{name} is {values[k]:g} in {where}, but a pedal target is taught in [0, 1]; "
            f"rescale the log's {name} column to [0, 1], or drop {name} from model.targets"
        )
    return out


def target_labels(cache: SteeringCache, targets: Sequence[str], rows: np.ndarray) -> np.ndarray:
    """The labels of the cache's `rows` for `targets` (steering, then pedals): float32 (len(rows),)
    steering alone, or (len(rows), len(targets)) with the pedals' columns (see `pedal_labels`)."""
    rows = np.asarray(rows, np.int64)
    if len(targets) == 1:
        return cache.steering[rows]
    pedals = pedal_labels(cache.frames, targets[1:], rows)[rows]
    return np.column_stack([cache.steering[rows], pedals]).astype(np.float32)


def clips(images: np.ndarray, rows: np.ndarray, earlier: np.ndarray) -> np.ndarray:
    """uint8 (len(rows), H, W, (1 + m) * C): image `rows` followed by their m earlier frames `earlier[rows]`
    on the channel axis (a copy; with no earlier frames, just the images)."""
    parts = [images[rows], *(images[earlier[rows, j]] for j in range(earlier.shape[1]))]
    return np.concatenate(parts, axis=-1) if len(parts) > 1 else parts[0]


def clip_batches(
    cache: SteeringCache, rows: np.ndarray, earlier: np.ndarray, size: int = 256
) -> Iterator[np.ndarray]:
    """The clips of the cache's frames `rows` with their `earlier` frames (see `earlier_rows`), `size`
    at a time, each batch read only when it is asked for: a memory-mapped cache stays on disk."""
    rows = np.asarray(rows)
    for start in range(0, len(rows), size):
        yield clips(cache.images, rows[start : start + size], earlier)


class SteeringDataset:
    """The frames `indices` of `cache`, augmented as `settings` (`[augment]`) says, as clips with the
    earlier frames `motion_gaps` back (none: single frames), labelled with steering and the `pedals`
    (throttle, brake) a model also predicts (`pedal_labels`).

    With the split labels `part` (see `drivenet.data.split`), smoothed labels and clips are computed
    within each split's runs of consecutive frames, never across a split boundary.
    """

    def __init__(
        self,
        cache: SteeringCache,
        indices: Sequence[int] | np.ndarray,
        settings: AugmentConfig,
        seed: int = 0,
        motion_gaps: Sequence[int] = (),
        part: np.ndarray | None = None,
        views: RecoveryViews | None = None,
        pedals: Sequence[str] = (),
    ) -> None:
        self.cache = cache
        self.views = views  # view synthesis (augment.shift_m / yaw_deg) with the data's camera, or None
        self.indices = np.asarray(indices, dtype=np.int64)
        self.settings = settings
        self.reseed(seed)
        self.repeats = recording_repeats(cache.frames, self.settings.recording_repeats)
        self.labels = augment.smooth_labels(cache.frames, self.settings.smooth_window, part)
        self.pedals = pedal_labels(cache.frames, pedals, self.indices)  # (N, len(pedals))
        self.earlier = earlier_rows(cache.frames, motion_gaps, part)
        self.lags: np.ndarray | None = None  # seconds back to the clips' earlier frames, for recovery views
        if views is not None and len(motion_gaps):
            self.lags = clip_lags(cache.frames, self.earlier, views.camera.frame_rate)

    def reseed(self, seed: int) -> None:
        """Start a new random stream for shuffling and augmentation (one per epoch, for exact resume)."""
        self.rng = np.random.default_rng(seed)

    def epoch_indices(self) -> np.ndarray:
        """This epoch's frames: near-zero frames thinned out, each repeated as its recording's
        `recording_repeats` says, then shuffled."""
        settings, labels = self.settings, self.labels[self.indices]
        keep = augment.drop_near_zero(labels, self.rng, settings.drop_zero_share, settings.zero_threshold)
        rows = self.indices[keep]
        return self.rng.permutation(np.repeat(rows, self.repeats[rows]))

    def batches_per_epoch(self, batch_size: int) -> int:
        """Batches in an epoch on average: near-zero frames are dropped with probability drop_zero_share,
        the others repeated as their recordings' `recording_repeats` say."""
        s = self.settings
        kept = np.where(np.abs(self.labels[self.indices]) < s.zero_threshold, 1.0 - s.drop_zero_share, 1.0)
        return max(1, math.ceil(float(np.sum(kept * self.repeats[self.indices])) / batch_size))

    def augment(self, images: np.ndarray, steering: np.ndarray, rows: np.ndarray) -> None:
        """Apply the configured image augmentations to a batch of clips (of the cache's `rows`), in place."""
        s, rng = self.settings, self.rng
        if s.flip:
            augment.flip(images, steering, rng)
        if self.views is not None:
            crop = self.cache.preprocess
            lags = self.lags[rows] if self.lags is not None else None
            kept = (crop.crop_top, 1.0 - crop.crop_bottom)
            self.views.apply(images, steering, rng, kept, lags, crop.channels)
        if s.shift_pixels > 0:
            augment.shift(images, steering, rng, s.shift_pixels, s.shift_steering_per_pixel)
        if s.vertical_pixels > 0:
            augment.vertical_shift(images, rng, s.vertical_pixels)
        if s.brightness > 0:
            augment.gamma(images, rng, s.brightness)
        if s.channel_brightness > 0 or s.channel_contrast > 0:
            channels = self.cache.preprocess.channels
            augment.channel_jitter(images, rng, s.channel_brightness, s.channel_contrast, channels)
        if s.shadow > 0:
            augment.shadow(images, rng, s.shadow, s.shadow_darkness)
        np.clip(steering, -1.0, 1.0, out=steering)

    def batches(self, batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """One epoch of (x float32 (B, D), y), shuffled and augmented: y float32 (B,) steering, or with
        pedals (B, 1 + len(pedals)), steering then each pedal."""
        order = self.epoch_indices()
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            images = clips(self.cache.images, rows, self.earlier)  # a copy: the cache is never changed
            steering = self.labels[rows].copy()
            self.augment(images, steering, rows)
            y = np.column_stack([steering, self.pedals[rows]]) if self.pedals.shape[1] else steering
            yield self.cache.preprocess.to_inputs(images), y
