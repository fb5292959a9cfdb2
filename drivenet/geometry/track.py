"""Road geometry: a centreline of smoothly varying curvature, sampled every few decimetres.

Coordinates are metres on flat ground, `x` east and `y` north. Headings are compass bearings
(radians clockwise from north), so the forward unit vector is (sin θ, cos θ) and the right-hand one
(cos θ, -sin θ). Curvature κ = dθ/ds is positive where the road bends right, matching drivenet's
steering sign (positive = right).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STEP = 0.25  # metres between centreline samples

# (share of segments, smallest and largest radius in metres); a radius of inf is a straight.
BEND_KINDS = {
    "straight": (0.3, np.inf, np.inf),
    "gentle": (0.4, 80.0, 250.0),
    "sharp": (0.3, 25.0, 60.0),
}


@dataclass(frozen=True)
class Pose:
    """Where a car stands: position (m) and compass heading (rad)."""

    x: float
    y: float
    heading: float


@dataclass(frozen=True)
class Track:
    """A road centreline: arc length `s`, position, heading, curvature and road width per sample."""

    s: np.ndarray
    x: np.ndarray
    y: np.ndarray
    heading: np.ndarray
    curvature: np.ndarray
    width: np.ndarray

    @classmethod
    def from_curvature(cls, curvature: np.ndarray, width: np.ndarray | float = 3.6) -> Track:
        """Integrate κ(s) sampled every STEP metres: θ = ∫κ ds, (x, y) = ∫(sin θ, cos θ) ds (trapezoids)."""
        curvature = np.asarray(curvature, dtype=np.float64)
        heading = np.concatenate([[0.0], np.cumsum((curvature[1:] + curvature[:-1]) * STEP / 2)])
        mid = (heading[1:] + heading[:-1]) / 2
        x = np.concatenate([[0.0], np.cumsum(np.sin(mid) * STEP)])
        y = np.concatenate([[0.0], np.cumsum(np.cos(mid) * STEP)])
        s = np.arange(len(curvature)) * STEP
        return cls(s, x, y, heading, curvature, np.broadcast_to(np.asarray(width, float), s.shape).copy())

    @classmethod
    def straight(cls, length: float, width: float = 3.6) -> Track:
        """A straight road heading north."""
        return cls.from_curvature(np.zeros(int(length / STEP) + 1), width)

    @property
    def length(self) -> float:
        return float(self.s[-1])

    def centre(self, s: np.ndarray | float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Centreline (x, y, heading) at arc lengths `s`, linearly interpolated."""
        return (
            np.interp(s, self.s, self.x),
            np.interp(s, self.s, self.y),
            np.interp(s, self.s, self.heading),
        )

    def place(self, s: float, offset: float = 0.0, heading_error: float = 0.0) -> Pose:
        """The pose `offset` m right of the centre at `s`, turned `heading_error` rad right of the road."""
        x, y, heading = (float(v) for v in self.centre(s))
        return Pose(x + offset * np.cos(heading), y - offset * np.sin(heading), heading + heading_error)

    def locate(self, pose: Pose, s_guess: float, window: float = 20.0) -> tuple[float, float, float]:
        """Arc length of the nearest centreline point within `window` m of `s_guess`, the signed offset
        (m, positive = right of centre) and the heading error (rad, positive = turned right of the road)."""
        lo, hi = np.searchsorted(self.s, [s_guess - window, s_guess + window])
        i = lo + int(np.argmin((self.x[lo:hi] - pose.x) ** 2 + (self.y[lo:hi] - pose.y) ** 2))
        dx, dy, theta = pose.x - self.x[i], pose.y - self.y[i], self.heading[i]
        along = dx * np.sin(theta) + dy * np.cos(theta)  # refine between samples
        s = float(np.clip(self.s[i] + along, 0.0, self.length))
        offset = dx * np.cos(theta) - dy * np.sin(theta)
        error = (pose.heading - theta + np.pi) % (2 * np.pi) - np.pi
        return s, float(offset), float(error)


def random_curvature(length: float, rng: np.random.Generator, ramp: float = 20.0) -> np.ndarray:
    """Curvature every STEP m: straights and gentle or sharp bends both ways, 30-120 m each.

    The piecewise-constant profile is averaged over `ramp` metres, so curvature changes linearly
    between segments (a clothoid transition, as on real roads) instead of jumping.
    """
    n = int(length / STEP) + 1
    kinds = list(BEND_KINDS)
    shares = np.array([BEND_KINDS[k][0] for k in kinds])
    pieces, total = [], 0
    while total < n + ramp / STEP:
        _, r_min, r_max = BEND_KINDS[kinds[rng.choice(len(kinds), p=shares / shares.sum())]]
        kappa = 0.0 if np.isinf(r_min) else rng.choice([-1.0, 1.0]) / rng.uniform(r_min, r_max)
        size = int(rng.uniform(30.0, 120.0) / STEP)
        pieces.append(np.full(size, kappa))
        total += size
    profile = np.concatenate(pieces)
    box = np.ones(int(ramp / STEP)) / int(ramp / STEP)
    return np.convolve(profile, box, mode="valid")[:n]


def random_width(length: float, rng: np.random.Generator) -> np.ndarray:
    """Road width every STEP m: a per-road base of 3.2-4.4 m drifting by up to ±0.3 m over ~100 m."""
    s = np.arange(int(length / STEP) + 1) * STEP
    phase, period = rng.uniform(0, 2 * np.pi), rng.uniform(80.0, 200.0)
    return rng.uniform(3.2, 4.4) + rng.uniform(0.0, 0.3) * np.sin(2 * np.pi * s / period + phase)


def random_track(length: float, seed: int | np.random.Generator) -> Track:
    """A road `length` metres long, the same for the same seed."""
    rng = np.random.default_rng(seed)
    return Track.from_curvature(random_curvature(length, rng), random_width(length, rng))
