"""Pedal targets: their units, decoding and loss (checked by finite differences), the checkpoint's targets."""

from __future__ import annotations

import numpy as np
import pytest
from support.tiny import tiny_config

from drivenet.data.transform import Preprocess
from drivenet.errors import DrivenetError
from drivenet.io import load_npz, save_npz
from drivenet.model.checkpoint import load_model, save_model
from drivenet.model.encoding import BumpEncoding, ClassEncoding, ScalarEncoding
from drivenet.model.steering_model import Controls, SteeringModel
from drivenet.model.targets import TargetHeads
from drivenet.nn.network import MLP
from drivenet.teach.gradcheck import TOLERANCE, Case, check_case

ENCODINGS = {
    "scalar": ScalarEncoding(),
    "linear": ScalarEncoding(None),
    "bump": BumpEncoding(7),
    "classes": ClassEncoding(),
}
PEDALS = ("steering", "throttle", "brake")


def labels(batch: int, rng: np.random.Generator) -> np.ndarray:
    """(batch, 3): steering in [-1, 1], throttle and brake in [0, 1]."""
    return np.column_stack([rng.uniform(-1, 1, batch), rng.uniform(0, 1, (batch, 2))])


@pytest.mark.parametrize("name", ENCODINGS)
def test_the_combined_loss_gradient_matches_finite_differences(name):
    """L = L_s + sum_t w_t MSE_t through a tiny float64 network with the encoding's output activation."""
    encoding = ENCODINGS[name]
    heads = TargetHeads(encoding, PEDALS)
    net = MLP.build([5, 4, heads.n_outputs], "tanh", encoding.output_activation, dtype=np.float64, seed=1)
    rng = np.random.default_rng(0)
    weights = {"throttle": 0.7, "brake": 2.0}
    case = Case(name, net, lambda p, t: heads.loss(p, t, weights), rng.normal(size=(6, 5)), labels(6, rng))
    results = check_case(case)
    assert results and max(r.error for r in results) < TOLERANCE


@pytest.mark.parametrize("name", ENCODINGS)
def test_the_loss_adds_each_weighted_pedal_error_to_the_steering_loss(name):
    encoding = ENCODINGS[name]
    heads = TargetHeads(encoding, PEDALS)
    rng = np.random.default_rng(2)
    outputs = rng.uniform(0.05, 0.95, (8, heads.n_outputs))
    y = labels(8, rng)
    n = encoding.n_outputs
    steering_loss, steering_grad = encoding.loss(outputs[:, :n], encoding.encode(y[:, 0]))
    value, grad = heads.loss(outputs, y, {"brake": 3.0})
    p_hat = heads.pedal_values(outputs)
    expected = (
        steering_loss + np.mean((p_hat[:, 0] - y[:, 1]) ** 2) + 3.0 * np.mean((p_hat[:, 1] - y[:, 2]) ** 2)
    )
    assert value == pytest.approx(expected)
    np.testing.assert_allclose(grad[:, :n], steering_grad)
    # steering alone: exactly the encoding's loss, labels (B,) or (B, 1)
    alone = TargetHeads(encoding)
    for steering in (y[:, 0], y[:, :1]):
        value, grad = alone.loss(outputs[:, :n], steering)
        assert value == steering_loss and np.array_equal(grad, steering_grad)


@pytest.mark.parametrize(("name", "span"), [("scalar", (-1, 1)), ("linear", (-1, 1)), ("bump", (0, 1))])
def test_a_pedal_spans_its_unit_and_is_clipped_to_0_1(name, span):
    heads = TargetHeads(ENCODINGS[name], ("steering", "throttle"))
    n = heads.encoding.n_outputs
    outputs = np.zeros((4, n + 1), np.float32)
    lo, hi = span
    outputs[:, n] = [lo, hi, lo + 0.25 * (hi - lo), hi + 1]
    decoded = heads.decode(outputs)
    assert set(decoded) == {"steering", "throttle"} and decoded["throttle"].dtype == np.float32
    np.testing.assert_allclose(decoded["throttle"], [0, 1, 0.25, 1])


@pytest.mark.parametrize("names", [(), ("throttle",), ("steering", "steering"), ("steering", "speed")])
def test_targets_are_steering_then_pedals_each_once(names):
    with pytest.raises(ValueError, match="steering and then any of throttle, brake, each once"):
        TargetHeads(ScalarEncoding(), names)


