"""Convolutional steering models end to end: config tables, checkpoints, image-shaped inputs, the CLI."""

from __future__ import annotations

import json
import re
from dataclasses import asdict

import numpy as np
import pytest
from PIL import Image
from support import CONFIGS
from support.tiny import TINY, make_recording, road_frame, tiny_config
from typer.testing import CliRunner

from drivenet.cli import app
from drivenet.config import load_config, to_toml
from drivenet.data import Preprocess, load_or_build
from drivenet.errors import DrivenetError
from drivenet.io import load_npz, save_npz
from drivenet.model.checkpoint import load_model, save_model
from drivenet.model.steering_model import SteeringModel
from drivenet.nn import Adam, Conv2D, Dropout
from drivenet.training.trainer import train_step

runner = CliRunner()
CONV = (
    "model.conv=[{filters = 4, kernel = 3, stride = 2}, "
    "{filters = 6, kernel = 3, padding = 'same', pool = 2}]"
)
CONV_SETS = [CONV, 'model.activation="elu"', 'model.init="he"', "model.dropout=0.2"]


def invoke(*args: object):
    return runner.invoke(app, [str(a) for a in args])


def one_line_error(result) -> bool:
    return (
        result.exit_code == 1 and result.output.startswith("error:") and len(result.output.splitlines()) == 1
    )


def sets(*items: str) -> list[str]:
    return [arg for item in [*TINY, *items] for arg in ("--set", item)]


def conv_model(color: str = "gray", gaps: str = "[]", *extra: str) -> SteeringModel:
    config = tiny_config(*CONV_SETS, f'data.color="{color}"', f"data.motion_gaps={gaps}", *extra)
    return SteeringModel.build(config, Preprocess.from_config(config.data))


