"""`drivenet preprocess` and `drivenet inspect` from the command line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from support.recordings import donkey_v2, udacity
from typer.testing import CliRunner

from drivenet.cli import app
from drivenet.data import SteeringCache

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def test_preprocess_writes_a_cache_and_summary(tmp_path: Path) -> None:
    rec = udacity(tmp_path / "rec", [0.0, 0.01, -0.5, 0.5], sides=False)
    (rec / "IMG" / "center_2016_12_01_13_30_000003.jpg").write_bytes(b"")
    out = tmp_path / "cache.npz"
    result = run(
        "preprocess", rec, "--out", out, "--set", "data.width=16", "--cameras", "all", "--workers", "1"
    )
    assert result.exit_code == 0, result.output
    assert "frames kept: 3" in result.output
    assert "frames skipped: 9 (8 missing image, 1 unreadable image)" in result.output
    assert "near-zero steering (|s| < 0.02): 66.7% of frames" in result.output
    assert "cache: " in result.output and "MB" in result.output
    cache = SteeringCache.load(out)
    assert cache.images.shape == (3, 30, 16, 1)
    np.testing.assert_allclose(cache.steering, [0.0, 0.01, -0.5])


def test_preprocess_never_overwrites_without_force(tmp_path: Path) -> None:
    rec = udacity(tmp_path / "rec", [0.1], sides=False)
    out = tmp_path / "cache.npz"
    out.write_bytes(b"precious")
    result = run("preprocess", rec, "--out", out)
    assert result.exit_code == 1 and "already exists; pass --force" in result.output
    assert out.read_bytes() == b"precious"
    assert run("preprocess", rec, "--out", out, "--force").exit_code == 0
    assert run("preprocess", rec, "--out", tmp_path / "cache.bin").exit_code == 1


def test_strict_turns_a_skipped_frame_into_a_failure(tmp_path: Path) -> None:
    rec = udacity(tmp_path / "rec", [0.1, "x"], sides=False)
    result = run("preprocess", rec, "--out", tmp_path / "c.npz", "--strict")
    assert result.exit_code == 1
    assert "driving_log.csv, line 3: steering 'x' is not a number" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "c.npz").exists()


def test_bad_inputs_fail_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    for args in (
        ["preprocess", tmp_path / "empty", "--out", tmp_path / "c.npz"],
        ["preprocess", tmp_path / "empty", "--out", tmp_path / "c.npz", "--set", "data.colour=rgb"],
        ["inspect", tmp_path / "missing"],
    ):
        result = run(*args)
        assert result.exit_code == 1 and result.output.startswith("error: "), result.output
        assert result.output.count("\n") == 1


def test_inspect_reports_and_draws(tmp_path: Path) -> None:
    tub = donkey_v2(tmp_path / "tub", [0.0, -1.0, 0.5, 0.25], broken_line=2)
    (tub / "images" / "2_cam_image_array_.jpg").unlink()
    result = run("inspect", tub, "--out", tmp_path / "report")
    assert result.exit_code == 0, result.output
    assert "frames kept: 2" in result.output
    assert "catalog_0.catalog, line 2: broken catalog line" in result.output
    assert "catalog_0.catalog, line 3: image '2_cam_image_array_.jpg' not found" in result.output
    for name in ("steering_histogram.png", "samples.png", "summary.json", "problems.txt"):
        assert (tmp_path / "report" / name).stat().st_size > 0
    assert len((tmp_path / "report" / "problems.txt").read_text().splitlines()) == 2
    assert run("inspect", tub, "--out", tmp_path / "report").exit_code == 1  # not empty, no --force


def test_inspect_lists_every_missing_file_when_none_is_left(tmp_path: Path) -> None:
    rec = udacity(tmp_path / "rec", [0.1, 0.2, 0.3], sides=False)
    for image in (rec / "IMG").iterdir():
        image.unlink()
    result = run("inspect", rec, "--out", tmp_path / "report")
    assert result.exit_code == 1
    assert "no usable frames in" in result.output and "3 problems, the first: " in result.output
    listed = (tmp_path / "report" / "problems.txt").read_text().splitlines()
    assert [line.split(": image")[0][-6:] for line in listed] == ["line 2", "line 3", "line 4"]


def test_inspect_never_deletes_the_recording_it_reads(tmp_path: Path) -> None:
    rec = udacity(tmp_path / "rec", [0.1, 0.2], sides=False)
    before = sorted(p.name for p in rec.rglob("*"))
    result = run("inspect", rec, "--out", rec, "--force")
    assert result.exit_code == 1 and "choose another" in result.output and "Traceback" not in result.output
    assert sorted(p.name for p in rec.rglob("*")) == before


def test_output_paths_of_the_wrong_kind_are_one_line_errors(tmp_path: Path) -> None:
    rec = udacity(tmp_path / "rec", [0.1], sides=False)
    (tmp_path / "dd.npz").mkdir()
    (tmp_path / "afile").write_text("x")
    for args in (
        ["preprocess", rec, "--out", tmp_path / "dd.npz", "--force"],
        ["inspect", rec, "--out", tmp_path / "afile"],
    ):
        result = run(*args)
        assert result.exit_code == 1, result.output
        assert result.output.startswith("error:") and result.output.count("\n") == 1, result.output
