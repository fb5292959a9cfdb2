"""A privileged expert for CarRacing-v3: it reads the car's pose and the track's centre line, not pixels.

Frames and signs, checked on gymnasium 1.4.0: Box2D angles turn counter-clockwise, the hull's forward
vector is f = (-sin(angle), cos(angle)), the rear axle sits 1.64 behind the hull's centre and the front
axle 1.60 ahead (wheelbase L = 3.24), the front wheels turn at most 0.4 rad, and a positive steering
action turns the car to the right (clockwise), so action steer = -delta / 0.4 for a left-positive
wheel angle delta. The track's points are in driving order; the road reaches 40/6 = 6.67 either side.

Lateral control is pure pursuit: from the rear axle r, aim at the centre-line point g that lies a
lookahead L_d further along the track than the car. With alpha the angle from f to g - r (left positive)
and l = |g - r|, the circular arc through r, tangent to f, that reaches g has curvature
k = 2 sin(alpha) / l, and a bicycle of wheelbase L follows it with delta = atan(L k). L_d grows with speed
(L_d = l0 + lv v, clipped), which smooths the path and lets the car cut across the inside of corners.

Longitudinal control follows a speed profile: each centre-line point i, of curvature kappa_i (heading
change per unit of length), allows v_i = sqrt(a_lat / |kappa_i|) (at most v_max); to be at v_i when it
gets there, braking at a_brake, the car may go at most sqrt(v_i^2 + 2 a_brake d_i) now, d_i being the
distance to point i. The target speed v* is the least of these over the points ahead; the car gives
gas proportionally below v* and brakes only once it is more than brake_margin above it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

WHEELBASE = 3.24
REAR_AXLE = 1.64
MAX_WHEEL_ANGLE = 0.4


@dataclass(frozen=True)
class CarState:
    """What the expert reads: the hull's pose and velocity, and the centre line (N, 2) in driving order."""

    x: float
    y: float
    angle: float
    vx: float
    vy: float
    track: np.ndarray


def car_state(env: object) -> CarState:
    """The privileged state of a CarRacing env (the unwrapped one, or a wrapper around it)."""
    env = getattr(env, "unwrapped", env)
    hull = env.car.hull  # type: ignore[attr-defined]
    track = np.asarray([(p[2], p[3]) for p in env.track], dtype=float)  # type: ignore[attr-defined]
    return CarState(
        float(hull.position[0]),
        float(hull.position[1]),
        float(hull.angle),
        float(hull.linearVelocity[0]),
        float(hull.linearVelocity[1]),
        track,
    )


