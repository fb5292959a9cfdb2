"""`drivenet serve --sim donkey` against a fake Donkey simulator on 127.0.0.1 (tests/support/donkey_sim.py):
the protocol's framing and parsing, the handshake, one control per telemetry whatever it holds, the ends of
a session, the recording and the command itself. Every socket wait is bounded (TIMEOUT_S)."""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from support.donkey_sim import SCENES, TIMEOUT_S, Connection, FakeSimulator, road_jpegs, telemetry
from support.simulator import jpeg_bytes, tiny_model
from typer.testing import CliRunner

from drivenet.cli import app
from drivenet.config import DataConfig
from drivenet.data.readers import read_recordings
from drivenet.drive.donkey import protocol
from drivenet.drive.donkey.client import DonkeyClient, connect, donkey_pilot
from drivenet.drive.udacity.recorder import Recorder
from drivenet.drive.udacity.status import StatusLine
from drivenet.errors import DrivenetError
from drivenet.model.checkpoint import load_model

IDLE_S = 0.5  # the client's patience with a silent simulator, in the tests that wait for it to run out
DDS = b"DDS |" + bytes(120)  # a DirectDraw Surface header: a format Pillow knows, drivenet refuses


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return tiny_model(tmp_path_factory.mktemp("donkey"))


@pytest.fixture(scope="module")
def jpegs() -> list[bytes]:
    return road_jpegs(6)


def png_header(width: int, height: int) -> bytes:
    """A PNG that claims width x height pixels in its header and holds almost none."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(64)))


class Session:
    """A DonkeyClient driven by a pilot of `model`, run in this thread against a fake simulator."""

    def __init__(
        self, model: Path, scene: str | None = None, record: Path | None = None, idle_s: float = 5.0
    ):
        self.log = io.StringIO()
        recorder = Recorder(record) if record is not None else None
        self.pilot = donkey_pilot(load_model(model), 10.0, StatusLine(self.log), recorder)
        self.client = DonkeyClient(self.pilot, scene, "the fake simulator", idle_s)
        self.interrupt, self.press_ctrl_c = os.pipe()

    def run(self, script: Callable[[Connection], None]) -> str:
        """Why the session ended; the script's own failure is raised."""
        try:
            with FakeSimulator(script) as sim, contextlib.closing(connect("127.0.0.1", sim.port)) as sock:
                ended = self.client.run(sock, self.interrupt)
                self.client.leave(sock)
            return ended
        finally:
            if self.pilot.recorder is not None:
                self.pilot.recorder.close()
            os.close(self.interrupt)
            os.close(self.press_ctrl_c)

    @property
    def summary(self) -> str:
        return self.client.summary()


def numbers(control: dict[str, str]) -> tuple[float, float, float]:
    """A control's steering, throttle and brake, each sent as a string with a decimal point."""
    return tuple(float(control[name]) for name in ("steering", "throttle", "brake"))  # type: ignore[return-value]


# ---- the protocol, without sockets


def test_lines_come_out_whole_from_split_and_joined_packets() -> None:
    messages = [protocol.encode("ping"), protocol.encode("load_scene", scene_name="warehouse")]
    stream = b"".join(messages) * 3
    for cut in (1, 7, len(stream)):
        reader = protocol.LineReader()
        lines = [
            line for start in range(0, len(stream), cut) for line in reader.feed(stream[start : start + cut])
        ]
        assert [line + b"\n" for line in lines] == messages * 3
        assert reader.pending == b""


def test_a_line_over_the_cap_is_dropped_as_it_comes_and_the_next_one_read() -> None:
    reader = protocol.LineReader(limit=100)
    held = []
    for _ in range(50):  # 1000 bytes of one line, never more than the cap held
        assert reader.feed(b"x" * 20) == []
        held.append(len(reader.pending))
    assert max(held) <= 100
    assert reader.feed(b"tail\n" + protocol.encode("ping") + b"y" * 101 + b"\n") == [
        protocol.encode("ping")[:-1]
    ]
    assert reader.too_long == 2


