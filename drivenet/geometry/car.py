"""The car: a kinematic bicycle model, and the pure-pursuit steering that labels every frame.

Steering u in [-1, 1] sets the front-wheel angle δ through tan δ = u · tan δ_max, so the path
curvature κ = tan δ / L (L the wheelbase) is linear in u: κ = u · κ_max with κ_max = tan δ_max / L.
"""

from __future__ import annotations

import math

import numpy as np

from drivenet.geometry.track import Pose, Track

WHEELBASE = 2.5  # metres
MAX_WHEEL_ANGLE = np.radians(25.0)  # δ_max: ±1 is ±25° of wheel angle, as in the Udacity simulator
KAPPA_MAX = float(np.tan(MAX_WHEEL_ANGLE) / WHEELBASE)  # curvature at steering ±1 (1/m)
LOOKAHEAD = 7.0  # metres along the road to the point the label steers for (ALVINN's 7 m)


def advance(pose: Pose, steering: float, distance: float) -> Pose:
    """Drive `distance` m with constant steering: an arc of curvature κ = u·κ_max.

    The chord of the arc is distance · sinc(κ·distance / 2) long and points along the mean heading
    θ + κ·distance / 2, which is exact for any κ, including the straight line κ = 0.
    """
    turn = min(max(float(steering), -1.0), 1.0) * KAPPA_MAX * distance  # scalars: math, not numpy
    chord = distance * (math.sin(turn / 2) / (turn / 2) if turn else 1.0)
    mid = pose.heading + turn / 2
    return Pose(pose.x + chord * math.sin(mid), pose.y + chord * math.cos(mid), pose.heading + turn)


def pursuit_steering(track: Track, pose: Pose, s: float, lookahead: float = LOOKAHEAD) -> float:
    """The steering that brings the car back to the road centre `lookahead` m further along the road.

    With the target at (X, Z) in the car's frame (X to the right, Z forward), the circle through the
    car that is tangent to its heading and passes the target has curvature κ = 2X / (X² + Z²);
    the label is κ / κ_max clipped to [-1, 1].
    """
    tx, ty, _ = track.centre(min(s + lookahead, track.length))
    dx, dy = float(tx) - pose.x, float(ty) - pose.y
    right = dx * np.cos(pose.heading) - dy * np.sin(pose.heading)
    kappa = 2 * right / max(dx * dx + dy * dy, 1e-6)
    return float(np.clip(kappa / KAPPA_MAX, -1.0, 1.0))
