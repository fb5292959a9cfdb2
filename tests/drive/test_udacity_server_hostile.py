"""`drivenet serve` against an attacker and bad luck (issue 22, items 1-4 and 7), on a real server on
127.0.0.1: frames in other formats or claiming huge sizes, a full disk while recording, idle connections,
oversized messages, two simulators at once; and the pilot's answer when something fails inside drivenet."""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import os
import resource
import socket
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from support.hostile_images import dds_bytes, eps_bytes, fake_ghostscript, huge_jpeg, tiff_bytes, warning_png
from support.serving import TIMEOUT_S, Served, Simulator, needs_sim_client, predicted
from support.simulator import jpeg_bytes, telemetry

from drivenet.config import DataConfig
from drivenet.data.readers import read_recordings
from drivenet.drive.udacity import server
from drivenet.drive.udacity.pilot import Pilot
from drivenet.drive.udacity.status import StatusLine
from drivenet.model.checkpoint import load_model

needs_sim_client()
import websocket  # noqa: E402 - after the check that skips without it

LOG_LIMIT = 2048  # bytes a file of the recording server may grow to: its log fills after some 25 rows
# what the log says when a newcomer finds the server full
QUIETEST = (
    f"refused: the quietest connection, closed for a new one ({server.CONNECTION_CAP} connections open)"
)
UPGRADED_FRAMES = 60  # the client that upgrades drives 6 s (10 frames a second), while newcomers arrive


def steered(sim: Simulator, jpeg: bytes) -> float:
    """The steering sent back for a telemetry message holding the frame `jpeg`."""
    event, data = sim.send(telemetry(jpeg))
    assert event == "steer"
    return float(data["steering_angle"])


def coasting(reply: tuple[str, dict]) -> bool:
    event, data = reply
    return event == "steer" and data["throttle"] == "0.0" and -1 <= float(data["steering_angle"]) <= 1


def test_frames_in_other_formats_or_claiming_huge_sizes_are_answered_and_never_reach_ghostscript(
    models, tmp_path
):
    path, ran = fake_ghostscript(tmp_path / "bin")
    good = models["frames"][0].read_bytes()
    hostile = [eps_bytes(), dds_bytes(), tiff_bytes(), huge_jpeg(9000, 9000), huge_jpeg(2000, 1000)]
    with Served(models["single"], env={**os.environ, "PATH": path}) as served, Simulator(served.port) as sim:
        sim.reply()
        steering = steered(sim, good)
        replies = [sim.send(telemetry(data)) for data in hostile]
        assert sim.send(telemetry(good))[1]["throttle"] != "0.0"  # and it drives on
    assert not ran.exists(), f"gs ran: {ran.read_text()}"
    assert all(coasting(r) and float(r[1]["steering_angle"]) == steering for r in replies)
    assert "image is not a picture x3" in served.stdout
    assert "image has too many pixels x2" in served.stdout  # 81 and 2 Mpixel: far over a simulator frame
    assert "Traceback" not in served.stderr


def small_frames(count: int) -> list[bytes]:
    """`count` different JPEGs of under a kilobyte: a grey frame with a bright column that moves."""
    frames = []
    for i in range(count):
        rgb = np.full((32, 64, 3), 90, np.uint8)
        rgb[:, i % 64] = 250
        frames.append(jpeg_bytes(rgb))
    return frames


def limit_file_size() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (LOG_LIMIT, LOG_LIMIT))


def test_a_full_disk_while_recording_stops_the_recording_once_and_the_car_is_still_answered(models, tmp_path):
    frames = small_frames(60)
    assert max(map(len, frames)) < LOG_LIMIT // 2  # each JPEG fits: the log is what fills up
    recording = Served(models["single"], "--record", tmp_path / "rec", limits=limit_file_size)
    with recording as served, Simulator(served.port) as sim:
        sim.reply()
        replies = [sim.send(telemetry(jpeg)) for jpeg in frames]
    assert all(event == "steer" for event, _ in replies)
    assert served.stderr.count("recording stopped") == 1, served.stderr
    assert f"served {len(frames)} frames" in served.stdout
    log = read_recordings([tmp_path / "rec"], DataConfig(format="udacity"), strict=True).frames
    assert 10 < len(log) < len(frames)
    images = sorted(str(p) for p in (tmp_path / "rec" / "IMG").iterdir())
    assert sorted(log["path"]) == images  # no JPEG without its row, no half row
    assert [Path(p).read_bytes() for p in log["path"]] == frames[: len(log)]


