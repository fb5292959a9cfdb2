"""Command `synth`: render a synthetic road recording (Udacity simulator layout) labelled with steering."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from drivenet.commands.options import Force, Seed, Size
from drivenet.errors import cli_errors


def synth(
    out: Annotated[Path, typer.Argument(help="Folder for driving_log.csv and IMG/.")],
    frames: Annotated[int, typer.Option("--frames", "-n", help="Frames to render.")] = 1200,
    seed: Seed = 0,
    size: Size = "320x160",
    force: Force = False,
) -> None:
    """Render a synthetic road recording in the Udacity simulator layout, labelled with steering."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from drivenet.roads.synth import parse_size, write_recording

    camera = parse_size(size)
    columns = (TextColumn("rendering"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task("render", total=frames)
        log = write_recording(out, frames, seed, camera, force, lambda done: bar.update(task, completed=done))
    typer.echo(f"wrote {frames} frames of {size} to {out}: {log.name} + IMG/")


def register(app: typer.Typer) -> None:
    """Add `synth` to the CLI."""
    app.command()(cli_errors(synth))
