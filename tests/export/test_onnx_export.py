"""`drivenet export`: the ONNX graph steers as `drivenet predict` does, in onnxruntime and in onnx's
pure-Python reference evaluator, for every model kind."""

from __future__ import annotations

import json

import numpy as np
import pytest
from support.cli import one_line_error
from support.exported import (
    EXPORT_MISSING,
    KINDS,
    PILOTNET,
    asymmetric_frame,
    donkey_jpegs,
    model_of,
    needs_export,
)
from support.simulator import udacity_jpegs
from typer.testing import CliRunner

from drivenet.cli import app
from drivenet.model.checkpoint import save_model
from drivenet.training.predict import Sample, predict_samples, read_frame

if not EXPORT_MISSING:
    import onnx
    import onnxruntime
    from onnx.reference import ReferenceEvaluator

    from drivenet.export import onnx_graph
    from drivenet.export.onnx_graph import export_model

pytestmark = needs_export
SIZE = (320, 160)  # the Udacity simulator's frames
DONKEY = (160, 120)  # Donkey's default camera
TOLERANCE = 1e-5


def run_both(proto, feeds: dict[str, np.ndarray]) -> list[dict[str, np.ndarray]]:
    """The graph's outputs by name from onnxruntime and from the reference evaluator."""
    session = onnxruntime.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]
    reference = ReferenceEvaluator(proto)
    return [dict(zip(names, runner.run(None, feeds), strict=True)) for runner in (session, reference)]


def frame_feeds(model, frames: np.ndarray) -> dict[str, np.ndarray]:
    """The frame graph's inputs for consecutive frames: each frame, and for a motion model the
    preprocessed frames its gaps back (the first frame standing in for earlier ones)."""
    feeds = {"frame": frames}
    if model.motion_gaps:
        feeds["earlier"] = model.clips(model.images_from_frames(frames))[..., model.preprocess.channels :]
    return feeds


@pytest.fixture(scope="module")
def udacity_frames() -> list:
    paths = udacity_jpegs(8)
    if paths is None:
        pytest.skip("set DRIVENET_DATASETS to the shared datasets folder (udacity-sample)")
    return paths


@pytest.mark.parametrize("kind", KINDS)
def test_the_frame_graph_steers_udacity_frames_as_predict_does(kind, udacity_frames):
    model = model_of(kind)
    predicted = list(predict_samples(model, [Sample(path) for path in udacity_frames]))
    frames = np.stack([read_frame(path) for path in udacity_frames])
    images = model.images_from_frames(frames)
    for found in run_both(export_model(model, "frame", SIZE), frame_feeds(model, frames)):
        np.testing.assert_array_equal(found["image"], images)  # preprocessing in the graph: byte for byte
        for target in model.targets:
            want = [result[target] for result in predicted]
            np.testing.assert_allclose(found[target], want, rtol=0, atol=TOLERANCE)
    assert np.ptp([result["steering"] for result in predicted]) > 1e-3  # the frames are told apart


@pytest.fixture(scope="module")
def donkey_frames() -> np.ndarray:
    paths = donkey_jpegs(8)
    if paths is None:
        pytest.skip("set DRIVENET_DATASETS to the shared datasets folder (donkey-tub-rc)")
    return np.stack([read_frame(path) for path in paths])


def test_the_frame_graph_steers_donkey_frames_as_predict_does(donkey_frames):
    """Donkey's 160x120 frames with PilotNet's crop and size: 160x60 -> 100x33, where Pillow runs the
    width pass first although the height pass would leave the smaller image."""
    model = model_of("conv pilotnet image")
    frames = np.concatenate([donkey_frames, asymmetric_frame(*DONKEY)[None]])
    assert frames.shape[1:] == (DONKEY[1], DONKEY[0], 3)
    found = run_both(export_model(model, "frame", DONKEY), {"frame": frames})[0]  # onnxruntime
    np.testing.assert_array_equal(found["image"], model.images_from_frames(frames))
    np.testing.assert_allclose(found["steering"], model.steer_frames(frames), rtol=0, atol=TOLERANCE)


@pytest.mark.parametrize(
    "frame, image",
    [((160, 120), (100, 33)), ((100, 100), (50, 40)), ((100, 90), (20, 100)), ((320, 160), (400, 50))],
)
@pytest.mark.parametrize("color", ["gray", "rgb"])
def test_the_frame_graph_resizes_as_pillow_in_either_pass_order(frame, image, color):
    crop = PILOTNET[2:] if frame == DONKEY else ["data.crop_top=0", "data.crop_bottom=0"]
    size = [f"data.width={image[0]}", f"data.height={image[1]}", f'data.color="{color}"', *crop]
    model = model_of("mlp three-way", overrides=size)
    frames = np.random.default_rng(4).integers(0, 256, (3, frame[1], frame[0], 3), dtype=np.uint8)
    found = run_both(export_model(model, "frame", frame), {"frame": frames})[0]  # onnxruntime
    np.testing.assert_array_equal(found["image"], model.images_from_frames(frames))


