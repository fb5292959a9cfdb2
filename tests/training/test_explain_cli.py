"""`drivenet explain` and `predict --overlay --saliency` on every model kind: pictures, raw maps, summary."""

import json

import numpy as np
import pytest
from PIL import Image
from support.cli import one_line_error
from support.tiny import road_frame, tiny_config
from typer.testing import CliRunner

from drivenet.cli import app
from drivenet.data.transform import Preprocess
from drivenet.model.checkpoint import save_model
from drivenet.model.steering_model import SteeringModel

runner = CliRunner()

KINDS = {
    "mlp": [],
    "motion mlp, bump": ["data.motion_gaps=[1, 2]", "model.encoding=bump", "model.outputs=15"],
    "conv, classes, mirror": [
        "model.conv=[{filters = 3, kernel = 3, stride = 2}]",
        "model.encoding=classes",
        "model.mirror_average=true",
    ],
    "conv rgb, motion, linear": [
        "model.conv=[{filters = 3, kernel = 3, pool = 2}]",
        "data.color=rgb",
        "data.motion_gaps=[1]",
        "model.scalar_output=linear",
    ],
}


def saved_model(tmp_path, overrides):
    config = tiny_config(*overrides)
    model = SteeringModel.build(config, Preprocess.from_config(config.data))
    return save_model(model, tmp_path / "model.npz")


def frames_folder(tmp_path, count=3):
    folder = tmp_path / "frames"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(count):
        Image.fromarray(road_frame(-0.5 + 0.5 * i, rng)).save(folder / f"{i}.png")
    return folder


@pytest.mark.parametrize("kind", KINDS)
def test_explain_writes_a_picture_maps_and_a_summary_for_every_model_kind(tmp_path, kind):
    model = saved_model(tmp_path, KINDS[kind])
    out = tmp_path / "out"
    method = "vbp" if kind.startswith("conv") else "smoothgrad"
    result = runner.invoke(
        app, ["explain", str(model), str(frames_folder(tmp_path)), "--out", str(out), "--method", method]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["method"] == method and len(summary["frames"]) == 3
    motion = "motion" in kind and method != "vbp"
    for entry in summary["frames"]:
        picture = Image.open(entry["overlay"])
        assert picture.width >= (640 if motion else 320)  # a second panel for the motion map
        frame_map = np.load(entry["frame_map"])
        assert frame_map.shape == (12, 16) and np.isfinite(frame_map).all() and frame_map.sum() > 0
        assert ("motion_map" in entry) == motion
        assert 0 <= entry["peak"][0] < 48 and 0 <= entry["peak"][1] < 36
    assert "3 maps" in result.output


def test_explain_names_a_method_the_model_cannot_use(tmp_path):
    model = saved_model(tmp_path, [])
    args = [
        "explain",
        str(model),
        str(frames_folder(tmp_path)),
        "--out",
        str(tmp_path / "o"),
        "--method",
        "vbp",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert "vbp needs a convolutional model" in one_line_error(result)
    assert not (tmp_path / "o").exists()


def test_explain_occlusion_and_gradxinput_on_a_motion_model_give_motion_maps(tmp_path):
    model = saved_model(tmp_path, KINDS["motion mlp, bump"])
    for method in ("occlusion", "gradxinput"):
        out = tmp_path / method
        result = runner.invoke(
            app,
            [
                "explain",
                str(model),
                str(frames_folder(tmp_path, 2) if method == "occlusion" else tmp_path / "frames"),
                "--out",
                str(out),
                "--method",
                method,
            ],
        )
        assert result.exit_code == 0, result.output
        entries = json.loads((out / "summary.json").read_text())["frames"]
        assert all(np.load(e["motion_map"]).shape == (12, 16) for e in entries)


def test_predict_overlay_with_saliency_draws_the_map_beside_the_steering(tmp_path):
    model = saved_model(tmp_path, [])
    frames = frames_folder(tmp_path)
    plain, salient = tmp_path / "plain", tmp_path / "salient"
    assert runner.invoke(app, ["predict", str(model), str(frames), "--overlay", str(plain)]).exit_code == 0
    result = runner.invoke(
        app, ["predict", str(model), str(frames), "--overlay", str(salient), "--saliency", "grad", "--json"]
    )
    assert result.exit_code == 0, result.output
    entries = json.loads(result.output)
    assert all(e["method"] == "grad" and np.load(e["frame_map"]).shape == (12, 16) for e in entries)
    a, b = (np.asarray(Image.open(folder / "0.png"), np.float32) for folder in (plain, salient))
    assert a.shape == b.shape and np.abs(a - b).mean() > 1  # the heat is laid over the frame


def test_predict_saliency_needs_an_overlay_folder(tmp_path):
    model = saved_model(tmp_path, [])
    result = runner.invoke(app, ["predict", str(model), str(frames_folder(tmp_path)), "--saliency", "grad"])
    assert result.exit_code == 1 and "--overlay" in one_line_error(result)


def test_a_negative_smoothgrad_seed_is_refused_before_the_out_folder_is_made(tmp_path):
    model = saved_model(tmp_path, [])
    out = tmp_path / "o"
    args = ["explain", str(model), str(frames_folder(tmp_path)), "--out", str(out), "--method", "smoothgrad"]
    result = runner.invoke(app, [*args, "--seed", "-1"])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    assert "--seed" in result.output and "Traceback" not in result.output
    assert not out.exists()
