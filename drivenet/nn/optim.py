"""Optimizers: update each parameter in place from its `.grad`, with L2 weight decay.

Weight decay adds lambda * w to the gradient before the update (the L2 penalty lambda/2 |w|^2), as in
PyTorch's SGD and Adam. Updates write into preallocated arrays, so a step allocates no memory.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from drivenet.nn.layers import Parameter


class Optimizer:
    """Holds the parameters, the learning rate `lr` (change it freely) and the number of steps taken."""

    state_names: tuple[str, ...] = ()  # per-parameter arrays saved by state_dict

    def __init__(self, params: Iterable[Parameter], lr: float, weight_decay: float) -> None:
        self.params = list(params)
        self.lr = lr
        self.weight_decay = weight_decay
        self.steps = 0
        self.state = {name: [np.zeros_like(p.value) for p in self.params] for name in self.state_names}
        self._work = [np.empty_like(p.value) for p in self.params]

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad.fill(0)

    def step(self) -> None:
        """Apply one update to every parameter."""
        self.steps += 1
        for i, p in enumerate(self.params):
            grad = p.grad
            if self.weight_decay:
                grad = np.multiply(p.value, self.weight_decay, out=self._work[i])
                grad += p.grad  # g + lambda w
            self._update(i, p, grad)

    def _update(self, i: int, p: Parameter, grad: np.ndarray) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of the per-parameter state (`<state>.<parameter name>`) and `steps`, for exact resume."""
        out = {"steps": np.array(self.steps)}
        for name, arrays in self.state.items():
            out |= {f"{name}.{p.name}": a.copy() for p, a in zip(self.params, arrays, strict=True)}
        return out

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Copy a `state_dict` into this optimizer in place; ValueError when its names or shapes differ."""
        expected = set(self.state_dict())
        if set(state) != expected:
            raise ValueError(
                f"optimizer state does not fit: missing {sorted(expected - set(state))}, "
                f"unexpected {sorted(set(state) - expected)}; resume with the optimizer it was saved from"
            )
        for name, arrays in self.state.items():
            for p, a in zip(self.params, arrays, strict=True):
                saved = np.asarray(state[f"{name}.{p.name}"])
                if saved.shape != a.shape:
                    raise ValueError(
                        f"optimizer state {name}.{p.name}: saved shape {saved.shape} does not match {a.shape}"
                    )
                np.copyto(a, saved, casting="unsafe")
        self.steps = int(state["steps"])


class SGD(Optimizer):
    """Stochastic gradient descent with momentum mu:  v <- mu v + g,  w <- w - lr v  (v = g when mu = 0)."""

    def __init__(
        self, params: Iterable[Parameter], lr: float, momentum: float = 0.0, weight_decay: float = 0.0
    ) -> None:
        self.state_names = ("velocity",) if momentum else ()
        self.momentum = momentum
        super().__init__(params, lr, weight_decay)

    def _update(self, i: int, p: Parameter, grad: np.ndarray) -> None:
        if self.momentum:
            velocity = self.state["velocity"][i]
            velocity *= self.momentum
            velocity += grad
            grad = velocity
        p.value -= np.multiply(grad, self.lr, out=self._work[i])


class Adam(Optimizer):
    """Adam: running means of the gradient and its square, corrected for their zero start.

    m <- b1 m + (1 - b1) g,   v <- b2 v + (1 - b2) g^2,   after t steps:
    w <- w - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps).
    """

    state_names = ("m", "v")

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr, weight_decay)
        self.betas = betas
        self.eps = eps
        self._work2 = [np.empty_like(p.value) for p in self.params]

    def _update(self, i: int, p: Parameter, grad: np.ndarray) -> None:
        b1, b2 = self.betas
        m, v, work = self.state["m"][i], self.state["v"][i], self._work2[i]
        np.subtract(grad, m, out=work)
        work *= 1.0 - b1
        m += work  # m + (1 - b1)(g - m)
        np.multiply(grad, grad, out=work)
        work -= v
        work *= 1.0 - b2
        v += work  # v + (1 - b2)(g^2 - v)
        denom = np.sqrt(v, out=work)
        denom *= 1.0 / np.sqrt(1.0 - b2**self.steps)
        denom += self.eps
        step = np.divide(m, denom, out=work)
        step *= self.lr / (1.0 - b1**self.steps)
        p.value -= step
