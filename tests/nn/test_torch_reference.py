"""Reference: drivenet and PyTorch train the same network from the same weights to the same weights."""

import numpy as np
import pytest
from support.torch_reference import torch_copy, torch_weights

from drivenet.nn import (
    MLP,
    SGD,
    Adam,
    Conv2D,
    Dense,
    MSELoss,
    Network,
    ReLU,
    Sigmoid,
    SoftmaxCrossEntropy,
    Tanh,
)

torch = pytest.importorskip("torch", reason="the PyTorch reference needs torch: pip install -e '.[ref]'")

STEPS = 20


def with_random_biases(net: Network) -> Network:
    rng = np.random.default_rng(0)
    for p in net.parameters():
        if p.name.endswith("bias"):
            p.value[...] = rng.normal(0, 0.1, size=p.value.shape)
    return net


def dense_network() -> MLP:
    rng = np.random.default_rng(0)
    shapes = [(7, 6), (6, 5), (5, 4), (4, 3)]
    dense = [Dense(n_in, n_out, dtype=np.float64, rng=rng) for n_in, n_out in shapes]
    return with_random_biases(
        MLP([dense[0], Sigmoid(), dense[1], Tanh(), dense[2], ReLU(), dense[3], Sigmoid()])
    )


def conv_network() -> Network:
    """Both paddings, a strided convolution, max pooling, ELU, flatten and dense layers, in float64."""
    conv = [
        {"filters": 4, "kernel": 3, "stride": 2, "padding": "same", "pool": 2},
        {"filters": 5, "kernel": 2, "padding": "valid"},
    ]
    net = Network.build((10, 13, 3), conv, hidden=[6], outputs=3, dtype=np.float64, seed=0)
    return with_random_biases(net)


def optimizers(sgd_lr: float) -> dict:
    return {
        "sgd": (
            lambda ps: SGD(ps, lr=sgd_lr, momentum=0.9, weight_decay=0.01),
            lambda ps: torch.optim.SGD(ps, lr=sgd_lr, momentum=0.9, weight_decay=0.01),
        ),
        "adam": (
            lambda ps: Adam(ps, lr=0.05, betas=(0.8, 0.99), eps=1e-7, weight_decay=0.01),
            lambda ps: torch.optim.Adam(ps, lr=0.05, betas=(0.8, 0.99), eps=1e-7, weight_decay=0.01),
        ),
    }


LOSSES = {  # ours, theirs, a batch of n targets
    "mse": (MSELoss(), torch.nn.MSELoss(), lambda rng, n: rng.uniform(size=(n, 3))),
    "classes": (SoftmaxCrossEntropy(), torch.nn.CrossEntropyLoss(), lambda rng, n: rng.integers(3, size=n)),
}
CASES = {  # network, SGD's learning rate (0.5 makes the conv network diverge), a batch of n inputs
    "dense": (dense_network, 0.5, lambda rng, n: rng.normal(size=(n, 7))),
    "conv": (conv_network, 0.05, lambda rng, n: rng.normal(size=(n, 10, 13, 3))),
}


def torch_input(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(x.transpose(0, 3, 1, 2).copy() if x.ndim == 4 else x)


@pytest.mark.parametrize(
    ("case", "loss_name"), [("dense", "mse"), ("dense", "classes"), ("conv", "mse"), ("conv", "classes")]
)
@pytest.mark.parametrize("optimizer_name", ["sgd", "adam"])
def test_twenty_training_steps_agree_with_pytorch(case, optimizer_name, loss_name):
    make_net, sgd_lr, make_input = CASES[case]
    net = make_net()
    model = torch_copy(net)
    make_ours, make_theirs = optimizers(sgd_lr)[optimizer_name]
    ours, theirs = make_ours(net.parameters()), make_theirs(model.parameters())
    our_loss, their_loss, make_target = LOSSES[loss_name]
    rng = np.random.default_rng(1)
    start = net.state_dict()
    net.train()
    for _ in range(STEPS):
        x, target = make_input(rng, 16), make_target(rng, 16)
        value, grad = our_loss(net.forward(x), target)
        net.backward(grad)
        ours.step()
        theirs.zero_grad()
        their_value = their_loss(model(torch_input(x)), torch.from_numpy(target))
        their_value.backward()
        theirs.step()
        assert value == pytest.approx(their_value.item(), rel=1e-9)
    trainable = [layer for layer in net.layers if layer.parameters()]
    if case == "conv":
        assert [type(layer) for layer in trainable] == [Conv2D, Conv2D, Dense, Dense]
    for layer, (weight, bias) in zip(trainable, torch_weights(model), strict=True):
        assert not np.allclose(layer.weight.value, start[layer.weight.name], atol=1e-3)  # it did train
        np.testing.assert_allclose(layer.weight.value, weight, rtol=0, atol=1e-6)
        np.testing.assert_allclose(layer.bias.value, bias, rtol=0, atol=1e-6)


def test_the_torch_copy_computes_the_same_outputs_in_float32():
    net = Network.build((20, 24, 3), [{"filters": 6, "kernel": 5, "stride": 2}, {"filters": 8, "kernel": 3}],
                        hidden=[10], outputs=1, output_activation="tanh", seed=0)  # fmt: skip
    x = np.random.default_rng(0).uniform(size=(4, 20, 24, 3)).astype(np.float32)
    with torch.no_grad():
        theirs = torch_copy(net)(torch_input(x)).numpy()
    assert theirs.dtype == np.float32
    np.testing.assert_allclose(net.forward(x), theirs, rtol=1e-4, atol=1e-5)
