"""Networks: a chain of layers trained by backpropagation; `MLP` is the one whose input is flat.

`Network` runs any chain of the layers in `drivenet.nn.layers` and `drivenet.nn.conv` (convolutions,
pooling, flatten, dense, activations, dropout) on batches of shape (B, *input_shape), images NHWC.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, cast

import numpy as np
from numpy.typing import DTypeLike

from drivenet.nn.conv import PADDINGS, Conv2D, Flatten, MaxPool2D, conv_output_shape
from drivenet.nn.layers import Dense, Dropout, Layer, Parameter, make_activation

PREDICT_PATCH_BYTES = 256 * 2**20  # predict splits its batches so that a patch matrix stays below this
MAX_PARAMETERS = 100_000_000  # weights and biases of a network at most: 400 MB of float32 (PilotNet: 339,771)
ConvEntry = tuple[int, int, int, str, int]  # a convolution of `build`: filters, kernel, stride, padding, pool


class Network:
    """Layers applied in order: forward runs them first to last, backward last to first (the chain rule).

    Parameters are named `conv<k>.weight` / `conv<k>.bias` and `dense<k>.weight` / `dense<k>.bias`, k
    counting the layers of that kind from 0. A network starts in eval mode: `train()` turns dropout on,
    `eval()` off; `predict` always runs in eval mode.
    """

    def __init__(self, layers: Sequence[Layer], input_shape: Sequence[int]) -> None:
        self.layers = list(layers)
        self.input_shape = tuple(int(size) for size in input_shape)
        trainable = [i for i, layer in enumerate(self.layers) if layer.parameters()]
        if not trainable:
            raise ValueError("a network needs at least one layer with parameters")
        self._first_trainable = trainable[0]
        for kind, group in (("conv", self.conv_layers), ("dense", self.dense_layers)):
            for k, layer in enumerate(group):
                layer.weight.name = f"{kind}{k}.weight"
                layer.bias.name = f"{kind}{k}.bias"
        self.dtype = self.layers[trainable[0]].parameters()[0].value.dtype
        self.shapes()  # every layer fits its input
        self.eval()

    @classmethod
    def build(
        cls,
        input_shape: Sequence[int],
        conv: Sequence[dict[str, Any]] = (),
        hidden: Sequence[int] = (),
        outputs: int = 1,
        activation: str = "elu",
        output_activation: str | None = None,
        init: str = "he",
        dtype: DTypeLike = np.float32,
        seed: int = 0,
        dropout: float = 0.0,
    ) -> Network:
        """Convolutions, then Flatten and dense layers: `hidden` units, then `outputs` units.

        Each entry of `conv` is {"filters", "kernel", "stride" (1), "padding" ("valid" or "same"),
        "pool" (0: none, else a max pool of that size after the activation)}. `activation` follows every
        convolution and hidden dense layer, Dropout(`dropout`) each hidden dense layer when > 0, and
        `output_activation` (or nothing, for a linear output) the last layer. Input images are NHWC
        (H, W, C); without `conv` the input may be any shape and is flattened.
        """
        shape = tuple(int(size) for size in input_shape)
        entries = [_conv_entry(i, entry) for i, entry in enumerate(conv)]
        count = parameter_count(shape, entries, hidden, outputs)  # every layer fits, before allocating
        if count > MAX_PARAMETERS:
            raise ValueError(f"a network of {count} parameters, more than the {MAX_PARAMETERS} one may have")
        rng = np.random.default_rng(seed)
        layers: list[Layer] = []
        for filters, kernel, stride, padding, pool_size in entries:
            layer = Conv2D(shape[2], filters, kernel, stride, padding, init=init, dtype=dtype, rng=rng)
            shape = layer.output_shape(shape)
            layers += [layer, make_activation(activation)]
            if pool_size:
                pool = MaxPool2D(pool_size)
                shape = pool.output_shape(shape)
                layers.append(pool)
        if len(shape) > 1:
            layers.append(Flatten())
        sizes = [int(np.prod(shape)), *hidden, outputs]
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            layers.append(Dense(n_in, n_out, init=init, dtype=dtype, rng=rng))
            if i < len(sizes) - 2:
                layers.append(make_activation(activation))
                if dropout > 0:
                    layers.append(Dropout(dropout))
            elif output_activation is not None:
                layers.append(make_activation(output_activation))
        network = cls(layers, input_shape)
        network.seed_dropout(seed)
        return network

    @property
    def conv_layers(self) -> list[Conv2D]:
        return [layer for layer in self.layers if isinstance(layer, Conv2D)]

    @property
    def dense_layers(self) -> list[Dense]:
        return [layer for layer in self.layers if isinstance(layer, Dense)]

    @property
    def n_outputs(self) -> int:
        return self.dense_layers[-1].n_out

    @property
    def training(self) -> bool:
        return self._training

    def train(self, mode: bool = True) -> Network:
        """Training mode (dropout active) when `mode`, else eval mode; returns the network."""
        self._training = mode
        for layer in self.layers:
            layer.training = mode
        return self

    def eval(self) -> Network:
        return self.train(False)

    def seed_dropout(self, seed: int) -> None:
        """Draw the dropout masks from here on from `seed` (e.g. seed + epoch, for an exact resume)."""
        for k, layer in enumerate(self.layers):
            if isinstance(layer, Dropout):
                layer.rng = np.random.default_rng([seed, k])

    def forward(self, x: np.ndarray) -> np.ndarray:
        """The outputs for a batch x of shape (B, *input_shape) or (B, prod(input_shape)), as a new array."""
        x = np.asarray(x, dtype=self.dtype)
        if x.shape[1:] != self.input_shape:
            if x.ndim != 2 or x.shape[1] != int(np.prod(self.input_shape)):
                shape = ", ".join(map(str, self.input_shape))
                raise ValueError(f"expected inputs of shape (batch, {shape}), got {x.shape}")
            x = x.reshape(len(x), *self.input_shape)
        for layer in self.layers:
            x = layer.forward(x)
        return x.copy()

    def backward(self, grad_out: np.ndarray, input_grad: bool = False) -> np.ndarray | None:
        """Given dL/d(outputs) of the last forward, fill every parameter's `.grad` (overwriting it).

        Returns dL/d(inputs), shaped (B, *input_shape), when `input_grad` is True (e.g. for saliency
        maps), else None: then the first layer with parameters skips its input gradient and the layers
        before it are not run backward at all.
        """
        grad = np.asarray(grad_out, dtype=self.dtype)
        first = 0 if input_grad else self._first_trainable
        for layer in self.layers[:first:-1]:  # the last layer down to the one after `first`
            grad = cast(np.ndarray, layer.backward(grad))  # input_grad=True: always an array
        return self.layers[first].backward(grad, input_grad)

    def parameters(self) -> list[Parameter]:
        return [p for layer in self.layers for p in layer.parameters()]

    def predict(self, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        """Outputs for many inputs in eval mode, computed `batch_size` rows at a time to bound memory
        (fewer when the convolutions' patch matrices would pass PREDICT_PATCH_BYTES).

        Like any forward, it replaces what backward would use: call it between training steps.
        """
        x = np.asarray(x)
        batch_size = max(1, min(batch_size, PREDICT_PATCH_BYTES // max(self.patch_bytes(), 1)))
        mode = self.training
        self.eval()
        try:
            parts = [self.forward(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
        finally:
            self.train(mode)
        return np.concatenate(parts) if parts else np.empty((0, self.n_outputs), self.dtype)

    def shapes(self) -> list[tuple[int, ...]]:
        """The shape of one example before the first layer and after each layer.

        Raises ValueError where a layer does not fit what it is given (a corrupt spec).
        """
        shapes = [self.input_shape]
        for k, layer in enumerate(self.layers):
            try:
                shapes.append(layer.output_shape(shapes[-1]))
            except ValueError as err:
                raise ValueError(f"layer {k}: {err}") from None
        return shapes

    def patch_bytes(self) -> int:
        """Bytes of the largest convolution patch matrix per input (0 without convolutions)."""
        shapes = self.shapes()
        sizes = [
            int(np.prod(shapes[k + 1][:2])) * layer.kernel**2 * layer.channels * self.dtype.itemsize
            for k, layer in enumerate(self.layers)
            if isinstance(layer, Conv2D)
        ]
        return max(sizes, default=0)

    def spec(self) -> dict[str, Any]:
        """The architecture as JSON-able data: `{"input_shape": [...], "layers": [{"kind": ..}, ...]}`."""
        return {"input_shape": list(self.input_shape), "layers": [layer.spec() for layer in self.layers]}

    @classmethod
    def from_spec(cls, spec: dict[str, Any], dtype: DTypeLike = np.float32) -> Network:
        """A network with the architecture of `spec` and zero weights; load its weights with load_state_dict.

        A spec without input_shape (saved before convolutions existed) is a flat network: an MLP.
        """
        try:
            layers = [layer_from_spec(layer, dtype) for layer in spec["layers"]]
            if "input_shape" not in spec:
                return MLP(layers)
            return cls(layers, spec["input_shape"])
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"invalid network spec {spec!r} ({err})") from None

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of the parameter values by name."""
        return {p.name: p.value.copy() for p in self.parameters()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Copy values into the parameters in place (cast to this network's dtype); names must match."""
        params = {p.name: p for p in self.parameters()}
        missing = sorted(set(params) - set(state))
        unexpected = sorted(set(state) - set(params))
        if missing or unexpected:
            raise ValueError(
                f"weights do not fit this network: missing {missing}, unexpected {unexpected}; "
                "load them into the architecture they were saved from"
            )
        for name, p in params.items():
            value = np.asarray(state[name])
            if value.shape != p.value.shape:
                raise ValueError(
                    f"parameter {name}: saved shape {value.shape} does not match the network's "
                    f"{p.value.shape}; load them into the architecture they were saved from"
                )
            np.copyto(p.value, value, casting="unsafe")

    def __repr__(self) -> str:
        kinds = " -> ".join(type(layer).__name__ for layer in self.layers)
        shape = "x".join(map(str, self.input_shape))
        return f"{type(self).__name__}({shape}: {kinds}, {self.dtype})"


class MLP(Network):
    """A network of Dense layers and activations on flat inputs (B, n_in); the first layer is Dense."""

    def __init__(self, layers: Sequence[Layer], input_shape: Sequence[int] | None = None) -> None:
        if not layers or not isinstance(layers[0], Dense):
            raise ValueError("an MLP starts with a Dense layer")
        super().__init__(layers, input_shape if input_shape is not None else (layers[0].n_in,))

    @classmethod
    def build(  # type: ignore[override]
        cls,
        sizes: Sequence[int],
        activation: str = "sigmoid",
        output_activation: str | None = None,
        init: str = "xavier",
        dtype: DTypeLike = np.float32,
        seed: int = 0,
    ) -> MLP:
        """Dense layers of the given sizes (inputs first), `activation` after each hidden one.

        `output_activation` (sigmoid, tanh, relu, elu or None for a linear output) follows the last layer.
        """
        if len(sizes) < 2:
            raise ValueError(f"sizes needs at least inputs and outputs, got {list(sizes)}")
        net = Network.build(
            (sizes[0],), hidden=sizes[1:-1], outputs=sizes[-1], activation=activation,
            output_activation=output_activation, init=init, dtype=dtype, seed=seed,
        )  # fmt: skip
        return cls(net.layers)

    @property
    def sizes(self) -> list[int]:
        """Units per Dense layer boundary: inputs, hidden..., outputs."""
        return [self.dense_layers[0].n_in] + [dense.n_out for dense in self.dense_layers]


def layer_from_spec(spec: dict[str, Any], dtype: DTypeLike = np.float32) -> Layer:
    """Rebuild a layer from `Layer.spec()`; a layer with weights gets zero weights, to load afterwards."""
    kind = spec["kind"]
    layer: Layer
    if kind == "dense":
        layer = Dense(spec["n_in"], spec["n_out"], init=spec.get("init", "xavier"), dtype=dtype)
    elif kind == "conv2d":
        layer = Conv2D(
            spec["channels"], spec["filters"], spec["kernel"], spec["stride"], spec["padding"],
            init=spec.get("init", "he"), dtype=dtype,
        )  # fmt: skip
    elif kind == "maxpool2d":
        return MaxPool2D(spec["size"])
    elif kind == "flatten":
        return Flatten()
    elif kind == "dropout":
        return Dropout(spec["rate"])
    else:
        return make_activation(kind)
    for p in layer.parameters():
        p.value[...] = 0
    return layer


def _conv_entry(index: int, entry: dict[str, Any]) -> ConvEntry:
    """(filters, kernel, stride, padding, pool) of one `conv` entry of `Network.build`; ValueError for
    unknown keys, or sizes that are not whole numbers."""
    unknown = set(entry) - {"filters", "kernel", "stride", "padding", "pool"}
    numbers = [entry.get(key, 1) for key in ("filters", "kernel", "stride", "pool")]
    if (
        unknown
        or "filters" not in entry
        or "kernel" not in entry
        or not all(isinstance(number, int) and not isinstance(number, bool) for number in numbers)
    ):
        raise ValueError(
            f"convolution {index} {dict(entry)}: expected whole numbers filters, kernel and optionally "
            "stride, pool, and padding"
        )
    return (
        entry["filters"],
        entry["kernel"],
        entry.get("stride", 1),
        entry.get("padding", "valid"),
        entry.get("pool", 0),
    )


def parameter_count(
    input_shape: tuple[int, ...], conv: Sequence[ConvEntry], hidden: Sequence[int], outputs: int
) -> int:
    """Weights and biases of the network `Network.build` makes of these layers, counted from the shapes
    alone (nothing allocated): k·k·C·F + F per convolution, n_in·n_out + n_out per dense layer.
    ValueError where a convolution or pool does not fit what it is given, or a size is below 1."""
    shape, count = input_shape, 0
    for i, (filters, kernel, stride, padding, pool) in enumerate(conv):
        if len(shape) != 3:
            raise ValueError(f"convolutions need (height, width, channels) inputs, got {list(shape)}")
        if min(filters, kernel, stride) < 1 or pool < 0 or padding not in PADDINGS:
            raise ValueError(
                f"convolution {i}: filters, kernel and stride must be at least 1, pool at least 0, padding "
                f"one of {', '.join(PADDINGS)}"
            )
        count += kernel * kernel * shape[2] * filters + filters
        shape = conv_output_shape(shape, kernel, stride, padding, filters)
        if pool:
            shape = MaxPool2D(pool).output_shape(shape)
    sizes = [math.prod(shape), *hidden, outputs]
    if min(sizes) < 1:
        raise ValueError(f"dense layer sizes {sizes}: each needs at least one unit")
    return count + sum(n_in * n_out + n_out for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=False))
