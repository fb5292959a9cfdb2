"""`drivenet demo` end to end, at a tiny size."""

from __future__ import annotations

import json

from PIL import Image
from typer.testing import CliRunner

from drivenet.cli import app

runner = CliRunner()


def test_tiny_demo_runs_end_to_end(tmp_path):
    out = tmp_path / "demo"
    args = [
        "demo",
        "--out",
        str(out),
        "--frames",
        "40",
        "--test-frames",
        "12",
        "--epochs",
        "2",
        "--km",
        "0.05",
        "--size",
        "64x32",
        "--quiet",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    for name, path in summary["outputs"].items():
        assert path in result.output, name
    assert (out / "run" / "best.npz").is_file()
    assert (out / "roads-train" / "driving_log.csv").read_text().count("\n") == 1 + 50  # 40 + validation
    evaluation = json.loads((out / "evaluate.json").read_text())
    assert evaluation["n"] == 12 and 0.0 <= evaluation["within_2_units"] <= 1.0
    assert len(list((out / "predictions").glob("*.png"))) == 6
    with Image.open(out / "curves.png") as curves:
        assert curves.width > 300
    with Image.open(out / "drive.gif") as gif:
        assert gif.n_frames >= 10
    drive = json.loads((out / "drive.json").read_text())
    assert drive["km"] >= 0.05 and 0 <= drive["mean_offset"] <= drive["worst_offset"]
    again = runner.invoke(app, args)
    assert again.exit_code == 1 and "--force" in again.output
