"""Gradient checking: compare the hand-written backward passes with central finite differences.

For each entry w of a parameter, (L(w + h) - L(w - h)) / 2h approximates dL/dw with an error of
order h^2 plus the rounding error of L divided by h. In float64 with h = 1e-5 that is about 1e-11
absolute, so gradients smaller than FLOOR are compared absolutely: a correct backward then agrees to
about 1e-8 relative error, and a wrong one is off by far more than the 1e-6 tolerance.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from drivenet.model.encoding import BumpEncoding, ClassEncoding, ScalarEncoding
from drivenet.nn.layers import Dropout
from drivenet.nn.losses import MSELoss
from drivenet.nn.network import MLP, Network

Loss = Callable[[np.ndarray, np.ndarray], tuple[float, np.ndarray]]
TOLERANCE = 1e-6
STEP = 1e-5
FLOOR = 1e-4  # gradients smaller than this are compared absolutely, not relatively


@dataclass
class Case:
    """One network, loss and batch whose gradients are checked."""

    name: str
    net: Network
    loss: Loss
    x: np.ndarray
    target: np.ndarray


@dataclass
class Result:
    """The largest relative error over the entries of one parameter (or of the input)."""

    case: str
    parameter: str
    shape: tuple[int, ...]
    error: float


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> np.ndarray:
    """|a - n| / max(|a|, |n|, FLOOR), entry by entry."""
    scale = np.maximum(np.maximum(np.abs(analytic), np.abs(numeric)), FLOOR)
    return np.abs(analytic - numeric) / scale


def numeric_gradient(f: Callable[[], float], array: np.ndarray, step: float = STEP) -> np.ndarray:
    """Central differences of f() with respect to every entry of `array`, perturbed in place."""
    grad = np.zeros_like(array)
    for index in np.ndindex(array.shape):
        saved = array[index]
        array[index] = saved + step
        plus = f()
        array[index] = saved - step
        minus = f()
        array[index] = saved
        grad[index] = (plus - minus) / (2 * step)
    return grad


def check_case(case: Case, step: float = STEP) -> list[Result]:
    """Largest relative error of every parameter's gradient, and of the gradient of the input.

    A network in training mode redraws its dropout masks from the same seed at every forward, so that
    the loss is one fixed function of the weights.
    """
    net, x = case.net, case.x.copy()

    def forward() -> np.ndarray:
        for layer in net.layers:
            if isinstance(layer, Dropout):
                layer.rng = np.random.default_rng(0)
        return net.forward(x)

    def loss_value() -> float:
        return case.loss(forward(), case.target)[0]

    _, grad_out = case.loss(forward(), case.target)
    input_grad = net.backward(grad_out, input_grad=True).copy()
    results = []
    for p in net.parameters():
        analytic = p.grad.copy()
        error = relative_error(analytic, numeric_gradient(loss_value, p.value, step)).max()
        results.append(Result(case.name, p.name, p.value.shape, float(error)))
    error = relative_error(input_grad, numeric_gradient(loss_value, x, step)).max()
    results.append(Result(case.name, "input", x.shape, float(error)))
    return results


def standard_cases(seed: int = 0, batch: int = 6) -> list[Case]:
    """Small float64 networks that together use every layer, initialisation, loss and encoding."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, 5))
    regression_target = rng.normal(size=(batch, 3))
    steering = rng.uniform(-1, 1, size=batch)
    images, small_images = rng.normal(size=(batch, 7, 8, 2)), rng.normal(size=(batch, 5, 6, 1))
    scalar, bump, classes = ScalarEncoding("tanh"), BumpEncoding(units=9), ClassEncoding(straight_band=0.3)

    def net(sizes: list[int], activation: str, output: str | None, init: str = "xavier") -> MLP:
        return MLP.build(sizes, activation, output, init=init, dtype=np.float64, seed=seed)

    strided = [
        {"filters": 3, "kernel": 3, "stride": 2, "padding": "same", "pool": 2},
        {"filters": 4, "kernel": 2},
    ]
    conv = Network.build((7, 8, 2), strided, hidden=[5], outputs=3, dtype=np.float64, seed=seed)
    dropout = Network.build(
        (5, 6, 1), [{"filters": 2, "kernel": 2, "pool": 2}], hidden=[6], outputs=3, dtype=np.float64,
        seed=seed, dropout=0.5, init="xavier",
    ).train()  # fmt: skip
    return [
        Case("conv same stride 2, pool, elu, mse", conv, MSELoss(), images, regression_target),
        Case("conv, pool, elu, dropout (training)", dropout, MSELoss(), small_images, regression_target),
        Case("sigmoid, linear, mse", net([5, 4, 3], "sigmoid", None), MSELoss(), x, regression_target),
        Case("tanh, scalar", net([5, 4, 3, 1], "tanh", "tanh"), scalar.loss, x, scalar.encode(steering)),
        Case("relu (he), bump", net([5, 8, 9], "relu", "sigmoid", "he"), bump.loss, x, bump.encode(steering)),
        Case("sigmoid, classes", net([5, 4, 3], "sigmoid", None), classes.loss, x, classes.encode(steering)),
    ]


def run(seed: int = 0) -> list[Result]:
    """Check every standard case."""
    return [result for case in standard_cases(seed) for result in check_case(case)]
