"""The scalar engine: the classic worked examples, accumulation, deep graphs and finite differences."""

from __future__ import annotations

import math
import random
import sys
import warnings

import pytest

from drivenet.teach.backprop import walk
from drivenet.teach.engine import Node

W, X = (2.0, -3.0, -3.0), (-1.0, -2.0)
E = math.exp(-1.0)  # z = w0*x0 + w1*x1 + w2 = 1, so exp(-z) = 1/e
S = 1.0 / (1.0 + E)  # f = sigmoid(1)
G = S * (1.0 - S)  # df/dz

# The hand-worked table, rounded as on paper: (gate, input, value, local grad, from above, grad).
HAND_STAGED = [
    ("1/x", "1+exp(-z)", 1.37, -0.53, 1.00, -0.53),
    ("+1", "exp(-z)", 0.37, 1.00, -0.53, -0.53),
    ("exp", "-z", -1.00, 0.37, -0.53, -0.20),
    ("*-1", "z", 1.00, -1.00, -0.20, 0.20),
    ("+", "w0*x0+w1*x1", 4.00, 1.00, 0.20, 0.20),
    ("+", "w2", -3.00, 1.00, 0.20, 0.20),
    ("+", "w0*x0", -2.00, 1.00, 0.20, 0.20),
    ("+", "w1*x1", 6.00, 1.00, 0.20, 0.20),
    ("*", "w0", 2.00, -1.00, 0.20, -0.20),
    ("*", "x0", -1.00, 2.00, 0.20, 0.39),
    ("*", "w1", -3.00, -2.00, 0.20, -0.39),
    ("*", "x1", -2.00, -3.00, 0.20, -0.59),
]
# The same rows in closed form.
EXACT_STAGED = [
    (1 + E, -S * S, 1.0, -S * S),
    (E, 1.0, -S * S, -S * S),
    (-1.0, E, -S * S, -G),
    (1.0, -1.0, -G, G),
    (4.0, 1.0, G, G),
    (-3.0, 1.0, G, G),
    (-2.0, 1.0, G, G),
    (6.0, 1.0, G, G),
    (2.0, -1.0, G, -G),
    (-1.0, 2.0, G, 2 * G),
    (-3.0, -2.0, G, -2 * G),
    (-2.0, -3.0, G, -3 * G),
]
HAND_GRADIENTS = {"x0": 0.39, "w0": -0.20, "x1": -0.59, "w1": -0.39, "w2": 0.20}
EXACT_GRADIENTS = {"x0": 2 * G, "w0": -G, "x1": -3 * G, "w1": -2 * G, "w2": G}


def rows(steps):
    return [(s.node.gate, s.source.label, s.source.value, s.local_grad, s.upstream, s.grad) for s in steps]


def test_worked_example_staged_matches_hand_table_and_closed_form():
    result = walk(W, X)
    assert round(result.output, 2) == 0.73
    assert result.output == pytest.approx(1 / (1 + E), abs=1e-12)
    got = rows(result.steps)
    assert [(g, i, *(round(n, 2) for n in nums)) for g, i, *nums in got] == HAND_STAGED
    for (_, _, *nums), exact in zip(got, EXACT_STAGED, strict=True):
        assert nums == pytest.approx(exact, abs=1e-12)
    assert {k: round(v, 2) for k, v in result.gradients.items()} == HAND_GRADIENTS
    assert result.gradients == pytest.approx(EXACT_GRADIENTS, abs=1e-12)


def test_fused_sigmoid_gate_gives_the_staged_gradients():
    staged, fused = walk(W, X), walk(W, X, fused=True)
    gate, source, value, local, upstream, grad = rows(fused.steps)[0]
    assert (gate, source, value, round(local, 2), upstream) == ("sigmoid", "z", 1.0, 0.20, 1.0)
    assert local == pytest.approx(G, abs=1e-12)
    for below_fused, below_staged in zip(rows(fused.steps)[1:], rows(staged.steps)[4:], strict=True):
        assert below_fused[:2] == below_staged[:2]  # below z the walk is the same
        assert below_fused[2:] == pytest.approx(below_staged[2:], abs=1e-12)
    assert fused.output == pytest.approx(staged.output, abs=1e-12)
    assert fused.gradients == pytest.approx(staged.gradients, abs=1e-12)


def sigmoid_from_gates(a: Node) -> Node:
    return 1.0 / (1.0 + (-a).exp())


