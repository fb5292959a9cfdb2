"""The MLP: building, training, batched prediction, saving and loading its weights."""

import json

import numpy as np
import pytest

from drivenet.errors import DrivenetError
from drivenet.nn import MLP, SGD, Dense, MSELoss, Sigmoid, Tanh


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


def test_training_fits_xor():
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    target = np.array([[0], [1], [1], [0]], dtype=np.float32)
    net = MLP.build([2, 8, 1], "tanh", "sigmoid", seed=0)
    optimizer, loss = SGD(net.parameters(), lr=0.5, momentum=0.9), MSELoss()
    for _ in range(500):
        _, grad = loss(net.forward(x), target)
        net.backward(grad)
        optimizer.step()
    assert loss(net.forward(x), target)[0] < 0.01


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
    with pytest.raises(DrivenetError, match=r"dense0.weight.*\(4, 5\).*\(4, 3\)"):
        net.load_state_dict(state)
    del state["dense1.bias"]
    with pytest.raises(DrivenetError, match="missing.*dense1.bias"):
        net.load_state_dict(state)


def test_bad_spec_is_a_user_error():
    with pytest.raises(DrivenetError, match="spec"):
        MLP.from_spec({"layers": [{"kind": "dense"}]})
