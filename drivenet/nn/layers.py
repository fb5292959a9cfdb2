"""Layers: each has `forward(x)` and its hand-written `backward(grad_out) -> grad_in` side by side.

Shapes are (batch, features). A layer keeps from its last forward what its backward needs, so call
forward then backward on the same batch. For speed every layer writes into arrays it keeps between
calls (made anew only when the batch shape changes): the array a layer returns is overwritten by its
next call, so copy it if you want to keep it (`MLP.forward` does that for you).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from drivenet.errors import DrivenetError

INITS = ("xavier", "he")


class Parameter:
    """A trainable array `value` and `grad`, the loss's gradient with respect to it (same shape, dtype)."""

    def __init__(self, name: str, value: np.ndarray) -> None:
        self.name = name
        self.value = value
        self.grad = np.zeros_like(value)

    def __repr__(self) -> str:
        return f"Parameter({self.name!r}, shape={self.value.shape}, dtype={self.value.dtype})"


class Layer:
    """A differentiable function of a batch."""

    def __init__(self) -> None:
        self._buffers: dict[str, np.ndarray] = {}

    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def parameters(self) -> list[Parameter]:
        return []

    def spec(self) -> dict[str, Any]:
        """The layer's architecture as a JSON-able dict (see `layer_from_spec`)."""
        return {"kind": type(self).__name__.lower()}

    def _buffer(self, key: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """A work array kept between calls; made anew only when the shape or dtype changes."""
        buf = self._buffers.get(key)
        if buf is None or buf.shape != shape or buf.dtype != dtype:
            buf = self._buffers[key] = np.empty(shape, dtype)
        return buf


def init_weight(init: str, n_in: int, n_out: int, rng: np.random.Generator) -> np.ndarray:
    """Initial weights in float64 (so float32 and float64 networks start from the same numbers).

    xavier (Glorot): uniform on [-a, a] with a = sqrt(6 / (n_in + n_out)), keeps the variance of
    activations and gradients alike across sigmoid/tanh layers. he: normal with std sqrt(2 / n_in),
    the same idea for ReLU, which zeroes half of its inputs.
    """
    if init == "xavier":
        limit = np.sqrt(6.0 / (n_in + n_out))
        return rng.uniform(-limit, limit, size=(n_in, n_out))
    if init == "he":
        return rng.normal(0.0, np.sqrt(2.0 / n_in), size=(n_in, n_out))
    raise DrivenetError(f"unknown init {init!r} (model.init); use one of {', '.join(INITS)}")


class Dense(Layer):
    """Fully connected layer: y = x W + b, with W of shape (n_in, n_out) and b of shape (n_out,).

    backward, given g = dL/dy:  dL/dW = x^T g,  dL/db = sum of g over the batch,  dL/dx = g W^T.
    The parameters' `.grad` are overwritten (not accumulated) by each backward.
    """

    def __init__(
        self,
        n_in: int,
        n_out: int,
        init: str = "xavier",
        dtype: DTypeLike = np.float32,
        rng: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        rng = rng if rng is not None else np.random.default_rng()
        self.init = init
        self.weight = Parameter("weight", init_weight(init, n_in, n_out, rng).astype(dtype))
        self.bias = Parameter("bias", np.zeros(n_out, dtype))

    @property
    def n_in(self) -> int:
        return self.weight.value.shape[0]

    @property
    def n_out(self) -> int:
        return self.weight.value.shape[1]

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._x = x
        y = self._buffer("y", (x.shape[0], self.n_out), self.weight.value.dtype)
        np.matmul(x, self.weight.value, out=y)
        y += self.bias.value
        return y

    def backward(self, grad_out: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        """Fill the parameter gradients; return dL/dx, or None when `input_grad` is False.

        The first layer of a network skips dL/dx: the input is data, and for wide images that product
        is as costly as dL/dW.
        """
        np.matmul(self._x.T, grad_out, out=self.weight.grad)
        np.add.reduce(grad_out, axis=0, out=self.bias.grad)
        if not input_grad:
            return None
        grad_in = self._buffer("grad_in", self._x.shape, self.weight.value.dtype)
        return np.matmul(grad_out, self.weight.value.T, out=grad_in)

    def parameters(self) -> list[Parameter]:
        return [self.weight, self.bias]

    def spec(self) -> dict[str, Any]:
        return {"kind": "dense", "n_in": self.n_in, "n_out": self.n_out, "init": self.init}


class Sigmoid(Layer):
    """s = 1 / (1 + e^-x), computed as (1 + tanh(x/2)) / 2: equal, but never overflows (x = -1000 is fine).

    backward: dL/dx = g * s * (1 - s).
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        s = self._buffer("s", x.shape, x.dtype)
        np.multiply(x, 0.5, out=s)
        np.tanh(s, out=s)
        s += 1.0
        s *= 0.5
        self._s = s
        return s

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        s = self._s
        grad_in = self._buffer("grad_in", s.shape, s.dtype)
        np.subtract(1.0, s, out=grad_in)
        grad_in *= s
        grad_in *= grad_out
        return grad_in


class Tanh(Layer):
    """y = tanh(x).  backward: dL/dx = g * (1 - y^2)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._y = np.tanh(x, out=self._buffer("y", x.shape, x.dtype))
        return self._y

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        y = self._y
        grad_in = self._buffer("grad_in", y.shape, y.dtype)
        np.multiply(y, y, out=grad_in)
        np.subtract(1.0, grad_in, out=grad_in)
        grad_in *= grad_out
        return grad_in


class ReLU(Layer):
    """y = max(x, 0).  backward: dL/dx = g where x > 0, else 0."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._y = np.maximum(x, 0.0, out=self._buffer("y", x.shape, x.dtype))
        return self._y

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        grad_in = self._buffer("grad_in", self._y.shape, self._y.dtype)
        return np.multiply(grad_out, self._y > 0, out=grad_in)


ACTIVATIONS: dict[str, type[Layer]] = {"sigmoid": Sigmoid, "tanh": Tanh, "relu": ReLU}


def make_activation(name: str) -> Layer:
    """The activation layer called `name` (sigmoid, tanh or relu)."""
    if name not in ACTIVATIONS:
        known = ", ".join(ACTIVATIONS)
        raise DrivenetError(f"unknown activation {name!r} (model.activation); use one of {known}")
    return ACTIVATIONS[name]()


def layer_from_spec(spec: dict[str, Any], dtype: DTypeLike = np.float32) -> Layer:
    """Rebuild a layer from `Layer.spec()`; a Dense layer gets zero weights, to be loaded afterwards."""
    if spec["kind"] == "dense":
        layer = Dense(spec["n_in"], spec["n_out"], init=spec.get("init", "xavier"), dtype=dtype)
        layer.weight.value[...] = 0
        return layer
    return make_activation(spec["kind"])