@pytest.mark.parametrize("sigmoid", [Node.sigmoid, sigmoid_from_gates], ids=["fused", "staged"])
def test_second_classic_expression(sigmoid):
    x, y = Node(3.0), Node(-4.0)
    xy = x + y
    f = (x + sigmoid(y)) / (sigmoid(x) + xy * xy)
    f.backward()
    assert (round(f.value, 5), round(x.grad, 5), round(y.grad, 5)) == (1.54564, 2.05957, 1.59223)

    def s(v):
        return 1 / (1 + math.exp(-v))

    num, den = 3 + s(-4), s(3) + 1.0
    dfdx = (den - num * (s(3) * (1 - s(3)) + 2 * (3 - 4))) / den**2
    dfdy = (s(-4) * (1 - s(-4)) * den - num * 2 * (3 - 4)) / den**2
    assert (f.value, x.grad, y.grad) == pytest.approx((num / den, dfdx, dfdy), abs=1e-12)


def test_a_node_used_twice_accumulates():
    x, y = Node(3.0), Node(-2.0)
    f = x * x + x * y + x  # df/dx = 2x + y + 1, df/dy = x
    f.backward()
    assert (x.grad, y.grad) == (2 * 3.0 - 2.0 + 1.0, 3.0)


def test_backward_again_starts_from_zero():
    x = Node(0.5)
    f = (x * x).exp()
    f.backward()
    first = x.grad
    f.backward()
    assert x.grad == first == pytest.approx(2 * 0.5 * math.exp(0.25), abs=1e-12)


def test_graph_deeper_than_the_recursion_limit():
    x = Node(1.0)
    f = x
    depth = 3 * sys.getrecursionlimit()
    for _ in range(depth):
        f = f + x  # f = (depth + 1) x
    f.backward()
    assert x.grad == depth + 1


@pytest.mark.parametrize("a", [1000.0, -1000.0])
def test_sigmoid_is_stable_far_out(a):
    x = Node(a)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        f = x.sigmoid()
        f.backward()
    assert f.value == (1.0 if a > 0 else 0.0)
    assert x.grad == 0.0


OPS = {
    "add": lambda a, b, c: a + b,
    "sub": lambda a, b, c: a - b,
    "mul": lambda a, b, c: a * b,
    "div": lambda a, b, c: a / (b * b + 1.0),
    "add_const": lambda a, b, c: c + a,
    "mul_const": lambda a, b, c: c * a,
    "rsub": lambda a, b, c: c - a,
    "rdiv": lambda a, b, c: c / (a * a + 0.5),
    "exp": lambda a, b, c: (a * 0.5).exp(),
    "reciprocal": lambda a, b, c: (a.exp() + 0.1).reciprocal(),
    "sigmoid": lambda a, b, c: a.sigmoid(),
}


def random_program(rng: random.Random, leaves: int, length: int) -> list[tuple[str, int, int, float]]:
    """Instructions (op, i, j, c): append OPS[op](pool[i], pool[j], c); i == j reuses a node."""
    return [
        (rng.choice(sorted(OPS)), rng.randrange(leaves + k), rng.randrange(leaves + k), rng.uniform(-2, 2))
        for k in range(length)
    ]


def run(program, values: list[float]) -> tuple[Node, list[Node]]:
    """Build the program on fresh leaves; the output sums every instruction's result."""
    leaves = [Node(v) for v in values]
    pool = list(leaves)
    for op, i, j, c in program:
        pool.append(OPS[op](pool[i], pool[j], c))
    output = pool[len(leaves)]
    for node in pool[len(leaves) + 1 :]:
        output = output + node
    return output, leaves


@pytest.mark.parametrize("seed", range(25))
def test_random_expressions_match_central_differences(seed):
    rng = random.Random(seed)
    values = [rng.uniform(-1.5, 1.5) for _ in range(3)]
    program = random_program(rng, len(values), 10)
    f, leaves = run(program, values)
    f.backward()
    h = 1e-6
    for k, leaf in enumerate(leaves):
        up = run(program, [v + h * (i == k) for i, v in enumerate(values)])[0].value
        down = run(program, [v - h * (i == k) for i, v in enumerate(values)])[0].value
        assert leaf.grad == pytest.approx((up - down) / (2 * h), rel=1e-5, abs=1e-7)