def test_an_export_whose_resize_is_not_pillows_is_refused_in_one_line(tmp_path, monkeypatch):
    """The probe check can fail: with the resize passes in the other order the graph is off by one grey
    level here and there, and the export is refused, writing nothing."""
    ordered = onnx_graph.resize_passes
    monkeypatch.setattr(onnx_graph, "resize_passes", lambda size, out: ordered(size, out)[::-1])
    path = save_model(model_of("mlp three-way", overrides=PILOTNET), tmp_path / "best.npz")
    out = tmp_path / "car.onnx"
    result = CliRunner().invoke(app, ["export", str(path), "--out", str(out), "--size", "160x120"])
    one_line_error(result, "--size 160x120", "resize to 100x33) differs from Pillow", "--input preprocessed")
    assert not out.exists()


@pytest.mark.parametrize("kind", KINDS)
def test_the_preprocessed_graph_matches_the_model_to_1e_5(kind):
    model = model_of(kind, seed=1)
    rng = np.random.default_rng(2)
    clips = rng.integers(0, 256, (5, *model.input_shape), dtype=np.uint8)
    want = model.predict_targets(clips)
    for found in run_both(export_model(model, "preprocessed"), {"images": clips}):
        assert set(found) == set(model.targets)
        for target, values in want.items():
            np.testing.assert_allclose(found[target], values, rtol=0, atol=TOLERANCE)


@pytest.mark.parametrize("kind", ["conv yuv", "mlp regression rgb", "conv motion"])
def test_an_asymmetric_frame_is_steered_as_predict_steers_it_and_its_mirror_otherwise(kind):
    model = model_of(kind, seed=3)
    frames = np.stack([asymmetric_frame(), asymmetric_frame()[:, ::-1]])
    want = model.steer_frames(frames[:1]), model.steer_frames(frames[1:])
    assert abs(want[0][0] - want[1][0]) > 1e-3  # the frame tells left from right for this model
    proto = export_model(model, "frame", SIZE)
    for frame, steering in zip(frames, want, strict=True):
        found = run_both(proto, frame_feeds(model, frame[None]))
        for outputs in found:
            np.testing.assert_allclose(outputs["steering"], steering, rtol=0, atol=TOLERANCE)


def test_a_wrong_flatten_order_is_caught(monkeypatch):
    """The checks can fail: a graph that flattens the convolutions' output in NCHW order, as a careless
    export would, steers the asymmetric frame differently."""
    model = model_of("conv yuv", seed=3)
    frame = asymmetric_frame()[None]
    ops = onnx_graph.Graph.op

    def channels_first(self, op_type, *inputs, **attrs):
        before_flatten = inputs and inputs[0].startswith(("elu", "relu", "sigmoid", "tanh", "maxpool"))
        if op_type == "Transpose" and attrs.get("perm") == [0, 2, 3, 1] and before_flatten:
            return inputs[0]
        return ops(self, op_type, *inputs, **attrs)

    monkeypatch.setattr(onnx_graph.Graph, "op", channels_first)
    found = run_both(export_model(model, "frame", SIZE), {"frame": frame})[0]
    assert abs(found["steering"][0] - model.steer_frames(frame)[0]) > 1e-3


def test_the_file_is_opset_13_ir_7_checked_and_carries_the_models_settings(tmp_path):
    model = model_of("conv motion")
    model.meta["frame_size"] = [160, 120]
    path = save_model(model, tmp_path / "best.npz")
    result = CliRunner().invoke(app, ["export", str(path), "--out", str(tmp_path / "car.onnx")])
    assert result.exit_code == 0, result.output
    assert "frame ['N', 120, 160, 3]" in result.output and "earlier" in result.output
    proto = onnx.load(tmp_path / "car.onnx")
    onnx.checker.check_model(proto, full_check=True)
    assert (proto.ir_version, [(o.domain, o.version) for o in proto.opset_import]) == (7, [("", 13)])
    meta = {prop.key: json.loads(prop.value) for prop in proto.metadata_props}
    assert meta["drivenet.preprocess"] == model.preprocess.to_dict()
    assert meta["drivenet.config"] == model.meta["config"]
    assert meta["drivenet.motion_gaps"] == [1, 2] and meta["drivenet.frame_size"] == [160, 120]
    assert [i.name for i in proto.graph.input] == ["frame", "earlier"]
    assert [o.name for o in proto.graph.output] == ["steering", "image"]


def test_export_refuses_in_one_line(tmp_path):
    model = model_of("mlp three-way")
    path = save_model(model, tmp_path / "best.npz")
    runner = CliRunner()
    out = str(tmp_path / "m.onnx")
    one_line_error(runner.invoke(app, ["export", str(path), "--out", out]), "--size")  # no frame size known
    assert runner.invoke(app, ["export", str(path), "--out", out, "--size", "320x160"]).exit_code == 0
    one_line_error(runner.invoke(app, ["export", str(path), "--out", out, "--size", "320x160"]), "--force")
    bad_input = ["export", str(path), "--out", out, "--input", "jpeg", "--force"]
    one_line_error(runner.invoke(app, bad_input), "--input")
    one_line_error(runner.invoke(app, ["export", str(path), "--out", out, "--size", "big"]), "WIDTHxHEIGHT")
