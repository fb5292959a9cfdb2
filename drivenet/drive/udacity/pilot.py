"""The simulator's driver: every telemetry message in, exactly one command out, whatever the message holds.

Protocol (independent of the transport): on connect the car gets a zero command; a telemetry message with
a camera frame gets `steer` {steering_angle, throttle} as strings, steering from the model (its own
preprocessing, earlier frames for a motion model) and throttle from a PI controller; an empty message
means the user drives by hand and gets `manual` {}. Broken messages are answered too: without a readable
frame, the last steering and throttle 0 (coasting); without a usable speed, throttle 0. Each kind of
problem is shown once and counted.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from drivenet.drive.udacity.recorder import Recorder
from drivenet.drive.udacity.status import ServeStats, StatusLine
from drivenet.drive.udacity.telemetry import read_telemetry
from drivenet.drive.udacity.throttle import SpeedController
from drivenet.errors import DrivenetError
from drivenet.model.steering_model import SteeringModel


@dataclass(frozen=True)
class Reply:
    """An event name and its data, as sent to the simulator."""

    event: str
    data: dict[str, str]


def steer_command(steering: float, throttle: float) -> Reply:
    """`steer` with both numbers written as strings (Python's shortest exact form)."""
    return Reply("steer", {"steering_angle": str(float(steering)), "throttle": str(float(throttle))})


class Pilot:
    """Answers the simulator for one model; its state starts afresh on every connection."""

    def __init__(
        self,
        model: SteeringModel,
        set_mph: float,
        status: StatusLine,
        recorder: Recorder | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.model = model
        self.controller = SpeedController(set_mph)
        self.status = status
        self.recorder = recorder
        self.clock = clock
        self.stats = ServeStats(started=clock())
        self.steer = model.driver()
        self.steering = 0.0
        self.last_time: float | None = None
        self.size_checked = False

    def connect(self) -> Reply:
        """A new connection: forget earlier frames and the controller's state; stand still."""
        self.stats.connections += 1
        self._restart()
        self.status.message(f"simulator connected (connection {self.stats.connections})")
        return steer_command(0.0, 0.0)

    def disconnect(self) -> None:
        """The simulator went away (it reconnects when autonomous mode is chosen again)."""
        self.status.message(f"simulator disconnected after {self.stats.frames} frames in all")

    def telemetry(self, data: Any) -> Reply:
        """The one reply to a telemetry message."""
        start = self.clock()
        if not data:  # the simulator sends empty telemetry while the user drives by hand
            self.stats.manual += 1
            self._restart()
            return Reply("manual", {})
        message = read_telemetry(data)
        for problem in message.problems:
            self._count(problem)
        throttle = 0.0
        if message.frame is not None:
            self._check_size(message.frame)
            self.steering = float(np.clip(self.steer(message.frame), -1.0, 1.0))
            if message.speed is not None:
                dt = 0.0 if self.last_time is None else start - self.last_time
                throttle = self.controller.throttle(message.speed, self.steering, dt)
        self.last_time = start
        reply = steer_command(self.steering, throttle)
        if self.recorder is not None and not message.problems:
            self._record(message.jpeg, reply, message.speed)
        now = self.clock()
        self.stats.served(now, now - start, self.steering, throttle, message.speed)
        self.status.show(self.stats.line(), now)
        return reply

    def summary(self) -> str:
        """The session's summary, naming the recording when there is one."""
        text = self.stats.summary(self.clock())
        if self.recorder is not None:
            text += f"\nrecorded {self.recorder.frames} frames to {self.recorder.folder}"
        return text

    def _restart(self) -> None:
        self.steer = self.model.driver()
        self.controller.reset()
        self.steering = 0.0
        self.last_time = None

    def _count(self, problem: str) -> None:
        if not self.stats.problems[problem]:
            self.status.message(f"bad telemetry: {problem} (answered; shown once, counted in the summary)")
        self.stats.problems[problem] += 1

    def _check_size(self, frame: np.ndarray) -> None:
        trained = self.model.frame_size
        if self.size_checked or trained is None:
            return
        self.size_checked = True
        height, width = frame.shape[:2]
        if (width, height) != trained:
            self.status.message(
                f"note: the model was trained on {trained[0]}x{trained[1]} frames, the simulator sends "
                f"{width}x{height}; its preprocessing resizes them, but it may steer worse"
            )

    def _record(self, jpeg: bytes | None, reply: Reply, speed: float | None) -> None:
        assert self.recorder is not None and jpeg is not None and speed is not None
        try:
            self.recorder.add(jpeg, reply.data["steering_angle"], reply.data["throttle"], speed)
        except DrivenetError as err:
            self.status.message(f"recording stopped after {self.recorder.frames} frames: {err}")
            self.recorder.close()
            self.recorder = None
