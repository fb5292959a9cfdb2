"""Replay on logs made to hurt: impossible speeds, duplicate rows, time going back, bad steering and
absurd --speed / --fps are dropped or refused, each said with its reason, and the rebuilt path stays as
long as the recording warrants (issue 22, item 6)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from support.cli import one_line_error
from support.timed_log import write_timed_log
from typer.testing import CliRunner

from drivenet.cli import app
from drivenet.config import CameraConfig, DataConfig, load_config
from drivenet.data.transform import Preprocess
from drivenet.drive.replay import MAX_SPEED, Replay, load_recorded_drive
from drivenet.errors import DrivenetError
from drivenet.model.checkpoint import save_model
from drivenet.model.steering_model import SteeringModel

FRAMES = 30
MPH = 0.44704


def normal_rows() -> list[tuple[int, float, str]]:
    return [(100 * k, 0.05, "20") for k in range(FRAMES)]


def load(folder: Path, speed: float | None = None, fps: float | None = None):
    return load_recorded_drive(folder, DataConfig(), CameraConfig(), speed, fps)


def path_length(folder: Path) -> float:
    return float(Replay(load(folder)).path.at[-1])


def test_one_row_at_a_billion_mph_is_dropped_and_the_path_stays_the_recordings_length(tmp_path):
    rows = normal_rows()
    rows[10] = (rows[10][0], 0.05, "1e9")
    drive = load(write_timed_log(tmp_path / "fast", rows))
    assert len(drive.images) == FRAMES - 1
    assert drive.dropped == {f"a speed above {MAX_SPEED:g} m/s": 1}
    expected = path_length(write_timed_log(tmp_path / "plain", normal_rows()))
    assert path_length(tmp_path / "fast") <= expected * 1.1


def test_negative_speeds_are_dropped_as_reversing(tmp_path):
    rows = normal_rows()
    for k in (3, 4, 5):
        rows[k] = (rows[k][0], 0.05, "-5")
    drive = load(write_timed_log(tmp_path / "rev", rows))
    assert drive.dropped == {"a negative speed (reversing)": 3}
    assert np.all(drive.speed >= 0) and len(drive.images) == FRAMES - 3


def test_duplicate_rows_are_dropped_not_driven_as_steps(tmp_path):
    rows = normal_rows()
    doubled = rows[:10] + [rows[9], rows[9]] + rows[10:]
    drive = load(write_timed_log(tmp_path / "dup", doubled))
    assert drive.dropped == {"a duplicate row (the time or image of the row before)": 2}
    plain = write_timed_log(tmp_path / "plain", rows)
    assert path_length(tmp_path / "dup") == pytest.approx(path_length(plain))


def test_time_going_back_is_dropped(tmp_path):
    rows = normal_rows()
    rows[15] = (rows[15][0] - 750, 0.05, "20")  # earlier than the row before it
    drive = load(write_timed_log(tmp_path / "back", rows))
    assert drive.dropped == {"a time earlier than the row before": 1}
    assert np.all(drive.interval > 0)


@pytest.mark.parametrize("steering", ["nan", "7"])
def test_a_log_of_bad_steering_says_why_no_frame_is_usable(tmp_path, steering):
    rows = [(ms, steering, speed) for ms, _, speed in normal_rows()]
    with pytest.raises(DrivenetError, match=r"0 usable frames .*steering"):
        load(write_timed_log(tmp_path / "bad", rows))


@pytest.mark.parametrize(
    ("speed", "fps", "option"),
    [(1e6, None, "--speed"), (None, 1e-6, "--fps"), (None, 1e6, "--fps")],
)
def test_absurd_speed_or_frame_rate_is_refused_with_its_range(tmp_path, speed, fps, option):
    with pytest.raises(DrivenetError, match=rf"{option} .*in [\[(]"):
        load(write_timed_log(tmp_path / "rec", normal_rows()), speed, fps)


@pytest.fixture
def model(tmp_path) -> Path:
    config = load_config(None, ["data.width=8", "data.height=4", "model.hidden=[4]"])
    return save_model(SteeringModel.build(config, Preprocess.from_config(config.data)), tmp_path / "m.npz")


def test_the_cli_says_what_it_dropped_and_why(tmp_path, model):
    rows = normal_rows()
    rows[10] = (rows[10][0], 0.05, "1e9")
    rec = write_timed_log(tmp_path / "rec", rows)
    report = json.loads(CliRunner().invoke(app, ["replay", str(model), str(rec), "--json"]).output)
    assert report["dropped"] == {f"a speed above {MAX_SPEED:g} m/s": 1}
    text = CliRunner().invoke(app, ["replay", str(model), str(rec)]).output
    assert f"dropped 1 row of the log: 1 with a speed above {MAX_SPEED:g} m/s" in text
    one_line_error(CliRunner().invoke(app, ["replay", str(model), str(rec), "--speed", "1e6"]), "--speed")
