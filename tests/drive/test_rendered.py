"""Closed-loop driving: takeovers, autonomy and `drivenet drive`."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from drivenet.cli import app
from drivenet.config import load_config
from drivenet.data import Preprocess
from drivenet.drive.rendered import ClosedLoop, autonomy, drive_track
from drivenet.geometry.car import pursuit_steering
from drivenet.geometry.track import Track
from drivenet.model.checkpoint import save_model
from drivenet.model.steering_model import SteeringModel
from drivenet.roads.renderer import Camera

SMALL = Camera(width=48, height=24)
runner = CliRunner()


def test_autonomy_charges_six_seconds_per_takeover():
    assert autonomy(0, 100.0) == 100.0
    assert autonomy(1, 600.0) == pytest.approx(99.0)
    assert autonomy(5, 60.0) == pytest.approx(50.0)
    assert autonomy(50, 60.0) == 0.0  # helped all the time, not less than that


def test_straight_road_and_perfect_controller_needs_no_takeover():
    loop = ClosedLoop(Track.straight(600), SMALL)
    report = loop.run(lambda frame: 0.0, km=0.3)
    assert report.takeovers == 0 and report.autonomy == 100.0
    assert report.worst_offset < 1e-9
    assert report.km == pytest.approx(0.3, abs=0.002)
    assert report.seconds == pytest.approx(report.steps * 0.1)


def test_steering_forced_wrong_is_taken_over():
    loop = ClosedLoop(Track.straight(600), SMALL)
    report = loop.run(lambda frame: 0.5, km=0.3)
    assert report.takeovers >= 3 and report.autonomy < 100.0
    assert report.worst_offset > 1.0


def test_expert_drives_a_curvy_road_and_its_opposite_does_not():
    track = drive_track(0.4, seed=1)
    assert np.abs(track.curvature).max() > 1 / 80  # the road really bends
    expert = ClosedLoop(track, SMALL)
    report = expert.run(lambda frame: pursuit_steering(track, expert.pose, expert.s), km=0.4)
    assert report.takeovers == 0 and report.worst_offset < 0.3
    wrong = ClosedLoop(track, SMALL)
    report = wrong.run(lambda frame: -pursuit_steering(track, wrong.pose, wrong.s), km=0.4)
    assert report.takeovers > 0


def test_steer_sees_rendered_frames():
    seen = []
    ClosedLoop(Track.straight(300), SMALL).run(lambda frame: seen.append(frame) or 0.0, km=0.01)
    assert len(seen) == 10 and seen[0].shape == (24, 48, 3) and seen[0].dtype == np.uint8


def test_drive_command_reports_and_writes_a_gif(tmp_path):
    config = load_config(None, ["model.hidden=[4]", 'model.encoding="bump"'])
    model = SteeringModel.build(config, Preprocess.from_config(config.data))
    save_model(model, tmp_path / "model.npz")
    gif = tmp_path / "drive.gif"
    args = ["drive", str(tmp_path / "model.npz"), "--km", "0.03", "--size", "64x32", "--gif", str(gif)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "autonomy" in result.output and "takeovers" in result.output
    with Image.open(gif) as image:
        assert image.n_frames > 5 and image.width >= 320
    again = runner.invoke(app, args)
    assert again.exit_code == 1 and "--force" in again.output
    result = runner.invoke(app, [*args[:6], "--json"])
    assert result.exit_code == 0 and '"autonomy"' in result.output


def test_drive_rejects_a_file_that_is_not_a_model(tmp_path):
    bogus = tmp_path / "model.npz"
    bogus.write_bytes(b"not a model")
    result = runner.invoke(app, ["drive", str(bogus), "--km", "0.01"])
    assert result.exit_code == 1 and result.output.startswith("error:") and "Traceback" not in result.output


def tiny_model(tmp_path, frame_size=None):
    config = load_config(None, ["model.hidden=[4]"])
    model = SteeringModel.build(config, Preprocess.from_config(config.data))
    model.meta["frame_size"] = frame_size  # what training stores: (width, height) of the raw frames
    return save_model(model, tmp_path / "model.npz")


def test_drive_renders_at_the_models_frame_size(tmp_path, monkeypatch):
    path = tiny_model(tmp_path, frame_size=[64, 32])
    sizes, render = [], ClosedLoop.frame
    monkeypatch.setattr(ClosedLoop, "frame", lambda loop: sizes.append(loop.renderer.camera) or render(loop))
    result = runner.invoke(app, ["drive", str(path), "--km", "0.01"])
    assert result.exit_code == 0, result.output
    assert (sizes[0].width, sizes[0].height) == (64, 32)
    result = runner.invoke(app, ["drive", str(path), "--km", "0.01", "--size", "320x160"])
    assert result.exit_code == 1 and result.output.count("\n") == 1
    assert "--size 320x160" in result.output and "64x32" in result.output


def test_drive_gif_that_is_a_folder_is_a_one_line_error(tmp_path):
    path = tiny_model(tmp_path)
    (tmp_path / "adir").mkdir()
    args = ["drive", str(path), "--km", "0.01", "--gif", str(tmp_path / "adir"), "--force"]
    result = runner.invoke(app, args)
    assert result.exit_code == 1 and result.output.startswith("error:") and "adir" in result.output


@pytest.mark.parametrize("option", ["--km", "--speed"])
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "0", "-2"])
def test_drive_rejects_km_or_speed_that_is_not_a_finite_positive_number(tmp_path, option, value):
    path = tiny_model(tmp_path)
    result = runner.invoke(app, ["drive", str(path), "--km", "0.01", option, value])
    assert result.exit_code == 1 and result.output.count("\n") == 1
    assert result.output.startswith(f"error: {option}") and "Traceback" not in result.output


@pytest.mark.parametrize("value", ["nan", "inf", "0", "-1"])
def test_demo_rejects_km_that_is_not_a_finite_positive_number(tmp_path, value):
    result = runner.invoke(app, ["demo", "--out", str(tmp_path / "demo"), "--km", value])
    assert result.exit_code == 1 and result.output.startswith("error: --km")
    assert not (tmp_path / "demo").exists()
