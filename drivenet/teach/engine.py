"""A scalar backprop engine: every gate stores its forward value next to its local gradients.

A node y = gate(a, b) remembers its inputs and the local gradients dy/da, dy/db, computed in the forward
pass. `backward` then walks the graph from the output down, in reverse topological order, applying the
chain rule on each edge:

    dL/da += dy/da * dL/dy        (local gradient x gradient from above)

The `+=` is why a node used twice, or feeding two gates, collects the gradient of every path.
"""

from __future__ import annotations

import math
from typing import NamedTuple


class Node:
    """One scalar in a computational graph: its value, its gradient and the gate that made it."""

    __slots__ = ("value", "grad", "inputs", "local_grads", "gate", "label")

    def __init__(
        self,
        value: float,
        inputs: tuple[Node, ...] = (),
        local_grads: tuple[float, ...] = (),
        gate: str = "",
        label: str = "",
    ) -> None:
        self.value = float(value)
        self.grad = 0.0
        self.inputs = inputs
        self.local_grads = local_grads
        self.gate = gate
        self.label = label

    def __repr__(self) -> str:
        return f"Node({self.label or self.gate or 'leaf'}: value={self.value:.6g}, grad={self.grad:.6g})"

    def named(self, label: str) -> Node:
        """Label this node for printing; returns the node itself."""
        self.label = label
        return self

    # The gates: forward value and local gradient side by side.

    def __add__(self, other: Node | float) -> Node:
        """a + b: d/da = d/db = 1, so the gradient passes unchanged to both inputs. a + c: d/da = 1."""
        if isinstance(other, Node):
            return Node(self.value + other.value, (self, other), (1.0, 1.0), "+")
        c = float(other)
        return Node(self.value + c, (self,), (1.0,), f"{c:+g}")

    def __mul__(self, other: Node | float) -> Node:
        """a * b: d/da = b, d/db = a, each input gets the other's value. a * c: d/da = c."""
        if isinstance(other, Node):
            return Node(self.value * other.value, (self, other), (other.value, self.value), "*")
        c = float(other)
        return Node(self.value * c, (self,), (c,), f"*{c:g}")

    def exp(self) -> Node:
        """e^a: d/da = e^a."""
        e = math.exp(self.value)
        return Node(e, (self,), (e,), "exp")

    def reciprocal(self) -> Node:
        """1/a: d/da = -1/a^2."""
        r = 1.0 / self.value
        return Node(r, (self,), (-r * r,), "1/x")

    def sigmoid(self) -> Node:
        """s(a) = 1/(1 + e^-a), fused into one gate: d/da = (1 - s) s. Never overflows: e^-|a| <= 1."""
        e = math.exp(-abs(self.value))
        s = 1.0 / (1.0 + e) if self.value >= 0 else e / (1.0 + e)
        return Node(s, (self,), ((1.0 - s) * s,), "sigmoid")

    # Shorthands built from the gates above.

    __radd__ = __add__
    __rmul__ = __mul__

    def __neg__(self) -> Node:
        return self * -1.0

    def __sub__(self, other: Node | float) -> Node:
        return self + (-other)

    def __rsub__(self, other: float) -> Node:
        return -self + other

    def __truediv__(self, other: Node | float) -> Node:
        return self * (other.reciprocal() if isinstance(other, Node) else 1.0 / other)

    def __rtruediv__(self, other: float) -> Node:
        return self.reciprocal() * other

    def backward(self) -> list[Step]:
        """Set every node's grad to d(self)/d(node); return the chain-rule steps in the order applied."""
        order = topological_order(self)
        for node in order:
            node.grad = 0.0
        self.grad = 1.0
        steps = []
        for node in reversed(order):
            for source, local_grad in zip(node.inputs, node.local_grads, strict=True):
                grad = local_grad * node.grad
                source.grad += grad
                steps.append(Step(node, source, local_grad, node.grad, grad))
        return steps


class Step(NamedTuple):
    """One chain-rule edge of the backward pass: `grad = local_grad * upstream`, added to `source.grad`."""

    node: Node  # the gate's output
    source: Node  # the gate's input that receives the gradient
    local_grad: float  # d node / d source
    upstream: float  # d output / d node, the gradient from above
    grad: float


def topological_order(root: Node) -> list[Node]:
    """Every node `root` depends on, each after all of its inputs (iterative depth-first search).

    Inputs are visited last-first, so the reversed order reads like a hand calculation: top input first.
    """
    order: list[Node] = []
    seen: set[int] = set()
    stack = [(root, False)]
    while stack:
        node, inputs_done = stack.pop()
        if inputs_done:
            order.append(node)
        elif id(node) not in seen:
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((source, False) for source in node.inputs)
    return order