def test_each_connection_drives_its_own_car_and_only_one_records(models, tmp_path):
    frames = models["frames"]
    with Served(models["motion"], "--record", tmp_path / "rec") as served, Simulator(served.port) as first:
        first.reply()
        sent = [steered(first, p.read_bytes()) for p in frames[:3]]
        with Simulator(served.port) as second:  # connects while the first drives, and sends a frame
            second.reply()
            other = steered(second, frames[-1].read_bytes())
            sent += [steered(first, p.read_bytes()) for p in frames[3:]]
    np.testing.assert_allclose(sent, predicted(models["motion"], frames), rtol=0, atol=1e-6)
    assert other == pytest.approx(predicted(models["motion"], frames[-1:])[0], abs=1e-6)
    log = read_recordings([tmp_path / "rec"], DataConfig(format="udacity"), strict=True).frames
    assert list(log["steering"]) == sent
    assert "1 frames of a second connection steered, not recorded" in served.stdout


def closed_by_server(connection: socket.socket, within_s: float) -> bool:
    """Whether the server closes `connection` (which sent nothing) within `within_s` seconds."""
    connection.settimeout(within_s)
    try:
        return connection.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_idle_connections_time_out_and_cannot_lock_the_simulator_out(models):
    with Served(models["single"]) as served, contextlib.ExitStack() as idle:
        for _ in range(server.CONNECTION_CAP + 6):
            idle.enter_context(socket.create_connection(("127.0.0.1", served.port), TIMEOUT_S))
        with Simulator(served.port) as sim:
            assert sim.reply()[0] == "steer"
            assert sim.send(telemetry(models["frames"][0].read_bytes()))[0] == "steer"
        late = idle.enter_context(socket.create_connection(("127.0.0.1", served.port), TIMEOUT_S))
        assert closed_by_server(late, within_s=server.REQUEST_WAIT_S + TIMEOUT_S / 2)
    assert served.stderr.count(QUIETEST) == 1  # shown once ...
    assert QUIETEST.removeprefix("refused: ") in served.stdout  # ... counted in the summary


def opened_websocket(port: int) -> websocket.WebSocket:
    ws = websocket.create_connection(
        f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket", timeout=TIMEOUT_S
    )
    for _ in range(3):  # open, Socket.IO CONNECT, the command on connect
        ws.recv()
    return ws


def ends(ws: websocket.WebSocket) -> bool:
    """Whether the server ends the connection instead of answering."""
    try:
        opcode, _ = ws.recv_data(control_frame=True)
    except (websocket.WebSocketConnectionClosedException, ConnectionError):
        return True
    return opcode == websocket.ABNF.OPCODE_CLOSE


