"""`drivenet gradcheck` and the gradient check behind it: correct backward passes pass, broken ones fail."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from drivenet.cli import app
from drivenet.nn import ELU, Conv2D, Dropout, MaxPool2D, Sigmoid, SoftmaxCrossEntropy, Tanh
from drivenet.teach import gradcheck as check

runner = CliRunner()


def test_every_standard_case_passes():
    results = check.run(seed=3)
    assert {r.case for r in results} == {c.name for c in check.standard_cases()}
    assert max(r.error for r in results) < check.TOLERANCE
    assert {"dense0.weight", "dense1.bias", "input"} <= {r.parameter for r in results}


def test_a_backward_that_forgets_the_local_gradient_is_caught(monkeypatch):
    monkeypatch.setattr(Tanh, "backward", lambda self, grad_out: grad_out.copy())  # drops 1 - y^2
    failed = [r for r in check.run() if r.error > check.TOLERANCE]
    assert failed and {r.case for r in failed} == {"tanh, scalar"}
    assert {r.parameter for r in failed} >= {"dense0.weight", "dense1.weight", "input"}


def test_a_slightly_wrong_loss_gradient_is_caught(monkeypatch):
    right = SoftmaxCrossEntropy.__call__

    def off_by_one_percent(self, pred, target):
        value, grad = right(self, pred, target)
        return value, grad * 1.01

    monkeypatch.setattr(SoftmaxCrossEntropy, "__call__", off_by_one_percent)
    failed = {r.case for r in check.run() if r.error > check.TOLERANCE}
    assert failed == {"sigmoid, classes"}


CONV_CASES = {"conv same stride 2, pool, elu, mse", "conv, pool, elu, dropout (training)"}


def test_the_checks_cover_every_layer_kind_and_dropout_in_training():
    layers = [layer for case in check.standard_cases() for layer in case.net.layers]
    assert {Conv2D, MaxPool2D, ELU, Dropout} <= {type(layer) for layer in layers}
    assert any(layer.padding == "same" and layer.stride == 2 for layer in layers if isinstance(layer, Conv2D))
    assert all(layer.training for layer in layers if isinstance(layer, Dropout))


def broken_conv_backward(self, grad_out, input_grad=True):
    grad_in = RIGHT_CONV_BACKWARD(self, grad_out, input_grad)
    if grad_in is not None:
        grad_in[:, ::2] *= 1.01  # col2im scatter slightly wrong on every other row
    return grad_in


RIGHT_CONV_BACKWARD, RIGHT_POOL_BACKWARD = Conv2D.backward, MaxPool2D.backward


@pytest.mark.parametrize(
    ("layer", "method", "failing"),
    [
        (Conv2D, broken_conv_backward, CONV_CASES),
        (MaxPool2D, lambda self, grad_out: RIGHT_POOL_BACKWARD(self, grad_out * 1.01), CONV_CASES),
        (ELU, lambda self, grad_out: grad_out.copy(), CONV_CASES),
        (Dropout, lambda self, grad_out: grad_out, {"conv, pool, elu, dropout (training)"}),
    ],
)
def test_a_broken_image_layer_backward_is_caught(monkeypatch, layer, method, failing):
    monkeypatch.setattr(layer, "backward", method)
    failed = {r.case for r in check.run() if r.error > check.TOLERANCE}
    assert failed == failing


def test_relative_error_is_relative_above_the_floor_and_absolute_below():
    errors = check.relative_error(np.array([1.0, 1e-9]), np.array([1.001, 2e-9]))
    np.testing.assert_allclose(errors, [0.001 / 1.001, 1e-9 / check.FLOOR])


def test_cli_prints_a_table_and_exits_zero():
    result = runner.invoke(app, ["gradcheck"])
    assert result.exit_code == 0, result.output
    assert "dense0.weight" in result.output and "relu (he), bump" in result.output
    assert "conv1.weight" in result.output and "2x2x3x4" in result.output
    n = len(check.run())
    assert f"{n}/{n} gradients within 1e-06" in result.output


def test_cli_json_lists_every_parameter():
    result = runner.invoke(app, ["gradcheck", "--json", "--seed", "2"])
    assert result.exit_code == 0
    report = json.loads(result.output)
    assert report["tolerance"] == 1e-6 and len(report["results"]) == len(check.run(seed=2))
    assert all(r["error"] < 1e-6 for r in report["results"])


def test_cli_exits_non_zero_when_a_backward_is_broken(monkeypatch):
    monkeypatch.setattr(Sigmoid, "backward", lambda self, grad_out: grad_out * self._s)  # s instead of s(1-s)
    result = runner.invoke(app, ["gradcheck"])
    assert result.exit_code == 1
    assert "FAIL" in result.output and "gradient check failed" in result.output
