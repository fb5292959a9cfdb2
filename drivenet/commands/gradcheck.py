"""`drivenet gradcheck`: the network's hand-written gradients against finite differences."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from drivenet.errors import cli_errors


@cli_errors
def gradcheck_command(
    seed: Annotated[int, typer.Option("--seed", help="Seed of the networks and batches.")] = 0,
    tolerance: Annotated[
        float | None,
        typer.Option("--tolerance", min=0.0, help="Largest relative error allowed (default 1e-6)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
    models: Annotated[
        bool,
        typer.Option("--models", help="Also check steering models' d(steering)/d(pixels), every encoding."),
    ] = False,
) -> None:
    """Check every layer (dense, convolution, max pool, flatten, dropout, activations), loss and encoding:
    backprop against central differences, in float64, on small networks; then each layer's input
    gradient alone, and with --models a steering model's d(steering)/d(pixels) through standardisation,
    motion channels, network and decoding (what saliency maps differentiate) for every encoding.

    Exits 1 when any parameter's largest relative error is above the tolerance.
    """
    from drivenet.teach import gradcheck

    if tolerance is None:
        tolerance = gradcheck.TOLERANCE
    networks = gradcheck.run(seed)
    inputs = gradcheck.run_inputs(seed) + (gradcheck.run_models(seed) if models else [])
    results = networks + inputs
    failed = [r for r in results if r.error > tolerance]
    if as_json:
        report = {"tolerance": tolerance, "results": [asdict(r) for r in networks]}
        typer.echo(json.dumps({**report, "inputs": [asdict(r) for r in inputs]}, indent=2))
    else:
        table = Table("network", "parameter", "shape", "largest relative error", "")
        for r in results:
            verdict = "[red]FAIL[/red]" if r.error > tolerance else "ok"
            table.add_row(r.case, r.parameter, "x".join(map(str, r.shape)), f"{r.error:.2e}", verdict)
        console = Console()
        console.print(table)
        for group, kind in ((networks, "gradients"), (inputs, "input gradients")):
            passed = sum(r.error <= tolerance for r in group)
            console.print(f"{passed}/{len(group)} {kind} within {tolerance:g}", highlight=False)
    if failed:
        message = f"gradient check failed: {len(failed)} gradient(s) above {tolerance:g}"
        typer.secho(message, err=True, fg=typer.colors.RED)
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add `drivenet gradcheck` to the CLI."""
    app.command("gradcheck")(gradcheck_command)
