"""`drivenet gym record` (drivenet/drive/gym/record.py): CarRacing episodes, driven for real but short, read
back as ordinary plain-CSV recordings; the expert's clean action is the label whatever was applied."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from support import needs_gym
from support.cli import one_line_error
from typer.testing import CliRunner

from drivenet.cli import app
from drivenet.data import read_recordings
from drivenet.drive.gym import record as record_module
from drivenet.drive.gym.env import make_env
from drivenet.drive.gym.expert import Expert
from drivenet.drive.gym.record import LOG_COLUMNS, RecordSummary, record_episodes
from drivenet.drive.gym.rollout import PolicySpec
from drivenet.errors import DrivenetError

SEEDS = (3, 4)
FRAMES = 60
NOISE = 0.3
runner = CliRunner()


def log_of(folder: Path) -> pd.DataFrame:
    """An episode's log.csv, its actions and speed read as float32, as they were written (and as the readers
    read them)."""
    actions = [*LOG_COLUMNS[1:5], *LOG_COLUMNS[8:11]]
    return pd.read_csv(folder / "log.csv", dtype=dict.fromkeys(actions, np.float32))


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> tuple[Path, RecordSummary]:
    out = tmp_path_factory.mktemp("gym") / "out"
    return out, record_episodes(out, SEEDS, noise=NOISE, frames=FRAMES)


@needs_gym
def test_a_recording_reads_back_with_the_expert_labels(recorded):
    out, summary = recorded
    assert [e.frames for e in summary.episodes] == [FRAMES, FRAMES]
    assert summary.frames == 2 * FRAMES and "2 episodes, 120 frames" in summary.text()
    assert sorted(p.name for p in out.iterdir()) == ["seed_00003", "seed_00004"]  # no temporary folders
    result = read_recordings([out])
    assert result.problems == []
    frames = result.frames
    assert frames.groupby("recording").size().to_dict() == {"seed_00003": FRAMES, "seed_00004": FRAMES}
    for seed, episode in zip(SEEDS, summary.episodes, strict=True):
        log = log_of(out / f"seed_{seed:05d}")
        assert list(log.columns) == list(LOG_COLUMNS)
        assert log["step"].tolist() == list(range(49, 49 + FRAMES))  # the zoom-in frames are left out
        assert (log["seed"] == seed).all() and (log["episode"] == SEEDS.index(seed)).all()
        assert episode.steps == 49 + FRAMES and episode.expert_steps == episode.steps
        mine = frames[frames["recording"] == f"seed_{seed:05d}"].sort_values("frame")
        for column in ("steering", "throttle", "brake", "speed"):
            np.testing.assert_array_equal(mine[column].to_numpy(), log[column].to_numpy())
        assert [Path(p).name for p in mine["path"]] == [Path(p).name for p in log["image"]]
        with Image.open(mine["path"].iloc[0]) as image:
            assert image.format == "PNG" and image.size == (96, 96) and image.mode == "RGB"
    assert frames["speed"].min() > 0  # the car is moving by the end of the zoom


@needs_gym
@pytest.mark.parametrize("noise", [0.0, 0.5])
def test_noise_moves_the_applied_steering_and_the_label_stays_the_experts(monkeypatch, tmp_path, noise):
    monkeypatch.setattr(record_module, "ZOOM_STEPS", 0)  # write from the first step, to replay them all
    (episode,) = record_episodes(tmp_path, [7], noise=noise, frames=40).episodes
    log = log_of(episode.folder)
    applied = log[["applied_steering", "applied_throttle", "applied_brake"]].to_numpy()
    labels = log[["steering", "throttle", "brake"]].to_numpy()
    np.testing.assert_array_equal(applied[:, 1:], labels[:, 1:])  # pedals are never noised
    moved = np.abs(applied[:, 0] - labels[:, 0])
    assert (moved.max() == 0) if noise == 0 else (np.mean(moved > 0.05) > 0.5)
    env, expert = make_env(), Expert()  # drive the applied actions again: the labels are the expert's
    env.reset(seed=7)
    for label, action in zip(labels, applied, strict=True):
        np.testing.assert_array_equal(expert.run(env.unwrapped), label)
        env.step(action)
    env.close()


class Straight:
    """A stand-in for a model: straight on at gas 0.2, counting its episodes."""

    def __init__(self) -> None:
        self.episodes = 0
        self.seen = 0  # frames it was shown in its current episode

    def reset(self) -> None:
        self.episodes += 1
        self.seen = 0

    def run(self, observation: np.ndarray) -> np.ndarray:
        assert observation.shape == (96, 96, 3)
        self.seen += 1
        return np.array([0.0, 0.2, 0.0], dtype=np.float32)


STRAIGHT = Straight()


@dataclass(frozen=True)
class StraightOn(PolicySpec):
    """A stand-in for a model's PolicySpec: built (in this process), it is STRAIGHT."""

    source: str = "straight on"

    def build(self) -> Straight:
        return STRAIGHT


@needs_gym
@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0])
def test_a_policy_acts_where_the_expert_does_not_and_the_expert_still_labels(monkeypatch, tmp_path, beta):
    monkeypatch.setattr(record_module, "ZOOM_STEPS", 0)
    before = STRAIGHT.episodes
    episodes = record_episodes(tmp_path, [7, 8], frames=30, policy=StraightOn(), beta=beta).episodes
    assert STRAIGHT.episodes == before + 2
    assert STRAIGHT.seen == 30  # every frame, the expert's steps too: no gaps in its history
    log = log_of(episodes[0].folder)
    by_policy = (log["applied_steering"] == 0) & (log["applied_throttle"] == np.float32(0.2))
    by_expert = (log["applied_steering"] == log["steering"]) & (log["applied_throttle"] == log["throttle"])
    assert (by_policy | by_expert).all()
    expected = {0.0: 0, 1.0: 30}.get(beta)
    steps = episodes[0].expert_steps
    assert steps == expected if expected is not None else 0 < steps < 30
    assert steps == int((by_expert & ~by_policy).sum())
    assert log["steering"].abs().max() > 0  # the labels are the expert's, not the policy's straight ahead


