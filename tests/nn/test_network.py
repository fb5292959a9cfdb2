"""Networks and the MLP: building, training, modes, batched prediction, saving and loading their weights."""

import json

import numpy as np
import pytest

from drivenet.nn import (
    ELU,
    MLP,
    SGD,
    Adam,
    Dense,
    Flatten,
    MSELoss,
    Network,
    Sigmoid,
    Tanh,
)


def test_build_chains_dense_layers_and_activations():
    net = MLP.build([6, 5, 4, 2], activation="tanh", output_activation="sigmoid")
    kinds = [type(layer).__name__ for layer in net.layers]
    assert kinds == ["Dense", "Tanh", "Dense", "Tanh", "Dense", "Sigmoid"]
    assert net.sizes == [6, 5, 4, 2]
    assert [p.name for p in net.parameters()][:2] == ["dense0.weight", "dense0.bias"]
    assert len(net.dense_layers) == 3 and net.dtype == np.float32
    assert net.forward(np.zeros((3, 6))).dtype == np.float32


def test_same_seed_same_weights_in_either_dtype():
    a = MLP.build([4, 3, 1], seed=7)
    b = MLP.build([4, 3, 1], seed=7, dtype=np.float64)
    c = MLP.build([4, 3, 1], seed=8)
    assert b.dtype == np.float64
    np.testing.assert_allclose(a.state_dict()["dense0.weight"], b.state_dict()["dense0.weight"], rtol=1e-7)
    assert not np.allclose(a.state_dict()["dense0.weight"], c.state_dict()["dense0.weight"])


def test_forward_returns_a_fresh_array_each_call():
    net = MLP.build([3, 4, 2], seed=0)
    first = net.forward(np.ones((2, 3)))
    kept = first.copy()
    net.forward(-np.ones((2, 3)))
    np.testing.assert_array_equal(first, kept)


def test_predict_in_batches_equals_one_forward():
    net = MLP.build([5, 8, 3], output_activation="sigmoid", seed=1)
    x = np.random.default_rng(0).normal(size=(23, 5))
    np.testing.assert_allclose(net.predict(x, batch_size=4), net.forward(x), rtol=1e-6)
    assert net.predict(x[:0]).shape == (0, 3)


def fit(net, optimizer, x, target, steps: int) -> float:
    """Train on one batch for `steps` steps; the MSE of predict afterwards."""
    loss = MSELoss()
    for _ in range(steps):
        _, grad = loss(net.forward(x), target)
        net.backward(grad)
        optimizer.step()
    return loss(net.predict(x), target)[0]


def test_training_fits_xor():
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    target = np.array([[0], [1], [1], [0]], dtype=np.float32)
    net = MLP.build([2, 8, 1], "tanh", "sigmoid", seed=0)
    assert fit(net, SGD(net.parameters(), lr=0.5, momentum=0.9), x, target, 500) < 0.01


def test_backward_returns_input_gradient_only_on_request():
    net = MLP.build([3, 4, 1], seed=0)
    net.forward(np.ones((2, 3)))
    assert net.backward(np.ones((2, 1))) is None
    net.forward(np.ones((2, 3)))
    assert net.backward(np.ones((2, 1)), input_grad=True).shape == (2, 3)


def test_spec_and_state_dict_rebuild_the_same_network():
    net = MLP([Dense(4, 3, rng=np.random.default_rng(0)), Tanh(), Dense(3, 2, init="he"), Sigmoid()])
    spec = json.loads(json.dumps(net.spec()))
    copy = MLP.from_spec(spec, dtype=np.float64)
    copy.load_state_dict(net.state_dict())
    x = np.random.default_rng(1).normal(size=(5, 4))
    assert copy.dtype == np.float64
    np.testing.assert_allclose(copy.forward(x), net.forward(x), rtol=1e-5)


def test_load_state_dict_names_the_parameter_and_both_shapes():
    net = MLP.build([4, 3, 1])
    state = MLP.build([4, 5, 1]).state_dict()
    with pytest.raises(ValueError, match=r"dense0.weight.*\(4, 5\).*\(4, 3\)"):
        net.load_state_dict(state)
    del state["dense1.bias"]
    with pytest.raises(ValueError, match="missing.*dense1.bias"):
        net.load_state_dict(state)