def test_numbers_with_a_decimal_comma_are_read_and_valid_json_is_left_alone() -> None:
    line = b'{"msg_type":"telemetry","speed":1,25,"cte":-0,5,"n":3,"tiny":1,5E-05,"pos_z":7,75}'
    message = protocol.parse(line)
    assert (message["speed"], message["cte"], message["n"], message["pos_z"]) == (1.25, -0.5, 3, 7.75)
    assert math.isclose(message["tiny"], 1.5e-5)
    assert protocol.parse(b'{"msg_type":"x","list":[1,25],"text":"a\\":1,5}"}') == {
        "msg_type": "x",
        "list": [1, 25],
        "text": 'a":1,5}',
    }


@pytest.mark.parametrize(
    "line",
    [b"\xff\xfe{}", b"SSH-2.0-OpenSSH_9.6", b"[1, 2]", b'{"type": "telemetry"}', b'{"msg_type": 7}',
     b"[" * 100_000],
)  # fmt: skip
def test_a_line_that_is_no_message_is_a_protocol_error(line: bytes) -> None:
    with pytest.raises(protocol.ProtocolError):
        protocol.parse(line)


def test_controls_are_strings_in_range_and_a_negative_throttle_brakes() -> None:
    sent = [json.loads(protocol.control(s, t)) for s, t in [(0.5, -0.3), (-2.0, 1.7), (0.25, 0.4)]]
    assert [numbers(c) for c in sent] == [(0.5, 0.0, 0.3), (-1.0, 1.0, 0.0), (0.25, 0.4, 0.0)]
    assert all(c["msg_type"] == "control" and isinstance(c["brake"], str) for c in sent)
    for zero in (0.0, -0.0):  # no negative zero, which the simulator would read as it is
        assert b"-" not in protocol.control(zero, zero)


# ---- a session against the fake simulator


def test_handshake_then_one_control_per_telemetry_in_range(model, jpegs) -> None:
    def script(sim: Connection) -> None:
        assert sim.handshake() == "warehouse"
        controls.extend(sim.drive(jpegs))
        fast.extend(sim.drive(jpegs[:1], speed=9.0))  # 20 mph, twice the speed to hold

    controls: list[dict[str, str]] = []
    fast: list[dict[str, str]] = []
    session = Session(model, scene="warehouse")
    assert session.run(script) == "the simulator closed the connection"
    assert len(controls) == len(jpegs)
    assert numbers(fast[0])[1] == 0 and numbers(fast[0])[2] > 0  # too fast: it brakes
    for steering, throttle, brake in map(numbers, controls):
        assert -1 <= steering <= 1 and 0 <= throttle <= 1 and 0 <= brake <= 1
        assert throttle == 0 or brake == 0
    assert numbers(controls[0])[1] > 0  # 2.5 m/s is below 10 mph (4.5 m/s): it speeds up
    assert len({c["steering"] for c in controls}) > 1  # the model steers each frame
    assert f"served {len(jpegs) + 1} frames" in session.summary
    assert f"sent {len(jpegs) + 1} controls" in session.summary


def test_a_scene_the_simulator_does_not_offer_is_an_error_that_lists_the_offer(model) -> None:
    def script(sim: Connection) -> None:
        sim.send({"msg_type": "scene_selection_ready"})
        sim.expect("get_scene_names")
        sim.send({"msg_type": "scene_names", "scene_names": SCENES})
        with contextlib.suppress(ConnectionError):
            sim.receive()  # the client leaves without loading anything

    with pytest.raises(DrivenetError, match="not offer --scene moon; it offers: generated_road, warehouse"):
        Session(model, scene="moon").run(script)


def test_split_and_joined_packets_with_decimal_commas_each_get_their_control(model, jpegs, tmp_path) -> None:
    def script(sim: Connection) -> None:  # a simulator already in its scene: telemetry at once
        sim.send(*(telemetry(jpeg, 4.5) for jpeg in jpegs[:3]), decimal_comma=True)  # three in one write
        controls.extend(sim.expect("control") for _ in range(3))
        sim.send(*(telemetry(jpeg, 4.5) for jpeg in jpegs[3:]), decimal_comma=True, chunk=997)
        controls.extend(sim.expect("control") for _ in jpegs[3:])

    controls: list[dict[str, str]] = []
    session = Session(model, scene="warehouse", record=tmp_path / "rec")
    session.run(script)
    assert len(controls) == len(jpegs)
    assert "bad telemetry" not in session.summary  # every speed was read
    assert "in a scene already: --scene warehouse not loaded" in session.log.getvalue()
    speeds = read_recordings([tmp_path / "rec"], DataConfig(format="udacity"), strict=True).frames["speed"]
    assert list(speeds) == pytest.approx([4.5 * protocol.MPH_PER_MPS] * len(jpegs), rel=1e-4)


