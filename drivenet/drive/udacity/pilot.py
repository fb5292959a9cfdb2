"""The simulator's driver: every telemetry message in, exactly one command out, whatever the message holds.

Protocol (independent of the transport): on connect the car gets a zero command; a telemetry message with
a camera frame gets `steer` {steering_angle, throttle} as strings, steering from the model (its own
preprocessing, earlier frames for a motion model) and throttle from a PI controller; an empty message
means the user drives by hand and gets `manual` {}. Broken messages are answered too: without a readable
frame, throttle 0 (coasting) and the last steering, or steering 0 where the pilot is made so (the Donkey
bridge); without a usable speed, throttle 0. Each kind of problem is shown once and counted, and so is any
error inside drivenet while answering (the car coasts the same way: the simulator sends its next frame
only after a reply, so an unanswered one would stop it for good).

Each connection drives its own car: its own earlier frames for a motion model, its own speed controller. A
second simulator (or a stale connection the simulator left behind when it reconnected) cannot reset the
first one's state. One connection at a time records: the first that sends a frame, until it leaves.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from drivenet.drive.udacity.recorder import Recorder
from drivenet.drive.udacity.status import ServeStats, StatusLine
from drivenet.drive.udacity.telemetry import FRAME_PIXELS, read_telemetry
from drivenet.drive.udacity.throttle import SpeedController
from drivenet.errors import DrivenetError, printable
from drivenet.model.steering_model import SteeringModel


@dataclass(frozen=True)
class Reply:
    """An event name and its data, as sent to the simulator; `steered`: the model steered it from a frame."""

    event: str
    data: dict[str, str]
    steered: bool = False


@dataclass
class Drive:
    """One connection's car: the speed controller, the model's driver (its earlier frames; made at the first
    frame, where a failure is answered), the model's last steering and when the last message came."""

    controller: SpeedController
    steer: Callable[[np.ndarray], float] | None = None
    steering: float = 0.0
    last_time: float | None = None


def steer_command(steering: float, throttle: float, steered: bool = False) -> Reply:
    """`steer` with both numbers written as strings (Python's shortest exact form)."""
    data = {"steering_angle": str(float(steering)), "throttle": str(float(throttle))}
    return Reply("steer", data, steered)


class Pilot:
    """Answers the simulator for one model, each connection (named by the transport) with a car of its own;
    frames of over `frame_pixels` are refused undecoded, and one that cannot be used (or a failure) is
    answered with the last steering when `hold_steering`, else with steering 0."""

    def __init__(
        self,
        model: SteeringModel,
        set_mph: float,
        status: StatusLine,
        recorder: Recorder | None = None,
        clock: Callable[[], float] = time.monotonic,
        frame_pixels: int = FRAME_PIXELS,
        hold_steering: bool = True,
    ) -> None:
        self.model = model
        self.set_mph = set_mph
        self.status = status
        self.recorder = recorder
        self.clock = clock
        self.frame_pixels = frame_pixels
        self.hold_steering = hold_steering
        self.stats = ServeStats(started=clock())
        self.drives: dict[str, Drive] = {}
        self.recording: str | None = None  # the connection whose frames are recorded
        self.size_checked = False

    def connect(self, connection: str = "") -> Reply:
        """A new connection: a car of its own, with no earlier frames and a fresh controller; stand still."""
        self.stats.connections += 1
        self.drives[connection] = self._new_drive()
        others = len(self.drives) - 1
        self.status.message(
            f"simulator connected (connection {self.stats.connections})"
            + (f"; {others} other connection(s) open, each steered on its own" if others else "")
        )
        return steer_command(0.0, 0.0)

    def disconnect(self, connection: str = "") -> None:
        """The simulator went away (it reconnects when autonomous mode is chosen again)."""
        self.drives.pop(connection, None)
        if self.recording == connection:
            self.recording = None
        self.status.message(f"simulator disconnected after {self.stats.frames} frames in all")

    def telemetry(self, data: Any, connection: str = "") -> Reply:
        """The one reply to a telemetry message, whatever fails while making it (then the car coasts)."""
        start = self.clock()
        drive = self.drives.get(connection) or self.drives.setdefault(connection, self._new_drive())
        if not data:  # the simulator sends empty telemetry while the user drives by hand
            self.stats.manual += 1
            self.drives[connection] = self._new_drive()
            return Reply("manual", {})
        try:
            reply, speed = self._steer(drive, data, connection, start)
        except Exception as err:  # noqa: BLE001 - an unanswered message would stop the car for good
            self._failed(err)
            reply, speed = steer_command(self._coasting_steering(drive), 0.0), None
        drive.last_time = start
        now = self.clock()
        sent = (float(reply.data[name]) for name in ("steering_angle", "throttle"))
        self.stats.served(now, now - start, *sent, speed)
        self.status.show(self.stats.line(), now)
        return reply

    def refused(self, kind: str) -> None:
        """Count something the server refused (a connection, a message), shown the first time."""
        if not self.stats.refused[kind]:
            self.status.message(f"refused: {kind} (shown once, counted in the summary)")
        self.stats.refused[kind] += 1

    def summary(self) -> str:
        """The session's summary, naming the recording when there is one."""
        text = self.stats.summary(self.clock())
        if self.recorder is not None:
            text += f"\nrecorded {self.recorder.frames} frames to {self.recorder.folder}"
        return text

    def _new_drive(self) -> Drive:
        return Drive(SpeedController(self.set_mph))

    def _steer(self, drive: Drive, data: Any, connection: str, start: float) -> tuple[Reply, float | None]:
        message = read_telemetry(data, self.stats.warned, self.frame_pixels)
        for problem in message.problems:
            self._count(problem)
        if message.frame is None:
            return steer_command(self._coasting_steering(drive), 0.0), message.speed
        self._check_size(message.frame)
        drive.steer = drive.steer or self.model.driver()
        drive.steering = float(np.clip(drive.steer(message.frame), -1.0, 1.0))
        throttle = 0.0
        if message.speed is not None:
            dt = 0.0 if drive.last_time is None else start - drive.last_time
            throttle = drive.controller.throttle(message.speed, drive.steering, dt)
        reply = steer_command(drive.steering, throttle, steered=True)
        if self.recorder is not None and not message.problems:
            self._record(connection, message.jpeg, reply, message.speed)
        return reply, message.speed

    def _coasting_steering(self, drive: Drive) -> float:
        return drive.steering if self.hold_steering else 0.0

    def _count(self, problem: str) -> None:
        if not self.stats.problems[problem]:
            self.status.message(f"bad telemetry: {problem} (answered; shown once, counted in the summary)")
        self.stats.problems[problem] += 1

    def _failed(self, err: Exception) -> None:
        kind = type(err).__name__
        if not self.stats.failures[kind]:
            self.status.message(
                f"error while steering ({kind}: {printable(str(err))[:200]}); answered by coasting, shown "
                "once, counted in the summary"
            )
        self.stats.failures[kind] += 1

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

    def _record(self, connection: str, jpeg: bytes | None, reply: Reply, speed: float | None) -> None:
        assert self.recorder is not None and jpeg is not None and speed is not None
        if self.recording is None:
            self.recording = connection
        if self.recording != connection:
            if not self.stats.not_recorded:
                self.status.message("a second connection sends frames: steered, not recorded (one records)")
            self.stats.not_recorded += 1
            return
        try:
            self.recorder.add(jpeg, reply.data["steering_angle"], reply.data["throttle"], speed)
        except DrivenetError as err:
            self.status.message(f"recording stopped after {self.recorder.frames} frames: {err}")
            self.recorder.close()
            self.recorder = None