def test_bad_spec_is_refused():
    with pytest.raises(ValueError, match="spec"):
        MLP.from_spec({"layers": [{"kind": "dense"}]})


CONV = [
    {"filters": 4, "kernel": 3, "stride": 2, "padding": "same", "pool": 2},
    {"filters": 6, "kernel": 3},
]


def conv_net(**kwargs) -> Network:
    return Network.build((12, 16, 3), conv=CONV, hidden=[8], outputs=2, seed=0, **kwargs)


def test_build_stacks_convolutions_pool_flatten_and_dense_layers():
    net = conv_net(dropout=0.2)
    kinds = [type(layer).__name__ for layer in net.layers]
    assert kinds == [
        "Conv2D",
        "ELU",
        "MaxPool2D",
        "Conv2D",
        "ELU",
        "Flatten",
        "Dense",
        "ELU",
        "Dropout",
        "Dense",
    ]
    assert net.dense_layers[0].n_in == 1 * 2 * 6  # 12x16 -> 6x8 -> pool 3x4 -> valid 3x3: 1x2
    names = [p.name for p in net.parameters()]
    assert names == [f"{kind}{k}.{p}" for kind, k in [("conv", 0), ("conv", 1), ("dense", 0), ("dense", 1)]
                     for p in ("weight", "bias")]  # fmt: skip
    assert net.input_shape == (12, 16, 3) and net.n_outputs == 2 and net.dtype == np.float32
    assert net.layers[8].rate == 0.2


def test_forward_takes_images_or_flat_rows_and_rejects_other_shapes():
    net = conv_net()
    images = np.random.default_rng(0).uniform(size=(5, 12, 16, 3))
    out = net.forward(images)
    assert out.shape == (5, 2) and out.dtype == np.float32
    np.testing.assert_array_equal(net.forward(images.reshape(5, -1)), out)
    with pytest.raises(ValueError, match=r"\(batch, 12, 16, 3\)"):
        net.forward(images[:, :10])


def test_input_gradient_has_the_image_shape_only_on_request():
    net = conv_net()
    net.forward(np.ones((2, 12, 16, 3)))
    assert net.backward(np.ones((2, 2))) is None
    net.forward(np.ones((2, 12, 16, 3)))
    assert net.backward(np.ones((2, 2)), input_grad=True).shape == (2, 12, 16, 3)


def test_new_network_is_in_eval_mode_and_dropout_acts_only_in_training():
    net = conv_net(dropout=0.5)
    x = np.random.default_rng(0).uniform(size=(64, 12, 16, 3))
    assert not net.training and not any(layer.training for layer in net.layers)
    first = net.forward(x)
    np.testing.assert_array_equal(net.forward(x), first)
    assert net.train() is net and net.training and all(layer.training for layer in net.layers)
    assert not np.allclose(net.forward(x), first)
    np.testing.assert_array_equal(net.predict(x, batch_size=10), first)  # predict runs in eval mode
    assert net.training  # and restores the mode
    net.eval()
    np.testing.assert_array_equal(net.forward(x), first)


def test_conv_spec_and_state_dict_rebuild_the_same_network():
    net = conv_net(dropout=0.1)
    spec = json.loads(json.dumps(net.spec()))
    assert spec["input_shape"] == [12, 16, 3]
    copy = Network.from_spec(spec, dtype=np.float64)
    assert [type(a) for a in copy.layers] == [type(b) for b in net.layers]
    assert copy.layers[2].size == 2 and copy.layers[8].rate == 0.1 and copy.layers[0].padding == "same"
    copy.load_state_dict(net.state_dict())
    x = np.random.default_rng(1).uniform(size=(3, 12, 16, 3))
    assert copy.dtype == np.float64
    np.testing.assert_allclose(copy.forward(x), net.forward(x), rtol=1e-5, atol=1e-6)


def test_an_old_mlp_spec_without_input_shape_still_loads():
    old = {"layers": [{"kind": "dense", "n_in": 4, "n_out": 3, "init": "xavier"}, {"kind": "tanh"},
                      {"kind": "dense", "n_in": 3, "n_out": 1, "init": "xavier"}]}  # fmt: skip
    for load in (MLP.from_spec, Network.from_spec):
        net = load(old)
        assert isinstance(net, MLP) and net.sizes == [4, 3, 1] and net.input_shape == (4,)
    assert MLP.from_spec(MLP.build([4, 3, 1]).spec()).sizes == [4, 3, 1]


