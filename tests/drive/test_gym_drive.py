"""`drivenet gym drive` and its parts: a model or the expert drives CarRacing-v3 for real, in short episodes.

Episodes stop after MAX_STEPS frames (`max_episode_steps`, the env's time limit), so the whole file takes
seconds; the models are the tiny ones of tests/drive/conftest.py, trained in the test session.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from PIL import Image
from support import needs_gym
from support.cli import one_line_error
from typer.testing import CliRunner

from drivenet.cli import app
from drivenet.config import load_config
from drivenet.data import Preprocess
from drivenet.drive.gym.pilot import ModelPilot
from drivenet.drive.gym.rollout import drive, drive_episode
from drivenet.model.checkpoint import load_model, save_model
from drivenet.model.steering_model import SteeringModel

MAX_STEPS = 80
SHORT = {"max_episode_steps": MAX_STEPS}
SHORT_ARG = ["--env-arg", f"max_episode_steps={MAX_STEPS}"]
runner = CliRunner()


def run_cli(*args: str) -> dict:
    """`drivenet gym drive ARGS --json` over short episodes, its JSON read back."""
    result = runner.invoke(app, ["gym", "drive", *args, "--json", *SHORT_ARG])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_pilot_steers_from_the_model_with_constant_gas_and_starts_afresh(models):
    model = load_model(models["motion"])  # reads each frame with the ones 1 and 2 frames earlier
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, size=(4, 96, 96, 3), dtype=np.uint8)
    pilot = ModelPilot(model, gas=0.2)
    first = [pilot.run(frame) for frame in frames]
    assert all(a.dtype == np.float32 and a.shape == (3,) for a in first)
    steering = model.steer_frames(frames)  # the same frames read as one sequence
    np.testing.assert_allclose([a[0] for a in first], np.clip(steering, -1, 1), atol=1e-6)
    assert all(a[1] == np.float32(0.2) and a[2] == 0.0 for a in first)
    pilot.reset()
    np.testing.assert_array_equal([pilot.run(frame) for frame in frames], first)


def test_a_model_that_predicts_the_pedals_works_them():
    config = load_config(None, ["model.hidden=[4]", 'model.targets=["steering", "throttle", "brake"]'])
    model = SteeringModel.build(config, Preprocess.from_config(config.data))
    frames = np.random.default_rng(1).integers(0, 256, size=(3, 96, 96, 3), dtype=np.uint8)
    actions = [ModelPilot(model, gas=0.7).run(frame) for frame in frames]
    predicted = model.predict_targets(model.images_from_frames(frames))
    np.testing.assert_allclose([a[1] for a in actions], predicted["throttle"], atol=1e-6)  # not the 0.7
    np.testing.assert_allclose([a[2] for a in actions], predicted["brake"], atol=1e-6)


def test_pilot_refuses_a_model_that_reads_more_than_a_96x96_frame_holds(tmp_path):
    config = load_config(None, ["model.hidden=[4]", "data.width=120", "data.height=20"])
    model = SteeringModel.build(config, Preprocess.from_config(config.data))
    path = save_model(model, tmp_path / "wide.npz")
    line = one_line_error(runner.invoke(app, ["gym", "drive", str(path), "--episodes", "1"]), "120x20")
    assert "data.width <= 96" in line


@needs_gym
def test_a_model_drives_and_the_same_seed_gives_the_same_episode(models):
    pilot = ModelPilot(load_model(models["single"]))
    first = drive_episode(pilot, 7, env_kwargs=SHORT)
    assert first == drive_episode(pilot, 7, env_kwargs=SHORT)
    assert first.steps == MAX_STEPS and first.end == "time limit" and first.laps == 0
    assert 0 < first.tiles < first.track_tiles and 0 <= first.off_track <= MAX_STEPS


@needs_gym
def test_two_jobs_give_each_seed_the_result_of_one_job(models):
    one = drive(str(models["single"]), [3, 4], jobs=1, env_kwargs=SHORT)
    two = drive(str(models["single"]), [3, 4], jobs=2, env_kwargs=SHORT)
    assert one == two
    assert [e.seed for e in two.episodes] == [3, 4] and [e.seed for e in two.expert] == [3, 4]


@needs_gym
def test_json_report_fields_and_percent_of_expert(models, tmp_path):
    gif = tmp_path / "drive.gif"
    report = run_cli(str(models["single"]), "--episodes", "2", "--seed", "5", "--gif", str(gif))
    assert report["model"] == str(models["single"]) and report["env"] == "CarRacing-v3"
    assert [e["seed"] for e in report["episodes"]] == [5, 6]
    episode = report["episodes"][0]
    assert set(episode) == {
        "seed",
        "reward",
        "steps",
        "tiles",
        "track_tiles",
        "tile_share",
        "off_track",
        "laps",
        "end",
    }
    summary, expert = report["summary"], report["expert"]
    assert set(summary) == {
        "episodes",
        "mean",
        "sd",
        "min",
        "max",
        "tile_share",
        "off_track",
        "off_track_share",
        "laps",
    }
    assert summary["episodes"] == 2 and summary["min"] <= summary["mean"] <= summary["max"]
    assert report["percent_of_expert"] == pytest.approx(100 * summary["mean"] / expert["mean"])
    with Image.open(gif) as image:  # every 4th of 80 frames and the first, 3x upscaled
        assert image.n_frames == MAX_STEPS // 4 + 1 and image.size == (288, 288)


@needs_gym
def test_the_expert_drives_without_a_comparison_to_itself():
    result = runner.invoke(app, ["gym", "drive", "expert", "--episodes", "1", *SHORT_ARG])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].split() == ["seed", "reward", "tiles", "off-track", "laps", "end"]
    assert "total: reward" in result.output and "expert" not in result.output
    report = run_cli("expert", "--episodes", "1")
    assert report["expert"] is None and report["percent_of_expert"] is None
    assert report["summary"]["off_track"] == 0 and report["episodes"][0]["tiles"] > 0


def test_one_line_errors(tmp_path):
    missing = str(tmp_path / "none.npz")
    one_line_error(runner.invoke(app, ["gym", "drive", missing]), "none.npz", "no such file")
    one_line_error(runner.invoke(app, ["gym", "drive", "expert", "--episodes", "0"]), "--episodes 0")
    one_line_error(runner.invoke(app, ["gym", "drive", "expert", "--jobs", "0"]), "--jobs 0")
    one_line_error(runner.invoke(app, ["gym", "drive", "expert", "--seed", "-1"]), "--seed -1")


@needs_gym
def test_env_mistakes_are_one_line_errors():
    one_line_error(runner.invoke(app, ["gym", "drive", "expert", "--env-arg", "wheels=3"]), "wheels")
    one_line_error(runner.invoke(app, ["gym", "drive", "expert", "--env", "NoSuchEnv-v0"]), "NoSuchEnv")


def test_without_the_gym_extra_it_is_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "gymnasium", None)  # `import gymnasium` now raises ImportError
    one_line_error(runner.invoke(app, ["gym", "drive", "expert"]), 'pip install -e ".[gym]"')
