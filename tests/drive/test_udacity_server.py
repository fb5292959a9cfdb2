"""`drivenet serve` end to end on loopback: a python-socketio 4 client (Engine.IO 3, as the simulator speaks)
and a bare WebSocket opened the way the simulator's Unity client opens it, against the real server."""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from support.serving import TIMEOUT_S, Served, Simulator, needs_sim_client, predicted
from support.simulator import telemetry, udacity_jpegs

from drivenet.config import DataConfig
from drivenet.data.readers import read_recordings
from drivenet.drive.udacity import server

needs_sim_client()
import websocket  # noqa: E402 - after the check that skips without it

BACKLOG = 30  # telemetry messages sent at once, to keep the server busy steering when Ctrl-C comes


@pytest.fixture(autouse=True)
def bounded_websockets():
    """Every WebSocket operation of these tests gives up after TIMEOUT_S."""
    before = websocket.getdefaulttimeout()
    websocket.setdefaulttimeout(TIMEOUT_S)
    yield
    websocket.setdefaulttimeout(before)


def steering(reply: tuple[str, dict]) -> float:
    event, data = reply
    assert event == "steer" and set(data) == {"steering_angle", "throttle"}
    assert all(isinstance(value, str) for value in data.values())
    assert -1 <= float(data["steering_angle"]) <= 1
    return float(data["steering_angle"])


def test_the_simulator_is_steered_as_predict_steers_through_bad_telemetry_and_recorded(models, tmp_path):
    frames = models["frames"]
    bad = [
        {**telemetry(frames[0].read_bytes()), "image": "%%% not base64"},
        {**telemetry(frames[0].read_bytes()), "image": "%%% not base64"},
        {**telemetry(frames[0].read_bytes()), "image": "bm90IGFuIGltYWdl"},  # "not an image"
        {**telemetry(frames[0].read_bytes()), "speed": "fast"},
        {"image": telemetry(frames[0].read_bytes())["image"]},
        ["not", "an", "object"],
    ]
    with Served(models["single"], "--speed", 15, "--record", tmp_path / "rec") as served:
        with Simulator(served.port) as sim:
            assert sim.reply() == ("steer", {"steering_angle": "0.0", "throttle": "0.0"})  # on connect
            sent = [
                steering(sim.send(telemetry(p.read_bytes(), speed=2.0 * i))) for i, p in enumerate(frames[:3])
            ]
            for message in bad:
                steering(sim.send(message))
            assert sim.send({}) == ("manual", {})
            sent += [steering(sim.send(telemetry(p.read_bytes()))) for p in frames[3:]]
        assert sim.replies.empty()  # one reply per message, no more, up to the end of the connection
        second = subprocess.run(  # a second server on the port is an error, not a coin toss per connection
            [sys.executable, "-m", "drivenet", "serve", str(models["single"]), "--port", str(served.port)],
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
        )
    assert served.process.returncode == 0, served.stderr
    assert second.returncode == 1
    assert second.stderr.startswith(f"error: cannot listen on 127.0.0.1:{served.port}")
    np.testing.assert_allclose(sent, predicted(models["single"], frames), rtol=0, atol=1e-6)
    log = read_recordings([tmp_path / "rec"], DataConfig(format="udacity"), strict=True).frames
    assert list(log["steering"]) == sent
    assert [Path(p).read_bytes() for p in log["path"]] == [p.read_bytes() for p in frames]
    assert served.stderr.count("image is not base64") == 1  # shown once ...
    assert "image is not base64 x2" in served.stdout  # ... and counted in the summary
    for problem in ("image is not a picture x1", "speed is not a number x1", "telemetry is not an object x1"):
        assert problem in served.stdout
    assert f"served {len(frames) + len(bad)} frames" in served.stdout
    assert f"recorded {len(frames)} frames" in served.stdout


