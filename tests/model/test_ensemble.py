"""`drivenet ensemble`: a file of several checkpoints that steers, and works the pedals, by their mean."""

from __future__ import annotations

import json

import numpy as np
import pytest
from support.cli import one_line_error
from support.exported import needs_export
from support.tiny import SIZE, road_frame, tiny_config
from typer.testing import CliRunner

from drivenet.cli import app
from drivenet.data import Preprocess
from drivenet.model.checkpoint import load_model, save_model
from drivenet.model.ensemble import EnsembleModel
from drivenet.model.steering_model import SteeringModel

PEDALS = 'model.targets=["steering", "throttle", "brake"]'


def invoke(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args])


def member(tmp_path, name: str, *overrides: str):
    """An untrained tiny model (its seed and settings make it steer its own way), saved as a checkpoint."""
    config = tiny_config("data.motion_gaps=[2]", *overrides)
    model = SteeringModel.build(config, Preprocess.from_config(config.data))
    model.meta["frame_size"] = list(SIZE)
    return save_model(model, tmp_path / f"{name}.npz")


def frames(n: int = 8) -> np.ndarray:
    rng = np.random.default_rng(3)
    return np.stack([road_frame(s, rng) for s in np.linspace(-0.8, 0.8, n)])


@pytest.fixture
def members(tmp_path):
    """Three members of other seeds and architectures, one mirror-averaged, all predicting the pedals."""
    return [
        member(tmp_path, "a", PEDALS, "train.seed=1"),
        member(tmp_path, "b", PEDALS, "train.seed=2", "model.hidden=[5, 4]"),
        member(tmp_path, "c", PEDALS, "train.seed=3", "model.mirror_average=true"),
    ]


def test_the_ensemble_is_the_mean_of_its_members(members, tmp_path):
    result = invoke("ensemble", *members, "--out", tmp_path / "e.npz")
    assert result.exit_code == 0, result.output
    ensemble = load_model(tmp_path / "e.npz")
    assert isinstance(ensemble, EnsembleModel) and len(ensemble.members) == 3
    each = [load_model(path) for path in members]
    clips = each[0].clips(each[0].images_from_frames(frames()))
    predicted = ensemble.predict_targets(clips)
    for name in ("steering", "throttle", "brake"):
        mean = np.mean([m.predict_targets(clips)[name] for m in each], axis=0)
        np.testing.assert_allclose(predicted[name], mean, rtol=0, atol=1e-6)
        assert np.ptp([m.predict_targets(clips)[name] for m in each], axis=0).max() > 1e-3  # they differ
    outputs, steering = ensemble.read(clips)
    np.testing.assert_array_equal(steering, predicted["steering"])
    for name, value in ensemble.heads.decode_pedals(outputs).items():
        np.testing.assert_allclose(value, predicted[name], rtol=0, atol=1e-6)
    # the live controller (its own frame history) commands what the whole sequence gives
    control = ensemble.controller()
    live = [control(frame) for frame in frames()]
    np.testing.assert_allclose([c.steering for c in live], predicted["steering"], atol=1e-6)
    np.testing.assert_allclose([c.brake for c in live], predicted["brake"], atol=1e-6)


def test_reading_an_ensemble_runs_each_member_once(members, tmp_path, monkeypatch):
    assert invoke("ensemble", *members, "--out", tmp_path / "e.npz").exit_code == 0
    ensemble = load_model(tmp_path / "e.npz")
    clips = ensemble.clips(ensemble.images_from_frames(frames(4)))
    runs: list[int] = []

    def counted(k, outputs):
        def run(images, batch_size=256):
            runs.append(k)
            return outputs(images, batch_size)

        return run

    for k, one in enumerate(ensemble.members):
        monkeypatch.setattr(one, "outputs", counted(k, one.outputs))
    for read in (ensemble.read, ensemble.predict_targets):
        runs.clear()
        read(clips)
        assert sorted(runs) == [0, 1, 2, 2], runs  # member c mirror-averages: it reads the mirrored clips too


def test_an_ensemble_drives_and_predicts_like_a_model(members, tmp_path):
    assert invoke("ensemble", *members[:2], "--out", tmp_path / "e.npz").exit_code == 0
    drove = invoke("drive", tmp_path / "e.npz", "--km", "0.05", "--json")
    assert drove.exit_code == 0, drove.output
    assert json.loads(drove.output)["steps"] > 0
    from PIL import Image

    Image.fromarray(frames(1)[0]).save(tmp_path / "f.png")
    told = invoke("predict", tmp_path / "e.npz", tmp_path / "f.png", "--json")
    assert told.exit_code == 0, told.output
    expected = load_model(tmp_path / "e.npz").steer_frames(frames(1))[0]
    assert json.loads(told.output)[0]["steering"] == pytest.approx(float(expected), abs=1e-6)


def test_models_of_other_preprocessing_are_refused_in_one_line(tmp_path):
    a = member(tmp_path, "a")
    b = member(tmp_path, "b", "data.width=20")
    one_line_error(invoke("ensemble", a, b, "--out", tmp_path / "e.npz"), "b.npz", "preprocessing")
    assert not (tmp_path / "e.npz").exists()
    one_line_error(invoke("ensemble", a, "--out", tmp_path / "e.npz"), "at least 2")
    assert invoke("ensemble", a, a, "--out", tmp_path / "e.npz").exit_code == 0
    one_line_error(invoke("ensemble", a, a, "--out", tmp_path / "e.npz"), "--force")


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["export", "{e}", "--out", "{tmp}/e.onnx"], marks=needs_export),
        ["plot", "weights", "{e}", "--out", "{tmp}/w.png"],
        ["explain", "{e}", "{frame}", "--out", "{tmp}/x"],
    ],
)
def test_what_reads_one_network_refuses_an_ensemble_in_one_line(members, tmp_path, args):
    """Export, the weights plot and saliency maps read one network's weights: an ensemble is refused by
    name instead of showing its first member as if it were the whole ensemble."""
    from PIL import Image

    assert invoke("ensemble", *members, "--out", tmp_path / "e.npz").exit_code == 0
    Image.fromarray(frames(1)[0]).save(tmp_path / "f.png")
    names = {"e": tmp_path / "e.npz", "tmp": tmp_path, "frame": tmp_path / "f.png"}
    result = invoke(*[a.format(**names) for a in args])
    line = one_line_error(result, "ensemble of 3", "pass one of the checkpoints it was made from")
    assert all(str(path) in line for path in members) and "member 0" not in line
