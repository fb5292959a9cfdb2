"""`drive --gif --saliency` and `replay --gif --saliency`: the model's input and its map beside each frame."""

from pathlib import Path

import pytest
from PIL import Image
from support import needs_gym
from support.cli import one_line_error
from typer.testing import CliRunner

from drivenet.cli import app
from drivenet.config import load_config
from drivenet.data.transform import Preprocess
from drivenet.model.checkpoint import load_model, save_model
from drivenet.model.steering_model import SteeringModel
from drivenet.roads.renderer import Camera
from drivenet.roads.synth import write_recording

runner = CliRunner()


def saved_model(path: Path, *overrides: str) -> Path:
    config = load_config(None, ["data.width=16", "data.height=8", "model.hidden=[4]", *overrides])
    return save_model(SteeringModel.build(config, Preprocess.from_config(config.data)), path)


def gif_size(path: Path) -> tuple[int, int, int]:
    with Image.open(path) as film:
        return film.width, film.height, film.n_frames


@pytest.mark.parametrize(
    ("overrides", "method", "panels"),
    [((), "grad", 1), (("data.motion_gaps=[1, 2]",), "gradxinput", 2)],
)
def test_drive_gif_with_saliency_puts_the_maps_beside_each_frame(tmp_path, overrides, method, panels):
    model = saved_model(tmp_path / "m.npz", *overrides)
    plain, salient = tmp_path / "plain.gif", tmp_path / "salient.gif"
    args = ["drive", str(model), "--km", "0.03", "--size", "64x32"]
    assert runner.invoke(app, [*args, "--gif", str(plain)]).exit_code == 0
    result = runner.invoke(app, [*args, "--gif", str(salient), "--saliency", method])
    assert result.exit_code == 0, result.output
    (width, height, frames), (plain_width, plain_height, plain_frames) = gif_size(salient), gif_size(plain)
    assert (height, frames) == (plain_height, plain_frames)
    # each panel is the 16x8 input enlarged 20 times to 320x160, then scaled to the frame's height
    assert width == plain_width + panels * round(320 * height / 160)


def test_drive_saliency_without_a_gif_or_with_vbp_on_a_dense_model_is_a_one_line_error(tmp_path):
    model = saved_model(tmp_path / "m.npz")
    args = ["drive", str(model), "--km", "0.01", "--saliency", "grad"]
    assert "--gif" in one_line_error(runner.invoke(app, args))
    args = [*args[:-1], "vbp", "--gif", str(tmp_path / "d.gif")]
    assert "vbp needs a convolutional model" in one_line_error(runner.invoke(app, args))
    assert not (tmp_path / "d.gif").exists()


def test_replay_gif_with_saliency_widens_every_frame(tmp_path):
    recording = tmp_path / "syn"
    write_recording(recording, 8, seed=1, camera=Camera(96, 48))
    model = saved_model(tmp_path / "m.npz", "model.conv=[{filters = 2, kernel = 3}]")
    plain, salient = tmp_path / "plain.gif", tmp_path / "salient.gif"
    assert runner.invoke(app, ["replay", str(model), str(recording), "--gif", str(plain)]).exit_code == 0
    args = ["replay", str(model), str(recording), "--gif", str(salient), "--saliency", "vbp"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    (width, height, frames), (plain_width, _, plain_frames) = gif_size(salient), gif_size(plain)
    assert frames == plain_frames and width == plain_width + round(320 * height / 160)
    result = runner.invoke(app, ["replay", str(model), str(recording), "--saliency", "vbp"])
    assert "--gif" in one_line_error(result)


@needs_gym
def test_gym_drive_gif_with_saliency_puts_a_motion_models_maps_beside_each_frame(models, tmp_path):
    gif = tmp_path / "gym.gif"
    args = ["gym", "drive", str(models["motion"]), "--episodes", "1", "--no-expert", "--gif", str(gif)]
    args += ["--saliency", "grad", "--env-arg", "max_episode_steps=12"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    width, height, frames = gif_size(gif)
    assert (height, frames) == (288, 12 // 4 + 1)
    w, h = load_model(models["motion"]).preprocess.shape[1::-1]
    scale = round(320 / w)  # the input enlarged to about 320 pixels wide, then scaled to the frame's height
    assert width == 288 + 2 * round(w * scale * 288 / (h * scale))  # the frame's and the motion's map
    result = runner.invoke(app, ["gym", "drive", "expert", "--episodes", "1", "--saliency", "grad"])
    assert "--saliency" in one_line_error(result)
