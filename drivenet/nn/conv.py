"""Image layers: Conv2D, MaxPool2D and Flatten, forward and hand-written backward side by side.

Layout NHWC: a batch of images is (N, H, W, C), channels last, everywhere in drivenet. The cache
stores images that way, and channels last is what makes a convolution one matrix product with no
transpose: the k x k x C patch under each output pixel is a strided view (N, Ho, Wo, k, k, C) of the
input, which reshapes to the rows of one matrix (N*Ho*Wo, k*k*C); times the weights W (k, k, C, F)
seen as (k*k*C, F) it gives (N*Ho*Wo, F), which already is the NHWC output (N, Ho, Wo, F).

As in `drivenet.nn.layers`, every array a layer returns is a buffer overwritten by its next call.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided
from numpy.typing import DTypeLike

from drivenet.nn.layers import Layer, Parameter, init_weight

PADDINGS = ("valid", "same")


def conv_output_size(size: int, kernel: int, stride: int, padding: str) -> tuple[int, int, int]:
    """(output size, padding before, padding after) along one axis of length `size`.

    valid: no padding, floor((size - k) / s) + 1 outputs. same: ceil(size / s) outputs, the zeros needed
    for that split evenly with the odd one after (as TensorFlow does), so stride 1 keeps the size.
    """
    if padding == "valid":
        return (size - kernel) // stride + 1, 0, 0
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return out, total // 2, total - total // 2


def conv_output_shape(
    input_shape: tuple[int, ...], kernel: int, stride: int, padding: str, filters: int
) -> tuple[int, int, int]:
    """(Ho, Wo, F) of a convolution of F `kernel`x`kernel` kernels on (H, W, C) inputs, computed without
    making it (so that a network is checked to fit before any weight is allocated); ValueError where
    the kernel does not fit."""
    height, width, _ = input_shape
    ho = conv_output_size(height, kernel, stride, padding)[0]
    wo = conv_output_size(width, kernel, stride, padding)[0]
    if min(ho, wo) < 1:
        raise ValueError(f"a {kernel}x{kernel} convolution does not fit a {height}x{width} input")
    return ho, wo, filters


class Conv2D(Layer):
    """2-D convolution (cross-correlation, as in every deep-learning library) of NHWC images.

    With P the patches matrix (N*Ho*Wo, k*k*C) (row = the input patch under one output pixel, the input
    zero-padded for "same"), W the weights (k, k, C, F) read as (k*k*C, F) and b the bias (F,):
        y = P W + b,  read as (N, Ho, Wo, F).
    backward, given g = dL/dy as (N*Ho*Wo, F):
        dL/dW = P^T g,   dL/db = sum of g over all rows,   dL/dP = g W^T,
    and dL/dx is dL/dP scattered back (col2im): each patch entry adds its gradient to the input pixel it
    was read from: one slice add per kernel offset, k*k of them (see `backward`).
    """

    def __init__(
        self,
        channels: int,
        filters: int,
        kernel: int,
        stride: int = 1,
        padding: str = "valid",
        init: str = "he",
        dtype: DTypeLike = np.float32,
        rng: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        if padding not in PADDINGS:
            raise ValueError(f"unknown padding {padding!r}; use one of {', '.join(PADDINGS)}")
        if min(channels, filters, kernel, stride) < 1:
            raise ValueError(
                f"convolution with {channels} channels, {filters} filters, kernel {kernel}, stride {stride}: "
                "each must be at least 1"
            )
        rng = rng if rng is not None else np.random.default_rng()
        self.stride, self.padding, self.init = stride, padding, init
        shape = (kernel, kernel, channels, filters)
        weight = init_weight(init, kernel * kernel * channels, kernel * kernel * filters, rng, shape)
        self.weight = Parameter("weight", weight.astype(dtype))
        self.bias = Parameter("bias", np.zeros(filters, dtype))

    @property
    def kernel(self) -> int:
        return self.weight.value.shape[0]

    @property
    def channels(self) -> int:
        return self.weight.value.shape[2]

    @property
    def filters(self) -> int:
        return self.weight.value.shape[3]

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """(Ho, Wo, F) for inputs of shape (H, W, C) with C = `channels`."""
        if len(input_shape) != 3 or input_shape[2] != self.channels:
            raise ValueError(
                f"a convolution of {self.channels} channels takes (height, width, {self.channels}) inputs, "
                f"not shape {input_shape}"
            )
        return conv_output_shape(input_shape, self.kernel, self.stride, self.padding, self.filters)

    def _padded(self, x: np.ndarray) -> np.ndarray:
        """x, or x inside a frame of zeros for "same" padding (kept in a buffer whose frame stays zero)."""
        n, h, w, c = x.shape
        _, top, bottom = conv_output_size(h, self.kernel, self.stride, self.padding)
        _, left, right = conv_output_size(w, self.kernel, self.stride, self.padding)
        self._pads = (top, left)
        if top == bottom == left == right == 0:
            return x
        shape = (n, h + top + bottom, w + left + right, c)
        before = self._buffers.get("padded")
        padded = self._buffer("padded", shape, x.dtype)
        if padded is not before:
            padded.fill(0)
        padded[:, top : top + h, left : left + w] = x
        return padded

    def forward(self, x: np.ndarray) -> np.ndarray:
        n = len(x)
        ho, wo, f = self.output_shape(x.shape[1:])
        k, s, c = self.kernel, self.stride, self.channels
        padded = self._padded(x)
        sn, sh, sw, sc = padded.strides
        patches = as_strided(padded, (n, ho, wo, k, k, c), (sn, s * sh, s * sw, sh, sw, sc), writeable=False)
        cols = self._buffer("cols", (n * ho * wo, k * k * c), x.dtype)
        np.copyto(cols.reshape(patches.shape), patches)
        self._cols, self._x_shape, self._padded_shape = cols, x.shape, padded.shape
        y = self._buffer("y", (n, ho, wo, f), x.dtype)
        np.matmul(cols, self.weight.value.reshape(-1, f), out=y.reshape(-1, f))
        y += self.bias.value
        return y

    def backward(self, grad_out: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        """Fill the parameter gradients; return dL/dx, or None when `input_grad` is False.

        The scatter runs on dL/dP transposed, (k, k, C, N, Ho, Wo), into the padded input split by
        phase: pixel (s u + p, s v + q) is entry (u, v) of phase (p, q), stored channel-first. Offset
        (i, j) then adds to phase (i mod s, j mod s) at (a + i // s, b + j // s) for output (a, b), so
        each add reads and writes whole rows of Wo values instead of every s-th pixel's C values; one
        copy at the end puts the phases back together as NHWC, without the padding.
        """
        f = self.filters
        g = grad_out.reshape(-1, f)
        weight = self.weight.value.reshape(-1, f)
        # dL/dW = P^T g, computed as (g^T P)^T: OpenBLAS is about 20% faster with the long axis inside
        grad_weight_t = self._buffer("grad_weight_t", (f, weight.shape[0]), weight.dtype)
        np.matmul(g.T, self._cols, out=grad_weight_t)
        np.copyto(self.weight.grad.reshape(-1, f), grad_weight_t.T)
        np.add.reduce(g, axis=0, out=self.bias.grad)
        if not input_grad:
            return None
        n, h, w, c = self._x_shape
        _, ho, wo, _ = grad_out.shape
        k, s, dtype = self.kernel, self.stride, weight.dtype
        grad_cols_t = self._buffer("grad_cols_t", (k * k * c, n * ho * wo), dtype)
        np.matmul(weight, g.T, out=grad_cols_t)  # (g W^T)^T = W g^T
        grad_patches = grad_cols_t.reshape(k, k, c, n, ho, wo)
        _, padded_h, padded_w, _ = self._padded_shape
        phases = self._buffer("grad_phases", (s, s, c, n, -(-padded_h // s), -(-padded_w // s)), dtype)
        phases.fill(0)
        for i in range(k):
            for j in range(k):
                phases[i % s, j % s, :, :, i // s : i // s + ho, j // s : j // s + wo] += grad_patches[i, j]
        grad_in = self._buffer("grad_in", self._x_shape, dtype)
        top, left = self._pads
        for p in range(s):
            for q in range(s):
                y0, x0 = (p - top) % s, (q - left) % s  # first unpadded row and column in this phase
                u0, v0 = (y0 + top) // s, (x0 + left) // s
                rows, cols = len(range(y0, h, s)), len(range(x0, w, s))
                phase = phases[p, q, :, :, u0 : u0 + rows, v0 : v0 + cols]
                grad_in[:, y0::s, x0::s] = phase.transpose(1, 2, 3, 0)
        return grad_in

    def parameters(self) -> list[Parameter]:
        return [self.weight, self.bias]

    def spec(self) -> dict[str, Any]:
        return {
            "kind": "conv2d",
            "channels": self.channels,
            "filters": self.filters,
            "kernel": self.kernel,
            "stride": self.stride,
            "padding": self.padding,
            "init": self.init,
        }


class MaxPool2D(Layer):
    """Max pooling over non-overlapping size x size windows (stride = size) of NHWC images.

    y[n, i, j, c] = max over 0 <= a, b < size of x[n, i*size + a, j*size + b, c]; rows and columns left
    over at the bottom and right (H or W not a multiple of size) are dropped, as in PyTorch.
    backward: dL/dx = g at the first maximum of each window (in row-major order), 0 elsewhere.
    Both passes loop over the size^2 window offsets only, each a strided slice of the whole batch.
    """

    def __init__(self, size: int) -> None:
        super().__init__()
        if size < 1:
            raise ValueError(f"pool size {size}: expected at least 1")
        self.size = size

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """(H // size, W // size, C) for inputs of shape (H, W, C)."""
        if len(input_shape) != 3:
            raise ValueError(f"a pool takes (height, width, channels) inputs, not shape {input_shape}")
        height, width, channels = input_shape
        ho, wo = height // self.size, width // self.size
        if min(ho, wo) < 1:
            raise ValueError(f"a {self.size}x{self.size} pool does not fit a {height}x{width} input")
        return ho, wo, channels

    def _window(self, array: np.ndarray, offset: int, ho: int, wo: int) -> np.ndarray:
        """The entries at window offset `offset` (row-major in the window) of every window."""
        a, b = divmod(offset, self.size)
        p = self.size
        return array[:, a : a + p * ho : p, b : b + p * wo : p]

    def forward(self, x: np.ndarray) -> np.ndarray:
        n = len(x)
        ho, wo, c = self.output_shape(x.shape[1:])
        y = self._buffer("y", (n, ho, wo, c), x.dtype)
        argmax = self._buffer("argmax", (n, ho, wo, c), np.dtype(np.uint16))
        better = self._buffer("better", (n, ho, wo, c), np.dtype(bool))
        y[...] = self._window(x, 0, ho, wo)
        argmax.fill(0)
        for offset in range(1, self.size**2):
            candidate = self._window(x, offset, ho, wo)
            np.greater(candidate, y, out=better)  # strictly: ties keep the first maximum
            np.copyto(y, candidate, where=better)
            np.copyto(argmax, np.uint16(offset), where=better)
        self._x_shape = x.shape
        return y

    def backward(self, grad_out: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        if not input_grad:
            return None
        argmax, here = self._buffers["argmax"], self._buffers["better"]
        grad_in = self._buffer("grad_in", self._x_shape, grad_out.dtype)
        grad_in.fill(0)
        _, ho, wo, _ = grad_out.shape
        for offset in range(self.size**2):
            np.equal(argmax, offset, out=here)
            np.copyto(self._window(grad_in, offset, ho, wo), grad_out, where=here)
        return grad_in

    def spec(self) -> dict[str, Any]:
        return {"kind": "maxpool2d", "size": self.size}


class Flatten(Layer):
    """(N, H, W, C) -> (N, H*W*C) in NHWC order (channels vary fastest).  backward: reshape g back."""

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """(H*W*C,): one axis of the product of the sizes, whatever the input's shape."""
        return (int(np.prod(input_shape)),)

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._x_shape = x.shape
        return x.reshape(len(x), -1)

    def backward(self, grad_out: np.ndarray, input_grad: bool = True) -> np.ndarray | None:
        if not input_grad:
            return None
        return grad_out.reshape(self._x_shape)
