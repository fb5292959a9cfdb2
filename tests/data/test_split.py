"""Train/validation/test splits are made of contiguous blocks (or whole recordings) and reproducible."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from drivenet.config import TrainConfig, load_config
from drivenet.data import Preprocess, SteeringCache, block_split
from drivenet.data.frames import make_frames
from drivenet.data.split import TEST, TRAIN, VAL, runs, split_frames, split_parts
from drivenet.errors import DrivenetError


def recording(name: str, n: int, cameras: tuple[str, ...] = ("center",)) -> pd.DataFrame:
    tables = [
        make_frames([f"/{name}/{c}{i}.jpg" for i in range(n)], np.zeros(n), c, range(n), name)
        for c in cameras
    ]
    return pd.concat(tables, ignore_index=True)


def runs_of(frames: pd.DataFrame, idx: np.ndarray) -> list[tuple[int, int]]:
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
    for first, last in runs_of(frames, val):
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


def test_no_validation_share_keeps_every_frame_for_training() -> None:
    train, val = block_split(recording("r", 150), 0.0, block=200, seed=0)
    assert len(val) == 0 and np.array_equal(train, np.arange(150))


def test_a_recording_of_one_block_cannot_be_split() -> None:
    train, val = block_split(recording("r", 150), 0.5, block=200, seed=0)
    assert len(val) == 0 and len(train) == 150  # pick_groups keeps the only block for training
    with pytest.raises(DrivenetError, match="150 frames split into 150 training, 0 validation"):
        split_frames(cache_of(recording("r", 150)), TrainConfig(val_fraction=0.5, split_block=200))


def test_a_short_recording_is_split_into_frames_on_both_sides() -> None:
    parts = split_parts(recording("r", 150), TrainConfig(val_fraction=0.3, split_block=15, test_fraction=0.2))
    counts = np.bincount(parts, minlength=3)
    assert counts.tolist() == [75, 45, 30]  # whole blocks of 15: 45 ~ 0.3 * 150, 30 ~ 0.2 * 150


def test_test_blocks_are_contiguous_and_apart_from_validation() -> None:
    frames = recording("r", 2000, cameras=("center", "left"))
    parts = split_parts(
        frames, TrainConfig(val_fraction=0.2, split_block=100, split_seed=4, test_fraction=0.15)
    )
    for which, share in ((VAL, 0.2), (TEST, 0.15)):
        rows = np.flatnonzero(parts == which)
        assert abs(len(rows) / len(frames) - share) <= 0.05
        for first, last in runs_of(frames, rows):
            assert first % 100 == 0 and (last + 1) % 100 == 0  # whole blocks only
    moments = frames["frame"].to_numpy()
    for a, b in ((TRAIN, VAL), (TRAIN, TEST), (VAL, TEST)):
        assert set(moments[parts == a]).isdisjoint(moments[parts == b])  # all cameras on one side


def test_the_test_part_does_not_depend_on_the_validation_settings() -> None:
    frames = recording("r", 3000)
    parts = [
        split_parts(frames, TrainConfig(val_fraction=v, split_block=100, split_seed=7, test_fraction=0.2))
        for v in (0.1, 0.3)
    ]
    assert np.array_equal(parts[0] == TEST, parts[1] == TEST)
    assert not np.array_equal(parts[0] == VAL, parts[1] == VAL)


def test_whole_recordings_by_name() -> None:
    frames = pd.concat([recording(name, 100) for name in ("a", "b", "c", "d")], ignore_index=True)
    settings = TrainConfig(val_recordings=("b",), test_recordings=("d", "a"))
    parts = split_parts(frames, settings)
    by_recording = dict(zip(frames["recording"], parts, strict=True))
    assert by_recording == {"a": TEST, "b": VAL, "c": TRAIN, "d": TEST}
    # seed 2 would draw recording b as the test part if the named validation recording were not set aside
    mixed = split_parts(
        frames, TrainConfig(val_recordings=("b",), test_fraction=0.25, split_block=10, split_seed=2)
    )
    assert np.all(mixed[frames["recording"] == "b"] == VAL) and np.sum(mixed == TEST) == 100  # from a, c, d
    with pytest.raises(
        DrivenetError, match="train.val_recordings: no recording named lake.*it has a, b, c, d"
    ):
        split_parts(frames, TrainConfig(val_recordings=("lake",)))
    with pytest.raises(DrivenetError, match="b in both"):
        TrainConfig(val_recordings=("b",), test_recordings=("b",)).check()


def test_split_keys_that_pass_together_pass_in_any_order() -> None:
    """The rule joining val_fraction and test_fraction is checked once all overrides are in."""
    overrides = ["train.test_fraction=0.9", "train.val_fraction=0.05"]
    for order in (overrides, overrides[::-1]):
        assert load_config(None, order).train.val_fraction == 0.05
    with pytest.raises(DrivenetError, match="make their sum below 1"):
        load_config(None, ["train.test_fraction=0.9"])


def test_without_a_test_share_validation_is_the_block_split_of_before() -> None:
    frames = pd.concat([recording("big", 1000), recording("small", 300)], ignore_index=True)
    parts = split_parts(frames, TrainConfig(val_fraction=0.25, split_block=50, split_seed=3))
    assert np.array_equal(np.flatnonzero(parts == VAL), block_split(frames, 0.25, block=50, seed=3)[1])
    assert not np.any(parts == TEST)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (["train.val_fraction=1.0"], r"train.val_fraction = 1.0: must be in \(0, 1\)"),
        (["train.test_fraction=-0.1"], "train.test_fraction = -0.1"),
        (["train.val_fraction=0.5", "train.test_fraction=0.5"], "leave no frames to train on"),
        (["train.split_block=-1"], "train.split_block = -1"),
    ],
)
def test_impossible_split_settings_are_refused(settings: list[str], message: str) -> None:
    with pytest.raises(DrivenetError, match=message):
        load_config(None, settings)


def test_runs_are_cut_where_the_part_changes() -> None:
    frames = pd.concat([recording("a", 6, ("center", "left")), recording("b", 3)], ignore_index=True)
    part = np.zeros(len(frames), dtype=np.int8)
    part[[2, 3, 8, 9]] = VAL  # frames 2 and 3 of a, both cameras
    cut = sorted(tuple(r) for r in runs(frames, part))
    assert cut == [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9), (10, 11), (12, 13, 14)]


def cache_of(frames: pd.DataFrame) -> SteeringCache:
    images = np.zeros((len(frames), 2, 2, 1), np.uint8)
    return SteeringCache(images, frames["steering"].to_numpy(), frames, Preprocess(width=2, height=2))
