"""`drivenet gym dagger` and `gym learn` (drivenet/drive/gym/dagger.py): one tiny run end to end, for real but
in short episodes (MAX_STEPS frames), its layout, report and resume."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from support import CONFIGS, needs_gym
from support.cli import one_line_error
from support.tiny import tiny_config
from typer.testing import CliRunner

from drivenet.cli import app
from drivenet.config import load_config, to_toml
from drivenet.drive.gym import dagger as dagger_module
from drivenet.drive.gym.dagger import dagger_config
from drivenet.drive.gym.pilot import ModelPilot
from drivenet.model.checkpoint import load_model

MAX_STEPS = 120
SHORT_ARG = ["--env-arg", f"max_episode_steps={MAX_STEPS}"]
ROUND_FILES = ["best.npz", "choose.json", "config.toml", "last.npz", "metrics.csv"]
runner = CliRunner()


@pytest.fixture(scope="module")
def config_file(tmp_path_factory) -> Path:
    """The tiny config, working the pedals like configs/carracing.toml; round 1 driven by the model alone."""
    config = tiny_config(
        'model.targets=["steering", "throttle", "brake"]',
        "model.hidden=[4]",
        "train.epochs=1",
        "dagger.bc_episodes=2",
        "dagger.rounds=1",
        "dagger.episodes=1",
        "dagger.beta=0",
        "dagger.choose_episodes=1",
        "dagger.test_episodes=1",
    )
    path = tmp_path_factory.mktemp("config") / "tiny.toml"
    path.write_text(to_toml(config), encoding="utf-8")
    return path


def learn(out: Path, config: Path, *args: str):
    return runner.invoke(
        app,
        ["gym", "learn", "--out", str(out), "--config", str(config), "-q", "--jobs", "1", *SHORT_ARG, *args],
    )


@pytest.fixture(scope="module")
def learned(tmp_path_factory, config_file) -> tuple[Path, str]:
    """A `gym learn` run folder and what the command printed."""
    out = tmp_path_factory.mktemp("learn") / "run"
    result = learn(out, config_file)
    assert result.exit_code == 0, result.output
    return out, result.output


def table(output: str) -> str:
    """What a command prints from its table on, but the wall time."""
    return output[output.rindex("choosing seeds") : output.index("wall time") + len("wall time")]


@needs_gym
def test_learn_writes_every_round_and_the_report(learned):
    out, output = learned
    assert sorted(p.name for p in out.iterdir()) == [
        ".drivenet-output", "choose_expert.json", "config.toml", "data", "env.json", "report.json", "rounds",
    ]  # fmt: skip
    assert sorted(p.name for p in (out / "data").iterdir()) == [
        "round_00",
        "round_00.npz",
        "round_01",
        "round_01.npz",
    ]
    assert [p.name for p in sorted((out / "data" / "round_00").iterdir())] == ["seed_10000", "seed_10001"]
    assert [p.name for p in (out / "data" / "round_01").iterdir()] == ["seed_11000"]
    for r in ("round_00", "round_01"):
        assert set(ROUND_FILES) <= {p.name for p in (out / "rounds" / r).iterdir()}
    report = json.loads((out / "report.json").read_text())
    assert report["test_seeds"] == "0" and report["choose_seeds"] == "1000"
    assert [row["round"] for row in report["rounds"]] == [0, 1]
    assert [row["beta"] for row in report["rounds"]] == [None, 0.0]
    frames = [row["frames"] for row in report["rounds"]]
    assert frames == [2 * (MAX_STEPS - 49), 3 * (MAX_STEPS - 49)]  # the zoom's 49 frames are not written
    chosen = report["chosen_round"]
    assert [row["chosen"] for row in report["rounds"]] == [chosen == 0, chosen == 1]
    assert report["model"] == f"rounds/round_{chosen:02d}/best.npz"
    choose = json.loads((out / "rounds" / "round_01" / "choose.json").read_text())
    assert [e["seed"] for e in choose["episodes"]] == [1000] and choose["frames"] == frames[1]
    test = report["test"]
    assert [e["seed"] for e in test["episodes"]] == [0] == [e["seed"] for e in test["expert_episodes"]]
    assert test["episodes"][0]["steps"] == MAX_STEPS
    assert "round  beta" in output and "expert:" in output and "wall time" in output
    assert f"test seeds 0: round {chosen}'s model" in output and "of expert, laps 0/1" in output
    assert json.loads((out / "env.json").read_text())["env_kwargs"] == {"max_episode_steps": MAX_STEPS}


@needs_gym
def test_round_one_is_driven_by_round_zeros_model_and_labelled_by_the_expert(learned):
    out, _ = learned
    pilot = ModelPilot(load_model(out / "rounds" / "round_00" / "best.npz"))  # one frame in: no history
    episode = out / "data" / "round_01" / "seed_11000"
    log = pd.read_csv(episode / "log.csv")
    applied = log[["applied_steering", "applied_throttle", "applied_brake"]].to_numpy()
    for image, action in zip(log["image"], applied, strict=True):
        with Image.open(episode / image) as frame:
            np.testing.assert_allclose(pilot.run(np.asarray(frame)), action, atol=1e-6)  # beta 0: the model
    labels = log[["steering", "throttle", "brake"]].to_numpy()
    assert np.mean(np.abs(labels[:, 0] - applied[:, 0]) > 1e-3) > 0.5  # the labels are the expert's


@needs_gym
def test_learn_again_does_no_work_and_dagger_prints_the_same_table(learned, config_file, monkeypatch):
    out, output = learned
    report = (out / "report.json").read_bytes()

    def no_work(*args, **kwargs):
        raise AssertionError("a finished run did work again")

    for name in ("record_episodes", "drive", "prepare_training", "load_or_build"):
        monkeypatch.setattr(dagger_module, name, no_work)
    again = learn(out, config_file)
    assert again.exit_code == 0, again.output
    assert again.output.split("wall time")[0] == table(output).split("wall time")[0]  # no step is told
    assert (out / "report.json").read_bytes() == report
    rounds = runner.invoke(
        app, ["gym", "dagger", "--out", str(out), "--config", str(config_file), *SHORT_ARG]
    )
    assert rounds.exit_code == 0, rounds.output
    assert table(rounds.output) == table(output).split("test seeds")[0] + "wall time"


@needs_gym
def test_a_round_done_again_gives_the_same_files(learned, config_file, tmp_path):
    """Round 1 lost (its recording, cache, score) and the report: the command does them again, the same."""
    out = tmp_path / "run"
    shutil.copytree(learned[0], out)
    choose = (out / "rounds" / "round_01" / "choose.json").read_bytes()
    shutil.rmtree(out / "data" / "round_01")
    for lost in ("data/round_01.npz", "rounds/round_01/choose.json", "report.json"):
        (out / lost).unlink()
    result = learn(out, config_file)  # its training resumes from last.npz on the same data
    assert result.exit_code == 0, result.output
    assert "round 0:" not in result.output and "training continues" in result.output
    assert (out / "rounds" / "round_01" / "choose.json").read_bytes() == choose
    assert (out / "report.json").read_bytes() == (learned[0] / "report.json").read_bytes()


@needs_gym
def test_a_resume_with_another_config_or_env_is_refused(learned, config_file):
    out, _ = learned
    report = (out / "report.json").read_bytes()
    one_line_error(learn(out, config_file, "--set", "train.epochs=2"), "train.epochs = 1, not 2", "--force")
    other = ["--env-arg", "lap_complete_percent=0.5"]
    one_line_error(learn(out, config_file, *other), "env_kwargs", "lap_complete_percent")
    assert (out / "report.json").read_bytes() == report


@needs_gym
def test_ctrl_c_says_how_to_continue(tmp_path, config_file, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(dagger_module, "drive", interrupted)
    result = learn(tmp_path / "run", config_file)
    assert result.exit_code == 130 and "run the same command again to continue" in result.output
    assert (tmp_path / "run" / "config.toml").is_file()


def test_one_line_errors(tmp_path, config_file, monkeypatch):
    out = tmp_path / "run"
    line = one_line_error(
        learn(out, config_file, "--set", "dagger.choose_seed=10001"), "choosing seeds 10001"
    )
    assert "round 0's training seeds 10000-10001" in line
    one_line_error(learn(out, config_file, "--jobs", "0"), "--jobs 0")
    one_line_error(learn(out, config_file, "--set", "dagger.beta=2"), "dagger.beta = 2")
    one_line_error(learn(out, config_file, "--set", "data.width=120"), "120x", "data.width <= 96")
    monkeypatch.setattr(dagger_module, "CARRACING_CONFIG", tmp_path / "missing.toml")
    gone = runner.invoke(app, ["gym", "dagger", "--out", str(out)])
    one_line_error(gone, "no --config given", "missing.toml")
    assert not out.exists()


def test_the_default_config_is_the_repositorys_carracing_toml():
    assert dagger_config(None, ["dagger.rounds=1"]) == load_config(
        CONFIGS / "carracing.toml", ["dagger.rounds=1"]
    )


def test_without_the_gym_extra_it_is_one_line(monkeypatch, tmp_path, config_file):
    monkeypatch.setitem(sys.modules, "gymnasium", None)  # `import gymnasium` now raises ImportError
    one_line_error(learn(tmp_path / "run", config_file), 'pip install -e ".[gym]"')
    assert not (tmp_path / "run").exists()
