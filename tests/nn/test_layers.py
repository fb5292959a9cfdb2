"""Layers: forward values, hand-written backward against finite differences, initialisation, dtype."""

import warnings

import numpy as np
import pytest

from drivenet.nn import Dense, ReLU, Sigmoid, Tanh, make_activation
from drivenet.teach.gradcheck import numeric_gradient, relative_error


def test_sigmoid_saturates_without_overflow_or_warning():
    x = np.array([[-1000.0, -50.0, 0.0, 50.0, 1000.0]], dtype=np.float32)
    sigmoid = Sigmoid()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = sigmoid.forward(x).copy()
        grad = sigmoid.backward(np.ones_like(x))
    np.testing.assert_allclose(s[0], [0.0, 0.0, 0.5, 1.0, 1.0], atol=1e-7)
    np.testing.assert_allclose(grad[0], [0.0, 0.0, 0.25, 0.0, 0.0], atol=1e-7)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activations_match_their_textbook_formulas(dtype):
    x = np.linspace(-6, 6, 25, dtype=dtype).reshape(5, 5)
    np.testing.assert_allclose(Sigmoid().forward(x), 1 / (1 + np.exp(-x)), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(Tanh().forward(x), np.tanh(x), rtol=1e-6)
    np.testing.assert_array_equal(ReLU().forward(x), np.where(x > 0, x, 0))
    for layer in (Sigmoid(), Tanh(), ReLU()):
        assert layer.forward(x).dtype == dtype


@pytest.mark.parametrize("make_layer", [Sigmoid, Tanh, ReLU, lambda: Dense(4, 3, dtype=np.float64)])
def test_backward_matches_central_differences(make_layer):
    rng = np.random.default_rng(1)
    layer = make_layer()
    x = rng.normal(size=(5, 4))
    upstream = rng.normal(size=layer.forward(x).shape)  # L = sum(upstream * layer(x))

    def loss() -> float:
        return float(np.sum(upstream * layer.forward(x)))

    layer.forward(x)
    grad_x = layer.backward(upstream).copy()
    analytic = [p.grad.copy() for p in layer.parameters()]
    assert relative_error(grad_x, numeric_gradient(loss, x)).max() < 1e-6
    for p, grad in zip(layer.parameters(), analytic, strict=True):
        assert relative_error(grad, numeric_gradient(loss, p.value)).max() < 1e-6


def test_dense_skips_input_gradient_on_request():
    layer = Dense(3, 2, rng=np.random.default_rng(0))
    layer.forward(np.ones((4, 3), np.float32))
    assert layer.backward(np.ones((4, 2), np.float32), input_grad=False) is None
    np.testing.assert_allclose(layer.bias.grad, [4.0, 4.0])


def test_dense_is_float32_by_default():
    layer = Dense(3, 2)
    assert layer.weight.value.dtype == np.float32 and layer.weight.grad.dtype == np.float32
    assert layer.bias.value.shape == (2,) and layer.weight.value.shape == (3, 2)


def test_xavier_and_he_initialisation_scales():
    rng = np.random.default_rng(0)
    xavier = Dense(300, 200, init="xavier", rng=rng).weight.value
    assert np.abs(xavier).max() <= np.sqrt(6 / 500)
    assert xavier.std() == pytest.approx(np.sqrt(2 / 500), rel=0.02)
    he = Dense(300, 200, init="he", rng=rng).weight.value
    assert he.std() == pytest.approx(np.sqrt(2 / 300), rel=0.02)


def test_unknown_init_and_activation_are_refused():
    with pytest.raises(ValueError, match="unknown init"):
        Dense(2, 2, init="zeros")
    with pytest.raises(ValueError, match="unknown activation"):
        make_activation("softplus")
