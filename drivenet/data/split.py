"""Honest train/validation splits: neighbouring frames are nearly identical, so never split single frames.

Frames are grouped into blocks of `block` consecutive moments within each recording (all cameras of
a moment fall in the same block), and whole blocks go to validation. With several recordings, whole
recordings are used instead, as long as that lands within half of the wanted validation share.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def pick_groups(groups: np.ndarray, target: float, rng: np.random.Generator) -> np.ndarray:
    """Validation mask: groups in random order are added while they bring the size closer to `target`.

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


def block_split(
    frames: pd.DataFrame, val_fraction: float, block: int = 200, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(train_idx, val_idx): sorted row positions of `frames`, validation about `val_fraction` of rows."""
    n = len(frames)
    if n == 0 or val_fraction <= 0:
        return np.arange(n), np.arange(0)
    if block < 1:
        raise ValueError(f"block must be positive, got {block}")
    rng = np.random.default_rng(seed)
    target = val_fraction * n
    val = np.zeros(n, dtype=bool)
    if frames["recording"].nunique() > 1:
        val = pick_groups(frames["recording"].to_numpy(dtype=str), target, rng)
    if not 0.5 * target <= val.sum() <= 1.5 * target:
        val = pick_groups(block_ids(frames, block), target, rng)
    return np.flatnonzero(~val), np.flatnonzero(val)
