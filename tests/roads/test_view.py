"""The model's view, rendered directly, against preprocessing of full camera frames."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from drivenet.data import Preprocess
from drivenet.drive.rendered import ClosedLoop
from drivenet.geometry.track import Track, random_track
from drivenet.roads.renderer import Camera, Look, RoadRenderer
from drivenet.roads.view import ModelView, triangle_weights

ALVINN = Preprocess(crop_top=0.3, crop_bottom=0.0, width=32, height=30, color="gray")


def views_and_preprocessed_frames(preprocess: Preprocess, noise: bool, count: int = 12):
    """(direct views, preprocessed full frames) uint8 (count, h, w, C) of random poses and looks."""
    rng = np.random.default_rng(4)
    track, camera = random_track(1200, rng), Camera()
    full, view = RoadRenderer(camera), ModelView(camera, preprocess)
    direct, preprocessed = [], []
    for i in range(count):
        look = Look.random(rng)
        look = look if noise else dataclasses.replace(look, noise=0.0)
        s = 20.0 + 80.0 * i
        pose = track.place(s, rng.uniform(-1.0, 1.0), rng.uniform(-0.1, 0.1))
        direct.append(view.render(track, pose, s, look, rng))
        preprocessed.append(preprocess.apply_array(full.render(track, pose, s, look, rng)))
    return np.stack(direct), np.stack(preprocessed)


@pytest.mark.parametrize("preprocess", [ALVINN, Preprocess(color="rgb")])
def test_view_matches_preprocessed_full_frames(preprocess):
    """Without noise: on average within 0.5 grey levels, 99% of pixels within 2 and all within 8;
    network inputs (standardised pixels) within 0.02 on average."""
    direct, preprocessed = views_and_preprocessed_frames(preprocess, noise=False)
    assert direct.shape == preprocessed.shape == (12, *preprocess.shape) and direct.dtype == np.uint8
    diff = np.abs(direct.astype(int) - preprocessed)
    assert diff.mean() <= 0.5 and np.percentile(diff, 99) <= 2 and diff.max() <= 8
    inputs = np.abs(preprocess.to_inputs(direct) - preprocess.to_inputs(preprocessed))
    assert inputs.mean() <= 0.02


def test_view_noise_is_as_strong_as_filtered_pixel_noise():
    """With sensor noise (drawn independently on each side): on average within 1.5 grey levels."""
    direct, preprocessed = views_and_preprocessed_frames(ALVINN, noise=True)
    assert np.abs(direct.astype(int) - preprocessed).mean() <= 1.5
    assert not np.array_equal(direct, views_and_preprocessed_frames(ALVINN, noise=False)[0])


def test_triangle_weights_are_pillows_bilinear_filter():
    weights = triangle_weights(np.arange(10) + 0.5, 10, 5)  # halving: taps 1/8, 3/8, 3/8, 1/8
    np.testing.assert_allclose(weights[2, 3:7], [1 / 8, 3 / 8, 3 / 8, 1 / 8])
    np.testing.assert_allclose(weights.sum(axis=1), 1.0)


def test_loop_with_a_view_steers_on_model_inputs_and_films_full_frames():
    seen = []
    loop = ClosedLoop(Track.straight(300), Camera(), view=ALVINN)
    loop.run(lambda image: seen.append(image) or 0.0, km=0.01)
    assert len(seen) == 10 and seen[0].shape == ALVINN.shape and seen[0].dtype == np.uint8
    assert loop.camera_frame().shape == (160, 320, 3)
