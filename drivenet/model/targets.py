"""A model's targets on its network's outputs: steering by its encoding, then one unit per pedal.

The network's last layer has the steering encoding's n units, then one unit y_t for each pedal t of
`model.targets` (throttle, brake), all under the encoding's output activation (`drivenet.nn` knows no
targets). A pedal p in [0, 1] spans its unit's range [lo, hi]: the sigmoid's [0, 1], else tanh's
[-1, 1] (a linear unit too, so that it starts, near 0, at the pedal's middle):

    y = lo + (hi - lo) p,   p_hat = (y - lo) / (hi - lo)   (clipped to [0, 1] when predicting).

The loss of a batch of B frames adds each pedal's mean squared error, weighted by w_t
(`model.target_weights`, 1 when not given), to the steering encoding's loss L_s:

    L = L_s(y_s, encode(s)) + sum_t w_t MSE_t,   MSE_t = sum_b (p_hat_bt - p_bt)^2 / B,
    dL/dy_s = dL_s/dy_s,   dL/dy_bt = 2 w_t (p_hat_bt - p_bt) / (B (hi - lo)).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from drivenet.config import TARGET_LIST
from drivenet.model.encoding import Encoding


class TargetHeads:
    """Where each of a model's targets sits among its network's outputs, how it is decoded and its loss.

    `names` is steering, then any of the pedals (throttle, brake), each once.
    """

    def __init__(self, encoding: Encoding, names: Sequence[str] = ("steering",)) -> None:
        names = tuple(names)
        ok, wanted = TARGET_LIST
        if not ok(names):
            raise ValueError(f"targets {list(names)}: must be {wanted}")
        self.encoding = encoding
        self.names = names
        self.pedals = names[1:]
        self.lo, self.hi = (0.0, 1.0) if encoding.output_activation == "sigmoid" else (-1.0, 1.0)

    @property
    def n_outputs(self) -> int:
        """The steering encoding's units and one per pedal."""
        return self.encoding.n_outputs + len(self.pedals)

    def steering_outputs(self, outputs: np.ndarray) -> np.ndarray:
        """The steering encoding's columns of the outputs (N, n_outputs)."""
        return np.asarray(outputs)[:, : self.encoding.n_outputs]

    def pedal_values(self, outputs: np.ndarray) -> np.ndarray:
        """p_hat (N, k) of the pedal units, unclipped: (y - lo) / (hi - lo)."""
        units = np.asarray(outputs)[:, self.encoding.n_outputs :]
        return (units - units.dtype.type(self.lo)) / units.dtype.type(self.hi - self.lo)

    def decode_pedals(self, outputs: np.ndarray) -> dict[str, np.ndarray]:
        """Each pedal's prediction, float32 (N,) clipped to [0, 1]."""
        pedals = np.clip(self.pedal_values(outputs), 0.0, 1.0).astype(np.float32)
        return {name: pedals[:, j] for j, name in enumerate(self.pedals)}

    def decode(self, outputs: np.ndarray) -> dict[str, np.ndarray]:
        """Every target's prediction, float32 (N,) each: steering in [-1, 1], pedals in [0, 1]."""
        steering = np.asarray(self.encoding.decode(self.steering_outputs(outputs)), np.float32)
        return {"steering": steering, **self.decode_pedals(outputs)}

    def loss(
        self, outputs: np.ndarray, labels: np.ndarray, weights: Mapping[str, float] | None = None
    ) -> tuple[float, np.ndarray]:
        """(L, dL/d outputs) of the module docstring; `labels` (B,) steering, or (B, len(names)): steering
        then each pedal in `names` order. `weights` maps a pedal to w_t (missing: 1)."""
        labels = np.asarray(labels).reshape(len(outputs), -1)
        if labels.shape[1] != len(self.names):
            raise ValueError(
                f"labels of {labels.shape[1]} targets given, but the targets are {list(self.names)}"
            )
        n = self.encoding.n_outputs
        value, steering_grad = self.encoding.loss(
            self.steering_outputs(outputs), self.encoding.encode(labels[:, 0])
        )
        grad = np.zeros_like(outputs)
        grad[:, :n] = steering_grad
        diff = self.pedal_values(outputs) - labels[:, 1:].astype(outputs.dtype)
        for j, name in enumerate(self.pedals):
            w = float((weights or {}).get(name, 1.0))
            value += w * float(np.mean(diff[:, j] ** 2))
            grad[:, n + j] = 2.0 * w * diff[:, j] / (len(outputs) * (self.hi - self.lo))
        return float(value), grad
