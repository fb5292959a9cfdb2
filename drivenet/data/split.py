"""Honest splits: training, validation (early stopping, model choice) and test (the figures reported).

Neighbouring frames are nearly identical, so single frames are never split. A held-out part is either
whole recordings named in the config, or contiguous blocks: each recording is cut into blocks of
`block` consecutive moments (all cameras of a moment fall in the same block) and whole blocks are held
out. With several recordings, whole recordings are held out instead of blocks, as long as that lands
within half of the wanted share. The test part is chosen first, then validation from what is left.

Frames are labelled TRAIN, VAL or TEST. Whatever is computed over neighbouring frames (smoothed
labels, motion clips) is computed within `runs`: consecutive frames of one recording and camera that
fall in the same part, so no training input mixes in a held-out frame or label, and no held-out input a
training one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from drivenet.config import TrainConfig
from drivenet.data.frames import sequences
from drivenet.errors import DrivenetError

if TYPE_CHECKING:
    from drivenet.data.cache import SteeringCache

TRAIN, VAL, TEST = 0, 1, 2
PART_NAMES = {"train": TRAIN, "val": VAL, "test": TEST}


def pick_groups(groups: np.ndarray, target: float, rng: np.random.Generator) -> np.ndarray:
    """Held-out mask: groups in random order are added while they bring the size closer to `target`.

    Keeps at least one group on each side when there are two or more.
    """
    ids, sizes = np.unique(groups, return_counts=True)
    order = rng.permutation(len(ids))
    chosen, total = [], 0
    for i in order:
        if len(chosen) >= len(ids) - 1:
            break
        if not chosen or abs(total + sizes[i] - target) < abs(total - target):
            chosen.append(ids[i])
            total += sizes[i]
    return np.isin(groups, chosen)


def block_ids(frames: pd.DataFrame, block: int) -> np.ndarray:
    """Block number of each row: each recording cut into runs of `block` consecutive moments."""
    moment = frames.groupby("recording")["frame"].rank(method="dense").to_numpy(dtype=np.int64) - 1
    keys = pd.DataFrame({"recording": frames["recording"].to_numpy(), "block": moment // block})
    return keys.groupby(["recording", "block"], sort=True).ngroup().to_numpy()


def hold_out(
    frames: pd.DataFrame, free: np.ndarray, target: float, block: int, rng: np.random.Generator
) -> np.ndarray:
    """Mask of about `target` rows among the `free` ones: whole recordings when that lands within half of
    the target, else whole blocks of `block` moments (blocks are cut on the whole table)."""
    held = np.zeros(len(frames), dtype=bool)
    rows = np.flatnonzero(free)
    recordings = frames["recording"].to_numpy(dtype=str)[rows]
    if len(np.unique(recordings)) > 1:
        held[rows] = pick_groups(recordings, target, rng)
    if not 0.5 * target <= held.sum() <= 1.5 * target:
        held[:] = False
        held[rows] = pick_groups(block_ids(frames, block)[rows], target, rng)
    return held


def block_split(
    frames: pd.DataFrame, val_fraction: float, block: int = 200, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(train_idx, val_idx): sorted row positions of `frames`, validation about `val_fraction` of rows."""
    n = len(frames)
    if n == 0 or val_fraction <= 0:
        return np.arange(n), np.arange(0)
    if block < 1:
        raise ValueError(f"block must be positive, got {block}")
    val = hold_out(frames, np.ones(n, dtype=bool), val_fraction * n, block, np.random.default_rng(seed))
    return np.flatnonzero(~val), np.flatnonzero(val)


def recording_rows(frames: pd.DataFrame, names: Sequence[str], key: str) -> np.ndarray:
    """Mask of the rows of the recordings `names`; DrivenetError naming the setting `key` (e.g.
    train.val_recordings) for an unknown name."""
    recordings = frames["recording"].to_numpy(dtype=str)
    unknown = sorted(set(names) - set(recordings))
    if unknown:
        known = ", ".join(sorted(set(recordings)))
        raise DrivenetError(
            f"{key}: no recording named {', '.join(unknown)} in the data; it has {known}"
        )
    return np.isin(recordings, list(names))


def split_parts(frames: pd.DataFrame, train: TrainConfig) -> np.ndarray:
    """int8 (N,): TRAIN, VAL or TEST for each row of the frame table.

    Whole recordings `test_recordings` / `val_recordings` where named; then, among the other rows, blocks:
    the test part `test_fraction` of all rows (random stream (seed, 2)), then validation `val_fraction`
    of all rows (random stream seed) among the rest.
    """
    n = len(frames)
    part = np.full(n, TRAIN, dtype=np.int8)
    if n == 0:
        return part
    longest = int(frames.groupby("recording")["frame"].nunique().max())

    held_out = (
        (TEST, "test_recordings", train.test_fraction, np.random.default_rng([train.split_seed, TEST])),
        (VAL, "val_recordings", train.val_fraction, np.random.default_rng(train.split_seed)),
    )
    for which, key, _, _ in held_out:  # named recordings first: blocks are drawn from what is left
        if getattr(train, key):
            part[recording_rows(frames, getattr(train, key), f"train.{key}")] = which
    for which, key, fraction, rng in held_out:
        if not getattr(train, key) and fraction > 0:
            block = train.split_block or max(1, math.ceil(fraction * longest))  # 0: one block per recording
            part[hold_out(frames, part == TRAIN, fraction * n, block, rng)] = which
    return part


def runs(frames: pd.DataFrame, part: np.ndarray | None = None) -> list[np.ndarray]:
    """Rows of consecutive frames of one recording and camera in frame order, cut wherever `part`
    changes (without `part`: one run per recording and camera)."""
    if part is None:
        return sequences(frames)
    out: list[np.ndarray] = []
    for rows in sequences(frames):
        out += np.split(rows, np.flatnonzero(np.diff(part[rows])) + 1)
    return out


@dataclass(frozen=True)
class DataSplit:
    """The split of a cache: `part` (TRAIN, VAL or TEST for every row), the training rows (all cameras),
    and the validation and test rows (centre camera only, when there is one)."""

    part: np.ndarray
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray

    def rows(self, name: str) -> np.ndarray:
        """The rows of the part called `name`: train, val or test."""
        return {"train": self.train, "val": self.val, "test": self.test}[name]


def split_frames(cache: SteeringCache, settings: TrainConfig) -> DataSplit:
    """Training, validation and test rows of a cache, as `split_parts` draws them."""
    part = split_parts(cache.frames, settings)
    train = np.flatnonzero(part == TRAIN)
    val, test = (cache.centre_rows(np.flatnonzero(part == which)) for which in (VAL, TEST))
    wants_test = settings.test_fraction > 0 or settings.test_recordings
    if len(train) == 0 or len(val) == 0 or (wants_test and len(test) == 0):
        raise DrivenetError(
            f"{len(cache.steering)} frames split into {len(train)} training, {len(val)} validation and "
            f"{len(test)} test frames; record more frames or change train.val_fraction, "
            "train.test_fraction or train.split_block"
        )
    return DataSplit(part, train, val, test)
