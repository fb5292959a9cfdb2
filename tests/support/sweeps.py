"""A tiny sweep on synthetic roads for the sweep tests: its SPEC, and how to run and read it."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from typer.testing import CliRunner

from drivenet.cli import app
from support import CONFIGS
from support.tiny import TINY

FIXED = [*TINY, "train.epochs=2", "data.crop_top=0.3"]
SELECT = 'judge = "offline"\nrecordings = ["val"]'
REPORT = 'judge = "offline"\nrecordings = ["test"]'


def invoke(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args])


def write_spec(folder: Path, select: str = SELECT, report: str = REPORT, extra: str = "") -> Path:
    """A SPEC of 2 learning rates x 2 hidden layers x seeds 0 and 1 of the tiny config, training on the
    recording `train` in `folder`; `select` and `report` are the bodies of its judges' tables."""
    text = f"""
config = "{CONFIGS / "alvinn.toml"}"
train = ["train"]
seeds = [0, 1]
set = {json.dumps(FIXED)}
{extra}
[grid]
"train.lr" = [0.003, 0.03]
"model.hidden" = [[4], [8]]

[select]
{select}

[report]
{report}
"""
    path = folder / "spec.toml"
    path.write_text(text, encoding="utf-8")
    return path


def table(out: Path) -> list[dict[str, str]]:
    """The rows of a sweep's summary.csv."""
    with open(out / "summary.csv", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))
