"""The multilayer perceptron: a chain of Dense layers and activations, trained by backpropagation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from drivenet.errors import DrivenetError
from drivenet.nn.layers import Dense, Layer, Parameter, layer_from_spec, make_activation


class MLP:
    """Layers applied in order: forward runs them first to last, backward last to first (the chain rule).

    The first layer must be Dense. Parameters are named `dense<k>.weight` / `dense<k>.bias`, k counting
    the Dense layers from 0.
    """

    def __init__(self, layers: Sequence[Layer]) -> None:
        if not layers or not isinstance(layers[0], Dense):
            raise ValueError("an MLP starts with a Dense layer")
        self.layers = list(layers)
        self.dense_layers = [layer for layer in self.layers if isinstance(layer, Dense)]
        for k, dense in enumerate(self.dense_layers):
            dense.weight.name = f"dense{k}.weight"
            dense.bias.name = f"dense{k}.bias"
        self.dtype = self.dense_layers[0].weight.value.dtype

    @classmethod
    def build(
        cls,
        sizes: Sequence[int],
        activation: str = "sigmoid",
        output_activation: str | None = None,
        init: str = "xavier",
        dtype: DTypeLike = np.float32,
        seed: int = 0,
    ) -> MLP:
        """Dense layers of the given sizes (inputs first), `activation` after each hidden one.

        `output_activation` (sigmoid, tanh, relu or None for a linear output) follows the last layer.
        """
        if len(sizes) < 2:
            raise ValueError(f"sizes needs at least inputs and outputs, got {list(sizes)}")
        rng = np.random.default_rng(seed)
        layers: list[Layer] = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            layers.append(Dense(n_in, n_out, init=init, dtype=dtype, rng=rng))
            last = i == len(sizes) - 2
            name = output_activation if last else activation
            if name is not None:
                layers.append(make_activation(name))
        return cls(layers)

    @property
    def sizes(self) -> list[int]:
        """Units per Dense layer boundary: inputs, hidden..., outputs."""
        return [self.dense_layers[0].n_in] + [dense.n_out for dense in self.dense_layers]

    def forward(self, x: np.ndarray) -> np.ndarray:
        """The network's outputs for a batch x of shape (batch, inputs), as a new array."""
        x = np.asarray(x, dtype=self.dtype)
        if x.ndim != 2 or x.shape[1] != self.sizes[0]:
            raise ValueError(f"expected inputs of shape (batch, {self.sizes[0]}), got {x.shape}")
        for layer in self.layers:
            x = layer.forward(x)
        return x.copy()

    def backward(self, grad_out: np.ndarray, input_grad: bool = False) -> np.ndarray | None:
        """Given dL/d(outputs) of the last forward, fill every parameter's `.grad` (overwriting it).

        Returns dL/d(inputs) when `input_grad` is True (e.g. for saliency maps), else None.
        """
        grad = np.asarray(grad_out, dtype=self.dtype)
        for layer in reversed(self.layers[1:]):
            grad = layer.backward(grad)
        return self.layers[0].backward(grad, input_grad=input_grad)

    def parameters(self) -> list[Parameter]:
        return [p for layer in self.layers for p in layer.parameters()]

    def predict(self, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        """Outputs for many inputs, computed `batch_size` rows at a time to bound memory.

        Like any forward, it replaces what backward would use: call it between training steps.
        """
        x = np.asarray(x)
        parts = [self.forward(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
        return np.concatenate(parts) if parts else np.empty((0, self.sizes[-1]), self.dtype)

    def spec(self) -> dict[str, Any]:
        """The architecture as JSON-able data: `{"layers": [{"kind": "dense", "n_in": .., ...}, ...]}`."""
        return {"layers": [layer.spec() for layer in self.layers]}

    @classmethod
    def from_spec(cls, spec: dict[str, Any], dtype: DTypeLike = np.float32) -> MLP:
        """An MLP with the architecture of `spec` and zero weights; load its weights with load_state_dict."""
        try:
            return cls([layer_from_spec(layer, dtype) for layer in spec["layers"]])
        except (KeyError, TypeError, ValueError) as err:
            raise DrivenetError(f"invalid network spec {spec!r} ({err}); re-create the model file") from None

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of the parameter values by name."""
        return {p.name: p.value.copy() for p in self.parameters()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Copy values into the parameters in place (cast to this network's dtype); names must match."""
        params = {p.name: p for p in self.parameters()}
        missing = sorted(set(params) - set(state))
        unexpected = sorted(set(state) - set(params))
        if missing or unexpected:
            raise DrivenetError(
                f"weights do not fit this network: missing {missing}, unexpected {unexpected}; "
                "load them into the architecture they were saved from"
            )
        for name, p in params.items():
            value = np.asarray(state[name])
            if value.shape != p.value.shape:
                raise DrivenetError(
                    f"parameter {name}: saved shape {value.shape} does not match the network's "
                    f"{p.value.shape}; load them into the architecture they were saved from"
                )
            np.copyto(p.value, value, casting="unsafe")

    def __repr__(self) -> str:
        kinds = " -> ".join(type(layer).__name__ for layer in self.layers)
        return f"MLP({'-'.join(map(str, self.sizes))}: {kinds}, {self.dtype})"
