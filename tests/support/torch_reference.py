"""A drivenet network rebuilt in PyTorch with the same weights: for the reference tests and benchmarks only.

Needs torch (`pip install -e '.[ref]'`), imported when called, so drivenet itself never depends on it.
The copy reads images in torch's layout NCHW (pass `x.transpose(0, 3, 1, 2)`); a convolution's weights
(k, k, C, F) become torch's (F, C, k, k); "same" padding is an explicit zero pad in front of the
convolution (torch's own padding is symmetric, drivenet puts an odd zero after); Flatten first moves
channels last again, so the dense layers see drivenet's order.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from drivenet.nn.conv import Conv2D, Flatten, MaxPool2D, conv_output_size
from drivenet.nn.layers import ELU, Dense, Dropout, ReLU, Sigmoid, Tanh
from drivenet.nn.network import Network


def torch_copy(net: Network) -> Any:
    """A `torch.nn.Sequential` computing what `net` computes, in `net`'s dtype, from copies of its weights."""
    import torch

    class ChannelsLast(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.permute(0, 2, 3, 1)

    dtype = torch.float64 if net.dtype == np.float64 else torch.float32
    activations = {Sigmoid: torch.nn.Sigmoid, Tanh: torch.nn.Tanh, ReLU: torch.nn.ReLU, ELU: torch.nn.ELU}
    height, width = net.input_shape[:2] if len(net.input_shape) == 3 else (0, 0)
    modules: list[torch.nn.Module] = []
    for layer in net.layers:
        if isinstance(layer, Conv2D):
            ho, top, bottom = conv_output_size(height, layer.kernel, layer.stride, layer.padding)
            wo, left, right = conv_output_size(width, layer.kernel, layer.stride, layer.padding)
            height, width = ho, wo
            if top or bottom or left or right:
                modules.append(torch.nn.ZeroPad2d((left, right, top, bottom)))
            module = torch.nn.Conv2d(layer.channels, layer.filters, layer.kernel, layer.stride, dtype=dtype)
            weight = layer.weight.value.transpose(3, 2, 0, 1)
        elif isinstance(layer, Dense):
            module = torch.nn.Linear(layer.n_in, layer.n_out, dtype=dtype)
            weight = layer.weight.value.T
        elif isinstance(layer, MaxPool2D):
            modules.append(torch.nn.MaxPool2d(layer.size))
            height, width = height // layer.size, width // layer.size
            continue
        elif isinstance(layer, Flatten):
            modules += [ChannelsLast(), torch.nn.Flatten()]
            continue
        elif isinstance(layer, Dropout):
            modules.append(torch.nn.Dropout(layer.rate))
            continue
        else:
            modules.append(activations[type(layer)]())
            continue
        with torch.no_grad():
            module.weight.copy_(torch.from_numpy(np.ascontiguousarray(weight)))
            module.bias.copy_(torch.from_numpy(layer.bias.value))
        modules.append(module)
    return torch.nn.Sequential(*modules)


def torch_weights(model: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    """(weight, bias) of each convolution and dense layer of a `torch_copy`, in drivenet's shapes."""
    import torch

    pairs = []
    for module in model:
        if isinstance(module, torch.nn.Conv2d | torch.nn.Linear):
            weight = module.weight.detach().numpy()
            weight = weight.transpose(2, 3, 1, 0) if weight.ndim == 4 else weight.T
            pairs.append((weight, module.bias.detach().numpy()))
    return pairs
