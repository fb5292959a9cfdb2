"""Command `plot`: learning curves of runs side by side, or `plot weights MODEL` (hidden-unit weights)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from drivenet.errors import DrivenetError, cli_errors


def plot(
    runs: Annotated[
        list[str],
        typer.Argument(
            help="Run folders to compare, or `weights MODEL` to draw a model's hidden-unit weights."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="PNG file to write.")],
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing OUT file.")] = False,
) -> None:
    """Learning curves of runs side by side, or `plot weights MODEL`: each hidden unit's input weights."""
    from drivenet.io import check_output_file
    from drivenet.model.checkpoint import load_model
    from drivenet.training.plots import plot_curves, plot_weights

    check_output_file(out, force)
    if runs[0] == "weights" and not Path("weights").is_dir():  # `plot weights MODEL`
        if len(runs) != 2:
            raise DrivenetError("plot weights takes one model: drivenet plot weights MODEL --out w.png")
        steering_model = load_model(runs[1])
        steering_model.network("plot weights")
        plot_weights(steering_model, out)
    else:
        plot_curves([Path(r) for r in runs], out)
    typer.echo(f"wrote {out}")


def register(app: typer.Typer) -> None:
    """Add `plot` to the CLI."""
    app.command()(cli_errors(plot))
