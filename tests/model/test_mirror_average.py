"""`model.mirror_average`: steering made antisymmetric under a left-right mirror, off by default."""

from __future__ import annotations

import numpy as np
import pytest
from support.tiny import tiny_config

from drivenet.config import ModelConfig
from drivenet.data import Preprocess
from drivenet.model.checkpoint import load_model, save_model
from drivenet.model.steering_model import SteeringModel

CONV = "model.conv=[{filters = 4, kernel = 3, stride = 2}, {filters = 6, kernel = 3, padding = 'same'}]"
KINDS = {
    "conv scalar, yuv": [CONV, 'data.color="yuv"'],
    "conv scalar, motion clips": [CONV, "data.motion_gaps=[1, 2]"],
    "flat bump": ['model.encoding="bump"', "model.outputs=9"],
}


def model_of(*overrides: str) -> SteeringModel:
    config = tiny_config("model.init='he'", *overrides)
    return SteeringModel.build(config, Preprocess.from_config(config.data))


def clips_of(model: SteeringModel, n: int = 5) -> np.ndarray:
    rng = np.random.default_rng(3)
    return rng.integers(0, 256, (n, *model.input_shape), dtype=np.uint8)


def mirror(clips: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(clips[:, :, ::-1])


@pytest.mark.parametrize("kind", KINDS)
def test_mirror_average_makes_steering_antisymmetric_and_survives_a_reload(kind, tmp_path):
    model = model_of(*KINDS[kind], "model.mirror_average=true")
    clips = clips_of(model)
    loaded = load_model(save_model(model, tmp_path / "m.npz"))
    assert loaded.mirror_average
    steering = loaded.steer_inputs(clips)
    np.testing.assert_allclose(loaded.steer_inputs(mirror(clips)), -steering, atol=1e-6)
    plain = model_of(*KINDS[kind])
    np.testing.assert_allclose(
        steering, (plain.steer_inputs(clips) - plain.steer_inputs(mirror(clips))) / 2, atol=1e-6
    )
    outputs, read = loaded.read(clips)
    np.testing.assert_array_equal(outputs, plain.outputs(clips))  # the activations stay those of x
    np.testing.assert_array_equal(read, steering)


def test_mirror_average_is_off_by_default():
    assert ModelConfig().mirror_average is False
    model = model_of(CONV)
    clips = clips_of(model)
    assert not model.mirror_average
    steering = model.steer_inputs(clips)
    np.testing.assert_array_equal(steering, model.encoding.decode(model.outputs(clips)))
    assert not np.allclose(model.steer_inputs(mirror(clips)), -steering, atol=1e-3)
