"""Image layers, ELU and Dropout: forward against plain loops, backward against finite differences."""

import numpy as np
import pytest

from drivenet.nn import ELU, Conv2D, Dropout, Flatten, MaxPool2D
from drivenet.nn.conv import conv_output_size
from drivenet.teach.gradcheck import numeric_gradient, relative_error

CONVS = [  # channels, filters, kernel, stride, padding, input height, width
    (3, 4, 3, 1, "valid", 6, 7),
    (2, 3, 3, 2, "same", 7, 8),
    (1, 2, 5, 2, "valid", 9, 11),
    (2, 2, 2, 1, "same", 5, 4),
    (2, 3, 2, 3, "same", 8, 7),  # stride above the kernel: some pixels are never read
]


def conv_by_loops(conv: Conv2D, x: np.ndarray) -> np.ndarray:
    """The textbook definition, one output pixel at a time."""
    n, h, w, _ = x.shape
    k, s = conv.kernel, conv.stride
    ho, top, bottom = conv_output_size(h, k, s, conv.padding)
    wo, left, right = conv_output_size(w, k, s, conv.padding)
    padded = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    y = np.zeros((n, ho, wo, conv.filters))
    for i in range(ho):
        for j in range(wo):
            patch = padded[:, i * s : i * s + k, j * s : j * s + k, :]
            y[:, i, j] = np.einsum("nabc,abcf->nf", patch, conv.weight.value) + conv.bias.value
    return y


def assert_backward_matches_differences(layer, x, params=True):
    rng = np.random.default_rng(1)
    upstream = rng.normal(size=layer.forward(x).shape)  # L = sum(upstream * layer(x))

    def loss() -> float:
        return float(np.sum(upstream * layer.forward(x)))

    layer.forward(x)
    grad_x = np.array(layer.backward(upstream))
    analytic = [p.grad.copy() for p in layer.parameters()]
    assert grad_x.shape == x.shape
    assert relative_error(grad_x, numeric_gradient(loss, x)).max() < 1e-6
    for p, grad in zip(layer.parameters(), analytic, strict=True):
        assert relative_error(grad, numeric_gradient(loss, p.value)).max() < 1e-6
    assert bool(layer.parameters()) == params


@pytest.mark.parametrize(("channels", "filters", "kernel", "stride", "padding", "h", "w"), CONVS)
def test_conv_forward_equals_the_loop_definition(channels, filters, kernel, stride, padding, h, w):
    rng = np.random.default_rng(0)
    conv = Conv2D(channels, filters, kernel, stride, padding, dtype=np.float64, rng=rng)
    conv.bias.value[...] = rng.normal(size=filters)
    x = rng.normal(size=(3, h, w, channels))
    y = conv.forward(x)
    assert y.shape == (3, *conv.output_shape((h, w, channels)))
    np.testing.assert_allclose(y, conv_by_loops(conv, x), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("channels", "filters", "kernel", "stride", "padding", "h", "w"), CONVS)
def test_conv_backward_matches_central_differences(channels, filters, kernel, stride, padding, h, w):
    rng = np.random.default_rng(2)
    conv = Conv2D(channels, filters, kernel, stride, padding, dtype=np.float64, rng=rng)
    assert_backward_matches_differences(conv, rng.normal(size=(2, h, w, channels)))


def test_same_padding_keeps_the_size_at_stride_one_and_divides_it_otherwise():
    assert Conv2D(3, 8, 5, 1, "same").output_shape((66, 200, 3)) == (66, 200, 8)
    assert Conv2D(3, 8, 5, 2, "same").output_shape((66, 201, 3)) == (33, 101, 8)
    assert Conv2D(3, 24, 5, 2, "valid").output_shape((66, 200, 3)) == (31, 98, 24)
    assert conv_output_size(7, 3, 2, "same") == (4, 1, 1)
    assert conv_output_size(8, 3, 2, "same") == (4, 0, 1)  # the odd zero goes after


def test_conv_skips_the_input_gradient_on_request_and_keeps_float32():
    conv = Conv2D(3, 4, 3, rng=np.random.default_rng(0))
    y = conv.forward(np.ones((2, 5, 5, 3), np.float32))
    assert y.dtype == np.float32 and conv.weight.value.shape == (3, 3, 3, 4)
    assert conv.backward(np.ones_like(y), input_grad=False) is None
    np.testing.assert_allclose(conv.bias.grad, [18.0] * 4)  # 2 images x 3 x 3 output pixels


