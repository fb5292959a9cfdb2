"""Closed-loop driving: the steering callback sees each rendered frame and its answer moves the car.

A loop given the model's `Preprocess` renders only what the model sees (`drivenet.roads.view`), and
a full camera frame only when asked for one (`camera_frame`, for the frames of a film).

When the car strays more than `takeover_offset` metres from the lane centre, a safety driver takes
over and puts it back on the centre line. NVIDIA scored its PilotNet drives by the share of time the
car was not being helped, charging 6 seconds per intervention:
autonomy = max(0, 1 - takeovers · 6 s / elapsed s) · 100.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from drivenet.data.transform import Preprocess
from drivenet.geometry.car import advance
from drivenet.geometry.track import Track, random_track
from drivenet.model.steering_model import ClipStream, SteeringModel
from drivenet.roads.renderer import Camera, Look, RoadRenderer
from drivenet.roads.view import ModelView

Steer = Callable[[np.ndarray], float]  # what the loop renders (see ClosedLoop.frame) -> steering in [-1, 1]
Watch = Callable[["ClosedLoop", np.ndarray, float], None]  # (loop, frame, steering) before each step

SECONDS_PER_TAKEOVER = 6.0
START = 5.0  # metres along the road where the car starts
LOOK_EVERY = 250.0  # metres of road with one appearance before the light and colours change


def autonomy(takeovers: int, seconds: float) -> float:
    """NVIDIA's autonomy figure in percent: max(0, 1 - takeovers · 6 / seconds) · 100.

    Clamped at 0: more than one takeover per 6 s means the car was helped all the time, not less.
    """
    return max(0.0, 1.0 - takeovers * SECONDS_PER_TAKEOVER / seconds) * 100.0 if seconds > 0 else 100.0


@dataclass(frozen=True)
class DriveReport:
    """What happened on one drive; offsets are distances from the lane centre in metres."""

    km: float
    seconds: float
    steps: int
    takeovers: int
    mean_offset: float
    worst_offset: float

    @property
    def autonomy(self) -> float:
        return autonomy(self.takeovers, self.seconds)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "autonomy": self.autonomy}


def drive_track(km: float, seed: int) -> Track:
    """The road of a drive: random, `km` long plus room to look ahead, different from `synth`'s roads."""
    return random_track(km * 1000.0 + 2 * RoadRenderer.view_distance, np.random.default_rng([seed, 5]))


def model_steering(model: SteeringModel) -> Steer:
    """Steering by `model` from its own inputs, the preprocessed images uint8 (H, W, C) of a loop with
    `view=model.preprocess`; a motion model reads each with the ones before it."""
    stream = ClipStream(model)

    def steer(image: np.ndarray) -> float:
        return float(model.steer_inputs(stream.clips(image[None]))[0])

    return steer


class ClosedLoop:
    """A car on a track, seen by a camera; `step` moves it and calls for a takeover when needed.

    With `view` (a model's preprocessing) the steering sees the model's input images, rendered
    directly; without it, full camera frames.
    """

    def __init__(
        self,
        track: Track,
        camera: Camera | None = None,
        seed: int = 0,
        speed: float = 10.0,
        dt: float = 0.1,
        takeover_offset: float = 1.0,
        view: Preprocess | None = None,
    ) -> None:
        self.track, self.renderer = track, RoadRenderer(camera)
        self.view = ModelView(self.renderer.camera, view) if view is not None else None
        self.speed, self.dt, self.takeover_offset = speed, dt, takeover_offset
        self.rng = np.random.default_rng([seed, 6])
        self.film_rng = np.random.default_rng([seed, 7])  # noise of camera frames, apart from the drive's
        self.s, self.pose, self.offset = START, track.place(START), 0.0
        self.look, self.look_until = Look(), 0.0
        self.takeovers = 0

    def frame(self) -> np.ndarray:
        """What the steering sees now: the model's input uint8 (h, w, C) with a view, else the camera
        frame uint8 (H, W, 3); the appearance changes every LOOK_EVERY metres."""
        if self.s >= self.look_until:
            self.look, self.look_until = Look.random(self.rng), self.s + LOOK_EVERY
        draw = self.view or self.renderer
        return draw.render(self.track, self.pose, self.s, self.look, self.rng)

    def camera_frame(self) -> np.ndarray:
        """The full camera frame uint8 (H, W, 3) now, e.g. for a film; the drive goes on the same."""
        return self.renderer.render(self.track, self.pose, self.s, self.look, self.film_rng)

    def step(self, steering: float) -> float:
        """Drive for dt seconds with `steering`; returns the offset (m) reached before any takeover."""
        self.pose = advance(self.pose, steering, self.speed * self.dt)
        self.s, offset, _ = self.track.locate(self.pose, self.s)
        if abs(offset) > self.takeover_offset:
            self.takeovers += 1
            self.pose = self.track.place(self.s)
        self.offset = offset
        return offset

    def run(self, steer: Steer, km: float, watch: Watch | None = None) -> DriveReport:
        """Let `steer` drive `km` kilometres (or until the road ends) and report how it went."""
        goal = min(START + km * 1000.0, self.track.length - RoadRenderer.view_distance)
        max_steps = int(3 * (goal - START) / (self.speed * self.dt)) + 1  # a car going round in circles
        offsets: list[float] = []
        while self.s < goal and len(offsets) < max_steps:
            frame = self.frame()
            steering = min(max(float(steer(frame)), -1.0), 1.0)
            if watch is not None:
                watch(self, frame, steering)
            offsets.append(abs(self.step(steering)))
        seconds = len(offsets) * self.dt
        return DriveReport(
            km=(self.s - START) / 1000.0,
            seconds=seconds,
            steps=len(offsets),
            takeovers=self.takeovers,
            mean_offset=float(np.mean(offsets)) if offsets else 0.0,
            worst_offset=float(np.max(offsets)) if offsets else 0.0,
        )
