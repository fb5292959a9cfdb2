"""Steering encodings: how a steering value in [-1, 1] (negative = left) maps to network outputs and back.

Each encoding has `n_outputs`, `output_activation` (for `MLP.build`), `loss`, `encode(steering) ->
targets`, `decode(outputs) -> steering` (float32) and `spec()`; `encoding_from_spec` rebuilds one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from drivenet.config import ModelConfig
from drivenet.errors import DrivenetError
from drivenet.nn.losses import MSELoss, SoftmaxCrossEntropy

BUMP_WIDTH = 10.0  # the bump is exp(-(i - d)^2 / BUMP_WIDTH), as in ALVINN
FIT_REACH = 2  # decoding fits the 2 * FIT_REACH + 1 outputs around the best-matching bump
LOG_FLOOR = 1e-12  # outputs below it count as it in the fit's logarithms
FIT_K = np.arange(-FIT_REACH, FIT_REACH + 1, dtype=np.float64)  # the fit's offsets k from its centre
FIT_Q = FIT_K**2 - np.mean(FIT_K**2)  # q = k^2 - mean k^2, orthogonal to 1 and k


def _steering(steering: np.ndarray) -> np.ndarray:
    return np.asarray(steering, dtype=np.float64).reshape(-1)


DIRECTIONS = ("left", "straight", "right")


def direction(steering: np.ndarray, straight_band: float) -> np.ndarray:
    """-1 (left) where s < -band, +1 (right) where s > band, 0 (straight) where |s| <= band."""
    s = np.asarray(steering)
    return np.where(s < -straight_band, -1, np.where(s > straight_band, 1, 0))


def direction_name(steering: float, band: float) -> str:
    """left, straight or right: the `direction` of one steering value."""
    return DIRECTIONS[int(direction(np.array([steering]), band)[0]) + 1]


class ScalarEncoding:
    """One output unit that is the steering itself; trained with MSE.

    `output_activation` "tanh" keeps predictions inside [-1, 1]; None gives a linear output.
    """

    n_outputs = 1

    def __init__(self, output_activation: str | None = "tanh") -> None:
        if output_activation not in ("tanh", None):
            raise ValueError(f"scalar output must be 'tanh' or None, got {output_activation!r}")
        self.output_activation = output_activation
        self.loss = MSELoss()

    def encode(self, steering: np.ndarray) -> np.ndarray:
        return _steering(steering).astype(np.float32)[:, None]

    def decode(self, outputs: np.ndarray) -> np.ndarray:
        return np.clip(np.asarray(outputs)[:, 0], -1.0, 1.0).astype(np.float32)

    def spec(self) -> dict[str, Any]:
        return {"name": "scalar", "output_activation": self.output_activation}


@dataclass(frozen=True)
class BumpFit:
    """`BumpEncoding.fit` of N outputs: the fitted window's middle unit `centre` (N,), its outputs `near`
    (N, 2R + 1) at offsets FIT_K, the parabola's `slope` b and `curvature` c (N,), its `vertex` (N,) and
    the units `low`, `high` (N,) it is clipped to."""

    centre: np.ndarray
    near: np.ndarray
    slope: np.ndarray
    curvature: np.ndarray
    vertex: np.ndarray
    low: np.ndarray
    high: np.ndarray

    @property
    def position(self) -> np.ndarray:
        """The fitted peak d (N,): the vertex clipped to [low, high]."""
        return np.clip(self.vertex, self.low, self.high)


class BumpEncoding:
    """ALVINN's distributed output: `units` sigmoid units spread evenly over the steering range.

    Unit i sits at steering -1 + 2i/(units - 1). A steering value s lies at the fractional unit position
    d = (s + 1)(units - 1)/2 and is taught as the bump t_i = exp(-(i - d)^2 / 10), trained with MSE.
    Decoding finds the best-matching bump position, then fits a Gaussian to the five outputs around it
    (a least-squares parabola through their logarithms), which recovers d to sub-unit precision.
    """

    output_activation = "sigmoid"

    def __init__(self, units: int = 45) -> None:
        if units < 2 * FIT_REACH + 1:
            raise ValueError(f"a bump encoding needs at least {2 * FIT_REACH + 1} units, got {units}")
        self.n_outputs = units
        self.loss = MSELoss()
        templates = self._bumps(np.arange(units, dtype=np.float64))  # row c: the bump centred on unit c
        self.templates = templates / np.linalg.norm(templates, axis=1, keepdims=True)  # unit-norm rows

    def unit_of(self, steering: np.ndarray | float) -> np.ndarray | float:
        """The fractional unit position d of a steering value (0 at full left, units - 1 at full right)."""
        return (np.asarray(steering, dtype=np.float64) + 1.0) * (self.n_outputs - 1) / 2.0

    def steering_of(self, position: np.ndarray) -> np.ndarray:
        """Inverse of `unit_of`."""
        return np.asarray(position, dtype=np.float64) * 2.0 / (self.n_outputs - 1) - 1.0

    def _bumps(self, centres: np.ndarray) -> np.ndarray:
        units = np.arange(self.n_outputs, dtype=np.float64)
        return np.exp(-((units[None, :] - centres[:, None]) ** 2) / BUMP_WIDTH)

    def encode(self, steering: np.ndarray) -> np.ndarray:
        return self._bumps(self.unit_of(_steering(steering))).astype(np.float32)

    def fit(self, outputs: np.ndarray) -> BumpFit:
        """The peak of the bump in `outputs` (N, units): the best-matching template (least squares), then
        the least-squares parabola a + b k + c k^2 through the logs l_k = log y_(centre+k), k = -R..R,
        b = l.k / k.k and c = l.q / q.q with q = k^2 - mean k^2; its vertex centre - b / 2c (centre
        where c >= 0) clipped to best +- 1."""
        y = np.asarray(outputs, dtype=np.float64)
        best = np.argmax(y @ self.templates.T, axis=1)
        centre = np.clip(best, FIT_REACH, self.n_outputs - 1 - FIT_REACH)
        k, q = FIT_K, FIT_Q
        near = np.take_along_axis(y, centre[:, None] + k.astype(np.int64), axis=1)
        logs = np.log(np.maximum(near, LOG_FLOOR))
        slope, curvature = logs @ k / (k @ k), logs @ q / (q @ q)
        with np.errstate(divide="ignore", invalid="ignore"):
            vertex = centre + np.where(curvature < 0, -slope / (2 * curvature), 0.0)
        low, high = np.maximum(best - 1, 0), np.minimum(best + 1, self.n_outputs - 1)
        return BumpFit(centre, near, slope, curvature, vertex, low, high)

    def decode(self, outputs: np.ndarray) -> np.ndarray:
        """The steering of the fitted peak (`fit`)."""
        return self.steering_of(self.fit(outputs).position).astype(np.float32)

    def decode_gradient(self, outputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(S, dS/dy): the decoded steering S = 2d / (units - 1) - 1 (N,) in float64 and its derivative
        (N, units). With d = centre - b / 2c (`fit`),

            dd/dl = -k / (2c k.k) + b q / (2c^2 q.q),   dd/dy = dd/dl / y,

        zero where the decode does not fit (c >= 0, a peak clipped to best +- 1, or y at the log's
        floor); the choice of centre is piecewise constant."""
        fit, k, q = self.fit(outputs), FIT_K, FIT_Q
        b, c = fit.slope[:, None], fit.curvature[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            d_logs = -k[None] / (2 * c * (k @ k)) + b * q[None] / (2 * c**2 * (q @ q))
        inside = (fit.curvature < 0) & (fit.vertex > fit.low) & (fit.vertex < fit.high)
        near = fit.near
        d_near = np.where(inside[:, None] & (near > LOG_FLOOR), d_logs / np.maximum(near, LOG_FLOOR), 0.0)
        grad = np.zeros(np.shape(outputs), dtype=np.float64)
        columns = fit.centre[:, None] + k.astype(np.int64)
        np.put_along_axis(grad, columns, d_near * 2.0 / (self.n_outputs - 1), axis=1)
        return self.steering_of(fit.position), grad

    def spec(self) -> dict[str, Any]:
        return {"name": "bump", "units": self.n_outputs}


class ClassEncoding:
    """Three classes, left (0), straight (1) and right (2), trained with softmax cross-entropy.

    The class is `direction(steering, straight_band) + 1` (|steering| <= straight_band is straight).
    Decoding maps the most likely class to -1, 0 or +1 times `magnitude`, 0 < magnitude <= 1.
    """

    n_outputs = 3
    output_activation = None

    def __init__(self, straight_band: float = 0.05, magnitude: float = 0.5) -> None:
        if not 0 < magnitude <= 1:
            raise ValueError(f"class magnitude must be in (0, 1] to keep steering in [-1, 1]: {magnitude}")
        self.straight_band = straight_band
        self.magnitude = magnitude
        self.loss = SoftmaxCrossEntropy()

    def encode(self, steering: np.ndarray) -> np.ndarray:
        return (direction(_steering(steering), self.straight_band) + 1).astype(np.int64)

    def decode(self, outputs: np.ndarray) -> np.ndarray:
        return ((np.argmax(outputs, axis=1) - 1) * self.magnitude).astype(np.float32)

    def spec(self) -> dict[str, Any]:
        return {"name": "classes", "straight_band": self.straight_band, "magnitude": self.magnitude}


Encoding = ScalarEncoding | BumpEncoding | ClassEncoding
ENCODINGS: dict[str, type[Encoding]] = {
    "scalar": ScalarEncoding,
    "bump": BumpEncoding,
    "classes": ClassEncoding,
}


def encoding_from_spec(spec: dict[str, Any]) -> Encoding:
    """Rebuild an encoding from its `spec()`: `{"name": "scalar" | "bump" | "classes", **its arguments}`."""
    args = dict(spec)
    name = args.pop("name", None)
    if name not in ENCODINGS:
        known = ", ".join(ENCODINGS)
        raise DrivenetError(f"unknown steering encoding {name!r} (model.encoding); use one of {known}")
    try:
        return ENCODINGS[name](**args)
    except (TypeError, ValueError) as err:
        raise DrivenetError(f"invalid {name} encoding settings {args} ({err})") from None


def encoding_for(model: ModelConfig, straight_band: float) -> Encoding:
    """The steering encoding `model.encoding` names: scalar (output unit `scalar_output`), bump (`outputs`
    units) or classes (straight within `straight_band`, turns of `class_magnitude`)."""
    if model.encoding == "bump":
        return BumpEncoding(units=model.outputs)
    if model.encoding == "classes":
        return ClassEncoding(straight_band, model.class_magnitude)
    return ScalarEncoding(None if model.scalar_output == "linear" else "tanh")
