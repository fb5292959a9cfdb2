"""SteeringModel: save/load round trip, raw-frame steering, and refusal of wrong files."""

from __future__ import annotations

import re

import numpy as np
import pytest
from support.tiny import road_frame, tiny_config

from drivenet.config import AugmentConfig, DaggerConfig
from drivenet.data import Preprocess
from drivenet.errors import DrivenetError
from drivenet.io import load_npz, save_npz
from drivenet.model.checkpoint import load_checkpoint, load_model, save_model
from drivenet.model.steering_model import SteeringModel
from drivenet.nn import Adam


@pytest.fixture(params=["scalar", "bump", "classes"])
def model(request) -> SteeringModel:
    config = tiny_config(f'model.encoding="{request.param}"', "model.outputs=15")
    return SteeringModel.build(config, Preprocess.from_config(config.data))


def frames(n: int = 6) -> np.ndarray:
    rng = np.random.default_rng(1)
    return np.stack([road_frame(s, rng) for s in np.linspace(-0.8, 0.8, n)])


def test_save_and_load_give_the_same_steering(model, tmp_path):
    path = save_model(model, tmp_path / "m.npz", epoch=3)
    loaded = load_model(path)
    assert loaded.meta["epoch"] == 3
    assert loaded.preprocess == model.preprocess
    assert type(loaded.encoding) is type(model.encoding)
    np.testing.assert_array_equal(
        loaded.outputs(model.images_from_frames(frames())), model.outputs(model.images_from_frames(frames()))
    )


def test_steer_frames_applies_the_models_preprocessing(model):
    raw = frames()
    images = np.stack([model.preprocess.apply_array(f) for f in raw])
    steering = model.steer_frames(raw)
    assert steering.dtype == np.float32 and steering.shape == (len(raw),)
    assert np.all(np.abs(steering) <= 1)
    np.testing.assert_array_equal(steering, model.steer_inputs(images))
    assert model.outputs(images).shape == (len(raw), model.encoding.n_outputs)


def test_images_of_another_shape_are_refused(model):
    with pytest.raises(DrivenetError, match="expects"):
        model.steer_inputs(np.zeros((2, 5, 5, 1), np.uint8))


def test_last_checkpoint_keeps_the_optimizer_state(model, tmp_path):
    adam = Adam(model.net.parameters(), lr=0.01)
    for p in model.net.parameters():
        p.grad[...] = 1.0
    adam.step()
    save_model(model, tmp_path / "last.npz", adam.state_dict())
    _, state = load_checkpoint(tmp_path / "last.npz")
    assert int(state["steps"]) == 1
    assert set(state) == set(adam.state_dict())


def test_wrong_files_give_one_line_errors(model, tmp_path):
    path = save_model(model, tmp_path / "m.npz")
    arrays, meta = load_npz(path)

    save_npz(tmp_path / "v.npz", arrays, {**meta, "version": 99})
    with pytest.raises(DrivenetError, match="version 99"):
        load_model(tmp_path / "v.npz")

    save_npz(tmp_path / "hsv.npz", arrays, {**meta, "preprocess": {**meta["preprocess"], "color": "hsv"}})
    with pytest.raises(DrivenetError, match=r"hsv.npz: corrupt model metadata .*data.color"):
        load_model(tmp_path / "hsv.npz")

    save_npz(tmp_path / "cache.npz", {"images": np.zeros(3)}, {"kind": "drivenet-steering-cache"})
    with pytest.raises(DrivenetError, match="not a drivenet-steering-model"):
        load_model(tmp_path / "cache.npz")

    arrays["net/dense0.weight"] = arrays["net/dense0.weight"][:-1]
    save_npz(tmp_path / "shape.npz", arrays, meta)
    with pytest.raises(DrivenetError, match="dense0.weight"):
        load_model(tmp_path / "shape.npz")

    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    with pytest.raises(DrivenetError, match="junk.npz"):
        load_model(tmp_path / "junk.npz")


