"""Training, evaluating and predicting with pedal targets: a model that learns throttle beside steering."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from support.cli import one_line_error
from support.tiny import TINY, make_recording, tiny_config
from typer.testing import CliRunner

from drivenet.cli import app
from drivenet.config import AugmentConfig
from drivenet.data import load_or_build
from drivenet.data.cache import SteeringCache
from drivenet.data.dataset import SteeringDataset
from drivenet.errors import DrivenetError
from drivenet.model.checkpoint import load_model
from drivenet.training.run_folder import metric_columns
from drivenet.training.trainer import train_run

THROTTLE = ['model.targets=["steering", "throttle"]']


def slow_in_turns(steering: np.ndarray) -> np.ndarray:
    """The throttle of the test recordings: full in a straight line, less the sharper the turn."""
    return (0.9 - 0.8 * np.abs(steering)).astype(np.float32)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """(a recording, a cache of it with a throttle that can be read off each frame, one without one)."""
    folder = tmp_path_factory.mktemp("data")
    recording = make_recording(folder / "rec", frames=240)
    cache = load_or_build(recording, tiny_config().data)
    cache.frames["throttle"] = slow_in_turns(cache.steering)
    with_throttle = cache.save(folder / "throttle.npz")
    cache.frames = cache.frames.drop(columns=["throttle", "brake", "speed"], errors="ignore")
    return recording, with_throttle, cache.save(folder / "plain.npz")


@pytest.fixture(scope="module")
def run(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "throttle"
    config = tiny_config(*THROTTLE, "train.epochs=12", "model.target_weights={throttle = 2.0}")
    return train_run(data[1], config, out)


def test_the_cache_keeps_the_pedal_column(data):
    cache = SteeringCache.load(data[1])
    np.testing.assert_array_equal(cache.frames["throttle"], slow_in_turns(cache.steering))
    assert "throttle" not in SteeringCache.load(data[2]).frames


def test_a_two_target_model_learns_throttle(run, data):
    with open(run.out / "metrics.csv", newline="") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
    assert tuple(reader.fieldnames) == metric_columns(["throttle"])
    assert float(rows[-1]["train_loss"]) < float(rows[0]["train_loss"])
    model = load_model(run.best)
    assert model.targets == ("steering", "throttle")
    throttle = SteeringCache.load(data[1]).frames["throttle"].to_numpy()
    val_rmse = float(rows[model.meta["epoch"] - 1]["val_throttle_rmse"])
    assert val_rmse < 0.6 * float(np.std(throttle))  # predicting the mean is off by about the std
    assert min(throttle) < model.meta["train_mean_throttle"] < max(throttle)


def test_evaluate_and_predict_report_each_target(run, data):
    runner = CliRunner()
    result = runner.invoke(app, ["evaluate", str(run.best), str(data[1]), "--json"])
    assert result.exit_code == 0, result.output
    throttle = json.loads(result.output)["pedals"]["throttle"]
    assert set(throttle) == {"rmse", "mae", "mean_rmse", "n"} and throttle["n"] == 240
    assert throttle["rmse"] < 0.6 * throttle["mean_rmse"] and throttle["mae"] <= throttle["rmse"]
    table = runner.invoke(app, ["evaluate", str(run.best), str(data[1])])
    assert table.exit_code == 0 and "pedals" in table.output and "throttle" in table.output
    # a recording without throttle: steering is scored, the pedal has no frames
    plain = json.loads(runner.invoke(app, ["evaluate", str(run.best), str(data[2]), "--json"]).output)
    assert plain["pedals"]["throttle"] == {"rmse": None, "mae": None, "mean_rmse": None, "n": 0}
    images = sorted((data[0] / "IMG").iterdir())[:3]
    result = runner.invoke(app, ["predict", str(run.best), *map(str, images), "--json"])
    assert result.exit_code == 0, result.output
    assert all(0 <= row["throttle"] <= 1 and "brake" not in row for row in json.loads(result.output))
    text = runner.invoke(app, ["predict", str(run.best), str(images[0])]).output
    assert " throttle 0." in text


def test_a_pedal_run_resumes_with_its_metrics(data, tmp_path):
    config = tiny_config(*THROTTLE, "train.epochs=2")
    train_run(data[1], config, tmp_path / "r")
    resumed = train_run(data[1], tiny_config(*THROTTLE, "train.epochs=3"), tmp_path / "r", resume=True)
    assert resumed.state.epoch == 3
    with open(tmp_path / "r" / "metrics.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 3 and all(float(row["val_throttle_rmse"]) > 0 for row in rows)


def test_a_missing_pedal_column_is_a_one_line_error(data, tmp_path):
    with pytest.raises(
        DrivenetError, match="model.targets has throttle.*recording rec .*drop throttle"
    ) as err:
        train_run(data[2], tiny_config(*THROTTLE), tmp_path / "run")
    assert "\n" not in str(err.value) and not (tmp_path / "run").exists()
    brake = [*(arg for key in TINY for arg in ("--set", key)), "--set", 'model.targets=["steering", "brake"]']
    result = CliRunner().invoke(
        app, ["train", str(data[2]), "--out", str(tmp_path / "cli"), *brake, "--quiet"]
    )
    one_line_error(result, "brake", "recording rec")


def test_a_pedal_out_of_0_1_is_a_one_line_error(data, tmp_path):
    cache = SteeringCache.load(data[1])
    cache.frames["throttle"] = cache.frames["throttle"] * 2 - 1
    with pytest.raises(DrivenetError, match="throttle is -0.* in recording rec .*rescale") as err:
        train_run(cache.save(tmp_path / "signed.npz"), tiny_config(*THROTTLE), tmp_path / "run")
    assert "\n" not in str(err.value)


def test_flips_shifts_and_smoothing_leave_the_pedals_alone(data):
    cache = SteeringCache.load(data[1])
    throttle = np.random.default_rng(0).permutation(len(cache)).astype(np.float32) / len(cache)
    cache.frames["throttle"] = throttle  # a value of its own for each frame, unlike its neighbours'
    row_of = {float(value): row for row, value in enumerate(throttle)}
    settings = AugmentConfig(flip=True, shift_pixels=2, shift_steering_per_pixel=0.05, smooth_window=3)
    dataset = SteeringDataset(cache, np.arange(len(cache)), settings, seed=0, pedals=["throttle"])
    flipped = 0
    for _, y in dataset.batches(32):
        assert y.shape == (len(y), 2) and y.dtype == np.float32
        rows = np.array([row_of[float(value)] for value in y[:, 1]])  # a KeyError: a pedal was changed
        steering = dataset.labels[rows]  # smoothed
        near = np.minimum(np.abs(y[:, 0] - steering), np.abs(y[:, 0] + steering))
        assert np.all(near <= 0.1 + 1e-6)  # the pedal stays with its own frame's steering
        flipped += int(np.sum(np.abs(y[:, 0] + steering) < np.abs(y[:, 0] - steering)))
    assert flipped > 0
