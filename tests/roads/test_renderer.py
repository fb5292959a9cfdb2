"""The road renderer: frames of any size, images that agree with the steering labels, looks and noise.

The track geometry and car model it draws are tested in tests/geometry/test_track_and_car.py.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from support.tracks import bend

from drivenet.geometry.car import pursuit_steering
from drivenet.geometry.track import Pose, Track
from drivenet.roads.renderer import LUMA, Camera, Look, RoadRenderer
from drivenet.roads.synth import render_set

SMALL = Camera(width=64, height=32)
# A clean look: dark road on light ground, nothing else, so road pixels are easy to find.
PLAIN = Look(
    road=(0.1, 0.1, 0.1),
    ground=(0.9, 0.9, 0.9),
    shoulder_width=0.0,
    edge_lines=False,
    texture=0.0,
    noise=0.0,
    visibility=1e9,
)


def road_columns(frame: np.ndarray) -> np.ndarray:
    """Mean column of the dark road pixels in each row (nan where a row shows no road)."""
    dark = frame.mean(axis=2) < 128
    cols = np.arange(frame.shape[1])
    with np.errstate(invalid="ignore"):
        return (dark * cols).sum(axis=1) / dark.sum(axis=1)


def test_same_seed_same_frames_and_labels():
    a_frames, a_steer = render_set(4, seed=3, camera=SMALL)
    b_frames, b_steer = render_set(4, seed=3, camera=SMALL)
    c_frames, _ = render_set(4, seed=4, camera=SMALL)
    assert a_frames.shape == (4, 32, 64, 3) and a_frames.dtype == np.uint8
    np.testing.assert_array_equal(a_frames, b_frames)
    np.testing.assert_array_equal(a_steer, b_steer)
    assert not np.array_equal(a_frames, c_frames)


@pytest.mark.parametrize("size", [(320, 160), (32, 30)])
def test_renders_any_size(size):
    camera = Camera(*size)
    frame = RoadRenderer(camera).render(
        Track.straight(100), Pose(0, 0, 0), 0.0, Look(), np.random.default_rng(0)
    )
    assert frame.shape == (size[1], size[0], 3)
    look = Look()
    sky_rows = int(camera.horizon * size[1]) - 1
    np.testing.assert_allclose(frame[:sky_rows].mean(axis=(0, 1)) / 255, look.sky, atol=0.12)
    np.testing.assert_allclose(frame[-1, size[0] // 2] / 255, look.road, atol=0.06)  # straight ahead: road


def test_image_agrees_with_label_sign():
    """Offset right: the road is seen left of the image centre; a right bend is seen bending right."""
    renderer, rng = RoadRenderer(SMALL), np.random.default_rng(0)
    straight = Track.straight(200)
    right_of_centre = road_columns(renderer.render(straight, straight.place(20.0, 0.8), 20.0, PLAIN, rng))
    bottom = right_of_centre[-4:]
    assert np.all(bottom < SMALL.width / 2 - 1)
    right_bend = bend(1 / 30)
    cols = road_columns(renderer.render(right_bend, right_bend.place(5.0), 5.0, PLAIN, rng))
    seen = cols[~np.isnan(cols)]
    assert seen[0] > SMALL.width / 2 + 2  # the far road (top rows) lies to the right
    assert abs(seen[-1] - (SMALL.width - 1) / 2) < 1.5  # the near road is straight ahead


def test_mirrored_road_gives_mirrored_frame_and_negated_label():
    """Flipping left and right is exact: the basis of flip augmentation."""
    renderer, look = RoadRenderer(SMALL), dataclasses.replace(Look(), noise=0.0)
    frames, labels = [], []
    for sign in (1, -1):
        track = bend(sign / 35)
        pose = track.place(8.0, sign * 0.4, sign * 0.05)
        frames.append(renderer.render(track, pose, 8.0, look, np.random.default_rng(0)).astype(int))
        labels.append(pursuit_steering(track, pose, 8.0))
    assert np.abs(frames[0] - frames[1][:, ::-1]).max() <= 1
    assert labels[0] == pytest.approx(-labels[1])
    assert abs(labels[0]) > 0.05


def test_random_looks_keep_the_road_darker_than_the_ground():
    rng = np.random.default_rng(1)
    for _ in range(50):
        look = Look.random(rng)
        assert LUMA @ np.array(look.ground) - LUMA @ np.array(look.road) >= 0.12


def test_sensor_noise_has_the_looks_strength_and_differs_between_frames():
    renderer, rng, pose = RoadRenderer(SMALL), np.random.default_rng(0), Pose(0, 0, 0)
    track, look = Track.straight(100), dataclasses.replace(PLAIN, ground=(0.5, 0.5, 0.5), noise=0.03)
    clean = renderer.render(track, pose, 0.0, dataclasses.replace(look, noise=0.0), rng).astype(float)
    first, second = (renderer.render(track, pose, 0.0, look, rng).astype(float) for _ in range(2))
    assert np.std(first - clean) == pytest.approx(0.03 * 255, rel=0.1)
    assert abs(np.mean(first - clean)) < 0.5  # zero-mean deviates, not a shift of brightness
    assert not np.array_equal(first, second)
