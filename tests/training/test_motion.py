"""Motion inputs (data.motion_gaps): clips of a frame and earlier ones, from the cache to a checkpoint."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from support.tiny import road_frame, tiny_config

from drivenet.data import Preprocess
from drivenet.data.dataset import clips, earlier_rows
from drivenet.errors import DrivenetError
from drivenet.model.checkpoint import load_model, save_model
from drivenet.model.steering_model import SteeringModel
from drivenet.training import predict
from drivenet.training.plots import plot_weights
from drivenet.training.trainer import train_run


def motion_recording(folder: Path, frames: int = 240, seed: int = 0) -> Path:
    """A recording whose steering is how far the stripe moved since the previous frame: invisible in any
    single frame, plain in two."""
    rng = np.random.default_rng(seed)
    level = np.zeros(frames, dtype=np.int64)  # stripe at one of 7 places, moving at most one a frame
    for i in range(1, frames):
        level[i] = np.clip(level[i - 1] + rng.integers(-1, 2), -3, 3)
    position = level * 0.25
    steering = np.diff(position, prepend=position[0]) * 2.0
    (folder / "IMG").mkdir(parents=True)
    lines = ["center,left,right,steering,throttle,brake,speed"]
    for i, (where, value) in enumerate(zip(position, steering, strict=True)):
        name = f"IMG/center_{i:05d}.png"
        Image.fromarray(road_frame(where, rng)).save(folder / name)
        lines.append(f"{name}, {name}, {name}, {value:.4f}, 0.5, 0, 20")
    (folder / "driving_log.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def test_clip_inputs_are_the_frame_then_its_change_since_each_earlier_frame():
    pre = Preprocess(width=8, height=6)
    rng = np.random.default_rng(0)
    now, before, long_ago = (rng.integers(0, 256, (5, 6, 8, 1), dtype=np.uint8) for _ in range(3))
    x = pre.to_inputs(np.concatenate([now, before, long_ago], axis=-1))
    single = [pre.to_inputs(frame) for frame in (now, before, long_ago)]
    assert x.shape == (5, 3 * 48)
    np.testing.assert_allclose(x[:, :48], single[0])
    np.testing.assert_allclose(x[:, 48:96], single[0] - single[1], atol=1e-6)
    np.testing.assert_allclose(x[:, 96:], single[0] - single[2], atol=1e-6)


def test_earlier_rows_stay_in_their_recording_and_camera():
    frames = pd.DataFrame(
        {
            "recording": ["a"] * 4 + ["b"] * 3,
            "camera": ["center"] * 7,
            "frame": [3, 0, 1, 2, 0, 1, 2],  # rows need not be in time order
        }
    )
    earlier = earlier_rows(frames, [1, 2])
    # recording a in time order is rows 1, 2, 3, 0; recording b is rows 4, 5, 6
    np.testing.assert_array_equal(earlier[[1, 2, 3, 0]], [[1, 1], [1, 1], [2, 1], [3, 2]])
    np.testing.assert_array_equal(earlier[[4, 5, 6]], [[4, 4], [4, 4], [5, 4]])
    images = np.arange(7, dtype=np.uint8).reshape(7, 1, 1, 1)
    np.testing.assert_array_equal(clips(images, np.array([0]), earlier)[0, 0, 0], [0, 3, 2])


def test_a_motion_model_keeps_its_gaps_and_reads_sequences(tmp_path):
    config = tiny_config("data.motion_gaps=[1, 3]")
    model = SteeringModel.build(config, Preprocess.from_config(config.data))
    assert model.input_shape == (12, 16, 3)
    loaded = load_model(save_model(model, tmp_path / "m.npz"))
    assert loaded.motion_gaps == (1, 3)
    rng = np.random.default_rng(2)
    raw = np.stack([road_frame(s, rng) for s in np.linspace(-0.5, 0.5, 5)])
    images = model.images_from_frames(raw)
    np.testing.assert_array_equal(loaded.steer_frames(raw), model.steer_inputs(model.clips(images)))
    with pytest.raises(DrivenetError, match="expects"):
        model.steer_inputs(images)  # single frames, not clips
    with pytest.raises(DrivenetError, match="motion_gaps"):
        SteeringModel.build(tiny_config("data.motion_gaps=[0]"), model.preprocess)


def test_the_closed_loop_driver_sees_the_clips_of_the_whole_sequence():
    config = tiny_config("data.motion_gaps=[1, 3]", "model.hidden=[8]")
    model = SteeringModel.build(config, Preprocess.from_config(config.data))
    rng = np.random.default_rng(3)
    raw = np.stack([road_frame(s, rng) for s in np.linspace(-0.6, 0.6, 7)])
    steer = model.driver()
    live = [steer(frame) for frame in raw]
    np.testing.assert_allclose(live, model.steer_frames(raw), rtol=0, atol=1e-6)
    fresh = model.driver()
    assert fresh(raw[-1]) != pytest.approx(live[-1], abs=1e-6)  # no history: the motion part is zero


def test_motion_inputs_learn_what_one_frame_cannot_show(tmp_path):
    data = motion_recording(tmp_path / "rec")
    common = ["train.epochs=25", "train.patience=25", "model.hidden=[16]", "train.split_block=60"]
    results = {}
    for name, gaps in (("single", "[]"), ("motion", "[1]")):
        config = tiny_config(*common, f"data.motion_gaps={gaps}")
        run = train_run(data, config, tmp_path / name)
        results[name] = min(row["val_rmse"] for row in run.history)
    assert results["motion"] < 0.7 * results["single"]


def test_prediction_carries_earlier_frames_across_chunks(tmp_path, monkeypatch):
    data = motion_recording(tmp_path / "rec", frames=7)
    config = tiny_config("data.motion_gaps=[1, 2]")
    model = SteeringModel.build(config, Preprocess.from_config(config.data))
    paths = sorted((data / "IMG").glob("*.png"))
    samples = [predict.Sample(path, None) for path in paths]
    monkeypatch.setattr(predict, "CHUNK", 3)
    chunked = [r["steering"] for r in predict.predict_samples(model, samples)]
    whole = model.steer_frames([np.asarray(Image.open(p).convert("RGB")) for p in paths])
    np.testing.assert_allclose(chunked, whole, atol=1e-6)


def test_weights_of_a_motion_model_are_drawn(tmp_path):
    config = tiny_config("data.motion_gaps=[1]")
    model = SteeringModel.build(config, Preprocess.from_config(config.data))
    out = plot_weights(model, tmp_path / "w.png")
    with Image.open(out) as image:
        assert min(image.size) > 50
