"""Gradient checking: compare the hand-written backward passes with central finite differences.

Checked are every parameter and the input of small networks, each layer's input gradient on its own, and
(`run_models`) a steering model's gradient of its decoded steering with respect to its pixels, the chain
that saliency maps differentiate.

For each entry w of a parameter, (L(w + h) - L(w - h)) / 2h approximates dL/dw with an error of
order h^2 plus the rounding error of L divided by h. In float64 with h = 1e-5 that is about 1e-11
absolute, so gradients smaller than FLOOR are compared absolutely: a correct backward then agrees to
about 1e-8 relative error, and a wrong one is off by far more than the 1e-6 tolerance.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from drivenet.model.encoding import BumpEncoding, ClassEncoding, Encoding, ScalarEncoding
from drivenet.nn.conv import Conv2D, Flatten, MaxPool2D
from drivenet.nn.layers import ELU, Dense, Dropout, Layer, ReLU, Sigmoid, Tanh
from drivenet.nn.losses import MSELoss
from drivenet.nn.network import MLP, Network

if TYPE_CHECKING:
    from drivenet.model.steering_model import SteeringModel

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


def check_layer_input(name: str, layer: Layer, x: np.ndarray, seed: int = 0) -> Result:
    """The input gradient of one layer alone: L = sum(r * layer(x)) for a fixed random r, so dL/dy = r."""
    rng = np.random.default_rng(seed)
    shape = layer.forward(x).shape
    r = rng.uniform(0.5, 1.5, shape) * rng.choice([-1.0, 1.0], shape)  # |dL/dy| well above FLOOR
    input_grad = np.asarray(layer.backward(r)).copy()

    def loss_value() -> float:
        return float(np.sum(r * layer.forward(x)))

    error = relative_error(input_grad, numeric_gradient(loss_value, x)).max()
    return Result(f"layer {name}", "input", x.shape, float(error))


def layer_input_results(seed: int = 0) -> list[Result]:
    """Every layer kind's input gradient on its own, in float64."""
    rng = np.random.default_rng(seed)
    images, flat = rng.normal(size=(2, 7, 6, 2)), rng.normal(size=(3, 5))
    f64 = {"dtype": np.float64, "rng": rng}
    layers: list[tuple[str, Layer, np.ndarray]] = [
        ("dense", Dense(5, 4, **f64), flat),
        ("conv valid", Conv2D(2, 3, 3, **f64), images),
        ("conv same stride 2", Conv2D(2, 3, 3, 2, "same", **f64), images),
        ("max pool", MaxPool2D(2), images),
        ("flatten", Flatten(), images),
        ("sigmoid", Sigmoid(), flat),
        ("tanh", Tanh(), flat),
        ("relu", ReLU(), flat),
        ("elu", ELU(), flat),
    ]
    return [check_layer_input(name, layer, x.copy(), seed) for name, layer, x in layers]


def steering_models(seed: int = 0) -> list[tuple[str, SteeringModel]]:
    """Tiny float64 steering models, one per encoding, with motion inputs, convolutions, colour and mirror
    averaging among them; each bump model's outputs start as a bump, so that its decoding fits a peak.
    (Steering models need the data layer, which loads pandas: imported here, not for the other checks.)"""
    from drivenet.data.transform import Preprocess
    from drivenet.model.steering_model import SteeringModel

    gray = Preprocess(crop_top=0.0, crop_bottom=0.0, width=6, height=5, color="gray")
    rgb = Preprocess(crop_top=0.0, crop_bottom=0.0, width=6, height=5, color="rgb")
    conv = [{"filters": 3, "kernel": 3, "stride": 2, "padding": "same"}]

    def model(
        preprocess: Preprocess, encoding: Encoding, gaps: tuple[int, ...] = (), layers: list | None = None,
        mirror: bool = False,
    ) -> SteeringModel:  # fmt: skip
        shape = (*preprocess.shape[:2], preprocess.channels * (1 + len(gaps)))
        net = Network.build(
            shape if layers else (int(np.prod(shape)),), conv=layers or [], hidden=[4],
            outputs=encoding.n_outputs, activation="tanh", output_activation=encoding.output_activation,
            dtype=np.float64, seed=seed,
        )  # fmt: skip
        if isinstance(encoding, BumpEncoding):
            last = net.dense_layers[-1]
            bump = np.clip(encoding.encode(np.array([0.3]))[0].astype(np.float64), 1e-3, 1 - 1e-3)
            last.weight.value *= 0.1
            last.bias.value[...] = np.log(bump / (1 - bump))
        return SteeringModel(net, encoding, preprocess, motion_gaps=gaps, mirror_average=mirror)

    return [
        ("mlp, scalar", model(gray, ScalarEncoding("tanh"))),
        ("mlp, bump", model(gray, BumpEncoding(units=9))),
        ("mlp, motion (1, 2), classes", model(gray, ClassEncoding(), (1, 2))),
        ("conv rgb, motion (2,), mirror, linear", model(rgb, ScalarEncoding(None), (2,), conv, True)),
        ("conv, bump", model(gray, BumpEncoding(units=9), (), conv)),
    ]


def check_steering_model(name: str, model: SteeringModel, seed: int = 0, batch: int = 2) -> Result:
    """d(steering)/d(pixels) through standardisation, motion channels, network and decoding (saliency's
    chain) against central differences of the steering scalar, summed with fixed random weights r."""
    from drivenet.model.saliency import steering_gradient

    rng = np.random.default_rng(seed)
    p = rng.uniform(0.1, 0.9, size=(batch, *model.input_shape))
    r = rng.normal(size=batch)
    analytic = np.einsum("n,n...->n...", r, steering_gradient(model, p)[1])

    def value() -> float:
        return float(r @ steering_gradient(model, p)[0])

    error = relative_error(analytic, numeric_gradient(value, p)).max()
    return Result(f"steering model: {name}", "pixels", p.shape, float(error))


def run(seed: int = 0) -> list[Result]:
    """Check every standard case."""
    return [result for case in standard_cases(seed) for result in check_case(case)]


def run_inputs(seed: int = 0) -> list[Result]:
    """Check every layer's input gradient on its own."""
    return layer_input_results(seed)


def run_models(seed: int = 0) -> list[Result]:
    """Check the steering models' pixel gradients (saliency's chain) for every encoding."""
    return [check_steering_model(name, model, seed) for name, model in steering_models(seed)]
