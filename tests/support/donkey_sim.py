"""A fake Donkey simulator: a TCP server on 127.0.0.1 that plays a script against the one client that
connects, streaming camera frames rendered by drivenet's road renderer, as the simulator's JPEGs."""

from __future__ import annotations

import base64
import io
import json
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from PIL import Image

from drivenet.roads.renderer import Camera
from drivenet.roads.synth import labelled_frames

SCENES = ["generated_road", "warehouse", "mountain_track"]
FRAME = Camera(width=160, height=120)  # the simulator's default camera
TIMEOUT_S = 20.0  # longest wait of any socket operation of the fake simulator: generous for a busy CI


def road_jpegs(count: int, seed: int = 0) -> list[bytes]:
    """`count` rendered road frames of the simulator's size, as JPEG bytes."""
    jpegs = []
    for frame, _ in labelled_frames(count, seed, FRAME):
        buffer = io.BytesIO()
        Image.fromarray(frame).save(buffer, "JPEG", quality=90)
        jpegs.append(buffer.getvalue())
    return jpegs


def unity_json(message: dict[str, Any], decimal_comma: bool = False) -> bytes:
    """A message as the simulator writes it: compact JSON and a newline; with `decimal_comma`, its
    numbers as Unity writes them on a machine whose locale has one (`"speed":1,25`)."""
    text = json.dumps(message, separators=(",", ":"))
    if decimal_comma:
        fields = [f"{json.dumps(k)}:{json.dumps(v)}" for k, v in message.items() if not isinstance(v, float)]
        fields += [
            f"{json.dumps(k)}:{repr(v).replace('.', ',')}" for k, v in message.items() if isinstance(v, float)
        ]
        text = "{" + ",".join(fields) + "}"
    return text.encode("utf-8") + b"\n"


def telemetry(jpeg: bytes, speed: float = 2.5, **fields: Any) -> dict[str, Any]:
    """A telemetry message with the fields the simulator sends (steering in [-1, 1], speed in m/s)."""
    message: dict[str, Any] = {
        "msg_type": "telemetry",
        "steering_angle": 0.0,
        "throttle": 0.3,
        "speed": speed,
        "image": base64.b64encode(jpeg).decode("ascii"),
        "hit": "none",
        "pos_x": 1.5,
        "pos_y": 0.5,
        "pos_z": 2.25,
        "time": 3.5,
        "cte": 0.25,
    }
    message.update(fields)
    return message


class Connection:
    """The simulator's end of the client's connection; every wait ends after TIMEOUT_S."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        sock.settimeout(TIMEOUT_S)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""
        self.received: list[dict[str, Any]] = []

    def send(self, *messages: dict[str, Any], decimal_comma: bool = False, chunk: int = 0) -> None:
        """Messages in one write (joined), or cut into `chunk`-byte writes a moment apart (split)."""
        data = b"".join(unity_json(message, decimal_comma) for message in messages)
        self.send_raw(data, chunk)

    def send_raw(self, data: bytes, chunk: int = 0) -> None:
        if not chunk:
            self.sock.sendall(data)
            return
        for start in range(0, len(data), chunk):
            self.sock.sendall(data[start : start + chunk])
            time.sleep(0.001)

    def receive(self) -> dict[str, Any]:
        """The client's next message."""
        while b"\n" not in self.buffer:
            data = self.sock.recv(1 << 16)
            if not data:
                raise ConnectionError(f"the client closed the connection; it sent {self.received}")
            self.buffer += data
        line, self.buffer = self.buffer.split(b"\n", 1)
        self.received.append(json.loads(line))
        return self.received[-1]

    def expect(self, msg_type: str) -> dict[str, Any]:
        message = self.receive()
        assert message["msg_type"] == msg_type, f"expected {msg_type}, got {message}"
        return message

    def handshake(self, scenes: list[str] = SCENES) -> str:
        """The menu's scene selection and the car's loading; the scene the client chose."""
        self.send({"msg_type": "scene_selection_ready", "loaded": "1"})
        self.expect("get_scene_names")
        self.send({"msg_type": "scene_names", "scene_names": scenes})
        chosen = self.expect("load_scene")["scene_name"]
        self.send({"msg_type": "need_car_config"}, {"msg_type": "car_loaded"})
        self.expect("reset_car")
        return chosen

    def drive(self, jpegs: list[bytes], speed: float = 2.5, **options: Any) -> list[dict[str, Any]]:
        """One telemetry per frame, each answered before the next; the controls."""
        controls = []
        for jpeg in jpegs:
            self.send(telemetry(jpeg, speed), **options)
            controls.append(self.expect("control"))
        return controls


class FakeSimulator:
    """Listens on a free loopback port; the script runs in a thread against the first connection. Leaving
    the `with` block waits for the script (at most TIMEOUT_S) and raises what went wrong in it."""

    def __init__(self, script: Callable[[Connection], None]) -> None:
        self.script = script
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(TIMEOUT_S)
        self.port = self.listener.getsockname()[1]
        self.connection: Connection | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> FakeSimulator:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.thread.join(TIMEOUT_S)
        self.listener.close()
        assert not self.thread.is_alive(), "the fake simulator's script did not end"
        if self.error is not None and exc[0] is None:
            raise self.error

    def _serve(self) -> None:
        try:
            sock, _ = self.listener.accept()
            with sock:
                self.connection = Connection(sock)
                self.script(self.connection)
        except BaseException as err:  # handed to the test, which raises it
            self.error = err