def test_a_motion_model_gets_its_earlier_frames_and_a_reconnecting_simulator_starts_afresh(models):
    frames = models["frames"]
    with Served(models["motion"]) as served:
        with Simulator(served.port) as sim:
            sim.reply()
            sent = [steering(sim.send(telemetry(p.read_bytes()))) for p in frames]
        # The simulator's own way in: a bare WebSocket with EIO=4 in the address, Engine.IO 3 inside it.
        address = f"ws://127.0.0.1:{served.port}/socket.io/?EIO=4&transport=websocket"
        with contextlib.closing(websocket.create_connection(address)) as ws:
            opened = ws.recv()
            assert opened.startswith("0{") and "pingInterval" in json.loads(opened[1:])
            assert ws.recv() == "40"  # Socket.IO CONNECT comes before the first command
            assert json.loads(ws.recv()[2:]) == ["steer", {"steering_angle": "0.0", "throttle": "0.0"}]
            ws.send("42" + json.dumps(["telemetry", telemetry(frames[-1].read_bytes())]))
            event, data = json.loads(ws.recv()[2:])
            fresh = steering((event, data))
            ws.send('42["telemetry",null]')
            assert ws.recv() == '42["manual",{}]'
            ws.send("2")  # the Unity client pings (Engine.IO 3); the server answers
            assert ws.recv() == "3"
    np.testing.assert_allclose(sent, predicted(models["motion"], frames), rtol=0, atol=1e-6)
    assert fresh == pytest.approx(predicted(models["motion"], frames[-1:])[0], abs=1e-6)
    assert fresh != pytest.approx(sent[-1], abs=1e-4)  # without its earlier frames it steers otherwise
    assert "over 2 connection(s)" in served.stdout


def test_udacity_sample_frames_are_steered_as_predict_steers(models):
    paths = udacity_jpegs(frames=4)
    if paths is None:
        pytest.skip("set DRIVENET_DATASETS to the shared datasets folder to serve udacity-sample frames")
    with Served(models["motion"]) as served, Simulator(served.port) as sim:
        sim.reply()
        sent = [steering(sim.send(telemetry(p.read_bytes()))) for p in paths]
    np.testing.assert_allclose(sent, predicted(models["motion"], paths), rtol=0, atol=1e-6)
    assert "trained on 48x36 frames, the simulator sends 320x160" in served.stderr


def test_ctrl_c_while_frames_are_steered_stops_the_server_with_its_summary(models):
    message = "42" + json.dumps(["telemetry", telemetry(models["frames"][0].read_bytes())])
    with Served(models["single"]) as served:
        address = f"ws://127.0.0.1:{served.port}/socket.io/?EIO=4&transport=websocket"
        with contextlib.closing(websocket.create_connection(address)) as ws:
            for _ in range(3):  # open, Socket.IO CONNECT, the command on connect
                ws.recv()
            for _ in range(BACKLOG):
                ws.send(message)
            ws.recv()  # the first of them steered: the server is busy steering the others
            served.stop()
    assert served.process.returncode == 0, served.stderr
    assert "KeyboardInterrupt" not in served.stderr
    assert re.search(r"served \d+ frames", served.stdout)


def test_ctrl_c_while_serving_writes_to_a_pipe_and_a_second_one_interrupts():
    before = signal.getsignal(signal.SIGINT)
    with server.interrupt_pipe() as interrupted:
        try:
            signal.raise_signal(signal.SIGINT)
        except KeyboardInterrupt:
            pytest.fail("the first Ctrl-C raised KeyboardInterrupt")
        assert select.select([interrupted], [], [], TIMEOUT_S)[0] == [interrupted]
        assert os.read(interrupted, 16) == b"\0"
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is before


def test_this_process_never_imported_eventlet():
    """Only the server, a child process, needs eventlet: imported here, its fork hook would warn in every
    later test that forks (socketio's optional ZeroMQ manager would import it; see the top of this file)."""
    assert "eventlet" not in sys.modules
