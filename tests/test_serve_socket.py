"""`drivenet serve` end to end on loopback: a python-socketio 4 client (Engine.IO 3, as the simulator speaks)
and a bare WebSocket opened the way the simulator's Unity client opens it, against the real server."""

from __future__ import annotations

import contextlib
import json
import queue
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from test_serve_make import serve_models, telemetry, udacity_jpegs
from typer.testing import CliRunner

from drivenet.cli import app
from drivenet.data.readers import read_recordings
from drivenet.errors import DrivenetError
from drivenet.sim import server

# python-socketio's optional ZeroMQ manager would import eventlet into this process (only the server, a
# child process, needs it), and eventlet's fork hook would then warn in every later test that forks.
BLOCKED = "eventlet.green.zmq" not in sys.modules
if BLOCKED:
    sys.modules["eventlet.green.zmq"] = None
try:
    server.check_stack()
    import socketio
    import websocket
except (DrivenetError, ImportError) as err:
    pytest.skip(
        f'needs the sim extra and websocket-client: pip install -e ".[dev,sim]" ({err})',
        allow_module_level=True,
    )
finally:
    if BLOCKED:
        del sys.modules["eventlet.green.zmq"]

TIMEOUT_S = 20  # longest wait for the server to start, answer or stop


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return serve_models(tmp_path_factory.mktemp("serve"))


@pytest.fixture(autouse=True)
def bounded_websockets():
    """Every WebSocket operation of these tests gives up after TIMEOUT_S."""
    before = websocket.getdefaulttimeout()
    websocket.setdefaulttimeout(TIMEOUT_S)
    yield
    websocket.setdefaulttimeout(before)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Served:
    """`drivenet serve` in a child process on a free loopback port, stopped with Ctrl-C (SIGINT)."""

    def __init__(self, *args: object) -> None:
        self.port = free_port()
        command = [sys.executable, "-m", "drivenet", "serve", *map(str, args), "--port", str(self.port)]
        ignored = signal.getsignal(signal.SIGINT) == signal.SIG_IGN  # as in a job started with `&`
        if ignored:  # the child must not inherit that, or Ctrl-C could not stop it
            signal.signal(signal.SIGINT, signal.SIG_DFL)
        try:
            self.process = subprocess.Popen(
                [*command, "--host", "127.0.0.1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
        finally:
            if ignored:
                signal.signal(signal.SIGINT, signal.SIG_IGN)
        self.stdout = self.stderr = ""

    def __enter__(self) -> Served:
        deadline = time.monotonic() + TIMEOUT_S
        while self.process.poll() is None and time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 1):
                return self
            time.sleep(0.05)
        self.stop()
        raise AssertionError(f"the server did not start: {self.stderr}")

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Ctrl-C, then collect the output (killed if it does not stop in time)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            self.stdout, self.stderr = self.process.communicate(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.stdout, self.stderr = self.process.communicate()
            raise AssertionError("the server did not stop on Ctrl-C") from None


class Simulator:
    """A python-socketio 4 client straight on a WebSocket, as the simulator connects; replies queued."""

    def __init__(self, port: int) -> None:
        self.replies: queue.Queue[tuple[str, dict]] = queue.Queue()
        self.client = socketio.Client(reconnection=False)
        for event in ("steer", "manual"):
            self.client.on(event, lambda data, event=event: self.replies.put((event, data)))
        self.client.connect(f"http://127.0.0.1:{port}", transports=["websocket"])

    def reply(self) -> tuple[str, dict]:
        return self.replies.get(timeout=TIMEOUT_S)

    def send(self, data: object) -> tuple[str, dict]:
        """Send telemetry and wait for its reply (the simulator sends the next only after one)."""
        self.client.emit("telemetry", data)
        return self.reply()


def predicted(model, paths) -> list[float]:
    result = CliRunner().invoke(app, ["predict", str(model), *map(str, paths), "--json"])
    assert result.exit_code == 0, result.output
    return [row["steering"] for row in json.loads(result.output)]


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
        sim = Simulator(served.port)
        assert sim.reply() == ("steer", {"steering_angle": "0.0", "throttle": "0.0"})  # on connect
        sent = [
            steering(sim.send(telemetry(p.read_bytes(), speed=2.0 * i))) for i, p in enumerate(frames[:3])
        ]
        for message in bad:
            steering(sim.send(message))
        assert sim.send({}) == ("manual", {})
        sent += [steering(sim.send(telemetry(p.read_bytes()))) for p in frames[3:]]
        assert sim.replies.empty()  # one reply per message, no more
        sim.client.disconnect()
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
    log = read_recordings([tmp_path / "rec"], format="udacity", strict=True).frames
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
        sim = Simulator(served.port)
        sim.reply()
        sent = [steering(sim.send(telemetry(p.read_bytes()))) for p in frames]
        sim.client.disconnect()
        # The simulator's own way in: a bare WebSocket with EIO=4 in the address, Engine.IO 3 inside it.
        ws = websocket.create_connection(f"ws://127.0.0.1:{served.port}/socket.io/?EIO=4&transport=websocket")
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
        ws.close()
    np.testing.assert_allclose(sent, predicted(models["motion"], frames), rtol=0, atol=1e-6)
    assert fresh == pytest.approx(predicted(models["motion"], frames[-1:])[0], abs=1e-6)
    assert fresh != pytest.approx(sent[-1], abs=1e-4)  # without its earlier frames it steers otherwise
    assert "over 2 connection(s)" in served.stdout


def test_udacity_sample_frames_are_steered_as_predict_steers(models):
    paths = udacity_jpegs(frames=4)
    if paths is None:
        pytest.skip("set DRIVENET_DATASETS to the shared datasets folder to serve udacity-sample frames")
    with Served(models["motion"]) as served:
        sim = Simulator(served.port)
        sim.reply()
        sent = [steering(sim.send(telemetry(p.read_bytes()))) for p in paths]
        sim.client.disconnect()
    np.testing.assert_allclose(sent, predicted(models["motion"], paths), rtol=0, atol=1e-6)
    assert "trained on 48x36 frames, the simulator sends 320x160" in served.stderr