def test_a_float64_model_reloads_as_float64(tmp_path):
    config = tiny_config('model.dtype="float64"')
    model = SteeringModel.build(config, Preprocess.from_config(config.data))
    loaded = load_model(save_model(model, tmp_path / "m.npz"))
    assert loaded.net.dtype == np.float64
    for name, value in model.net.state_dict().items():
        np.testing.assert_array_equal(loaded.net.state_dict()[name], value)


@pytest.mark.parametrize("magnitude", [0.0, -0.5, 5.0])
def test_class_magnitude_must_keep_steering_in_range(magnitude):
    with pytest.raises(DrivenetError, match="model.class_magnitude"):  # from the config's range check
        config = tiny_config('model.encoding="classes"', f"model.class_magnitude={magnitude}")
        SteeringModel.build(config, Preprocess.from_config(config.data))


def test_frame_size_is_saved_and_unknown_for_older_models(model, tmp_path):
    assert load_model(save_model(model, tmp_path / "old.npz")).frame_size is None
    model.meta["frame_size"] = [320, 160]
    assert load_model(save_model(model, tmp_path / "m.npz")).frame_size == (320, 160)


def test_the_driver_steers_a_stream_as_steer_frames_does_a_sequence():
    config = tiny_config("data.motion_gaps=[1, 3]")
    model = SteeringModel.build(config, Preprocess.from_config(config.data))
    raw = frames(7)
    steer = model.driver()
    np.testing.assert_allclose([steer(f) for f in raw], model.steer_frames(raw), atol=1e-6)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("model.dtype=float16", 'model.dtype = "float16": must be one of float32, float64'),
        ("model.hidden=[8, 0]", "model.hidden = [8, 0]: must be a list whose items are each in [1, 100000]"),
        ("model.scalar_output=relu", 'model.scalar_output = "relu": must be one of tanh, linear'),
        ("model.encoding=angles", 'model.encoding = "angles": must be one of scalar, bump, classes'),
    ],
)
def test_a_model_section_no_network_can_be_built_from_is_named(override, message):
    with pytest.raises(DrivenetError, match=re.escape(message)):
        tiny_config(override)


def test_an_older_checkpoint_config_loads_with_todays_defaults_for_missing_keys(tmp_path):
    config = tiny_config("model.conv=[{filters = 2, kernel = 3}]", "model.hidden=[4]")
    model = SteeringModel.build(config, Preprocess.from_config(config.data))
    path = save_model(model, tmp_path / "m.npz")
    arrays, meta = load_npz(path)
    del meta["config"]["augment"], meta["config"]["dagger"]  # sections and keys added after it was saved
    del meta["config"]["model"]["mirror_average"]
    for table in meta["config"]["model"]["conv"]:
        del table["stride"], table["padding"], table["pool"]  # written as a user would, optional keys left
    save_npz(tmp_path / "old.npz", arrays, meta)
    loaded = load_model(tmp_path / "old.npz").config
    assert loaded.augment == AugmentConfig() and loaded.model == config.model  # the tiny config sets flip
    assert loaded.dagger == DaggerConfig()
    assert loaded.model.conv[0].stride == 1 and loaded.model.conv[0].padding == "valid"
    meta["config"]["train"]["lr"] = "fast"
    save_npz(tmp_path / "bad.npz", arrays, meta)
    with pytest.raises(DrivenetError, match="the model's saved config: train.lr: expected float"):
        _ = load_model(tmp_path / "bad.npz").config


def test_a_checkpoint_with_a_retired_key_and_no_mirror_header_still_steers(tmp_path):
    """`train.weight_average` existed once; mirror_average was read from the config before its header."""
    config = tiny_config("model.mirror_average=true")
    model = SteeringModel.build(config, Preprocess.from_config(config.data))
    arrays, meta = load_npz(save_model(model, tmp_path / "m.npz"))
    del meta["mirror_average"]
    meta["config"]["train"]["weight_average"] = 0.0
    save_npz(tmp_path / "old.npz", arrays, meta)
    old = load_model(tmp_path / "old.npz")
    assert old.mirror_average and old.config.model.mirror_average
    images = np.random.default_rng(0).integers(0, 256, (3, *model.input_shape), dtype=np.uint8)
    np.testing.assert_array_equal(old.steer_inputs(images), model.steer_inputs(images))
