"""Command `ensemble`: several checkpoints in one file, a model that steers by the mean of theirs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from drivenet.commands.options import Force
from drivenet.errors import cli_errors


def ensemble(
    models: Annotated[
        list[Path], typer.Argument(metavar="MODEL...", help="Checkpoints (best.npz of runs) to average.")
    ],
    out: Annotated[Path, typer.Option("--out", help="The ensemble file to write (.npz).")],
    force: Force = False,
) -> None:
    """Write the ensemble of several checkpoints with the same preprocessing: its steering (and pedals)
    are the mean of the members' decoded outputs. It loads wherever a model does: evaluate, predict,
    drive, replay, serve, gym drive (export does not take one)."""
    from drivenet.io import check_output_file
    from drivenet.model.ensemble import save_ensemble

    check_output_file(out, force)
    written = save_ensemble(models, out)
    typer.echo(f"ensemble of {len(models)} models: {written}")


def register(app: typer.Typer) -> None:
    """Add `ensemble` to the CLI."""
    app.command()(cli_errors(ensemble))