@needs_gym
def test_the_same_seed_gives_the_same_recording(recorded, tmp_path):
    out, _ = recorded
    again = record_episodes(tmp_path, SEEDS[:1], noise=NOISE, frames=FRAMES).episodes[0].folder
    first = out / again.name
    assert (again / "log.csv").read_bytes() == (first / "log.csv").read_bytes()
    names = sorted(p.name for p in (first / "IMG").iterdir())
    assert names == sorted(p.name for p in (again / "IMG").iterdir())
    assert all((again / "IMG" / n).read_bytes() == (first / "IMG" / n).read_bytes() for n in names)


@needs_gym
def test_jobs_give_the_same_recordings_as_one_process(tmp_path):
    args = ["--episodes", "2", "--seed", "3", "--frames", "4", "--noise", "0.3"]
    for jobs in ("1", "2"):
        result = runner.invoke(app, ["gym", "record", str(tmp_path / jobs), *args, "--jobs", jobs])
        assert result.exit_code == 0, result.output
    for seed in ("seed_00003", "seed_00004"):
        one, two = tmp_path / "1" / seed, tmp_path / "2" / seed
        assert (one / "log.csv").read_bytes() == (two / "log.csv").read_bytes()
        names = sorted(p.name for p in (one / "IMG").iterdir())
        assert names == sorted(p.name for p in (two / "IMG").iterdir()) and len(names) == 4
        assert all((one / "IMG" / n).read_bytes() == (two / "IMG" / n).read_bytes() for n in names)
    one_line_error(
        runner.invoke(app, ["gym", "record", str(tmp_path / "0"), *args, "--jobs", "0"]), "--jobs 0"
    )


@needs_gym
def test_keep_drives_only_the_missing_episodes_numbered_by_their_place(tmp_path):
    record_episodes(tmp_path, [5], frames=2)
    kept = (tmp_path / "seed_00005" / "log.csv").read_bytes()
    summary = record_episodes(tmp_path, [4, 5, 6], frames=3, keep=True)
    assert [e.seed for e in summary.episodes] == [4, 6]
    assert (tmp_path / "seed_00005" / "log.csv").read_bytes() == kept  # not driven again
    assert log_of(tmp_path / "seed_00006")["episode"].tolist() == [2, 2, 2]
    assert record_episodes(tmp_path, [4, 5, 6], keep=True).episodes == []


@needs_gym
def test_an_episode_folder_is_replaced_only_with_force(tmp_path):
    record_episodes(tmp_path, [5], frames=3)
    with pytest.raises(DrivenetError, match=r"seed_00005 already exists .* --force"):
        record_episodes(tmp_path, [5], frames=4)
    assert len(log_of(tmp_path / "seed_00005")) == 3
    record_episodes(tmp_path, [5], frames=4, force=True)
    assert len(log_of(tmp_path / "seed_00005")) == 4
    assert [p.name for p in tmp_path.iterdir()] == ["seed_00005"]  # nothing left beside it
    (tmp_path / "seed_00006").mkdir()
    (tmp_path / "seed_00006" / "notes.txt").write_text("mine")
    with pytest.raises(DrivenetError, match=r"seed_00006 is not a folder drivenet made"):
        record_episodes(tmp_path, [5, 6], frames=3, force=True)  # refused before any episode is driven
    assert len(log_of(tmp_path / "seed_00005")) == 4


@needs_gym
def test_the_command_records_and_reports(tmp_path):
    result = runner.invoke(
        app,
        [
            "gym",
            "record",
            str(tmp_path / "out"),
            "--episodes",
            "1",
            "--seed",
            "2",
            "--frames",
            "2",
            "--noise",
            "0.1",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "seed_00002: 2 frames" in result.output and "total: 1 episodes, 2 frames" in result.output
    again = runner.invoke(app, ["gym", "record", str(tmp_path / "out"), "--seed", "2", "--episodes", "1"])
    one_line_error(again, "seed_00002 already exists", "--force")
    discrete = ["--env-arg", "continuous=false", "--frames", "1", "--episodes", "1", "--seed", "9"]
    one_line_error(runner.invoke(app, ["gym", "record", str(tmp_path / "d"), *discrete]), "continuous")


def test_one_line_errors(tmp_path):
    out = str(tmp_path / "out")
    one_line_error(runner.invoke(app, ["gym", "record", out, "--episodes", "0"]), "--episodes 0")
    one_line_error(runner.invoke(app, ["gym", "record", out, "--seed", "-1"]), "--seed -1")
    one_line_error(runner.invoke(app, ["gym", "record", out, "--noise", "-0.1"]), "--noise -0.1")
    one_line_error(runner.invoke(app, ["gym", "record", out, "--frames", "0"]), "--frames 0")


def test_without_the_gym_extra_it_is_one_line(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "gymnasium", None)  # `import gymnasium` now raises ImportError
    result = runner.invoke(app, ["gym", "record", str(tmp_path / "out"), "--episodes", "1"])
    one_line_error(result, 'pip install -e ".[gym]"')
    assert not (tmp_path / "out").exists()
