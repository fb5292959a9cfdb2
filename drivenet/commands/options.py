"""Typer option types and option checks shared by several commands (so no command module imports another).

Data options of `preprocess` and `inspect` and the `[data]` settings they make; `--seed`, `--size` and
`--force` of the road commands `synth`, `drive` and `demo`; `check_positive` for --km and --speed.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer

from drivenet.config import DataConfig, load_config
from drivenet.errors import DrivenetError

Data = Annotated[list[Path], typer.Argument(help="Recording folders or log files (several are combined).")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="TOML config; its data table is used.")]
SetOpt = Annotated[list[str], typer.Option("--set", help="Override a config value: data.key=value.")]
FormatOpt = Annotated[str | None, typer.Option("--format", help="auto | udacity | donkey | sully | csv")]
CamerasOpt = Annotated[str | None, typer.Option("--cameras", help="center | all (side cameras corrected).")]
WorkersOpt = Annotated[int | None, typer.Option("--workers", help="Decoding processes.")]

Size = Annotated[str, typer.Option("--size", help="Camera image size WIDTHxHEIGHT in pixels.")]
Seed = Annotated[int, typer.Option("--seed", help="Seed of the road, poses and appearance.")]
Force = Annotated[bool, typer.Option("--force", help="Overwrite existing outputs.")]


def data_settings(
    config: Path | None, overrides: list[str], fmt: str | None, cameras: str | None, workers: int | None
) -> DataConfig:
    """The `[data]` section: defaults, config file, --set overrides, then the command's own options (an
    error names the option)."""
    run = load_config(config, overrides)
    for key, value in {"format": fmt, "cameras": cameras, "workers": workers}.items():
        if value is not None:
            run = run.updated({"data": {key: value}}, f"--{key} {value}")
    return run.data


def check_positive(value: float, option: str) -> None:
    """A DrivenetError unless `value` is a finite number above zero (NaN, inf, 0 and negatives fail)."""
    if not (math.isfinite(value) and value > 0):
        raise DrivenetError(f"{option} {value:g}: must be a finite number above 0")
