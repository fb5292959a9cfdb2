"""Layers, each with its forward and its hand-written backward side by side.

Every layer has the same interface: `forward(x)`; `backward(grad_out, input_grad=True)`, which fills
the layer's parameter gradients and returns dL/dx, or None when `input_grad` is False; and
`output_shape(shape)`, the shape of one example after the layer. Dense takes (batch, features); the
activations and Dropout take any shape (the image layers are in `drivenet.nn.conv`). A layer keeps
from its last forward what its backward needs, so call forward then backward on the same batch. For
speed every layer writes into arrays it keeps between calls (made anew only when the batch shape
changes): the array a layer returns is overwritten by its next call, so copy it if you want to keep
it (`MLP.forward` does that for you).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import DTypeLike

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
    """A differentiable function of a batch; `training` is set by the network's train()/eval()."""

    training: bool = False

    def __init__(self) -> None:
        self._buffers: dict[str, np.ndarray] = {}

    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad_out: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        """Given g = dL/dy of the last forward, fill the parameters' `.grad` (overwriting them); return
        dL/dx, or None when `input_grad` is False."""
        raise NotImplementedError

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """The shape of one example after this layer (ValueError if it does not fit `input_shape`);
        unchanged here, as for the elementwise layers (activations, dropout)."""
        return input_shape

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


def init_weight(
    init: str, n_in: int, n_out: int, rng: np.random.Generator, shape: tuple[int, ...] | None = None
) -> np.ndarray:
    """Initial weights in float64 (so float32 and float64 networks start from the same numbers).

    xavier (Glorot): uniform on [-a, a] with a = sqrt(6 / (n_in + n_out)), keeps the variance of
    activations and gradients alike across sigmoid/tanh layers. he: normal with std sqrt(2 / n_in),
    the same idea for ReLU, which zeroes half of its inputs. n_in and n_out are the fan-in and fan-out
    (for a convolution k*k*C and k*k*F); `shape` defaults to (n_in, n_out).
    """
    size = shape if shape is not None else (n_in, n_out)
    if init == "xavier":
        limit = np.sqrt(6.0 / (n_in + n_out))
        return rng.uniform(-limit, limit, size=size)
    if init == "he":
        return rng.normal(0.0, np.sqrt(2.0 / n_in), size=size)
    raise ValueError(f"unknown init {init!r}; use one of {', '.join(INITS)}")


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

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """(n_out,), for inputs of shape (n_in,)."""
        if input_shape != (self.n_in,):
            raise ValueError(f"a dense layer takes {self.n_in} inputs, not shape {input_shape}")
        return (self.n_out,)

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

    def backward(self, grad_out: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        if not input_grad:
            return None
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

    def backward(self, grad_out: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        if not input_grad:
            return None
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

    def backward(self, grad_out: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        if not input_grad:
            return None
        grad_in = self._buffer("grad_in", self._y.shape, self._y.dtype)
        return np.multiply(grad_out, self._y > 0, out=grad_in)


class ELU(Layer):
    """y = x for x > 0, else e^x - 1 (the exponential linear unit with alpha = 1).

    Computed as max(x, e^min(x, 0) - 1): e^x - 1 >= x everywhere, and it is 0 for x > 0.
    backward: dL/dx = g for x > 0, else g e^x = g (y + 1); both are g * min(y + 1, 1).
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        y = np.minimum(x, 0.0, out=self._buffer("y", x.shape, x.dtype))
        np.expm1(y, out=y)
        self._y = np.maximum(x, y, out=y)
        return y

    def backward(self, grad_out: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        if not input_grad:
            return None
        grad_in = np.add(self._y, 1.0, out=self._buffer("grad_in", self._y.shape, self._y.dtype))
        np.minimum(grad_in, 1.0, out=grad_in)
        grad_in *= grad_out
        return grad_in


ACTIVATIONS: dict[str, type[Layer]] = {"sigmoid": Sigmoid, "tanh": Tanh, "relu": ReLU, "elu": ELU}


def make_activation(name: str) -> Layer:
    """The activation layer called `name` (sigmoid, tanh, relu or elu)."""
    if name not in ACTIVATIONS:
        known = ", ".join(ACTIVATIONS)
        raise ValueError(f"unknown activation {name!r}; use one of {known}")
    return ACTIVATIONS[name]()


class Dropout(Layer):
    """Inverted dropout: in training, y = x * m / (1 - p) with m_i = 1 with probability 1 - p, else 0.

    Each entry is zeroed with probability `rate` = p and the survivors are scaled by 1 / (1 - p), so
    E[y] = x and evaluation needs no rescaling: outside training (and for p = 0) y = x.
    backward: dL/dx = g * m / (1 - p) with the mask of the last forward (g itself outside training).
    """

    def __init__(self, rate: float, rng: np.random.Generator | None = None) -> None:
        super().__init__()
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"dropout rate {rate}: expected 0 <= rate < 1")
        self.rate = rate
        self.rng = rng if rng is not None else np.random.default_rng()
        self._mask: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        if not self.training or self.rate == 0.0:
            self._mask = None
            return x
        mask = self._buffer("mask", x.shape, x.dtype)
        self.rng.random(out=mask, dtype=x.dtype)
        np.greater_equal(mask, self.rate, out=mask)  # 1 where kept, 0 where dropped
        mask *= 1.0 / (1.0 - self.rate)
        self._mask = mask
        return np.multiply(x, mask, out=self._buffer("y", x.shape, x.dtype))

    def backward(self, grad_out: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        if not input_grad:
            return None
        if self._mask is None:
            return grad_out
        return np.multiply(grad_out, self._mask, out=self._buffer("grad_in", grad_out.shape, grad_out.dtype))

    def spec(self) -> dict[str, Any]:
        return {"kind": "dropout", "rate": self.rate}
