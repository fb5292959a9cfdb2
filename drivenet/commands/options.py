"""Typer option types and option checks shared by several commands (so no command module imports another).

Data options of `preprocess` and `inspect` and the `[data]` settings they make; `--follow-links` of
every command that reads a recording; `--seed`, `--size` and
`--force` of the road commands `synth`, `drive` and `demo`; `check_positive` for --km and --speed;
`echo_json`, the one way a command prints JSON; `echo_unread` for the images a command could not use.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer

from drivenet.config import DataConfig, load_config
from drivenet.errors import DrivenetError

Data = Annotated[list[Path], typer.Argument(help="Recording folders or log files (several are combined).")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="TOML config; its data table is used.")]
SetOpt = Annotated[list[str], typer.Option("--set", help="Override a config value: data.key=value.")]
FormatOpt = Annotated[str | None, typer.Option("--format", help="auto | udacity | donkey | sully | csv")]
CamerasOpt = Annotated[str | None, typer.Option("--cameras", help="center | all (side cameras corrected).")]
WorkersOpt = Annotated[int | None, typer.Option("--workers", help="Decoding processes.")]
FollowLinksOpt = Annotated[
    bool,
    typer.Option(
        "--follow-links",
        help="Read files that links in a recording lead to outside its folder (as find -L); off: refused.",
    ),
]

Size = Annotated[str, typer.Option("--size", help="Camera image size WIDTHxHEIGHT in pixels.")]
Seed = Annotated[int, typer.Option("--seed", help="Seed of the road, poses and appearance.")]
Force = Annotated[bool, typer.Option("--force", help="Overwrite existing outputs.")]


def data_settings(
    config: Path | None,
    overrides: list[str],
    fmt: str | None,
    cameras: str | None,
    workers: int | None,
    follow_links: bool = False,
) -> DataConfig:
    """The `[data]` section: defaults, config file, --set overrides, then the command's own options (an
    error names the option)."""
    run = load_config(config, overrides)
    for key, value in {"format": fmt, "cameras": cameras, "workers": workers}.items():
        if value is not None:
            run = run.updated({"data": {key: value}}, f"--{key} {value}")
    return replace(run.data, follow_links=True) if follow_links else run.data  # or as --set made it


def model_data(data: DataConfig, follow_links: bool) -> DataConfig:
    """The `[data]` of a model's saved config as a command reads recordings with it: links out of a
    recording followed only when this command's --follow-links says so (a checkpoint never turns it on)."""
    return replace(data, follow_links=follow_links)


def check_positive(value: float, option: str) -> None:
    """A DrivenetError unless `value` is a finite number above zero (NaN, inf, 0 and negatives fail)."""
    if not (math.isfinite(value) and value > 0):
        raise DrivenetError(f"{option} {value:g}: must be a finite number above 0")


def echo_json(obj: Any) -> None:
    """Print `obj` as JSON that any reader takes: a non-finite number (NaN, infinity), which JSON cannot
    hold, is written as null, and a line on stderr says how many were."""
    from drivenet.io import json_text

    text, nulls = json_text(obj)
    typer.echo(text)
    if nulls:
        typer.echo(f"note: {nulls} non-finite value(s) (NaN or infinity) written as null", err=True)


def echo_unread(skipped: list[tuple[Path, str]]) -> None:
    """On stderr: how many images were skipped (and the first, with why), and the image decoders' warnings
    counted while reading the ones that were used."""
    from drivenet.data.images import WARNED, warnings_line

    if skipped:
        path, reason = skipped[0]
        typer.echo(f"skipped {len(skipped)} unreadable image(s); first: {path}: {reason}", err=True)
    warned = warnings_line(WARNED)
    if warned:
        typer.echo(warned, err=True)