@pytest.mark.parametrize("fragments", [1, 6])
def test_a_message_over_the_cap_ends_its_connection_and_the_server_goes_on(models, fragments):
    image = "A" * (server.MAX_MESSAGE_BYTES + 100_000)
    message = ("42" + json.dumps(["telemetry", {**telemetry(b""), "image": image}])).encode()
    with Served(models["single"]) as served:
        ws = opened_websocket(served.port)
        with contextlib.closing(ws):
            step = -(-len(message) // fragments)
            parts = [message[i : i + step] for i in range(0, len(message), step)]
            for k, part in enumerate(parts):
                opcode = websocket.ABNF.OPCODE_TEXT if k == 0 else websocket.ABNF.OPCODE_CONT
                ws.send_frame(websocket.ABNF.create_frame(part, opcode, fin=int(k == len(parts) - 1)))
            assert ends(ws)
        with Simulator(served.port) as sim:
            sim.reply()
            assert sim.send(telemetry(models["frames"][0].read_bytes()))[0] == "steer"
    assert f"refused: message over {server.MAX_MESSAGE_BYTES:,} bytes" in served.stderr


def pinged(ws: websocket.WebSocket) -> bool:
    """Whether an Engine.IO 3 ping ('2', all an idle client needs to send) is answered with a pong."""
    ws.send("2")
    return ws.recv() == "3"


# A message a connection can send without a frame the model steers: a ping, manual driving, a broken frame.
UNSTEERED = ["2", '42["telemetry",null]', '42["telemetry",{"image":"bm90IGFuIGltYWdl","speed":"1"}]']


def test_websockets_that_ping_or_send_unusable_telemetry_cannot_lock_the_simulator_out(models):
    frame = telemetry(models["frames"][0].read_bytes())
    with Served(models["single"]) as served, contextlib.ExitStack() as held:
        quiet = [
            held.enter_context(contextlib.closing(opened_websocket(served.port)))
            for _ in range(server.CONNECTION_CAP)
        ]
        for k, ws in enumerate(quiet):
            ws.send(UNSTEERED[k % len(UNSTEERED)])
            assert ws.recv()  # answered (a pong, `manual`, coasting)
        with Simulator(served.port) as sim:  # the quiet one that came first makes room for it
            assert sim.reply()[0] == "steer"
            assert sim.send(frame)[0] == "steer"
            assert ends(quiet[0])
            late = [
                held.enter_context(contextlib.closing(opened_websocket(served.port)))
                for _ in range(server.CONNECTION_CAP)
            ]  # each closes a quiet one, then the first of them: never the one that drives
            assert all(ends(ws) for ws in [*quiet[1:], late[0]])
            assert pinged(late[-1])
            assert sim.send(frame)[0] == "steer"
    assert served.stderr.count(QUIETEST) == 1  # shown once ...
    assert f"{QUIETEST.removeprefix('refused: ')} x{server.CONNECTION_CAP + 1}" in served.stdout  # counted


def upgraded_websocket(port: int, held: contextlib.ExitStack) -> websocket.WebSocket:
    """A WebSocket opened as an Engine.IO client does by default: a handshake by long polling (its HTTP
    connection left open, in `held`), then an upgrade; what the server queued before is read."""
    polling = held.enter_context(
        contextlib.closing(http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT_S))
    )
    polling.request("GET", "/socket.io/?EIO=3&transport=polling")
    payload = polling.getresponse().read().decode("latin-1")  # packets, each after its length
    handshake, _ = json.JSONDecoder().raw_decode(payload, payload.index("{"))
    ws = websocket.create_connection(
        f"ws://127.0.0.1:{port}/socket.io/?EIO=3&transport=websocket&sid={handshake['sid']}",
        timeout=TIMEOUT_S,
    )
    ws.send("2probe")
    assert ws.recv() == "3probe"
    ws.send("5")  # upgrade: from now on the WebSocket carries everything
    ws.send("2")
    while ws.recv() != "3":  # what was queued before the pong (Socket.IO CONNECT, the command on connect)
        pass
    return ws


def steered_on(ws: websocket.WebSocket, frame: dict[str, str]) -> tuple[str, dict]:
    """Send telemetry on a bare WebSocket and return its reply (event, data)."""
    ws.send("42" + json.dumps(["telemetry", frame]))
    return tuple(json.loads(ws.recv().removeprefix("42")))


