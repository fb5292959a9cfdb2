"""Hostile image files in recordings and given to predict (issue 22, items 1, 2, 4 and 8): only JPEG and PNG
are decoded, any decoder failure is a skipped and counted frame, a header claiming a huge frame is refused
before decoding, and the decoders' warnings are counted in one line instead of printed per frame."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import EpsImagePlugin
from support.hostile_images import dds_bytes, eps_bytes, fake_ghostscript, huge_jpeg, tiff_bytes, warning_png
from support.recordings import udacity
from support.simulator import tiny_model
from typer.testing import CliRunner

from drivenet.cli import app

TIMEOUT_S = 120  # a subprocess running a command on a few dozen frames; generous for a loaded CI machine


def invoke(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return tiny_model(tmp_path_factory.mktemp("hostile-images"))


def recording_with(folder: Path, bad: dict[int, bytes]) -> Path:
    """A six-frame Udacity recording whose frames `bad` (by position) hold other bytes, still named .jpg."""
    rec = udacity(folder, [0.1 * i for i in range(6)], sides=False)
    frames = sorted((rec / "IMG").glob("center_*.jpg"))
    for i, data in bad.items():
        frames[i].write_bytes(data)
    return rec


def no_traceback(result) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output


def test_an_eps_frame_never_reaches_ghostscript(model, tmp_path, monkeypatch):
    path, ran = fake_ghostscript(tmp_path / "bin")
    monkeypatch.setenv("PATH", path)
    monkeypatch.setattr(EpsImagePlugin, "gs_binary", None)  # found again on this PATH, as in a new process
    rec = recording_with(tmp_path / "rec", {2: eps_bytes()})
    eps = rec / "frame.eps"
    eps.write_bytes(eps_bytes())
    results = [
        invoke("preprocess", rec, "--out", tmp_path / "c.npz", "--workers", "1"),
        invoke("inspect", rec, "--workers", "1"),
        invoke("predict", model, eps, *sorted((rec / "IMG").glob("*.jpg")), "--json"),
    ]
    assert not ran.exists(), f"gs ran: {ran.read_text()}"
    for result in results:
        no_traceback(result)
        assert result.exit_code == 0, result.output
        assert "not a JPEG or PNG image" in result.output


def test_dds_bytes_saved_as_jpg_and_other_formats_are_skipped_frames(model, tmp_path):
    rec = recording_with(tmp_path / "rec", {1: dds_bytes(), 3: tiff_bytes()})
    preprocess = invoke("preprocess", rec, "--out", tmp_path / "c.npz", "--workers", "2")
    inspect = invoke("inspect", rec, "--workers", "1", "--out", tmp_path / "report")
    predict = invoke("predict", model, *sorted((rec / "IMG").glob("*.jpg")), "--json")
    for result in (preprocess, inspect, predict):
        no_traceback(result)
        assert result.exit_code == 0, result.output
    for result in (preprocess, inspect):
        assert "frames kept: 4" in result.output and "2 unreadable image" in result.output
        assert result.output.count("not a JPEG or PNG image") == 2
    assert len(json.loads(predict.stdout)) == 4
    assert "skipped 2 unreadable image(s)" in predict.output and "not a JPEG or PNG image" in predict.output


def test_a_small_jpeg_claiming_a_huge_frame_is_refused_before_decoding(model, tmp_path):
    huge = huge_jpeg(7000, 7000)  # 49 Mpixel in 629 bytes: under Pillow's bomb limit, over a camera's
    assert len(huge) < 1000
    rec = recording_with(tmp_path / "rec", {4: huge})
    preprocess = invoke("preprocess", rec, "--out", tmp_path / "c.npz", "--workers", "1")
    assert preprocess.exit_code == 0, preprocess.output
    assert "frames kept: 5" in preprocess.output and "7000x7000" in preprocess.output
    (tmp_path / "huge.jpg").write_bytes(huge)
    predict = invoke("predict", model, tmp_path / "huge.jpg")
    assert predict.exit_code == 1 and "too many pixels" in predict.output and "not decoded" in predict.output


def run_cli(*args: object) -> subprocess.CompletedProcess:
    """The command in a process of its own: what a user sees on stderr, warnings included."""
    command = [sys.executable, "-m", "drivenet", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S)


def test_decoder_warnings_are_counted_in_one_line_not_printed_per_frame(model, tmp_path):
    frames = 30
    rec = tmp_path / "rec"
    (rec / "IMG").mkdir(parents=True)
    rows = ["center,left,right,steering,throttle,brake,speed"]
    for i in range(frames):
        (rec / "IMG" / f"f_{i:03d}.png").write_bytes(warning_png())
        rows.append(f"IMG/f_{i:03d}.png,,,{i / 100},0,0,10")
    (rec / "driving_log.csv").write_text("\n".join(rows) + "\n")
    rgb = ["--set", "data.color=rgb", "--workers", "2"]
    preprocess = run_cli("preprocess", rec, "--out", tmp_path / "c.npz", *rgb)
    inspect = run_cli("inspect", rec, "--out", tmp_path / "report", *rgb)
    predict = run_cli("predict", model, rec / "IMG", "--json")
    for result in (preprocess, inspect, predict):
        assert result.returncode == 0, result.stderr
        assert "Warning" not in result.stderr, result.stderr
    for result in (preprocess, inspect):
        (line,) = [line for line in result.stdout.splitlines() if "image decoder warnings" in line]
        assert f"Transparency expressed in bytes should be converted to RGBA images x{frames}" in line
    assert len(json.loads(predict.stdout)) == frames