def test_mlp_is_a_flat_network_with_unchanged_weights():
    net = MLP.build([5, 4, 2], "tanh", seed=3)
    same = Network.build((5,), hidden=[4], outputs=2, activation="tanh", init="xavier", seed=3)
    assert isinstance(net, Network)
    assert [type(a) for a in net.layers] == [type(b) for b in same.layers] == [Dense, Tanh, Dense]
    np.testing.assert_array_equal(net.state_dict()["dense0.weight"], same.state_dict()["dense0.weight"])


def test_a_network_may_start_with_layers_without_parameters():
    rng = np.random.default_rng(0)
    net = Network([Flatten(), Dense(12, 3, dtype=np.float64, rng=rng), ELU()], (2, 2, 3))
    net.forward(np.ones((4, 2, 2, 3)))
    assert net.backward(np.ones((4, 3))) is None
    assert net.dense_layers[0].weight.grad.any()
    net.forward(np.ones((4, 2, 2, 3)))
    assert net.backward(np.ones((4, 3)), input_grad=True).shape == (4, 2, 2, 3)


def test_a_small_conv_network_learns_which_half_is_bright():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 0.2, size=(64, 8, 8, 1)).astype(np.float32)
    right = rng.uniform(size=64) < 0.5
    x[right, :, 4:] += 0.8
    x[~right, :, :4] += 0.8
    target = np.where(right, 1.0, -1.0)[:, None]
    net = Network.build((8, 8, 1), conv=[{"filters": 4, "kernel": 3, "pool": 2}], hidden=[8], seed=0)
    assert fit(net.train(), Adam(net.parameters(), lr=0.01), x, target, 100) < 0.05


def test_bad_conv_entries_are_refused():
    with pytest.raises(ValueError, match=r"convolution 0"):
        Network.build((8, 8, 1), conv=[{"filters": 4, "size": 3}])
    with pytest.raises(ValueError, match=r"convolution 1.*whole numbers"):
        Network.build((8, 8, 1), conv=[{"filters": 4, "kernel": 3}, {"filters": 4, "kernel": 1.5}])
    with pytest.raises(ValueError, match="height, width, channels"):
        Network.build((64,), conv=[{"filters": 4, "kernel": 3}])
    with pytest.raises(ValueError, match="does not fit"):
        Network.build((8, 8, 1), conv=[{"filters": 4, "kernel": 5}, {"filters": 4, "kernel": 5}])


def test_seed_dropout_repeats_the_masks():
    net = conv_net(dropout=0.5).train()
    x = np.random.default_rng(0).uniform(size=(8, 12, 16, 3))
    net.seed_dropout(3)
    first = net.forward(x)
    assert not np.array_equal(net.forward(x), first)
    net.seed_dropout(3)
    np.testing.assert_array_equal(net.forward(x), first)


def test_predict_splits_batches_to_bound_the_patch_matrices(monkeypatch):
    net = conv_net()
    x = np.random.default_rng(0).uniform(size=(10, 12, 16, 3))
    monkeypatch.setattr("drivenet.nn.network.PREDICT_PATCH_BYTES", 3 * net.patch_bytes())
    seen = []
    forward = net.forward
    monkeypatch.setattr(net, "forward", lambda batch: seen.append(len(batch)) or forward(batch))
    out = net.predict(x)
    assert seen == [3, 3, 3, 1]
    np.testing.assert_allclose(out, forward(x), rtol=1e-6)
    assert net.patch_bytes() == 6 * 8 * 3 * 3 * 3 * 4  # conv0: 6x8 outputs, 3x3x3 patches, float32


def test_shapes_follow_the_layers_and_a_spec_that_does_not_fit_is_refused():
    net = conv_net()
    assert net.shapes()[:4] == [(12, 16, 3), (6, 8, 4), (6, 8, 4), (3, 4, 4)]
    assert net.shapes()[-1] == (2,)
    spec = net.spec()
    spec["layers"][6]["n_in"] = 11  # the dense layer after Flatten
    with pytest.raises(ValueError, match="layer 6: a dense layer takes 11 inputs"):
        Network.from_spec(spec)
    spec = net.spec()
    spec["input_shape"] = [12, 16, 1]
    with pytest.raises(ValueError, match="layer 0: a convolution of 3 channels takes"):
        Network.from_spec(spec)
