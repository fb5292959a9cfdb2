"""Reference: drivenet and PyTorch train the same network from the same weights to the same weights."""

import numpy as np
import pytest

from drivenet.nn import MLP, SGD, Adam, Dense, MSELoss, ReLU, Sigmoid, SoftmaxCrossEntropy, Tanh

torch = pytest.importorskip("torch", reason="the PyTorch reference needs torch: pip install -e '.[ref]'")

STEPS = 20
TORCH_LAYERS = {Sigmoid: torch.nn.Sigmoid, Tanh: torch.nn.Tanh, ReLU: torch.nn.ReLU}


def network() -> MLP:
    rng = np.random.default_rng(0)
    shapes = [(7, 6), (6, 5), (5, 4), (4, 3)]
    dense = [Dense(n_in, n_out, dtype=np.float64, rng=rng) for n_in, n_out in shapes]
    for layer in dense:
        layer.bias.value[...] = rng.normal(0, 0.1, size=layer.bias.value.shape)
    return MLP([dense[0], Sigmoid(), dense[1], Tanh(), dense[2], ReLU(), dense[3], Sigmoid()])


def torch_copy(net: MLP) -> torch.nn.Sequential:
    """The same layers in torch.nn, float64; torch keeps each weight as (n_out, n_in)."""
    modules = []
    for layer in net.layers:
        if isinstance(layer, Dense):
            linear = torch.nn.Linear(layer.n_in, layer.n_out, dtype=torch.float64)
            with torch.no_grad():
                linear.weight.copy_(torch.from_numpy(layer.weight.value.T))
                linear.bias.copy_(torch.from_numpy(layer.bias.value))
            modules.append(linear)
        else:
            modules.append(TORCH_LAYERS[type(layer)]())
    return torch.nn.Sequential(*modules)


OPTIMIZERS = {
    "sgd": (
        lambda ps: SGD(ps, lr=0.5, momentum=0.9, weight_decay=0.01),
        lambda ps: torch.optim.SGD(ps, lr=0.5, momentum=0.9, weight_decay=0.01),
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


@pytest.mark.parametrize("loss_name", LOSSES)
@pytest.mark.parametrize("optimizer_name", OPTIMIZERS)
def test_twenty_training_steps_agree_with_pytorch(optimizer_name, loss_name):
    net = network()
    model = torch_copy(net)
    make_ours, make_theirs = OPTIMIZERS[optimizer_name]
    ours, theirs = make_ours(net.parameters()), make_theirs(model.parameters())
    our_loss, their_loss, make_target = LOSSES[loss_name]
    rng = np.random.default_rng(1)
    start = net.state_dict()
    for _ in range(STEPS):
        x, target = rng.normal(size=(16, 7)), make_target(rng, 16)
        value, grad = our_loss(net.forward(x), target)
        net.backward(grad)
        ours.step()
        theirs.zero_grad()
        their_value = their_loss(model(torch.from_numpy(x)), torch.from_numpy(target))
        their_value.backward()
        theirs.step()
        assert value == pytest.approx(their_value.item(), rel=1e-9)
    for k, dense in enumerate(net.dense_layers):
        linear = model[net.layers.index(dense)]
        assert not np.allclose(dense.weight.value, start[f"dense{k}.weight"], atol=1e-3)  # it did train
        np.testing.assert_allclose(dense.weight.value, linear.weight.detach().numpy().T, rtol=0, atol=1e-6)
        np.testing.assert_allclose(dense.bias.value, linear.bias.detach().numpy(), rtol=0, atol=1e-6)
