"""The Donkey simulator's TCP protocol: JSON objects, one per line, each naming its `msg_type`.

The simulator (sdsandbox; gym-donkeycar's server, port 9091) listens; drivenet connects as a client.
Messages drivenet reads, and what it answers:

- `scene_selection_ready` (the simulator shows its menu): `get_scene_names`
- `scene_names` {"scene_names": [...]}: `load_scene` {"scene_name": the chosen one}
- `car_loaded` (a car drives in the scene for this connection): `reset_car` (it starts on the start line)
- `telemetry` {"image": base64 JPEG (160x120 unless the camera was configured), "steering_angle",
  "throttle", "speed" (m/s), and pos_x/y/z, cte, hit, time, ... which drivenet does not use}:
  exactly one `control` {"steering", "throttle", "brake"}, numbers as strings in [-1, 1], [0, 1], [0, 1]
- `need_car_config`, `ping` (a keep-alive), `car_reset_done`, lap and race events: no answer

On the way out drivenet sends `exit_scene` when it loaded the scene itself. The simulator streams frames at
its own pace (about 20 a second) whether or not they are answered, and reads each chunk it receives as
one message, so drivenet sends one message at a time, each ending in a newline. Unity writes numbers in
the machine's locale: a line that is not JSON is read again with `"speed":1,25,` taken as 1.25.
Nothing read is trusted: a line is at most MAX_MESSAGE bytes (the rest is dropped unbuffered), a frame
is checked as JPEG or PNG of at most MAX_FRAME_PIXELS from its header before it is decoded (by the pilot's
telemetry reader, given this limit).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

PORT = 9091  # the simulator's default port
MAX_MESSAGE = 1 << 20  # bytes in one message; a 160x120 frame's telemetry is about 10 KB
MAX_FRAME_PIXELS = 640 * 480  # 16 times the simulator's default 160x120 camera
MPH_PER_MPS = 3600 / 1609.344  # the pilot's speeds are in mph, as the Udacity simulator's
# `"key":1,25` (a number, then the decimal comma) followed by `,`, `}` or `]`; JSON allows no digit there
DECIMAL_COMMA = re.compile(r'("\s*:\s*-?\d+),(\d+(?:[eE][-+]?\d+)?)(?=\s*[,}\]])')


class ProtocolError(ValueError):
    """A line that is not a message: its message is a short, fixed phrase (problems are counted by kind)."""


class LineReader:
    """Bytes as they arrive in, whole lines out (split and joined packets alike); never holds more than
    `limit` bytes: a longer line is dropped as it comes and counted in `too_long`."""

    def __init__(self, limit: int = MAX_MESSAGE) -> None:
        self.limit = limit
        self.pending = bytearray()
        self.skipping = False  # inside a line that grew too long: drop bytes until its newline
        self.too_long = 0

    def feed(self, data: bytes) -> list[bytes]:
        """The lines that `data` completes, without their newlines."""
        lines = []
        *complete, rest = data.split(b"\n")
        for piece in complete:
            if not self.skipping and self._fits(piece):
                lines.append(bytes(self.pending + piece))
            self.pending.clear()
            self.skipping = False
        if not self.skipping and self._fits(rest):
            self.pending += rest
        else:
            self.pending.clear()
            self.skipping = True
        return lines

    def _fits(self, piece: bytes) -> bool:
        if len(self.pending) + len(piece) <= self.limit:
            return True
        self.too_long += 1
        return False


def parse(line: bytes) -> dict[str, Any]:
    """The message of one line; ProtocolError when it is not a JSON object with a string `msg_type`."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError("message is not UTF-8") from None
    try:
        message = json.loads(text)
    except (ValueError, RecursionError):
        try:
            message = json.loads(DECIMAL_COMMA.sub(r"\1.\2", text))
        except (ValueError, RecursionError):
            raise ProtocolError("message is not JSON") from None
    if not isinstance(message, dict) or not isinstance(message.get("msg_type"), str):
        raise ProtocolError("message has no msg_type")
    return message


def encode(msg_type: str, **fields: str) -> bytes:
    """One message as sent: compact JSON and a newline."""
    return json.dumps({"msg_type": msg_type, **fields}, separators=(",", ":")).encode("utf-8") + b"\n"


def control(steering: float, throttle: float) -> bytes:
    """`control` for a steering in [-1, 1] and a throttle in [-1, 1] whose negative part brakes.

    The simulator reads the strings with a decimal point whatever its locale; four decimals, no exponent.
    """
    steering = min(max(steering, -1.0), 1.0)
    throttle = min(max(throttle, -1.0), 1.0)
    return encode(
        "control",
        steering=f"{steering + 0.0:.4f}",  # + 0.0: a negative zero is written "-0.0000"
        throttle=f"{max(0.0, throttle) + 0.0:.4f}",
        brake=f"{max(0.0, -throttle) + 0.0:.4f}",
    )


def scene_names(message: Mapping[str, Any]) -> list[str]:
    """The scene names of a `scene_names` message: its strings, at most 100 of at most 100 characters."""
    names = message.get("scene_names")
    if not isinstance(names, list):
        return []
    return [name for name in names[:100] if isinstance(name, str) and 0 < len(name) <= 100]


def udacity_view(message: Mapping[str, Any]) -> dict[str, Any]:
    """A telemetry message as the Udacity pilot reads it: the same fields, the speed in mph.

    A speed that is not a finite number is passed on as it is, for the pilot to name the problem.
    """
    view = {name: message[name] for name in ("steering_angle", "throttle") if name in message}
    view["image"] = message.get("image")
    if "speed" in message:
        view["speed"] = message["speed"]
        value = message["speed"]
        if isinstance(value, int | float | str) and not isinstance(value, bool):
            try:
                mps = float(value)
            except (ValueError, OverflowError):
                mps = math.nan
            if math.isfinite(mps):
                view["speed"] = mps * MPH_PER_MPS
    return view
