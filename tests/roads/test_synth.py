"""`drivenet synth`: rendered recordings in the Udacity layout, read back through the Udacity reader."""

from __future__ import annotations

import numpy as np
from PIL import Image
from typer.testing import CliRunner

from drivenet.cli import app
from drivenet.config import DataConfig
from drivenet.data import read_recordings
from drivenet.roads.renderer import Camera
from drivenet.roads.synth import render_set

runner = CliRunner()


def test_recording_reads_back_through_the_udacity_reader(tmp_path):
    out = tmp_path / "roads"
    result = runner.invoke(app, ["synth", str(out), "--frames", "12", "--seed", "2", "--size", "80x40"])
    assert result.exit_code == 0, result.output
    header = (out / "driving_log.csv").read_text().splitlines()[0]
    assert header == "center,left,right,steering,throttle,brake,speed"
    read = read_recordings([out], DataConfig(format="udacity"))
    assert read.problems == []
    frames = read.frames
    assert len(frames) == 12 and set(frames["camera"]) == {"center"}
    _, labels = render_set(12, seed=2, camera=Camera(80, 40))
    np.testing.assert_allclose(frames["steering"].to_numpy(), labels, atol=1e-6)
    with Image.open(frames["path"][0]) as image:
        assert image.size == (80, 40) and image.mode == "RGB"


def test_existing_recording_needs_force(tmp_path):
    out = tmp_path / "roads"
    args = ["synth", str(out), "--frames", "3", "--size", "32x30"]
    assert runner.invoke(app, args).exit_code == 0
    again = runner.invoke(app, args)
    assert again.exit_code == 1
    assert "--force" in again.output and "Traceback" not in again.output
    assert runner.invoke(app, [*args, "--seed", "1", "--force"]).exit_code == 0


def test_bad_size_is_a_one_line_error(tmp_path):
    result = runner.invoke(app, ["synth", str(tmp_path / "r"), "--size", "320by160"])
    assert result.exit_code == 1
    assert result.output.startswith("error: --size '320by160'") and result.output.count("\n") == 1
    assert not (tmp_path / "r").exists()


def test_synth_never_empties_the_working_folder(tmp_path, monkeypatch):
    (tmp_path / "notes.txt").write_text("precious")
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["synth", ".", "--frames", "2", "--size", "32x30", "--force"])
    assert result.exit_code == 1 and "working folder" in result.output
    assert (tmp_path / "notes.txt").read_text() == "precious"
