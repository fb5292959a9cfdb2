"""`predict` and `explain` decode a chunk of frames at a time: raw frames are kept only to draw on, within
a byte budget, and a folder that cannot be read gets the remedy its reason calls for."""

import tracemalloc

import numpy as np
import pytest
from PIL import Image
from support.cli import one_line_error
from support.tiny import tiny_config
from typer.testing import CliRunner

from drivenet.cli import app
from drivenet.data.transform import Preprocess
from drivenet.model.checkpoint import save_model
from drivenet.model.steering_model import SteeringModel
from drivenet.training import predict

SIDE, COUNT = 1000, 12  # large frames that PNG stores in a few kB each
FRAME_BYTES = SIDE * SIDE * 3


@pytest.fixture
def large_frames(tmp_path):
    """COUNT uniform-but-for-a-stripe SIDE x SIDE PNGs, as consecutive samples."""
    samples = []
    for i in range(COUNT):
        rgb = np.full((SIDE, SIDE, 3), 50, np.uint8)
        rgb[:, 60 * i : 60 * i + 200] = 220
        Image.fromarray(rgb).save(tmp_path / f"{i}.png")
        samples.append(predict.Sample(tmp_path / f"{i}.png"))
    return samples


def motion_model() -> SteeringModel:
    config = tiny_config("data.motion_gaps=[1, 2]")
    return SteeringModel.build(config, Preprocess.from_config(config.data))


def peak_of(run) -> tuple[list, int]:
    """(what `run()` returns, the most bytes Python and numpy held at once while it ran)."""
    tracemalloc.start()
    try:
        result = run()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return result, peak


def test_predict_without_overlays_keeps_no_raw_frames(large_frames):
    model = motion_model()
    results, peak = peak_of(lambda: list(predict.predict_samples(model, large_frames)))
    assert len(results) == COUNT
    # a frame being decoded and preprocessed; all COUNT of them (the old chunk) would be 3x as much
    assert peak < 5 * FRAME_BYTES, f"{peak / FRAME_BYTES:.1f} frames held at once"


def test_overlay_frames_are_kept_within_the_chunk_budget_and_steer_as_without(
    large_frames, tmp_path, monkeypatch
):
    model = motion_model()
    plain = [r["steering"] for r in predict.predict_samples(model, large_frames)]
    monkeypatch.setattr(predict, "CHUNK_BYTES", 2 * FRAME_BYTES)
    (tmp_path / "over").mkdir()
    drawn, peak = peak_of(lambda: list(predict.predict_samples(model, large_frames, tmp_path / "over")))
    assert peak < 7 * FRAME_BYTES, f"{peak / FRAME_BYTES:.1f} frames held at once"
    np.testing.assert_allclose([r["steering"] for r in drawn], plain, atol=1e-6)  # clips span chunks
    assert all(Image.open(r["overlay"]).size == (SIDE, SIDE) for r in drawn)


def test_the_image_format_remedy_is_given_only_for_images_refused_for_their_format(tmp_path):
    config = tiny_config()
    model = save_model(SteeringModel.build(config, Preprocess.from_config(config.data)), tmp_path / "m.npz")
    linked, wrong = tmp_path / "linked", tmp_path / "wrong"
    linked.mkdir()
    wrong.mkdir()
    Image.new("RGB", (48, 36)).save(tmp_path / "outside.png")
    (linked / "0.png").symlink_to(tmp_path / "outside.png")
    (wrong / "0.png").write_text("not an image")
    runner = CliRunner()
    line = one_line_error(runner.invoke(app, ["predict", str(model), str(linked)]), "leads outside")
    assert "--follow-links" in line and "JPEG or PNG" not in line
    line = one_line_error(runner.invoke(app, ["predict", str(model), str(wrong)]), "not a JPEG or PNG image")
    assert line.endswith("; pass JPEG or PNG camera frames")
