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
) -> None:
    """Check every layer (dense, convolution, max pool, flatten, dropout, activations), loss and encoding:
    backprop against central differences, in float64, on small networks.

    Exits 1 when any parameter's largest relative error is above the tolerance.
    """
    from drivenet.teach import gradcheck

    if tolerance is None:
        tolerance = gradcheck.TOLERANCE
    results = gradcheck.run(seed)
    failed = [r for r in results if r.error > tolerance]
    if as_json:
        typer.echo(json.dumps({"tolerance": tolerance, "results": [asdict(r) for r in results]}, indent=2))
    else:
        table = Table("network", "parameter", "shape", "largest relative error", "")
        for r in results:
            verdict = "[red]FAIL[/red]" if r.error > tolerance else "ok"
            table.add_row(r.case, r.parameter, "x".join(map(str, r.shape)), f"{r.error:.2e}", verdict)
        console = Console()
        console.print(table)
        passed = len(results) - len(failed)
        console.print(f"{passed}/{len(results)} gradients within {tolerance:g}", highlight=False)
    if failed:
        message = f"gradient check failed: {len(failed)} gradient(s) above {tolerance:g}"
        typer.secho(message, err=True, fg=typer.colors.RED)
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add `drivenet gradcheck` to the CLI."""
    app.command("gradcheck")(gradcheck_command)