def test_every_telemetry_is_answered_whatever_it_holds(model, jpegs) -> None:
    bad = [
        telemetry(DDS),  # a format drivenet does not decode
        telemetry(png_header(9000, 9000)),  # a frame far larger than the simulator's
        telemetry(jpegs[0][: len(jpegs[0]) // 2]),  # a cut-off JPEG: its header passes, decoding fails
        telemetry(jpegs[0], image="not base64!"),
        telemetry(jpegs[0], speed=float("nan")),
        {"msg_type": "telemetry"},
    ]

    def script(sim: Connection) -> None:
        sim.send(telemetry(jpegs[1]))
        controls.append(sim.expect("control"))
        for message in bad:
            sim.send(message)
            coasting.append(sim.expect("control"))
        sim.send_raw(b'{"msg_type":"telemetry","image":"' + b"A" * protocol.MAX_MESSAGE + b'"}\n')
        sim.send_raw(b"[1, 2]\n\n")
        sim.send({"msg_type": "ping"}, {"msg_type": "lap_of_honour"}, telemetry(jpegs[2]))
        controls.append(sim.expect("control"))

    controls: list[dict[str, str]] = []
    coasting: list[dict[str, str]] = []
    session = Session(model)
    session.run(script)
    assert len(coasting) == len(bad) and len(controls) == 2
    assert numbers(controls[0])[0] != 0  # the frame before them steered ...
    assert [numbers(coasting[i])[:2] for i in (0, 1, 2, 3, 5)] == [(0.0, 0.0)] * 5  # ... no picture: 0, 0
    assert all(numbers(c)[1] == 0 for c in coasting)  # no frame or no speed: no throttle
    summary = session.summary
    for counted in ("image is not a picture x2", "image has too many pixels x1", "no image x1",
                    "image is not base64 x1", "speed is not a number x1", "message over 1 MiB x1",
                    "message has no msg_type x1", "unknown msg_type x1",
                    f"served {len(bad) + 2} frames"):  # fmt: skip
        assert counted in summary
    assert session.log.getvalue().count("image is not a picture") == 1  # shown once, counted


def test_frames_over_the_donkey_cameras_limit_are_refused_and_a_configured_camera_passes(model) -> None:
    over, fits = (jpeg_bytes(np.full((h, w, 3), 90, np.uint8)) for w, h in [(800, 600), (640, 480)])

    def script(sim: Connection) -> None:  # 800x600 is under the Udacity bridge's limit, over Donkey's
        controls.extend(sim.drive([over, fits]))

    controls: list[dict[str, str]] = []
    session = Session(model)
    session.run(script)
    assert numbers(controls[0])[:2] == (0.0, 0.0) and numbers(controls[1])[1] > 0
    assert "bad telemetry, each answered: image has too many pixels x1" in session.summary.splitlines()


def test_a_failure_inside_drivenet_coasts_and_is_counted(model, jpegs, monkeypatch) -> None:
    def script(sim: Connection) -> None:
        controls.extend(sim.drive(jpegs[:3]))

    controls: list[dict[str, str]] = []
    session = Session(model)
    monkeypatch.setattr(session.pilot, "telemetry", lambda data: 1 / 0)
    session.run(script)
    assert [numbers(c) for c in controls] == [(0.0, 0.0, 0.0)] * 3
    assert "failed inside drivenet x3" in session.summary
    assert "ZeroDivisionError" in session.log.getvalue()


def test_a_simulator_that_vanishes_mid_frame_ends_the_session(model, jpegs) -> None:
    def script(sim: Connection) -> None:
        controls.extend(sim.drive(jpegs[:2]))
        sim.send_raw(protocol.encode("telemetry", image="AAAA")[:10])

    controls: list[dict[str, str]] = []
    session = Session(model)
    ended = session.run(script)
    assert ended == "the simulator closed the connection in the middle of a message (10 bytes dropped)"
    assert len(controls) == 2 and "served 2 frames" in session.summary


def test_ctrl_c_leaves_the_scene_drivenet_loaded(model, jpegs) -> None:
    def script(sim: Connection) -> None:
        sim.handshake()
        sim.drive(jpegs[:2])
        os.write(session.press_ctrl_c, b"\0")
        sim.expect("exit_scene")

    session = Session(model)
    assert session.run(script) == "stopped by Ctrl-C"


def test_a_silent_simulator_ends_the_session_after_the_idle_timeout(model, jpegs) -> None:
    def script(sim: Connection) -> None:
        sim.drive(jpegs[:1])
        with contextlib.suppress(ConnectionError):
            sim.receive()  # nothing comes: the client gives up first and closes

    session = Session(model, idle_s=IDLE_S)
    assert session.run(script) == "the simulator sent nothing for 0.5 s"
    assert "served 1 frames" in session.summary


# ---- wrong addresses: one-line errors


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_refused_connection_is_a_one_line_error(model) -> None:
    port = unused_port()
    result = CliRunner().invoke(app, ["serve", str(model), "--sim", "donkey", "--port", str(port)])
    assert result.exit_code == 1
    assert f"error: cannot connect to the Donkey simulator at 127.0.0.1:{port} (connection refused)" in (
        result.output
    )
    assert "Traceback" not in result.output


@pytest.mark.parametrize("greeting", [b"", b"SSH-2.0-OpenSSH_9.6\r\n"])
def test_a_server_that_is_not_the_simulator_is_a_one_line_error(model, greeting: bytes) -> None:
    def script(sim: Connection) -> None:
        sim.send_raw(greeting)
        with contextlib.suppress(ConnectionError):
            sim.receive()

    expected = "does not speak the Donkey" if greeting else "sent nothing for 0.5 s"
    with pytest.raises(DrivenetError, match=expected):
        Session(model, idle_s=IDLE_S).run(script)


def test_scene_is_refused_for_the_udacity_simulator(model) -> None:
    result = CliRunner().invoke(app, ["serve", str(model), "--scene", "warehouse"])
    assert result.exit_code == 1 and "add --sim donkey" in result.output


# ---- the recording and the command


def test_a_recorded_drive_reads_back_as_a_udacity_recording(model, jpegs, tmp_path) -> None:
    def script(sim: Connection) -> None:
        sim.handshake()
        controls.extend(sim.drive(jpegs, speed=3.0))

    controls: list[dict[str, str]] = []
    Session(model, record=tmp_path / "rec").run(script)
    frames = read_recordings([tmp_path / "rec"], DataConfig(format="udacity"), strict=True).frames
    assert [Path(path).read_bytes() for path in frames["path"]] == jpegs
    assert list(frames["steering"]) == pytest.approx([numbers(c)[0] for c in controls], abs=1e-4)


@contextlib.contextmanager
def serving(*args: str) -> Iterator[subprocess.Popen]:
    """`drivenet serve ...` in a child process; killed if it outlives the test."""
    process = subprocess.Popen([sys.executable, "-m", "drivenet", "serve", *args], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def test_the_command_drives_and_ctrl_c_ends_it_with_a_summary(model, jpegs, tmp_path) -> None:
    driven = threading.Event()

    def script(sim: Connection) -> None:
        assert sim.handshake() == SCENES[0]  # without --scene: the first offered
        sim.drive(jpegs[:3])
        driven.set()
        sim.expect("exit_scene")

    with FakeSimulator(script) as sim:
        args = [str(model), "--sim", "donkey", "--port", str(sim.port), "--record", str(tmp_path / "rec")]
        with serving(*args) as process:
            for _ in range(int(TIMEOUT_S * 30)):  # at most 3 TIMEOUT_S; at once if the command failed
                if driven.wait(0.1) or process.poll() is not None:
                    break
            assert driven.is_set(), f"the command did not drive: {process.communicate(timeout=TIMEOUT_S)}"
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=TIMEOUT_S)
    assert process.returncode == 0, err
    assert "stopped by Ctrl-C" in out and "served 3 frames" in out and "recorded 3 frames" in out
    assert f"loading the scene {SCENES[0]}" in err