def test_a_client_that_upgrades_from_polling_is_heard_on_its_websocket_and_drives_on(models):
    frame = telemetry(models["frames"][0].read_bytes())
    with Served(models["single"]) as served, contextlib.ExitStack() as held:
        ws = held.enter_context(contextlib.closing(upgraded_websocket(served.port, held)))
        others = [  # with the client's polling and WebSocket connections, the server is full
            held.enter_context(contextlib.closing(opened_websocket(served.port)))
            for _ in range(server.CONNECTION_CAP - 2)
        ]
        for k in range(UPGRADED_FRAMES):  # 10 frames a second, and each second a newcomer
            if k % 10 == 9:
                held.enter_context(contextlib.closing(opened_websocket(served.port)))
            assert steered_on(ws, frame)[0] == "steer"
            time.sleep(0.1)
        assert ends(others[0])  # a newcomer closed one of those that sent nothing
    assert f"served {UPGRADED_FRAMES} frames" in served.stdout
    assert served.stderr.count(QUIETEST) == 1


class Connection:
    """A client connection as the gate sees it: open until shut down or closed."""

    def __init__(self) -> None:
        self.closed = False

    def fileno(self) -> int:
        return -1 if self.closed else 7

    def shutdown(self, how: int) -> None:
        self.closed = True

    def close(self) -> None:
        self.closed = True


def test_the_gate_closes_one_never_heard_first_then_the_one_heard_the_longest_ago():
    a, b, c, d, e = connections = [Connection() for _ in range(5)]
    arrivals = list(connections)
    now = [0.0]

    class Listener:
        def accept(self) -> tuple[Connection, tuple[str, int]]:
            return arrivals.pop(0), ("192.168.1.7", 40000 + len(arrivals))

    refused: list[str] = []
    gate = server.ConnectionGate(Listener(), 3, refused.append, clock=lambda: now[0])
    assert [gate.accept()[0] for _ in range(3)] == [a, b, c]
    now[0] = 1.0
    gate.heard(b)  # b carries a frame the model steers, then a; c only pings
    now[0] = 2.0
    gate.heard(a)
    assert gate.accept()[0] is d  # c, never heard (a connection that only pings), goes before b and a
    now[0] = 3.0
    gate.heard(d)
    assert gate.accept()[0] is e  # b, heard at 1.0, goes before a (2.0) and d (3.0)
    assert [x.closed for x in connections] == [False, True, True, False, False]
    assert refused == ["the quietest connection, closed for a new one (3 connections open)"] * 2


def test_a_failure_inside_drivenet_is_answered_by_coasting_shown_once_and_counted(models):
    model = load_model(models["single"])
    stream = io.StringIO()
    pilot = Pilot(model, 20.0, StatusLine(stream))
    pilot.connect()
    good = telemetry(models["frames"][0].read_bytes())
    assert pilot.telemetry(good).data["throttle"] != "0.0"

    def broken_driver():
        def steer(frame: np.ndarray) -> float:
            raise ValueError("weights of the wrong shape")

        return steer

    model.driver = broken_driver
    pilot.connect()  # a new connection gets the broken driver
    replies = [pilot.telemetry(good) for _ in range(3)]
    assert all(r.data == {"steering_angle": "0.0", "throttle": "0.0"} for r in replies)  # coasting
    assert stream.getvalue().count("error while steering (ValueError: weights of the wrong shape)") == 1
    assert "failed inside drivenet, each answered by coasting: ValueError x3" in pilot.summary()


def test_decoder_warnings_of_telemetry_frames_are_counted_not_printed(models):
    pilot = Pilot(load_model(models["single"]), 20.0, StatusLine(io.StringIO()))
    pilot.connect()
    with warnings.catch_warnings(record=True) as leaked:
        warnings.simplefilter("always")
        replies = [pilot.telemetry(telemetry(warning_png())) for _ in range(4)]
    assert all(r.event == "steer" and r.data["throttle"] != "0.0" for r in replies)
    assert not leaked
    assert "Transparency expressed in bytes should be converted to RGBA images x4" in pilot.summary()


@pytest.mark.parametrize(
    ("host", "warned"),
    [("127.0.0.1", False), ("localhost", False), ("::1", False), ("0.0.0.0", True), ("192.168.1.7", True)],
)
def test_listening_beyond_this_machine_is_warned_of(host, warned):
    message = server.exposed(host)
    assert (message is not None) == warned
    if warned:
        assert message.startswith("warning: ") and host in message
