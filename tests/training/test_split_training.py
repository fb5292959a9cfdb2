"""Training on several recordings, validation and test splits that never leak into training."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from support.tiny import TINY, make_recording, tiny_config
from typer.testing import CliRunner

from drivenet.cli import app
from drivenet.data import SteeringCache, load_or_build
from drivenet.data.augment import smooth_labels
from drivenet.data.dataset import earlier_rows
from drivenet.data.frames import make_frames
from drivenet.data.split import TEST, TRAIN, VAL, split_frames
from drivenet.data.transform import Preprocess
from drivenet.errors import DrivenetError
from drivenet.model.checkpoint import load_model
from drivenet.training.trainer import train_run

SETS = [arg for item in TINY for arg in ("--set", item)]


@pytest.fixture(scope="module")
def caches(tmp_path_factory):
    """Caches of two recordings, `lake` and `hill`, of 120 frames each."""
    folder = tmp_path_factory.mktemp("two")
    data_cfg = tiny_config().data
    return [
        load_or_build(make_recording(folder / name, frames=120, seed=i), data_cfg).save(
            folder / f"{name}.npz"
        )
        for i, name in enumerate(("lake", "hill"))
    ]


def invoke(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args])


def metrics(run) -> list[dict[str, str]]:
    with open(run / "metrics.csv", newline="") as fh:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(fh)]


def test_several_caches_train_together_and_validate_on_a_whole_recording(caches, tmp_path):
    config = tiny_config('train.val_recordings=["hill"]', "train.epochs=2")
    result = train_run(caches, config, tmp_path / "run")
    assert result.state.epoch == 2
    stacked = load_or_build(caches, config.data)
    assert len(stacked) == 240 and sorted(stacked.frames["recording"].unique()) == ["hill", "lake"]
    split = split_frames(stacked, config.train)
    assert set(stacked.frames["recording"].to_numpy()[split.val]) == {"hill"} and len(split.val) == 120
    assert set(stacked.frames["recording"].to_numpy()[split.train]) == {"lake"}
    assert load_model(result.best).meta["data"]["frames"] == 240


def test_the_cli_trains_on_several_caches_and_scores_the_validation_recording(caches, tmp_path):
    run = tmp_path / "run"
    sets = ["--set", 'train.val_recordings=["hill"]', "--set", "train.epochs=1"]
    result = invoke("train", *caches, "--out", run, *SETS, *sets, "--quiet")
    assert result.exit_code == 0, result.output
    result = invoke("evaluate", run / "best.npz", *caches, "--split", "val", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["n"] == 120
    for data in ([caches[1]], caches[::-1]):  # part of the data, or in another order: another split
        result = invoke("evaluate", run / "best.npz", *data, "--split", "val")
        assert result.exit_code == 1 and "needs the data the model was trained on" in result.output
    result = invoke("evaluate", run / "best.npz", *caches, "--split", "test")
    assert result.exit_code == 1 and "without a test split" in result.output


def test_stacking_refuses_the_same_frames_twice_and_mixed_preprocessing(caches, tmp_path):
    with pytest.raises(DrivenetError, match="both hold the frame"):
        load_or_build([caches[0], caches[0]], tiny_config().data)
    other = load_or_build(caches[1], tiny_config().data)
    other.preprocess = type(other.preprocess)(width=8, height=12, crop_top=0.0, crop_bottom=0.0)
    other.images = np.zeros((len(other), 12, 8, 1), np.uint8)
    with pytest.raises(DrivenetError, match="other.npz: made with preprocessing"):
        load_or_build([caches[0], other.save(tmp_path / "other.npz")], tiny_config().data)


def test_an_unknown_validation_recording_is_a_one_line_error(caches, tmp_path):
    result = invoke(
        "train", *caches, "--out", tmp_path / "r", *SETS, "--set", 'train.val_recordings=["jungle"]'
    )
    assert result.exit_code == 1 and "no recording named jungle" in result.output
    assert "hill, lake" in result.output and "Traceback" not in result.output


def test_the_test_frames_never_touch_training(caches, tmp_path):
    """Scrambling the images and labels of the test frames changes nothing in training or model choice."""
    config = tiny_config("train.test_fraction=0.25", "data.motion_gaps=[1]", "augment.smooth_window=5")
    cache = SteeringCache.load(caches[0])
    split = split_frames(cache, config.train)
    assert len(split.test) >= 20 and split.part[split.test].tolist() == [TEST] * len(split.test)
    rng = np.random.default_rng(0)
    images, steering = np.array(cache.images), cache.steering.copy()
    images[split.test] = rng.integers(0, 256, size=images[split.test].shape, dtype=np.uint8)
    steering[split.test] = rng.uniform(-1, 1, len(split.test))
    frames = cache.frames.assign(steering=steering)
    scrambled = SteeringCache(images, steering, frames, cache.preprocess, cache.summary).save(
        tmp_path / "s.npz"
    )
    train_run(caches[0], config, tmp_path / "a")
    train_run(scrambled, config, tmp_path / "b")
    assert metrics(tmp_path / "a") == metrics(tmp_path / "b")
    a, b = (load_model(tmp_path / run / "best.npz").net.state_dict() for run in ("a", "b"))
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])


def test_evaluate_on_the_test_split(caches, tmp_path):
    run = tmp_path / "run"
    result = invoke("train", caches[0], "--out", run, *SETS, "--set", "train.test_fraction=0.3", "--quiet")
    assert result.exit_code == 0, result.output
    assert f"drivenet evaluate {run / 'best.npz'} {caches[0]} --split test" in result.output
    reports = {}
    for split in ("train", "val", "test"):
        result = invoke("evaluate", run / "best.npz", caches[0], "--split", split, "--json")
        assert result.exit_code == 0, result.output
        reports[split] = json.loads(result.output)
    assert sum(r["n"] for r in reports.values()) == 120
    assert reports["test"]["n"] == 40  # one block of train.split_block = 40 frames, the nearest to 36


def test_smoothing_and_motion_stay_within_each_split():
    frames = make_frames([f"/r/{i}.jpg" for i in range(8)], [0, 0, 0, 0, 1, 1, 1, 1], "center", range(8), "r")
    part = np.array([TRAIN] * 4 + [VAL] * 4, dtype=np.int8)
    smooth = smooth_labels(frames, 3, part)
    np.testing.assert_allclose(smooth, [0, 0, 0, 0, 1, 1, 1, 1])  # frames 3 and 4 do not mix
    np.testing.assert_allclose(smooth_labels(frames, 3)[3:5], [1 / 3, 2 / 3], atol=1e-6)  # as they would
    earlier = earlier_rows(frames, [1, 2], part)
    assert earlier[4].tolist() == [4, 4] and earlier[5].tolist() == [4, 4] and earlier[3].tolist() == [2, 1]


def test_motion_gaps_count_frame_numbers_not_rows():
    numbers = [0, 1, 2, 9, 10, 11]  # frames 3 to 8 were deleted
    frames = make_frames([f"/r/{i}.jpg" for i in numbers], np.zeros(6), "center", numbers, "r")
    earlier = earlier_rows(frames, [1, 3])
    # frame 9: nothing 1 or 3 back, so itself (no motion), never frame 2, 7 frames back
    assert earlier.tolist() == [[0, 0], [0, 0], [1, 0], [3, 3], [3, 3], [4, 3]]
    smooth = smooth_labels(frames.assign(steering=np.arange(6, dtype=np.float32)), 3)
    np.testing.assert_allclose(smooth, [0.5, 1, 1.5, 3.5, 4, 4.5])  # frames 2 and 9 are not neighbours


def test_an_epoch_without_batches_is_an_error(tmp_path):
    steering = np.zeros(100, np.float32)
    frames = make_frames([f"/r/{i}.jpg" for i in range(100)], steering, "center", range(100), "r")
    config = tiny_config("augment.drop_zero_share=1.0", "data.width=4", "data.height=4")
    images = np.random.default_rng(0).integers(0, 256, (100, 4, 4, 1), dtype=np.uint8)
    cache = SteeringCache(images, steering, frames, Preprocess.from_config(config.data))
    with pytest.raises(DrivenetError, match="epoch 1 had no training batch.*drop_zero_share"):
        train_run(cache.save(tmp_path / "c.npz"), config, tmp_path / "run")


def test_an_even_smoothing_window_is_a_one_line_error(caches, tmp_path):
    result = invoke("train", caches[0], "--out", tmp_path / "r", *SETS, "--set", "augment.smooth_window=4")
    assert result.exit_code == 1 and "augment.smooth_window = 4" in result.output
