"""Command `demo`: render roads, train ALVINN's network on them, evaluate, predict and drive, in one go."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from drivenet.commands.options import Force, Seed, Size, check_positive
from drivenet.errors import DrivenetError, cli_errors


def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for every output.")] = Path("runs/demo"),
    frames: Annotated[int, typer.Option("--frames", help="Training frames (+25% for validation).")] = 1200,
    test_frames: Annotated[int, typer.Option("--test-frames", help="Frames of fresh test roads.")] = 1000,
    epochs: Annotated[int, typer.Option("--epochs", help="Training epochs.")] = 40,
    km: Annotated[float, typer.Option("--km", help="Kilometres of closed-loop driving.")] = 5.0,
    seed: Seed = 0,
    size: Size = "320x160",
    config: Annotated[
        Path | None, typer.Option("--config", help="ALVINN config; default: configs/alvinn.toml of drivenet.")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No training progress bar.")] = False,
    force: Force = False,
) -> None:
    """Render roads, train ALVINN's network on them, evaluate, predict and drive: all in one go."""
    from drivenet.demo import ALVINN_CONFIG, DemoPlan, run_demo
    from drivenet.roads.synth import parse_size

    if min(frames, test_frames, epochs) < 1:
        raise DrivenetError("--frames, --test-frames and --epochs must be positive")
    check_positive(km, "--km")
    plan = DemoPlan(frames, test_frames, epochs, km, seed, parse_size(size))
    summary = run_demo(out, plan, config or ALVINN_CONFIG, force, progress=not quiet, say=typer.echo)
    within = summary["within_2_units"]
    units = "" if within is None else f"{within:.1%} within 2 output units (ALVINN 1989: ~90%), "
    typer.echo(
        f"\ntest roads: {units}rmse {summary['test_rmse']:.3f}\n"
        f"closed loop: {summary['km']:.2f} km, {summary['takeovers']} takeovers, autonomy "
        f"{summary['autonomy']:.1f}%, mean offset {summary['mean_offset']:.2f} m, "
        f"worst {summary['worst_offset']:.2f} m\n"
        f"took {summary['seconds']:.0f} s; outputs:"
    )
    for name, path in summary["outputs"].items():
        typer.echo(f"  {name:<19} {path}")


def register(app: typer.Typer) -> None:
    """Add `demo` to the CLI."""
    app.command()(cli_errors(demo))
