"""Command `sweep`: train each point of a search once per seed, choose with one judge, report with another."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from drivenet.commands.options import Force
from drivenet.errors import DrivenetError, cli_errors


def sweep(
    spec: Annotated[
        Path, typer.Argument(metavar="SPEC", help="The sweep's TOML (configs/sweeps/synthetic.toml).")
    ],
    out: Annotated[Path, typer.Option("--out", help="The sweep's folder; run again, it resumes.")],
    jobs: Annotated[int, typer.Option("--jobs", help="Runs trained at once, in local processes.")] = 1,
    worker: Annotated[
        bool,
        typer.Option("--worker", help="Work on the SPEC's Optuna study with other workers (sweep extra)."),
    ] = False,
    storage: Annotated[
        str | None,
        typer.Option(
            "--storage", help="The study's journal file or SQL URL; default: the SPEC's [workers].storage."
        ),
    ] = None,
    force: Force = False,
) -> None:
    """Train every point of SPEC's grid (or sample) once per seed into OUT, pick the winner with the
    [select] judge, ship it and measure it once with the [report] judge, which never shares a recording
    or seed with [select]. Writes summary.csv/json, scores.png, winner.toml, winner.npz and report.json.
    With --worker, several processes or machines share the runs through an Optuna storage; `sweep`
    without --worker then writes the table."""
    from drivenet.sweep.runner import run_sweep, run_worker

    if worker:
        if jobs != 1:
            raise DrivenetError(
                "--worker is one worker: start one `sweep --worker` per process instead of --jobs"
            )
        done = run_worker(spec, out, storage, typer.echo)
        typer.echo(
            f"worker done: {done} points trained here; run `drivenet sweep` without --worker for the table"
        )
        return
    summary = run_sweep(spec, out, jobs, force, storage, typer.echo)
    typer.echo(f"table: {out / 'summary.csv'}, plot: {out / 'scores.png'}, winner: {summary['winner']}")


def register(app: typer.Typer) -> None:
    """Add `sweep` to the CLI."""
    app.command()(cli_errors(sweep))
