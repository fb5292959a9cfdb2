"""Command `train`: train a steering model into a run folder, with a live progress bar and --resume."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from drivenet.commands.options import FollowLinksOpt
from drivenet.config import load_config
from drivenet.errors import DrivenetError, cli_errors

EXIT_INTERRUPTED = 130  # the shell's code for a run stopped by Ctrl-C


def train(
    sources: Annotated[
        list[Path],
        typer.Argument(
            help="Caches (.npz from `drivenet preprocess`) or recording folders; several are trained on "
            "together.",
            show_default=False,
        ),
    ],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Run folder for config.toml, metrics.csv, best/last.npz.")
    ],
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="TOML config, e.g. configs/udacity.toml.")
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a config value: section.key=value (repeatable)."),
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the run in OUT exactly where it stopped.")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Delete an existing run folder OUT first.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or per-epoch lines.")] = False,
    follow_links: FollowLinksOpt = False,
) -> None:
    """Train a steering model, with a live progress bar; Ctrl-C saves last.npz for --resume."""
    from drivenet.training.console import training_console
    from drivenet.training.run_folder import RunFolder
    from drivenet.training.trainer import prepare_training

    if resume and config is not None:
        raise DrivenetError(
            "--resume uses the run's own config.toml; drop --config (use --set, e.g. train.epochs=50)"
        )
    overrides = [*(set_ or []), *(["data.follow_links=true"] if follow_links else [])]
    cfg = RunFolder(out).resume_config(overrides) if resume else load_config(config, overrides)
    try:
        training = prepare_training(sources, cfg, out, force, resume, progress=not quiet)
    except KeyboardInterrupt:  # while the data was loading: nothing trained yet
        typer.echo("interrupted before training started; nothing was saved", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    with training_console(cfg.train.epochs, not quiet) as (display, stop_requested):
        result = training.train(display, stop_requested)
    state = result.state
    if result.status == "interrupted":
        typer.echo(
            f"interrupted in epoch {state.epoch + 1} after {state.batch} batches; saved {result.last}\n"
            f"continue with: drivenet train {' '.join(map(str, sources))} --out {out} --resume",
            err=True,
        )
        raise typer.Exit(EXIT_INTERRUPTED)
    how = (
        "stopped early (no better validation loss for train.patience epochs)"
        if result.status == "early_stopped"
        else "done"
    )
    summary = f"{how}: {state.epoch} epochs, best epoch {state.best_epoch}"
    best = {int(row["epoch"]): row for row in result.history}.get(state.best_epoch)
    if best is not None:
        summary += (
            f" (val loss {best['val_loss']:.4f}, rmse {best['val_rmse']:.4f}, "
            f"direction accuracy {best['val_direction_accuracy']:.3f})"
        )
    typer.echo(summary)
    typer.echo(f"run folder {out}: config.toml, metrics.csv, best.npz, last.npz")
    if cfg.train.test_fraction > 0 or cfg.train.test_recordings:
        data = " ".join(map(str, sources))
        typer.echo(f"figures to report: drivenet evaluate {out / 'best.npz'} {data} --split test")


def register(app: typer.Typer) -> None:
    """Add `train` to the CLI."""
    app.command()(cli_errors(train))
