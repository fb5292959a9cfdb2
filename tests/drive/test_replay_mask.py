"""A fairer replay judge (issue 23): where the recorded driver stood, reversed or paused, replay judges
nothing (no takeover, the seconds left out of autonomy) and says what it masked; `--max-offset road`
takes the limit from the lane's width instead of NVIDIA's 1 m. A slow car's logged speed or a speed given
by --speed is no stop, and a recording that would be mostly masked is refused."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from support.cli import one_line_error
from support.timed_log import write_timed_log
from typer.testing import CliRunner

from drivenet.cli import app
from drivenet.config import CameraConfig, DataConfig, load_config
from drivenet.data.transform import Preprocess
from drivenet.drive.replay import Replay, load_recorded_drive
from drivenet.drive.replay_mask import (
    MARGIN,
    MOST_MASKED,
    STOP_FLOOR,
    STOP_SECONDS,
    STOP_SHARE,
    STOP_SPEED,
    find_stretches,
    max_offset_of,
    road_offset,
    stop_speed,
)
from drivenet.errors import DrivenetError
from drivenet.model.checkpoint import load_model, save_model
from drivenet.model.steering_model import SteeringModel
from drivenet.sweep.judges import replay_figures
from drivenet.sweep.spec import judge_of

MPH = 0.44704
CRUISE = f"{10 / MPH:.4f}"  # 10 m/s in the log's mph
CREEP = f"{0.7 * STOP_SPEED / MPH:.4f}"  # slower than a stop's speed


def manoeuvre_rows() -> list[tuple[int, float, str]]:
    """10 Hz: 10 s straight at 10 m/s; a 1 s stop; 0.5 s reversing (negative speed); 8 s creeping at
    full right lock (a turn of ~27 degrees in 2.9 m, which no straight driver follows); 10 s straight."""
    speeds = [CRUISE] * 100 + ["0"] * 10 + ["-2"] * 5 + [CREEP] * 80 + [CRUISE] * 100
    steering = [0.0] * 115 + [1.0] * 80 + [0.0] * 100
    return [(100 * k, s, v) for k, (s, v) in enumerate(zip(steering, speeds, strict=True))]


@pytest.fixture
def manoeuvre(tmp_path) -> Path:
    return write_timed_log(tmp_path / "manoeuvre", manoeuvre_rows())


def load(folder: Path):
    return load_recorded_drive(folder, DataConfig(), CameraConfig())


def straight(view: np.ndarray) -> float:
    return 0.0


def test_the_masked_judge_counts_no_takeover_at_a_stop_and_reversal_where_the_old_judge_does(manoeuvre):
    drive = load(manoeuvre)
    old = Replay(drive, mask=False).run(straight)
    fair = Replay(drive).run(straight)
    stretch = drive.stretches[0]
    assert len(drive.stretches) == 1 and stretch.kind == "stop+reversing"
    assert old.takeovers >= 1
    assert all(stretch.start <= t <= stretch.start + stretch.seconds for t in old.takeover_seconds)
    assert fair.takeovers == 0 and fair.autonomy == 100.0
    assert fair.masked_seconds == pytest.approx(stretch.seconds) and old.masked_seconds == 0.0
    assert fair.seconds == pytest.approx(old.seconds)


def test_the_car_is_back_on_the_path_after_a_masked_stretch(manoeuvre):
    replay = Replay(load(manoeuvre))
    end = replay.stretches[0].end
    offsets = replay.trace["offset"]
    replay.run(straight)
    assert offsets[end - 1] == 0.0 and abs(offsets[end]) < 0.01


def test_reversing_rows_mark_the_step_across_them(manoeuvre):
    drive = load(manoeuvre)
    assert drive.dropped == {"a negative speed (reversing)": 5}
    assert np.flatnonzero(drive.reversing).tolist() == [109]  # the last standing frame to the first creeping


def test_the_pauses_counted_are_the_steps_flagged_across_a_pause(tmp_path):
    rows = [(100 * k + (5000 if k >= 150 else 0), 0.0, CRUISE) for k in range(300)]  # a 5 s pause
    drive = load(write_timed_log(tmp_path / "rec", rows))
    assert np.flatnonzero(drive.paused).tolist() == [149] and drive.pauses == 1
    assert [s.kind for s in drive.stretches] == ["pause"]


def test_a_stop_is_masked_with_a_margin_either_side_and_a_short_one_is_not():
    dt, n = 0.125, 100  # exact in binary: the clock adds up without rounding
    stop = int(STOP_SECONDS / dt)
    speed = np.full(n, 10.0)
    speed[40 : 40 + stop] = 0.0  # just long enough
    speed[80 : 80 + stop - 1] = 0.0  # just too short
    none = np.zeros(n - 1, bool)
    (stretch,) = find_stretches(speed, np.full(n - 1, dt), none, none, STOP_SPEED)
    assert stretch.kind == "stop" and stretch.start == pytest.approx(40 * dt - MARGIN)
    assert stretch.seconds == pytest.approx(STOP_SECONDS + 2 * MARGIN)
    assert stretch.metres == pytest.approx(2 * MARGIN * 10.0)


def test_a_pause_beside_a_stop_merges_into_one_stretch_and_one_at_the_start_is_clipped():
    dt, n = 0.125, 100
    speed = np.full(n, 10.0)
    speed[50:60] = 0.0
    paused, none = np.zeros(n - 1, bool), np.zeros(n - 1, bool)
    paused[[2, 62]] = True
    first, second = find_stretches(speed, np.full(n - 1, dt), none, paused, STOP_SPEED)
    assert first.kind == "pause" and first.first == 0 and first.end == 3 + int(MARGIN / dt)
    assert second.kind == "stop+pause" and second.end == 63 + int(MARGIN / dt)


def test_the_stop_speed_is_a_tenth_of_a_slow_cars_usual_speed_and_never_above_the_cars():
    assert stop_speed(np.array([0.0, 0.0, 2.0, 4.0, 4.0])) == pytest.approx(STOP_SHARE * 4.0)
    assert stop_speed(np.array([0.0, 12.0, 14.0])) == STOP_SPEED
    assert stop_speed(np.zeros(5)) == STOP_FLOOR


def test_a_parked_cars_sensor_noise_is_a_stop_whatever_its_median():
    """0.02 m/s of noise has a median of 0.02: a tenth of it would call nothing a stop and judge a parked
    car as driving; the floor masks it (and replay then refuses the drive as too little left to judge)."""
    noise = np.abs(np.random.default_rng(0).normal(0.0, 0.02, 300))
    assert stop_speed(noise) == STOP_FLOOR and np.mean(noise < stop_speed(noise)) > 0.9
    speed = np.zeros(20)
    assert find_stretches(speed, np.full(19, 0.1), np.zeros(19, bool), np.zeros(19, bool), None) == []


def slow_rows(metres_per_second: float, stop: slice | None = None) -> list[tuple[int, float, str]]:
    """10 Hz, 30 s at `metres_per_second` (standing in the rows of `stop`), steering 0."""
    standing = range(300)[stop] if stop is not None else range(0)
    moving = f"{metres_per_second / MPH:.4f}"
    return [(100 * k, 0.0, "0" if k in standing else moving) for k in range(300)]


def test_a_slow_car_creeping_is_judged_and_its_stops_still_masked(tmp_path):
    creeping = load(write_timed_log(tmp_path / "creep", slow_rows(0.4)))
    assert creeping.logged_speed and creeping.stretches == []
    halting = load(write_timed_log(tmp_path / "halt", slow_rows(0.4, slice(100, 120))))
    (stretch,) = halting.stretches
    assert stretch.kind == "stop" and stretch.start == pytest.approx(10.0 - MARGIN)


def turning(view: np.ndarray) -> float:
    return -1.0


def test_a_speed_given_for_every_frame_is_no_stop_and_the_drive_is_judged(tmp_path):
    """A constant --speed below the stop speed once masked the whole drive: 0 takeovers, 100%."""
    folder = write_timed_log(tmp_path / "rec", slow_rows(10.0))
    drive = load_recorded_drive(folder, DataConfig(), CameraConfig(), 0.4)
    assert not drive.logged_speed and drive.stretches == []
    judged, every = Replay(drive).run(turning), Replay(drive, mask=False).run(turning)
    assert judged.takeovers == every.takeovers > 0 and judged.masked_seconds == 0.0
    assert judged.autonomy == every.autonomy < 100.0


def test_a_recording_mostly_masked_is_refused_and_judged_whole_without_the_mask(tmp_path):
    folder = write_timed_log(tmp_path / "rec", slow_rows(10.0, slice(60, 300)))  # 6 s driven, 24 s stood
    drive = load(folder)
    assert sum(s.seconds for s in drive.stretches) > MOST_MASKED * drive.interval.sum()
    with pytest.raises(DrivenetError, match=f"{folder}: .* would be masked .*too little left to judge"):
        Replay(drive)
    assert Replay(drive, mask=False).run(straight).masked_seconds == 0.0


def test_the_cli_refuses_a_mostly_masked_recording_and_says_when_it_sought_no_stop(tmp_path, model):
    folder = write_timed_log(tmp_path / "rec", slow_rows(10.0, slice(60, 300)))
    one_line_error(CliRunner().invoke(app, ["replay", str(model), str(folder)]), "--no-mask", str(folder))
    given = CliRunner().invoke(app, ["replay", str(model), str(folder), "--speed", "0.4"])
    assert given.exit_code == 0, given.output
    assert "masked nothing: the recorded driver never reversed or paused (no stop sought: --speed" in (
        given.output
    )


def test_the_road_offset_is_half_the_room_the_car_leaves_in_its_lane():
    assert road_offset(6.3, 1.8) == pytest.approx((6.3 - 1.8) / 2)
    assert max_offset_of("road", 3.6, 2.0) == pytest.approx(0.8)
    assert max_offset_of(" 1.5", None) == 1.5


@pytest.mark.parametrize(
    ("text", "road", "car", "message"),
    [
        ("road", None, 1.8, "needs --road-width"),
        ("road", 1.5, 1.8, "not narrower"),
        ("road", math.inf, 1.8, r"road width inf: expected metres"),
        ("abc", None, None, "give metres"),
        ("-1", None, None, "above 0"),
        ("nan", None, None, "above 0"),
        ("2", 6.0, None, "--road-width is used by --max-offset road only"),
        ("2", None, 1.8, "--car-width is used by --max-offset road only"),
    ],
)
def test_bad_offsets_are_refused(text, road, car, message):
    with pytest.raises(DrivenetError, match=message):
        max_offset_of(text, road, car)


@pytest.fixture
def model(tmp_path) -> Path:
    config = load_config(None, ["data.width=8", "data.height=4", "model.hidden=[4]"])
    return save_model(SteeringModel.build(config, Preprocess.from_config(config.data)), tmp_path / "m.npz")


def test_the_cli_reports_what_it_masked_and_judges_autonomy_over_the_rest(manoeuvre, model):
    run = CliRunner().invoke(app, ["replay", str(model), str(manoeuvre), "--json"])
    report = json.loads(run.output)
    assert [m["kind"] for m in report["masked"]] == ["stop+reversing"] and report["masked_metres"] > 0
    judged = report["seconds"] - report["masked_seconds"]
    assert report["autonomy"] == pytest.approx(max(0.0, 1 - report["takeovers"] * 6 / judged) * 100)
    unmasked = json.loads(
        CliRunner().invoke(app, ["replay", str(model), str(manoeuvre), "--json", "--no-mask"]).output
    )
    assert unmasked["masked"] == [] and unmasked["masked_seconds"] == 0.0
    text = (
        CliRunner()
        .invoke(app, ["replay", str(model), str(manoeuvre), "--max-offset", "road", "--road-width", "6"])
        .output
    )
    assert "masked 1 stretch (1 stop+reversing; from 9.0 s)" in text
    assert f"takeover beyond {road_offset(6.0):.2f} m" in text


@pytest.mark.parametrize(
    ("args", "option"),
    [(["--max-offset", "road"], "--road-width"), (["--max-offset", "x"], "--max-offset"),
     (["--max-offset", "road", "--road-width", "1"], "car width")],
)  # fmt: skip
def test_the_cli_refuses_bad_offsets_in_one_line(manoeuvre, model, args, option):
    one_line_error(CliRunner().invoke(app, ["replay", str(model), str(manoeuvre), *args]), option)


def test_the_sweeps_replay_judge_masks_and_takes_a_road_offset(manoeuvre, model, tmp_path):
    table = {"judge": "replay", "recordings": [str(manoeuvre)], "max_offset": "road", "road_width": 5}
    judge = judge_of(table, tmp_path, "spec [select]")
    assert judge.mask and judge.max_offset == pytest.approx(road_offset(5.0))
    figures = replay_figures(judge, load_model(model), str(manoeuvre))
    assert figures["masked_seconds"] == pytest.approx(load(manoeuvre).stretches[0].seconds)
    blind = judge_of({**table, "mask": False}, tmp_path, "spec [select]")
    assert replay_figures(blind, load_model(model), str(manoeuvre))["masked_seconds"] == 0.0


@pytest.mark.parametrize(
    ("extra", "message"),
    [({"road_width": 6}, 'with max_offset = "road" only'), ({"max_offset": "road"}, "needs road_width"),
     ({"max_offset": "road", "road_width": 1, "car_width": 2}, "not narrower"),
     ({"mask": "yes"}, "true or false")],
)  # fmt: skip
def test_the_sweep_refuses_bad_replay_limits_in_one_line(manoeuvre, tmp_path, extra, message):
    with pytest.raises(DrivenetError, match=message):
        judge_of({"judge": "replay", "recordings": [str(manoeuvre)], **extra}, tmp_path, "spec [select]")
