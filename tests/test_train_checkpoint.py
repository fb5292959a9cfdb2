"""SteeringModel: save/load round trip, raw-frame steering, and refusal of wrong files."""

from __future__ import annotations

import numpy as np
import pytest
from test_train_make import road_frame, tiny_config

from drivenet.data import Preprocess
from drivenet.errors import DrivenetError
from drivenet.io import load_npz, save_npz
from drivenet.nn import Adam
from drivenet.training.checkpoint import SteeringModel, load_checkpoint


@pytest.fixture(params=["scalar", "bump", "classes"])
def model(request) -> SteeringModel:
    config = tiny_config(f'model.encoding="{request.param}"', "model.outputs=15")
    return SteeringModel.build(config, Preprocess.from_config(config["data"]))


def frames(n: int = 6) -> np.ndarray:
    rng = np.random.default_rng(1)
    return np.stack([road_frame(s, rng) for s in np.linspace(-0.8, 0.8, n)])


def test_save_and_load_give_the_same_steering(model, tmp_path):
    path = model.save(tmp_path / "m.npz", epoch=3)
    loaded = SteeringModel.load(path)
    assert loaded.epoch == 3
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
    model.save(tmp_path / "last.npz", adam.state_dict())
    _, state = load_checkpoint(tmp_path / "last.npz")
    assert int(state["steps"]) == 1
    assert set(state) == set(adam.state_dict())


def test_wrong_files_give_one_line_errors(model, tmp_path):
    path = model.save(tmp_path / "m.npz")
    arrays, meta = load_npz(path)

    save_npz(tmp_path / "v.npz", arrays, {**meta, "version": 99})
    with pytest.raises(DrivenetError, match="version 99"):
        SteeringModel.load(tmp_path / "v.npz")

    save_npz(tmp_path / "cache.npz", {"images": np.zeros(3)}, {"kind": "drivenet-steering-cache"})
    with pytest.raises(DrivenetError, match="not a drivenet-steering-model"):
        SteeringModel.load(tmp_path / "cache.npz")

    arrays["net/dense0.weight"] = arrays["net/dense0.weight"][:-1]
    save_npz(tmp_path / "shape.npz", arrays, meta)
    with pytest.raises(DrivenetError, match="dense0.weight"):
        SteeringModel.load(tmp_path / "shape.npz")

    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    with pytest.raises(DrivenetError, match="junk.npz"):
        SteeringModel.load(tmp_path / "junk.npz")