@dataclass
class Expert:
    """Pure pursuit on the centre line for steering, a curvature speed profile for gas and brake.

    `run(env_or_state)` returns the action [steer in -1..1, gas in 0..1, brake in 0..1]. The defaults were
    tuned on seeds 1000-1019 (scripts/gym_expert.py), never on the reporting seeds 0-99."""

    lookahead_base: float = 6.0  # l0: L_d at standstill (track units)
    lookahead_gain: float = 0.15  # lv: seconds of travel added to L_d
    lookahead_max: float = 30.0
    a_lat: float = 130.0  # lateral acceleration the speed profile allows (units/s^2); 170 spins out
    a_brake: float = 90.0  # deceleration the speed profile plans with
    v_max: float = 200.0
    gas_gain: float = 0.1  # gas per unit/s below the target speed
    gas_max: float = 1.0
    brake_margin: float = 5.0  # brake only when this far above the target speed
    brake_gain: float = 0.05
    brake_max: float = 0.8  # 0.9 and above locks the wheels
    preview: float = 150.0  # how far ahead the speed profile looks (track units)

    def __post_init__(self) -> None:
        self._track: np.ndarray | None = None
        self._last: int | None = None

    def reset(self) -> None:
        """Forget the track and the car's last place on it (a new episode)."""
        self._track = None
        self._last = None

    def _prepare(self, track: np.ndarray) -> None:
        seg = np.roll(track, -1, axis=0) - track  # segment i goes from point i to point i+1
        seg_len = np.hypot(seg[:, 0], seg[:, 1])
        heading = np.arctan2(seg[:, 1], seg[:, 0])
        turn = np.angle(np.exp(1j * (heading - np.roll(heading, 1))))  # at point i, wrapped to (-pi, pi]
        kappa = np.abs(turn) / (0.5 * (seg_len + np.roll(seg_len, 1)))
        kappa = np.maximum(kappa, np.roll(kappa, 1))  # a sharp corner's one-point spike, held one point more
        self._track = track
        self._s = np.concatenate([[0.0], np.cumsum(seg_len)])  # arc length at points 0..N (N = 0 again)
        self._length = float(self._s[-1])
        self._tangent = seg / seg_len[:, None]
        self._v_allow = np.minimum(np.sqrt(self.a_lat / np.maximum(kappa, 1e-9)), self.v_max)
        self._last = None

    def _nearest(self, pos: np.ndarray) -> int:
        track = self._track
        assert track is not None
        n = len(track)
        if self._last is not None:
            idx = (self._last + np.arange(-5, 25)) % n
            d = np.hypot(*(track[idx] - pos).T)
            best = int(idx[np.argmin(d)])
            if d.min() < 20.0:
                return best
        return int(np.argmin(np.hypot(*(track - pos).T)))

    def run(self, source: object) -> np.ndarray:
        """The action for the car's present state (`source`: a CarState, or a CarRacing env)."""
        state = source if isinstance(source, CarState) else car_state(source)
        if self._track is None or not np.array_equal(self._track, state.track):
            self._prepare(state.track)
        track, s, length = self._track, self._s, self._length
        n = len(track)
        fwd = np.array([-math.sin(state.angle), math.cos(state.angle)])
        pos = np.array([state.x, state.y])
        speed = float(np.dot(fwd, [state.vx, state.vy]))
        i = self._nearest(pos)
        self._last = i
        s_car = s[i] + float(np.dot(pos - track[i], self._tangent[i]))  # arc length of the car's projection

        # lateral: pure pursuit from the rear axle
        rear = pos - REAR_AXLE * fwd
        l_d = min(self.lookahead_base + self.lookahead_gain * max(speed, 0.0), self.lookahead_max)
        goal = self._point_at(s_car + l_d)
        d = goal - rear
        dist = max(float(np.hypot(*d)), 1e-6)
        alpha = math.atan2(fwd[0] * d[1] - fwd[1] * d[0], float(np.dot(fwd, d)))
        delta = math.atan(WHEELBASE * 2.0 * math.sin(alpha) / dist)
        steer = float(np.clip(-delta / MAX_WHEEL_ANGLE, -1.0, 1.0))

        # longitudinal: the least speed the points ahead allow, given braking distance
        ahead = (np.arange(n) - i) % n
        dist_ahead = (s[:n] - s_car) % length
        near = (dist_ahead < self.preview) & (ahead < n // 2)
        v_target = float(np.min(np.sqrt(self._v_allow[near] ** 2 + 2.0 * self.a_brake * dist_ahead[near])))
        gas = float(np.clip(self.gas_gain * (v_target - speed), 0.0, self.gas_max))
        over = speed - v_target - self.brake_margin
        brake = float(np.clip(self.brake_gain * over, 0.0, self.brake_max)) if over > 0 else 0.0
        return np.array([steer, gas, brake], dtype=np.float32)

    def _point_at(self, s_query: float) -> np.ndarray:
        """The centre-line point at arc length s_query (wrapping round the closed track)."""
        track, s = self._track, self._s
        assert track is not None
        q = s_query % self._length
        closed = np.vstack([track, track[:1]])
        return np.array([np.interp(q, s, closed[:, 0]), np.interp(q, s, closed[:, 1])])
