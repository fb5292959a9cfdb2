"""`drivenet backprop`: JSON and table come from the engine's backward pass; bad values fail in one line."""

from __future__ import annotations

import json
import math

import pytest
from typer.testing import CliRunner

from drivenet.cli import app

runner = CliRunner()


def backprop(*args: str):
    return runner.invoke(app, ["backprop", *args])


def backprop_json(*args: str) -> dict:
    result = backprop("--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def expected_gradients(w: tuple[float, ...], x: tuple[float, ...]) -> dict[str, float]:
    """df/dw_i = s'(z) x_i, df/dx_i = s'(z) w_i, df/dw2 = s'(z), with s'(z) = s(z)(1 - s(z))."""
    s = sigmoid(w[0] * x[0] + w[1] * x[1] + w[2])
    g = s * (1 - s)
    return {"x0": g * w[0], "w0": g * x[0], "x1": g * w[1], "w1": g * x[1], "w2": g}


def test_json_holds_the_worked_example():
    data = backprop_json()
    assert round(data["output"], 2) == 0.73
    assert data["output"] == pytest.approx(sigmoid(1.0), abs=1e-12)
    hand = {"x0": 0.39, "w0": -0.20, "x1": -0.59, "w1": -0.39, "w2": 0.20}
    assert {k: round(v, 2) for k, v in data["gradients"].items()} == hand
    assert data["gradients"] == pytest.approx(expected_gradients((2, -3, -3), (-1, -2)), abs=1e-12)
    steps = data["steps"]
    assert [s["gate"] for s in steps] == ["1/x", "+1", "exp", "*-1"] + ["+"] * 4 + ["*"] * 4
    first = steps[0]
    assert (first["value"], first["upstream"]) == (pytest.approx(1 + math.exp(-1)), 1.0)
    for step in steps:  # each row is one chain-rule product
        assert step["grad"] == pytest.approx(step["local_grad"] * step["upstream"], abs=1e-15)
        assert set(step) >= {"gate", "value", "local_grad", "upstream", "grad"}


def test_fused_equals_staged():
    staged, fused = backprop_json(), backprop_json("--fused")
    assert [s["gate"] for s in fused["steps"]] == ["sigmoid"] + ["+"] * 4 + ["*"] * 4
    s = fused["output"]
    assert fused["steps"][0]["local_grad"] == pytest.approx((1 - s) * s, abs=1e-15)
    assert round(fused["steps"][0]["local_grad"], 2) == 0.20
    assert fused["output"] == pytest.approx(staged["output"], abs=1e-12)
    assert fused["gradients"] == pytest.approx(staged["gradients"], abs=1e-12)


@pytest.mark.parametrize("fused", [[], ["--fused"]], ids=["staged", "fused"])
def test_w_and_x_change_the_result(fused):
    w, x = (0.5, 1.5, -0.25), (2.0, -1.0)
    data = backprop_json("--w", "0.5,1.5,-0.25", "--x", "2,-1", *fused)
    assert data["output"] == pytest.approx(sigmoid(0.5 * 2.0 + 1.5 * -1.0 - 0.25), abs=1e-12)
    assert data["gradients"] == pytest.approx(expected_gradients(w, x), abs=1e-12)
    assert data["gradients"] != pytest.approx(backprop_json(*fused)["gradients"])


def test_table_shows_the_walk_and_the_gradients():
    result = backprop()
    assert result.exit_code == 0, result.output
    for text in ("1/x", "exp", "*-1", "1+exp(-z)", "-0.53", "f = 0.73"):
        assert text in result.stdout
    assert "df/dx0 = 0.39   df/dw0 = -0.20   df/dx1 = -0.59   df/dw1 = -0.39   df/dw2 = 0.20" in result.stdout
    assert "0.1966" in backprop("--digits", "4").stdout


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--w", "1,2"], "--w"),
        (["--w", "2,-3,oops"], "--w"),
        (["--w", "2,-3,inf"], "--w"),
        (["--x", "1"], "--x"),
        (["--x", "nan,1"], "--x"),
    ],
)
def test_bad_values_give_a_one_line_error(args, option):
    result = backprop(*args)
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {option} takes")
    assert "Traceback" not in result.output


def test_overflowing_staged_exp_suggests_fused():
    result = backprop("--w", "-1000,0,0", "--x", "1,0")
    assert result.exit_code == 1
    assert result.stderr.startswith("error:") and "--fused" in result.stderr
    assert backprop_json("--w", "-1000,0,0", "--x", "1,0", "--fused")["output"] == 0.0
