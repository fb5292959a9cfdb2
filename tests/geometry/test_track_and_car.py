"""Track geometry and the car model: placing and locating poses, pure-pursuit steering labels, full lock."""

from __future__ import annotations

import numpy as np
import pytest
from support.tracks import bend

from drivenet.geometry.car import KAPPA_MAX, advance, pursuit_steering
from drivenet.geometry.track import Pose, Track, random_track


def test_road_bending_right_steers_right_and_left_steers_left():
    for curvature, sign in ((1 / 40, 1), (-1 / 40, -1)):
        track = bend(curvature)
        assert np.sign(pursuit_steering(track, track.place(5.0), 5.0)) == sign
        assert np.sign(track.x[-1]) == sign  # bending right heads east (x grows)


def test_car_right_of_centre_steers_left():
    track = Track.straight(100)
    assert pursuit_steering(track, track.place(20.0, offset=0.5), 20.0) < 0
    assert pursuit_steering(track, track.place(20.0, offset=-0.5), 20.0) > 0
    assert pursuit_steering(track, track.place(20.0, heading_error=0.1), 20.0) < 0  # turned right
    assert pursuit_steering(track, track.place(20.0), 20.0) == pytest.approx(0.0, abs=1e-9)


def test_locate_recovers_a_placed_pose():
    track = random_track(600, 5)
    for s, offset, error in ((50.0, 0.7, 0.05), (333.3, -0.9, -0.1)):
        found = track.locate(track.place(s, offset, error), s + 6.0)
        np.testing.assert_allclose(found, (s, offset, error), atol=0.02)


def test_full_lock_drives_a_circle_back_to_the_start():
    start = Pose(3.0, -2.0, 0.4)
    pose, steps = start, 100
    for _ in range(steps):
        pose = advance(pose, 1.0, 2 * np.pi / KAPPA_MAX / steps)
    np.testing.assert_allclose(
        [pose.x, pose.y, pose.heading - 2 * np.pi], [start.x, start.y, start.heading], atol=1e-9
    )