def test_config_rules_of_targets_and_weights():
    assert tiny_config().model.targets == ("steering",) and tiny_config().model.target_weights == {}
    with pytest.raises(DrivenetError, match="model.targets.*must be a list of steering and then"):
        tiny_config('model.targets=["throttle"]')
    with pytest.raises(DrivenetError, match="model.target_weights.*at least 0"):
        tiny_config('model.targets=["steering", "throttle"]', "model.target_weights={throttle = -1}")
    with pytest.raises(DrivenetError, match="weighs brake, which model.targets"):
        tiny_config('model.targets=["steering", "throttle"]', "model.target_weights={brake = 1}")
    config = tiny_config('model.targets=["steering", "brake"]', "model.target_weights={brake = 2}")
    assert config.model.target_weights == {"brake": 2}


def pedal_model(*overrides: str) -> SteeringModel:
    config = tiny_config('model.targets=["steering", "throttle", "brake"]', *overrides)
    return SteeringModel.build(config, Preprocess.from_config(config.data))


def images(model: SteeringModel, n: int = 5) -> np.ndarray:
    return np.random.default_rng(3).integers(0, 256, (n, *model.input_shape), dtype=np.uint8)


@pytest.mark.parametrize("encoding", ["scalar", "bump", "classes"])
def test_a_pedal_model_predicts_every_target_and_its_file_keeps_them(encoding, tmp_path):
    model = pedal_model(f'model.encoding="{encoding}"', "model.outputs=9")
    assert model.net.n_outputs == model.encoding.n_outputs + 2 and model.pedals == ("throttle", "brake")
    clips = images(model)
    predicted = model.predict_targets(clips)
    assert list(predicted) == ["steering", "throttle", "brake"]
    np.testing.assert_array_equal(predicted["steering"], model.steer_inputs(clips))
    assert all(np.all((predicted[p] >= 0) & (predicted[p] <= 1)) for p in model.pedals)
    loaded = load_model(save_model(model, tmp_path / "m.npz"))
    assert loaded.targets == model.targets
    for name, values in loaded.predict_targets(clips).items():
        np.testing.assert_array_equal(values, predicted[name])


def test_a_checkpoint_without_targets_loads_steering_only(tmp_path):
    config = tiny_config()
    model = SteeringModel.build(config, Preprocess.from_config(config.data))
    arrays, meta = load_npz(save_model(model, tmp_path / "m.npz"))
    assert meta["targets"] == ["steering"]
    del meta["targets"]
    save_npz(tmp_path / "old.npz", arrays, meta)
    old = load_model(tmp_path / "old.npz")
    assert old.targets == ("steering",) and old.pedals == ()
    clips = images(model)
    assert list(old.predict_targets(clips)) == ["steering"]
    np.testing.assert_array_equal(old.steer_inputs(clips), model.steer_inputs(clips))


@pytest.mark.parametrize("targets", [["steering"], ["steering", "throttle"], ["throttle"], "steering"])
def test_a_checkpoint_whose_outputs_do_not_fit_its_targets_is_a_one_line_error(targets, tmp_path):
    arrays, meta = load_npz(save_model(pedal_model(), tmp_path / "m.npz"))
    meta["targets"] = targets
    save_npz(tmp_path / "bad.npz", arrays, meta)
    with pytest.raises(DrivenetError, match="bad.npz: ") as err:
        load_model(tmp_path / "bad.npz")
    assert "\n" not in str(err.value)


def test_the_controller_gives_steering_and_pedals_per_frame():
    model = pedal_model("model.mirror_average=true")
    frames = np.random.default_rng(4).integers(0, 256, (3, 36, 48, 3), dtype=np.uint8)
    control, steer = model.controller(), model.driver()
    for frame in frames:
        controls = control(frame)
        assert isinstance(controls, Controls) and controls.steering == steer(frame)
        assert 0 <= controls.throttle <= 1 and 0 <= controls.brake <= 1
    plain = SteeringModel.build(tiny_config(), model.preprocess).controller()(frames[0])
    assert plain.throttle is None and plain.brake is None and -1 <= plain.steering <= 1
