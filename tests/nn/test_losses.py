"""Losses: values against their definitions, gradients against central differences, stability."""

import warnings

import numpy as np
import pytest

from drivenet.nn import MSELoss, SoftmaxCrossEntropy
from drivenet.teach.gradcheck import numeric_gradient, relative_error


def check_gradient(loss, pred, target):
    _, grad = loss(pred, target)
    numeric = numeric_gradient(lambda: loss(pred, target)[0], pred)
    assert relative_error(grad, numeric).max() < 1e-6


def test_mse_value_and_gradient():
    rng = np.random.default_rng(0)
    pred, target = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    value, _ = MSELoss()(pred, target)
    assert value == pytest.approx(np.mean((pred - target) ** 2), rel=1e-12)
    check_gradient(MSELoss(), pred, target)


def test_mse_keeps_the_prediction_dtype_and_leaves_it_unchanged():
    pred = np.ones((2, 1), np.float32)
    _, grad = MSELoss()(pred, np.zeros(2))
    assert grad.dtype == np.float32
    np.testing.assert_array_equal(pred, 1.0)
    np.testing.assert_allclose(grad, [[1.0], [1.0]])  # 2 (1 - 0) / 2 entries


def test_softmax_cross_entropy_value_and_gradient():
    rng = np.random.default_rng(1)
    logits, classes = rng.normal(size=(5, 3)), rng.integers(0, 3, size=5)
    value, _ = SoftmaxCrossEntropy()(logits, classes)
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert value == pytest.approx(-np.mean(np.log(probs[np.arange(5), classes])), rel=1e-12)
    check_gradient(SoftmaxCrossEntropy(), logits, classes)


def test_softmax_cross_entropy_is_stable_for_huge_logits():
    logits = np.array([[1000.0, 0.0, -1000.0], [1000.0, 0.0, -1000.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value, grad = SoftmaxCrossEntropy()(logits, np.array([0, 1]))
    assert value == pytest.approx(1000.0 / 2)  # row 0 costs nothing, row 1 costs 1000
    np.testing.assert_allclose(grad, [[0, 0, 0], [0.5, -0.5, 0]], atol=1e-12)


def test_softmax_cross_entropy_rejects_float_targets():
    with pytest.raises(ValueError, match="class indices"):
        SoftmaxCrossEntropy()(np.zeros((2, 3)), np.zeros((2, 3)))
