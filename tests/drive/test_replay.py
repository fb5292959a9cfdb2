"""Replay on recordings: the rebuilt path, takeovers, the agreement with `drive`, and the errors."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from drivenet.cli import app
from drivenet.config import CameraConfig, DataConfig, load_config
from drivenet.data.odometry import read_odometry, stamp_in_name
from drivenet.data.transform import Preprocess
from drivenet.drive.rendered import ClosedLoop, drive_track
from drivenet.drive.replay import (
    RecordedDrive,
    Replay,
    curvature,
    frame_intervals,
    load_recorded_drive,
    rebuild_path,
)
from drivenet.errors import DrivenetError
from drivenet.geometry.camera import MARKER, PRESETS, from_render_camera
from drivenet.geometry.car import MAX_WHEEL_ANGLE, pursuit_steering
from drivenet.model.checkpoint import save_model
from drivenet.model.steering_model import SteeringModel
from drivenet.roads.renderer import Camera
from drivenet.roads.synth import SPACING, write_recording

CAMERA = Camera(96, 48)  # small frames: the renderer's geometry, a quick test
ROADS = CameraConfig(preset="roads")
MPH = 0.44704
HEADER = "center,left,right,steering,throttle,brake,speed"


def stamped(k: int, every_ms: int = 100) -> str:
    """A Udacity-style image name for frame k, `every_ms` apart."""
    ms = k * every_ms
    return f"IMG/center_2020_01_01_00_{ms // 60000:02d}_{ms // 1000 % 60:02d}_{ms % 1000:03d}.jpg"


def record_drive(out: Path, km: float, seed: int) -> None:
    """A Udacity-layout recording of the pure-pursuit expert driving `drive`'s road: the frames it saw
    and its steering, converted from car.py's steering (linear in tan δ) to the camera model's (linear in
    δ), 10 m/s logged in mph, every 0.1 s."""
    (out / "IMG").mkdir(parents=True)
    rows = [HEADER]
    loop = ClosedLoop(drive_track(km, seed), CAMERA, seed, speed=10.0, dt=0.1)

    def keep(loop: ClosedLoop, frame: np.ndarray, steering: float) -> None:
        name = stamped(len(rows) - 1)
        Image.fromarray(frame).save(out / name, quality=95)
        wheel = math.atan(steering * math.tan(MAX_WHEEL_ANGLE)) / MAX_WHEEL_ANGLE
        rows.append(f"{name},,,{wheel:.6f},0,0,{10.0 / MPH:.5f}")

    loop.run(lambda frame: pursuit_steering(loop.track, loop.pose, loop.s), km, keep)
    (out / "driving_log.csv").write_text("\n".join(rows) + "\n")


def lane_keeper(gain: float, bias: float = 0.0):
    """Steering read from the picture alone: towards the dark asphalt's centroid in a band of rows
    ahead, `gain` per half-width of offset, plus `bias`."""

    def steer(frame: np.ndarray) -> float:
        grey = frame.astype(np.float32).mean(axis=2)
        h, w = grey.shape
        band = grey[int(h * 0.62) : int(h * 0.75)]
        dark = np.maximum(band.mean(axis=1, keepdims=True) - band, 0.0)
        centre = float((dark * (np.arange(w) + 0.5)).sum() / max(float(dark.sum()), 1e-6))
        return gain * (centre - w / 2) / (w / 2) + bias

    return steer


def write_log(folder: Path, steering: list[float], speed_mph: float | None, size=(64, 32)) -> Path:
    """A small Udacity recording of plain grey frames, 0.1 s apart (with a speed column if given)."""
    (folder / "IMG").mkdir(parents=True)
    header = HEADER if speed_mph is not None else "center,left,right,steering"
    rows = [header]
    for k, value in enumerate(steering):
        name = stamped(k)
        Image.new("RGB", size, (90 + k % 7, 100, 110)).save(folder / name)
        rows.append(f"{name},,,{value}" + (f",0,0,{speed_mph}" if speed_mph is not None else ""))
    (folder / "driving_log.csv").write_text("\n".join(rows) + "\n")
    return folder


def load(folder: Path, speed: float | None = None, frame_rate: float | None = None) -> RecordedDrive:
    return load_recorded_drive(folder, DataConfig(), CameraConfig(), speed, frame_rate)


# ---- the path ------------------------------------------------------------------------------------


def test_constant_steering_rebuilds_a_circle_of_the_bicycle_radius() -> None:
    camera = PRESETS["udacity"]
    u, n, step = 0.4, 300, 0.9
    kappa = curvature(np.full(n, u), camera)
    path = rebuild_path(kappa, np.full(n - 1, step))
    radius = camera.wheelbase / math.tan(u * camera.max_wheel_angle)  # R = L / tan δ
    # heading north from the origin and bending right: the centre lies `radius` east of the start
    distance = np.hypot(path.track.x - radius, path.track.y)
    assert np.abs(distance - radius).max() < 1e-6 * radius
    assert path.at[-1] == pytest.approx((n - 1) * step)
    assert path.track.heading[-1] == pytest.approx((n - 1) * step / radius)


def test_straight_ahead_rebuilds_a_straight_line() -> None:
    path = rebuild_path(np.zeros(50), np.full(49, 1.5))
    assert np.abs(path.track.x).max() < 1e-9
    assert path.track.y[-1] == pytest.approx(49 * 1.5)


def test_steering_beyond_car_py_range_still_drives_its_own_curvature() -> None:
    """A small car (a Donkey's 0.26 m wheelbase) turns tighter than car.py's κ_max."""
    camera = PRESETS["donkey"]
    kappa = curvature(np.full(200, 0.8), camera)
    assert kappa[0] > 5 * float(curvature(1.0, PRESETS["udacity"]))
    path = rebuild_path(kappa, np.full(199, 0.02))
    radius = 1 / kappa[0]
    assert np.abs(np.hypot(path.track.x - radius, path.track.y) - radius).max() < 1e-6


def test_frame_intervals_come_from_times_and_pauses_count_as_a_typical_interval() -> None:
    times = np.array([0.0, 0.08, 0.16, 100.0, 100.08, np.nan])
    interval, paused = frame_intervals(times, 15.0)
    assert paused.tolist() == [False, False, True, False, False]
    np.testing.assert_allclose(interval, [0.08, 0.08, 0.08, 0.08, 1 / 15.0])


def test_udacity_names_give_times() -> None:
    early = stamp_in_name("C:\\x\\IMG\\center_2016_12_01_13_30_48_287.jpg")
    late = stamp_in_name("/a/IMG/center_2016_12_01_13_30_49_004.jpg")
    assert late - early == pytest.approx(0.717)
    assert math.isnan(stamp_in_name("frame_0001.jpg"))


# ---- takeovers -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bend(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A recording of a right bend: 0.1 s frames at 30 mph, steering 0.1 after a straight start."""
    steering = [0.0] * 20 + [0.1] * 100
    return write_log(tmp_path_factory.mktemp("bend") / "rec", steering, 30.0)


def test_replaying_the_recorded_steering_stays_on_the_path(bend: Path) -> None:
    drive = load(bend)
    replay = Replay(drive)
    report = replay.run(lambda view: float(drive.steering[replay.shown]))
    assert report.takeovers == 0
    assert report.worst_offset < 0.01
    assert report.autonomy == 100.0
    assert report.seconds == pytest.approx(0.1 * (len(drive.images) - 1))
    assert report.km * 1000 == pytest.approx(float(drive.distance.sum()), rel=1e-3)


def test_a_model_steering_wrong_is_taken_over(bend: Path) -> None:
    replay = Replay(load(bend), max_heading=89.0)
    report = replay.run(lambda view: -0.3)  # offset takeovers only
    assert set(replay.taken) <= set(replay.trace["time"])  # one part a step: the plot marks that step
    assert report.takeovers >= 3
    assert report.worst_offset > 1.0
    times = report.takeover_seconds  # where to look: each takeover's time, in order
    assert len(times) == report.takeovers
    assert list(times) == sorted(times) and times[0] > 0 and times[-1] <= report.seconds + 0.01
    assert report.autonomy == pytest.approx(max(0.0, 1 - report.takeovers * 6 / report.seconds) * 100)


def test_each_takeover_of_a_long_step_has_its_own_time(bend: Path) -> None:
    drive = load(bend, frame_rate=0.5)  # 2 s, 27 m per step: driven in 6 parts
    report = Replay(drive, max_offset=0.3, max_heading=89.0).run(lambda view: 1.0)
    times = np.asarray(report.takeover_seconds)
    assert len(times) == report.takeovers > len(np.unique(np.ceil(times / 2.0 - 1e-9)))  # several a step
    assert (np.diff(times) > 0).all() and times[-1] <= report.seconds + 0.01


def test_a_heading_error_beyond_the_limit_is_a_takeover(bend: Path) -> None:
    drive = load(bend)
    lenient = Replay(drive, max_offset=100.0, max_heading=89.0).run(lambda view: 0.0)
    strict = Replay(drive, max_offset=100.0, max_heading=3.0)
    report = strict.run(lambda view: 0.0)
    assert lenient.takeovers == 0
    assert report.takeovers >= 1
    assert len(strict.taken) == report.takeovers  # what --plot marks: heading takeovers too


def test_steps_longer_than_the_search_window_keep_the_car_on_the_path(bend: Path) -> None:
    """At 0.1 frames per second each step drives 134 m; the car is located in parts along it."""
    drive = load(bend, frame_rate=0.1)
    assert drive.distance.min() > 100.0
    replay = Replay(drive)
    report = replay.run(lambda view: float(drive.steering[replay.shown]))
    assert report.takeovers == 0 and report.worst_offset < 0.01
    assert report.km * 1000 == pytest.approx(float(drive.distance.sum()), rel=1e-3)


# ---- the camera of a recording -------------------------------------------------------------------


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A `drivenet synth` recording: 96x48 frames of drivenet's road, 3 m apart."""
    out = tmp_path_factory.mktemp("synth") / "syn"
    write_recording(out, 8, seed=1, camera=CAMERA)
    return out


def test_a_synth_recording_replays_with_the_renderer_camera(synthetic: Path) -> None:
    drive = load(synthetic)
    assert (synthetic / MARKER).is_file()
    assert drive.camera == from_render_camera(CAMERA)
    assert drive.camera_name == f"roads ({MARKER})"
    assert drive.distance.sum() == pytest.approx(7 * SPACING, rel=1e-3)  # 22.4 mph at the roads' frame rate
    chosen = load_recorded_drive(synthetic, DataConfig(), CameraConfig(preset="udacity"))
    assert chosen.camera == PRESETS["udacity"] and chosen.camera_name == "udacity"


def test_a_broken_camera_marker_is_one_error(synthetic: Path, tmp_path: Path) -> None:
    broken = tmp_path / "syn"
    broken.mkdir()
    for path in synthetic.rglob("*"):
        target = broken / path.relative_to(synthetic)
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.is_file():
            target.write_bytes(path.read_bytes())
    (broken / MARKER).write_text('{"preset": "roads", "camera": {"lens": 3}}')
    with pytest.raises(DrivenetError, match=f"{MARKER}: not a camera marker"):
        load(broken)


# ---- agreement with `drive` ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def expert_recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("expert") / "rec"
    record_drive(out, 0.4, seed=3)
    return out


@pytest.mark.parametrize(("gain", "bias"), [(0.5, 0.0), (0.3, 0.1)])
def test_replay_of_a_synthetic_recording_agrees_with_drive_on_the_same_road(
    expert_recording: Path, gain: float, bias: float
) -> None:
    """The same picture-reading driver, in `drive` (frames rendered where the car is) and in `replay`
    (the expert's frames warped to where the car is): takeovers agree within 15% (+1) and the mean
    offsets within 0.05 m + 15%. (Measured, seed 3, 0.4 km: 0 / 0 takeovers, 0.09 / 0.10 m; 29 / 28
    takeovers, 0.46 / 0.46 m.)"""
    steer = lane_keeper(gain, bias)
    driven = ClosedLoop(drive_track(0.4, 3), CAMERA, 3, speed=10.0, dt=0.1).run(steer, 0.4)
    drive = load_recorded_drive(expert_recording, DataConfig(), ROADS)
    replayed = Replay(drive).run(steer)
    assert replayed.seconds == pytest.approx(driven.seconds, abs=0.5)
    assert abs(replayed.takeovers - driven.takeovers) <= 1 + 0.15 * driven.takeovers
    assert abs(replayed.autonomy - driven.autonomy) <= 15.0
    assert abs(replayed.mean_offset - driven.mean_offset) <= 0.05 + 0.15 * driven.mean_offset


# ---- the command and its errors ------------------------------------------------------------------


def tiny_model(path: Path, motion_gaps: list[int]) -> Path:
    gaps = f"data.motion_gaps={motion_gaps}"
    config = load_config(None, ["data.width=8", "data.height=4", "model.hidden=[4]", gaps])
    model = SteeringModel.build(config, Preprocess.from_config(config.data))
    return save_model(model, path)


def test_cli_replays_a_motion_model_and_writes_gif_and_plot(bend: Path, tmp_path: Path) -> None:
    model = tiny_model(tmp_path / "motion.npz", [1, 2])
    gif, plot = tmp_path / "replay.gif", tmp_path / "offset.png"
    args = ["replay", str(model), str(bend), "--json", "--gif", str(gif), "--plot", str(plot)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["steps"] == 119 and report["frames"] == 120
    assert len(report["takeover_seconds"]) == report["takeovers"]
    assert report["autonomy"] == pytest.approx(
        max(0.0, 1 - report["takeovers"] * 6 / report["seconds"]) * 100
    )
    with Image.open(gif) as film:
        assert film.n_frames > 10
    assert plot.stat().st_size > 0
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 1 and "already exists" in again.output


def test_cli_names_the_camera_model(synthetic: Path, tmp_path: Path) -> None:
    model = tiny_model(tmp_path / "m.npz", [])
    result = CliRunner().invoke(app, ["replay", str(model), str(synthetic), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["camera"] == f"roads ({MARKER})"
    text = CliRunner().invoke(app, ["replay", str(model), str(synthetic), "--set", "camera.mount_height=1.2"])
    assert f"camera model: roads ({MARKER}) with [camera] overrides" in text.output


def test_cli_says_when_the_takeovers_came(bend: Path, tmp_path: Path) -> None:
    model = tiny_model(tmp_path / "m.npz", [])
    args = ["replay", str(model), str(bend), "--max-offset", "0.001", "--max-heading", "0.01"]
    report = json.loads(CliRunner().invoke(app, [*args, "--json"]).output)
    assert report["takeovers"] > 12  # a car never within 1 mm of the path: taken over at almost every step
    text = CliRunner().invoke(app, args).output
    first = ", ".join(f"{t:.1f}" for t in report["takeover_seconds"][:12])
    assert f"{report['takeovers']} takeovers, autonomy" in text
    assert f"takeovers at {first} s and {report['takeovers'] - 12} more" in text


@pytest.mark.parametrize(
    "args", [["--speed", "inf"], ["--speed", "nan"], ["--speed", "-1"], ["--fps", "inf"]]
)
def test_cli_refuses_a_speed_or_rate_that_is_not_finite_and_positive(
    bend: Path, tmp_path: Path, args: list[str]
) -> None:
    model = tiny_model(tmp_path / "m.npz", [])
    result = CliRunner().invoke(app, ["replay", str(model), str(bend), *args])
    assert result.exit_code == 1
    assert result.output.startswith(f"error: {args[0]}") and len(result.output.strip().splitlines()) == 1


def test_cli_refuses_one_file_for_gif_and_plot(bend: Path, tmp_path: Path) -> None:
    model = tiny_model(tmp_path / "m.npz", [])
    out = tmp_path / "same.png"
    result = CliRunner().invoke(app, ["replay", str(model), str(bend), "--gif", str(out), "--plot", str(out)])
    assert result.exit_code == 1 and "both name" in result.output
    assert not out.exists()


def test_donkey_without_speed_asks_for_speed(tmp_path: Path) -> None:
    tub = tmp_path / "tub"
    (tub / "images").mkdir(parents=True)
    records = []
    for k in range(30):
        Image.new("RGB", (160, 120), (100, 100, 100)).save(tub / "images" / f"{k}_cam.jpg")
        records.append(
            json.dumps(
                {
                    "_index": k,
                    "_timestamp_ms": 1000 + 50 * k,
                    "cam/image_array": f"{k}_cam.jpg",
                    "user/angle": 0.1,
                }
            )
        )
    (tub / "catalog_0.catalog").write_text("\n".join(records) + "\n")
    (tub / "manifest.json").write_text('{"paths": ["catalog_0.catalog"], "deleted_indexes": []}\n')
    with pytest.raises(DrivenetError, match="logs no speed; pass --speed"):
        load(tub)
    drive = load(tub, speed=1.5)
    np.testing.assert_allclose(drive.interval, 0.05)  # from the catalog's time stamps
    assert drive.camera == PRESETS["donkey"]
    assert Replay(drive).run(lambda view: 0.1).takeovers == 0


def test_sully_logs_replay_with_speed_at_their_frame_rate(tmp_path: Path) -> None:
    folder = tmp_path / "sully"
    folder.mkdir()
    lines = []
    for k in range(20):
        Image.new("RGB", (455, 256), (80, 80, 80)).save(folder / f"{k}.jpg")
        lines.append(f"{k}.jpg {k * 2.0:.6f}")
    (folder / "data.txt").write_text("\n".join(lines) + "\n")
    with pytest.raises(DrivenetError, match="sully recording logs no speed"):
        load(folder)
    drive = load(folder, speed=10.0)
    np.testing.assert_allclose(drive.interval, 1 / PRESETS["sully"].frame_rate)


def test_a_udacity_log_without_speed_column_asks_for_speed(tmp_path: Path) -> None:
    folder = write_log(tmp_path / "rec", [0.0] * 10, None)
    with pytest.raises(DrivenetError, match="--speed"):
        load(folder)
    assert len(load(folder, speed=5.0).images) == 10


def test_cli_error_is_one_line(tmp_path: Path) -> None:
    folder = write_log(tmp_path / "rec", [0.0] * 10, None)
    model = tiny_model(tmp_path / "m.npz", [])
    result = CliRunner().invoke(app, ["replay", str(model), str(folder)])
    assert result.exit_code == 1
    assert result.output.startswith("error:") and "--speed" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_standing_car_cannot_be_replayed(tmp_path: Path) -> None:
    folder = write_log(tmp_path / "rec", [0.0] * 10, 0.0)
    with pytest.raises(DrivenetError, match=r"would be masked \(stop\), too little left to judge"):
        Replay(load(folder))
    with pytest.raises(DrivenetError, match="drives only 0.00 m"):
        Replay(load(folder), mask=False)


def test_odometry_of_real_recordings_when_available() -> None:
    root = Path(os.environ.get("DRIVENET_DATASETS", "/nonexistent")) / "lake-achauhan"
    if not root.is_dir():
        pytest.skip("DRIVENET_DATASETS is not set (or lacks lake-achauhan): no real recording to read")
    names = sorted(p.name for p in (root / "IMG").glob("center_*.jpg"))
    odometry = read_odometry("udacity", root / "driving_log.csv", names, DataConfig())
    assert not np.isnan(odometry.speed).any() and not np.isnan(odometry.time).any()
    assert 20 < float(np.median(odometry.speed)) < 35  # mph


def test_plain_csv_with_speed_and_time_columns(tmp_path: Path) -> None:
    folder = tmp_path / "csv"
    folder.mkdir()
    rows = ["image,steering,speed,time"]
    for k in range(12):
        Image.new("RGB", (320, 160), (90, 90, 90)).save(folder / f"f{k}.png")
        rows.append(f"f{k}.png,0.05,20,{k * 0.2:.1f}")
    (folder / "log.csv").write_text("\n".join(rows) + "\n")
    drive = load(folder)
    assert drive.camera == PRESETS["udacity"]  # told by the frame size; its speed unit is mph
    np.testing.assert_allclose(drive.interval, 0.2)
    np.testing.assert_allclose(drive.speed, 20 * MPH)