def test_conv_he_initialisation_uses_the_fan_in_of_a_patch():
    weight = Conv2D(16, 64, 5, rng=np.random.default_rng(0)).weight.value
    assert weight.std() == pytest.approx(np.sqrt(2 / (5 * 5 * 16)), rel=0.03)


def test_bad_convolutions_are_refused():
    with pytest.raises(ValueError, match="padding"):
        Conv2D(3, 4, 3, padding="full")
    with pytest.raises(ValueError, match="stride"):
        Conv2D(3, 4, 3, stride=0)
    with pytest.raises(ValueError, match="does not fit a 4x9 input"):
        Conv2D(3, 4, 5).output_shape((4, 9, 3))
    with pytest.raises(ValueError, match="pool"):
        MaxPool2D(3).output_shape((2, 9, 1))


def test_max_pool_takes_window_maxima_and_drops_leftover_rows():
    x = np.random.default_rng(0).normal(size=(2, 7, 9, 3))
    y = MaxPool2D(2).forward(x)
    expected = x[:, :6, :8].reshape(2, 3, 2, 4, 2, 3).max(axis=(2, 4))
    np.testing.assert_array_equal(y, expected)


def test_max_pool_backward_matches_differences_and_routes_ties_to_the_first_maximum():
    x = np.random.default_rng(3).normal(size=(2, 6, 7, 2))
    assert_backward_matches_differences(MaxPool2D(3), x, params=False)
    pool = MaxPool2D(2)
    pool.forward(np.zeros((1, 2, 2, 1)))  # all four tie
    grad = pool.backward(np.ones((1, 1, 1, 1)))
    np.testing.assert_array_equal(grad[0, :, :, 0], [[1, 0], [0, 0]])


def test_flatten_is_channels_last_and_reversible():
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float64).reshape(2, 3, 4, 5)
    flatten = Flatten()
    y = flatten.forward(x)
    assert y.shape == (2, 60) and y[0, 1] == x[0, 0, 0, 1]
    np.testing.assert_array_equal(flatten.backward(y), x)


def test_elu_values_and_backward():
    x = np.linspace(-4, 3, 30).reshape(5, 6)
    np.testing.assert_allclose(ELU().forward(x), np.where(x > 0, x, np.expm1(x)), rtol=1e-14)
    assert_backward_matches_differences(ELU(), x + 0.01, params=False)  # no entry at the kink


def test_dropout_is_identity_outside_training():
    dropout = Dropout(0.5, rng=np.random.default_rng(0))
    x = np.random.default_rng(1).normal(size=(4, 10))
    np.testing.assert_array_equal(dropout.forward(x), x)
    np.testing.assert_array_equal(dropout.backward(x), x)


def test_dropout_in_training_zeroes_about_rate_and_keeps_the_mean():
    dropout = Dropout(0.3, rng=np.random.default_rng(0))
    dropout.training = True
    x = np.ones((200, 500), np.float32)
    y = dropout.forward(x)
    assert y.dtype == np.float32
    assert np.mean(y == 0) == pytest.approx(0.3, abs=0.01)
    assert set(np.unique(y)) == {0.0, np.float32(1 / 0.7)}
    assert y.mean() == pytest.approx(1.0, abs=0.02)
    grad = dropout.backward(np.full_like(x, 2.0))
    np.testing.assert_array_equal(grad, 2 * y)  # the same mask scales the gradient


def test_dropout_rate_must_be_below_one():
    with pytest.raises(ValueError, match="dropout rate 1.0"):
        Dropout(1.0)


def test_a_pool_window_of_more_than_256_cells_routes_its_gradient_to_the_maximum():
    x = np.random.default_rng(4).normal(size=(2, 17, 17, 3))
    pool = MaxPool2D(17)
    y = pool.forward(x)
    np.testing.assert_array_equal(y[:, 0, 0], x.max(axis=(1, 2)))
    grad = pool.backward(np.ones_like(y))
    np.testing.assert_array_equal(grad, (x == x.max(axis=(1, 2), keepdims=True)).astype(grad.dtype))
