"""VisualBackProp (Bojarski et al., 2016): which input pixels a convolutional network's deepest feature
maps come from, at the cost of one forward pass.

Let a_l be the output of convolution block l (its activation, then its max pool if it has one), l = 1..L,
and m_l = mean over channels of max(a_l, 0) (the feature map itself for ReLU; the positive part for
ELU or tanh, whose negative values would flip the sign of the product below). From the deepest block,

    u_L = m_L,   u_{l-1} = m_{l-1} * T_l(u_l),   map = T_1(u_1),

where T_l spreads a one-channel map back over block l's input: the transposed convolution with a kernel
of ones of the block's size and stride (and padding), after the transposed pool (each value copied over
its pool window). T_l is computed as the adjoint of a one-filter convolution of ones, i.e. its backward.
"""

from __future__ import annotations

import numpy as np

from drivenet.nn.conv import Conv2D, Flatten, MaxPool2D
from drivenet.nn.layers import Dense
from drivenet.nn.network import Network


def visual_backprop(net: Network, x: np.ndarray) -> np.ndarray:
    """The VisualBackProp map (N, H, W) of inputs x (N, H, W, C) of a network that starts with
    convolutions (ValueError otherwise); non-negative, in units of the feature maps' products."""
    if not net.conv_layers or not isinstance(net.layers[0], Conv2D):
        raise ValueError("VisualBackProp needs a network that starts with convolutions")
    blocks = conv_blocks(net)
    shapes = net.shapes()
    means, h = [], np.asarray(x, dtype=net.dtype)
    mode = net.training
    net.eval()
    try:
        for k, layer in enumerate(net.layers[: blocks[-1][1] + 1]):
            h = layer.forward(h)
            if any(end == k for _, end in blocks):
                means.append(np.maximum(h, 0).mean(axis=3))  # copied: layers reuse their buffers
    finally:
        net.train(mode)
    u = means[-1]
    for level in range(len(blocks) - 1, -1, -1):
        start, end = blocks[level]
        u = spread_back(net, start, end, u, shapes[start])
        if level:
            u = u * means[level - 1]
    return u


def conv_blocks(net: Network) -> list[tuple[int, int]]:
    """(index of the Conv2D, index of the block's last layer) for each convolution block: the
    convolution and the layers after it up to the next convolution, Flatten or Dense (its activation,
    and its max pool when it has one)."""
    blocks = []
    for start, layer in enumerate(net.layers):
        if isinstance(layer, Conv2D):
            end = start
            while end + 1 < len(net.layers) and not isinstance(net.layers[end + 1], Conv2D | Flatten | Dense):
                end += 1
            blocks.append((start, end))
    return blocks


def spread_back(
    net: Network, start: int, end: int, u: np.ndarray, input_shape: tuple[int, ...]
) -> np.ndarray:
    """T of the block layers[start..end] applied to maps u (N, h, w): (N, H, W) over the block's input
    (H, W, C): the pool's windows first (a value copied over its window; rows and columns the pool
    dropped get 0), then the transposed convolution of ones."""
    conv = net.layers[start]
    assert isinstance(conv, Conv2D)
    pools = [layer for layer in net.layers[start : end + 1] if isinstance(layer, MaxPool2D)]
    if pools:
        pool = pools[0]
        conv_shape = net.shapes()[start + 1]
        spread = np.zeros((len(u), conv_shape[0], conv_shape[1]), u.dtype)
        size = pool.size
        repeated = np.repeat(np.repeat(u, size, axis=1), size, axis=2)
        spread[:, : repeated.shape[1], : repeated.shape[2]] = repeated
        u = spread
    ones = Conv2D(1, 1, conv.kernel, conv.stride, conv.padding, dtype=u.dtype)
    ones.weight.value[...] = 1
    ones.forward(np.zeros((len(u), input_shape[0], input_shape[1], 1), u.dtype))
    back = ones.backward(u[..., None])
    assert back is not None
    return back[..., 0].copy()
