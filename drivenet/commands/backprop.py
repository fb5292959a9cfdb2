"""`drivenet backprop`: the classic sigmoid-neuron example, backward gate by gate."""

from __future__ import annotations

import json
import math
from typing import Annotated

import typer
from rich.console import Console

from drivenet.errors import DrivenetError, cli_errors
from drivenet.teach import backprop as worked_example

WEIGHTS = "2,-3,-3"
INPUTS = "-1,-2"


def parse_numbers(text: str, option: str, like: str) -> tuple[float, ...]:
    """'2,-3,-3' -> (2.0, -3.0, -3.0); a DrivenetError unless as many finite numbers as in `like`."""
    count = like.count(",") + 1
    try:
        numbers = tuple(float(part) for part in text.split(","))
    except ValueError:
        numbers = ()
    if len(numbers) != count or not all(math.isfinite(n) for n in numbers):
        raise DrivenetError(f"{option} takes {count} numbers separated by commas, like {like}; got '{text}'")
    return numbers


@cli_errors
def backprop(
    w: Annotated[str, typer.Option("--w", help="Weights w0,w1,w2.")] = WEIGHTS,
    x: Annotated[str, typer.Option("--x", help="Inputs x0,x1.")] = INPUTS,
    fused: Annotated[bool, typer.Option("--fused", help="One sigmoid gate for *-1, exp, +1, 1/x.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print output, gradients and steps.")] = False,
    digits: Annotated[int, typer.Option("--digits", min=0, max=15, help="Decimals in the table.")] = 2,
) -> None:
    """Backpropagate through f = 1/(1 + exp(-(w0*x0 + w1*x1 + w2))) and show every chain-rule step."""
    result = worked_example.walk(parse_numbers(w, "--w", WEIGHTS), parse_numbers(x, "--x", INPUTS), fused)
    if as_json:
        typer.echo(json.dumps(worked_example.as_json(result), indent=2))
        return
    console = Console()
    console.print(worked_example.as_table(result, digits))
    console.print(worked_example.summary(result, digits), highlight=False)


def register(app: typer.Typer) -> None:
    """Add `drivenet backprop` to the CLI."""
    app.command()(backprop)