def frames(n: int = 6) -> np.ndarray:
    rng = np.random.default_rng(1)
    return np.stack([road_frame(s, rng) for s in np.linspace(-0.8, 0.8, n)])


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A recording and a small yuv convolutional model trained on it by `drivenet train`."""
    folder = tmp_path_factory.mktemp("conv")
    recording = make_recording(folder / "rec", frames=120)
    args = sets(*CONV_SETS, 'data.color="yuv"', "train.epochs=2")
    result = invoke("train", recording, "--out", folder / "run", *args, "--quiet")
    assert result.exit_code == 0, result.output
    return folder


def test_conv_tables_are_checked_and_filled_in(tmp_path):
    config = tiny_config(CONV)
    assert asdict(config.model.conv[0]) == {
        "filters": 4,
        "kernel": 3,
        "stride": 2,
        "padding": "valid",
        "pool": 0,
    }
    saved = tmp_path / "config.toml"  # a run's saved config.toml reads back the same
    saved.write_text(to_toml(config), encoding="utf-8")
    assert load_config(saved) == config


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("[{filters = 8}]", "model.conv[0]: kernel is missing"),
        ("[{filters = 8, kernel = 3, strides = 2}]", "unknown key strides"),
        (
            "[{filters = 8, kernel = 3}, {filters = 0, kernel = 3}]",
            "model.conv[1].filters = 0: must be in [1, 4096]",
        ),
        ("[{filters = 8, kernel = 3, padding = 'full'}]", 'padding = "full": must be one of valid, same'),
        ("[{filters = 8, kernel = 2.5}]", "model.conv[0].kernel: expected int"),
        ("[24, 5, 2]", "model.conv: expected a list of tables"),
    ],
)
def test_bad_conv_tables_are_one_line_errors(value, message, tmp_path):
    with pytest.raises(DrivenetError, match=message.replace("[", r"\[").replace("]", r"\]")):
        tiny_config(f"model.conv={value}")
    result = invoke("train", tmp_path, "--out", tmp_path / "r", "--set", f"model.conv={value}")
    assert one_line_error(result)


def test_a_convolution_too_large_for_the_image_is_a_one_line_error():
    with pytest.raises(DrivenetError, match="does not fit"):
        conv_model("gray", "[]", "model.conv=[{filters = 2, kernel = 13}]")


@pytest.mark.parametrize(("color", "gaps"), [("gray", "[]"), ("rgb", "[]"), ("yuv", "[1, 2]")])
def test_conv_checkpoint_reloads_to_the_same_steering(color, gaps, tmp_path):
    model = conv_model(color, gaps)
    channels = (1 if color == "gray" else 3) * (1 + len(model.motion_gaps))
    assert model.net.input_shape == (12, 16, channels) and model.reads_images
    assert isinstance(model.net.layers[0], Conv2D) and any(isinstance(x, Dropout) for x in model.net.layers)
    loaded = load_model(save_model(model, tmp_path / "m.npz"))
    assert loaded.net.spec() == model.net.spec() and loaded.reads_images
    steering = model.steer_frames(frames())
    np.testing.assert_array_equal(loaded.steer_frames(frames()), steering)
    np.testing.assert_array_equal(model.steer_frames(frames()), steering)  # eval mode: no dropout


def test_a_conv_net_reads_motion_clips_as_channels_frame_first():
    model = conv_model("rgb", "[2]")
    rng = np.random.default_rng(0)
    clip = rng.integers(0, 256, (3, 12, 16, 6), dtype=np.uint8)  # the frame, then the one 2 back
    images = model.arrange(model.preprocess.to_inputs(clip))
    now, before = (model.preprocess.to_inputs(clip[..., c : c + 3]).reshape(3, 12, 16, 3) for c in (0, 3))
    np.testing.assert_allclose(images[..., :3], now)
    np.testing.assert_allclose(images[..., 3:], now - before, atol=1e-6)
    np.testing.assert_allclose(model.outputs(clip), model.net.predict(images), atol=1e-6)


def test_train_step_trains_in_training_mode_and_steering_uses_eval_mode():
    model = conv_model("gray", "[]", "model.dropout=0.5")
    x = model.preprocess.to_inputs(model.images_from_frames(frames(8)))
    train_step(model, Adam(model.net.parameters(), lr=0.0), x, np.zeros(8, np.float32))
    assert model.net.training
    first = model.outputs(model.images_from_frames(frames(8)))
    np.testing.assert_array_equal(model.outputs(model.images_from_frames(frames(8))), first)


def test_old_mlp_checkpoints_still_load(tmp_path):
    config = tiny_config()
    model = SteeringModel.build(config, Preprocess.from_config(config.data))
    path = save_model(model, tmp_path / "m.npz")
    arrays, meta = load_npz(path)
    del meta["architecture"]["input_shape"]  # as written before convolutions existed
    save_npz(path, arrays, meta)
    loaded = load_model(path)
    assert not loaded.reads_images
    np.testing.assert_array_equal(loaded.steer_frames(frames()), model.steer_frames(frames()))


def test_a_checkpoint_whose_network_does_not_fit_its_preprocessing_is_refused(tmp_path):
    model = conv_model("rgb")
    path = save_model(model, tmp_path / "m.npz")
    arrays, meta = load_npz(path)
    meta["preprocess"]["color"] = "gray"  # the network still reads 3 channels
    save_npz(path, arrays, meta)
    with pytest.raises(DrivenetError, match="reads \\[12, 16, 3\\].*makes \\[12, 16, 1\\]"):
        load_model(path)


def test_the_cli_trains_evaluates_predicts_and_plots_a_conv_model(run, tmp_path):
    model = load_model(run / "run" / "best.npz")
    assert model.reads_images and model.preprocess.color == "yuv"
    result = invoke("evaluate", run / "run" / "best.npz", run / "rec", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["n"] == 120
    result = invoke("predict", run / "run" / "best.npz", run / "rec" / "IMG" / "center_00003.jpg", "--json")
    assert result.exit_code == 0, result.output
    result = invoke("plot", "weights", run / "run" / "best.npz", "--out", tmp_path / "w.png")
    assert result.exit_code == 0, result.output
    with Image.open(tmp_path / "w.png") as image:
        assert image.format == "PNG" and image.width > 100


def test_a_cache_of_another_size_is_a_one_line_error(run, tmp_path):
    config = tiny_config('data.color="yuv"', "data.width=20")
    load_or_build(run / "rec", config.data).save(tmp_path / "other.npz")
    result = invoke("evaluate", run / "run" / "best.npz", tmp_path / "other.npz")
    assert one_line_error(result)
    assert "preprocess" in result.output


def test_a_conv_model_drives_in_closed_loop(run):
    result = invoke("drive", run / "run" / "best.npz", "--km", "0.02", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["km"] > 0.0


def test_pilotnet_config_is_five_convolutions_then_100_50_10_1_on_yuv_with_the_stated_parameters():
    path = CONFIGS / "pilotnet.toml"
    config = load_config(path)
    model = SteeringModel.build(config, Preprocess.from_config(config.data))
    assert len(model.net.conv_layers) == 5 and model.preprocess.color == "yuv"
    assert [dense.n_out for dense in model.net.dense_layers] == [100, 50, 10, 1]
    stated = re.search(r"# ([\d,]+) parameters", path.read_text(encoding="utf-8"))
    count = sum(p.value.size for p in model.net.parameters())
    assert stated and int(stated.group(1).replace(",", "")) == count
