"""The Donkey simulator's client: connect, load the scene, answer every telemetry with one control.

The model drives through the Udacity bridge's `Pilot` (its steering, PI throttle holding a speed in mph,
recording and counts). Whatever fails for one frame (a refused image, an error inside drivenet), that
frame is still answered: steering 0, throttle 0 (coasting), the problem shown once and counted. The loop
ends when the simulator closes the connection, after `idle_s` seconds without a message, or on Ctrl-C.
"""

from __future__ import annotations

import contextlib
import math
import select
import socket
from collections import Counter
from pathlib import Path
from typing import Any

from drivenet.drive.donkey import protocol
from drivenet.drive.udacity.pilot import Pilot
from drivenet.drive.udacity.recorder import Recorder
from drivenet.drive.udacity.server import interrupt_pipe
from drivenet.drive.udacity.status import StatusLine
from drivenet.errors import DrivenetError, printable
from drivenet.model.steering_model import SteeringModel

CONNECT_TIMEOUT_S = 10.0
IDLE_TIMEOUT_S = 30.0  # a loading scene is silent for a few seconds; a running one sends ~20 frames/s
SEND_TIMEOUT_S = 5.0  # a simulator that stops reading does not hold drivenet forever
RECEIVE_BYTES = 1 << 16
# messages that need no answer: a request for a car configuration (the simulator's own is used), the
# keep-alive, and lap and race events
QUIET = frozenset(
    {"need_car_config", "ping", "car_reset_done", "cross_start", "race_start", "race_stop",
     "collision_with_starting_line", "missed_checkpoint", "DQ", "protocol_version"}
)  # fmt: skip
TOO_LONG = f"message over {protocol.MAX_MESSAGE >> 20} MiB"


def connect(host: str, port: int, timeout_s: float = CONNECT_TIMEOUT_S) -> socket.socket:
    """A TCP connection to the simulator; a one-line DrivenetError saying what to check otherwise."""
    where = f"{host}:{port}"
    try:
        return socket.create_connection((host, port), timeout=timeout_s)
    except ConnectionRefusedError:
        raise DrivenetError(
            f"cannot connect to the Donkey simulator at {where} (connection refused): start the simulator "
            f"first, or pass its --host and --port (it listens on {protocol.PORT})"
        ) from None
    except TimeoutError:
        raise DrivenetError(f"no answer from {where} in {timeout_s:g} s: check --host and --port") from None
    except OSError as err:
        raise DrivenetError(f"cannot connect to {where}: {err.strerror or err}") from None


