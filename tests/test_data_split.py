"""Train/validation splits are made of contiguous blocks (or whole recordings) and reproducible."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from drivenet.data import block_split
from drivenet.data.frames import make_frames


def recording(name: str, n: int, cameras: tuple[str, ...] = ("center",)) -> pd.DataFrame:
    tables = [
        make_frames([f"/{name}/{c}{i}.jpg" for i in range(n)], np.zeros(n), c, range(n), name)
        for c in cameras
    ]
    return pd.concat(tables, ignore_index=True)


def runs(frames: pd.DataFrame, idx: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) frame of each run of consecutive moments in `idx` (center camera)."""
    moments = np.sort(frames["frame"].to_numpy()[idx])
    breaks = np.flatnonzero(np.diff(moments) > 1)
    starts, ends = np.r_[0, breaks + 1], np.r_[breaks, len(moments) - 1]
    return [(int(moments[a]), int(moments[b])) for a, b in zip(starts, ends, strict=True)]


def test_blocks_are_contiguous_disjoint_and_cover_everything() -> None:
    frames = recording("r", 1000)
    train, val = block_split(frames, 0.2, block=100, seed=3)
    assert len(np.intersect1d(train, val)) == 0 and len(train) + len(val) == 1000
    assert len(val) == 200
    for first, last in runs(frames, val):
        assert first % 100 == 0 and (last + 1) % 100 == 0  # whole blocks only


def test_the_seed_decides_the_split_reproducibly() -> None:
    frames = recording("r", 2000)
    a = block_split(frames, 0.25, block=100, seed=1)[1]
    assert np.array_equal(a, block_split(frames, 0.25, block=100, seed=1)[1])
    assert not np.array_equal(a, block_split(frames, 0.25, block=100, seed=2)[1])


def test_all_cameras_of_a_moment_fall_on_the_same_side() -> None:
    frames = recording("r", 600, cameras=("center", "left", "right"))
    train, val = block_split(frames, 0.3, block=50, seed=0)
    moments_val = set(frames["frame"].to_numpy()[val])
    assert moments_val.isdisjoint(frames["frame"].to_numpy()[train])
    assert len(val) == 3 * len(moments_val)


def test_several_recordings_are_split_whole() -> None:
    frames = pd.concat([recording(f"r{i}", 100) for i in range(5)], ignore_index=True)
    train, val = block_split(frames, 0.2, block=30, seed=0)
    val_recordings = set(frames["recording"].to_numpy()[val])
    assert len(val_recordings) == 1 and len(val) == 100
    assert val_recordings.isdisjoint(frames["recording"].to_numpy()[train])


def test_uneven_recordings_fall_back_to_blocks() -> None:
    frames = pd.concat([recording("big", 1000), recording("tiny", 10)], ignore_index=True)
    train, val = block_split(frames, 0.2, block=100, seed=0)
    assert 0.1 * len(frames) <= len(val) <= 0.3 * len(frames)


@pytest.mark.parametrize("fraction", [0.0, 0.5])
def test_edge_cases_keep_frames_on_both_sides(fraction: float) -> None:
    frames = recording("r", 150)
    train, val = block_split(frames, fraction, block=200, seed=0)
    assert len(train) + len(val) == 150
    assert len(val) == 0 if fraction == 0 else len(train) == 150  # one block cannot be split
