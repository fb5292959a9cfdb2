"""The classic worked example: one sigmoid neuron f = 1/(1 + exp(-(w0*x0 + w1*x1 + w2))), backward by hand.

The graph is built from the engine's gates, and the table is the engine's own recorded backward pass:
one row per chain-rule edge, in the order a person works it out on paper, from the output down.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rich.table import Table

from drivenet.errors import DrivenetError
from drivenet.teach.engine import Node, Step

FORMULA = "f = 1/(1 + exp(-(w0*x0 + w1*x1 + w2)))"


@dataclass(frozen=True)
class Walk:
    """A finished backward pass: the output f, df/d(each leaf) and the steps that produced them."""

    output: float
    gradients: dict[str, float]
    steps: list[Step]


Weights = tuple[float, float, float]
Inputs = tuple[float, float]


def neuron(w: Weights, x: Inputs, fused: bool = False) -> tuple[Node, list[Node]]:
    """Build f's graph; return f and its leaves x0, w0, x1, w1, w2.

    Staged, the sigmoid is four gates: *-1, exp, +1, 1/x. Fused, it is one gate with local gradient (1-s)s.
    """
    w0, w1, w2 = (Node(v, label=f"w{i}") for i, v in enumerate(w))
    x0, x1 = (Node(v, label=f"x{i}") for i, v in enumerate(x))
    product0 = (w0 * x0).named("w0*x0")
    product1 = (w1 * x1).named("w1*x1")
    z = ((product0 + product1).named("w0*x0+w1*x1") + w2).named("z")
    if fused:
        f = z.sigmoid()
    else:
        exp_neg_z = (-z).named("-z").exp().named("exp(-z)")
        f = (exp_neg_z + 1.0).named("1+exp(-z)").reciprocal()
    return f.named("f"), [x0, w0, x1, w1, w2]


def walk(w: Weights, x: Inputs, fused: bool = False) -> Walk:
    """Run f forward and backward; a DrivenetError if the numbers overflow."""
    try:
        f, leaves = neuron(w, x, fused)
    except OverflowError:
        raise DrivenetError(
            "exp(-z) overflows for these --w/--x (z below -709): use smaller values or --fused"
        ) from None
    steps = f.backward()
    numbers = [f.value] + [n for s in steps for n in (s.source.value, s.local_grad, s.upstream, s.grad)]
    if not all(math.isfinite(n) for n in numbers):
        raise DrivenetError("these --w/--x overflow floating point: use values of smaller magnitude")
    return Walk(f.value, {leaf.label: leaf.grad for leaf in leaves}, steps)


def as_json(result: Walk) -> dict:
    """The walk as plain data: output, gradients and one record per backward step."""
    steps = [
        {
            "gate": s.node.gate,
            "input": s.source.label,
            "value": s.source.value,
            "local_grad": s.local_grad,
            "upstream": s.upstream,
            "grad": s.grad,
        }
        for s in result.steps
    ]
    return {"output": result.output, "gradients": result.gradients, "steps": steps}


def as_table(result: Walk, digits: int = 2) -> Table:
    """The backward walk as a table: gate, its forward input, local gradient x gradient from above = grad."""
    table = Table(title=f"Backward pass of {FORMULA}", title_justify="left")
    for column in ("step", "gate", "input", "value", "local grad", "x from above", "= grad"):
        table.add_column(column, justify="left" if column in ("gate", "input") else "right")
    for i, s in enumerate(result.steps, 1):
        numbers = (s.source.value, s.local_grad, s.upstream, s.grad)
        table.add_row(str(i), s.node.gate, s.source.label, *(f"{n:.{digits}f}" for n in numbers))
    return table


def summary(result: Walk, digits: int = 2) -> str:
    """One line with f and one with its gradients, e.g. `df/dx0 = 0.39`."""
    grads = "   ".join(f"df/d{name} = {g:.{digits}f}" for name, g in result.gradients.items())
    return f"f = {result.output:.{digits}f}\n{grads}"