class DonkeyClient:
    """One connection to the simulator, driven by `pilot`; `scene` None drives the scene the simulator
    has loaded, or at its menu the first one it offers."""

    def __init__(self, pilot: Pilot, scene: str | None, where: str, idle_s: float = IDLE_TIMEOUT_S) -> None:
        self.pilot = pilot
        self.scene = scene
        self.where = where
        self.idle_s = idle_s
        self.loaded_scene: str | None = None  # the scene drivenet loaded, left again on the way out
        self.driving = False
        self.heard = False  # a message has been read: the other end speaks the protocol
        self.controls = 0
        self.reader = protocol.LineReader()
        self.skipped: Counter[str] = Counter()  # lines that are no message, by kind

    def run(self, sock: socket.socket, interrupted: int) -> str:
        """Read and answer messages until the end; returns why it ended. `interrupted` is a file
        descriptor that becomes readable on Ctrl-C (`interrupt_pipe`)."""
        sock.settimeout(SEND_TIMEOUT_S)
        while True:
            ready, _, _ = select.select([sock, interrupted], [], [], self.idle_s)
            if interrupted in ready:
                return "stopped by Ctrl-C"
            if not ready:
                if not self.heard:
                    raise DrivenetError(
                        f"{self.where} sent nothing for {self.idle_s:g} s: is it the Donkey simulator "
                        f"(port {protocol.PORT} by default) and not paused?"
                    )
                return f"the simulator sent nothing for {self.idle_s:g} s"
            try:
                data = sock.recv(RECEIVE_BYTES)
            except OSError as err:
                return f"the connection failed ({err.strerror or err})"
            if not data:
                dropped = len(self.reader.pending)
                return "the simulator closed the connection" + (
                    f" in the middle of a message ({dropped} bytes dropped)" if dropped else ""
                )
            for line in self._lines(data):
                reply = self.handle(line)
                failed = None if reply is None else self._send(sock, reply)
                if failed is not None:
                    return failed

    def handle(self, line: bytes) -> bytes | None:
        """The answer to one line (None: no answer)."""
        try:
            message = protocol.parse(line)
        except protocol.ProtocolError as err:
            if not self.heard:
                raise DrivenetError(
                    f"{self.where} does not speak the Donkey simulator's protocol (it sent "
                    f"{printable(repr(line[:40]))}): check --host and --port"
                ) from None
            self.note(self.skipped, str(err), f"skipped a line: {err}")
            return None
        self.heard = True
        kind = message["msg_type"]
        if kind == "telemetry":
            self.controls += 1
            return self.answer(message)
        if kind == "scene_selection_ready":
            if self.driving:
                self.driving = False
                self.pilot.disconnect()
            return protocol.encode("get_scene_names")
        if kind == "scene_names":
            return self.load_scene(protocol.scene_names(message))
        if kind == "car_loaded":
            self.start_driving()
            return protocol.encode("reset_car")
        if kind not in QUIET:
            self.note(self.skipped, "unknown msg_type", f"ignored a message of type {printable(kind[:40])!r}")
        return None

    def load_scene(self, names: list[str]) -> bytes:
        """`load_scene` for --scene, or the first scene offered; DrivenetError when --scene is not offered."""
        offered = ", ".join(printable(name) for name in names) or "none"
        if self.scene is None and names:
            self.loaded_scene = names[0]
        elif self.scene in names:
            self.loaded_scene = self.scene
        else:
            wanted = "a scene" if self.scene is None else f"--scene {self.scene}"
            raise DrivenetError(f"{self.where} does not offer {wanted}; it offers: {offered}")
        self.pilot.status.message(f"loading the scene {printable(self.loaded_scene)} (offered: {offered})")
        return protocol.encode("load_scene", scene_name=self.loaded_scene)

    def start_driving(self) -> None:
        """A car for this connection: the pilot forgets earlier frames and its speed controller's state."""
        if self.scene is not None and self.loaded_scene is None and not self.pilot.stats.connections:
            self.pilot.status.message(f"the simulator is in a scene already: --scene {self.scene} not loaded")
        self.driving = True
        self.pilot.connect()

    def answer(self, message: dict[str, Any]) -> bytes:
        """The one control for a telemetry message: the pilot's, or coasting when anything fails."""
        if not self.driving:  # a simulator already in its scene may stream without `car_loaded`
            self.start_driving()
        start = self.pilot.clock()
        problems = self.pilot.stats.problems
        try:
            reply = self.pilot.telemetry(protocol.udacity_view(message))
            steering, throttle = (float(reply.data[name]) for name in ("steering_angle", "throttle"))
        except Exception as err:  # the frame is answered whatever failed: the car coasts
            detail = f"{type(err).__name__}: {printable(str(err))[:200]}"
            self.note(problems, "failed inside drivenet", f"a frame failed inside drivenet ({detail})")
            return self.coast(start)
        if not (math.isfinite(steering) and math.isfinite(throttle)):
            self.note(problems, "the model gave no number", "the model's steering is not a number")
            return protocol.control(0.0, 0.0)
        return protocol.control(steering, throttle)

    def coast(self, start: float) -> bytes:
        """Steering 0, throttle 0, counted as a frame served."""
        now = self.pilot.clock()
        self.pilot.stats.served(now, now - start, 0.0, 0.0, None)
        return protocol.control(0.0, 0.0)

    def leave(self, sock: socket.socket) -> None:
        """`exit_scene` when drivenet loaded the scene (the simulator goes back to its menu); best effort."""
        if self.loaded_scene is not None:
            with contextlib.suppress(OSError):
                sock.sendall(protocol.encode("exit_scene"))

    def note(self, counter: Counter[str], kind: str, text: str) -> None:
        """Count a problem by kind; show `text` the first time."""
        if not counter[kind]:
            self.pilot.status.message(f"{text} (shown once, counted in the summary)")
        counter[kind] += 1

    def summary(self) -> str:
        """The pilot's summary, the controls sent and the lines skipped."""
        lines = [self.pilot.summary(), f"sent {self.controls} controls"]
        if self.skipped:
            counts = ", ".join(f"{kind} x{n}" for kind, n in sorted(self.skipped.items()))
            lines.append(f"skipped lines: {counts}")
        return "\n".join(lines)

    def _lines(self, data: bytes) -> list[bytes]:
        """The non-blank lines `data` completes; a line dropped for its length is shown once and counted."""
        before = self.reader.too_long
        lines = [line for line in self.reader.feed(data) if line.strip()]
        for _ in range(self.reader.too_long - before):
            self.note(self.skipped, TOO_LONG, f"dropped a {TOO_LONG}")
        return lines

    @staticmethod
    def _send(sock: socket.socket, message: bytes) -> str | None:
        """Send `message`; why the session ends if it cannot be sent."""
        try:
            sock.sendall(message)
        except TimeoutError:
            return f"the simulator read nothing drivenet sent for {SEND_TIMEOUT_S:g} s"
        except OSError as err:
            return f"the connection failed ({err.strerror or err})"
        return None


def donkey_pilot(model: SteeringModel, speed: float, status: StatusLine, recorder: Recorder | None) -> Pilot:
    """The Udacity bridge's pilot set for the Donkey simulator: frames of at most MAX_FRAME_PIXELS, and a
    frame that cannot be used answered with steering 0, throttle 0."""
    return Pilot(model, speed, status, recorder, frame_pixels=protocol.MAX_FRAME_PIXELS, hold_steering=False)


def serve(
    model: Path, host: str, port: int, scene: str | None, speed: float, record: Path | None, force: bool
) -> str:
    """Drive the simulator at host:port with the checkpoint `model` until it ends; the summary."""
    from drivenet.io import check_output_dir
    from drivenet.model.checkpoint import load_model

    if record is not None:
        check_output_dir(record, force, inputs=[model])
    steering_model = load_model(model)
    status = StatusLine()
    with contextlib.closing(connect(host, port)) as sock:
        recorder = Recorder(record, force, inputs=(model,)) if record is not None else None
        pilot = donkey_pilot(steering_model, speed, status, recorder)
        client = DonkeyClient(pilot, scene, f"{host}:{port}")
        status.message(f"connected to {host}:{port}; Ctrl-C stops")
        try:
            with interrupt_pipe() as interrupted:
                ended = client.run(sock, interrupted)
        except KeyboardInterrupt:  # a second Ctrl-C, impatient, lands wherever the loop was
            ended = "stopped by Ctrl-C"
        finally:
            if pilot.recorder is not None:
                pilot.recorder.close()
            status.clear()
        client.leave(sock)
    return f"{ended}\n{client.summary()}"
