"""`drivenet serve` in a child process on loopback and a python-socketio 4 client speaking to it as the
simulator does (Engine.IO 3, straight on a WebSocket), for the tests of the real server."""

from __future__ import annotations

import contextlib
import json
import queue
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable

import pytest
from typer.testing import CliRunner

from drivenet.cli import app
from drivenet.drive.udacity import server
from drivenet.errors import DrivenetError


def needs_sim_client() -> None:
    """Skip the calling test module unless the sim extra and websocket-client are installed.

    python-socketio's optional ZeroMQ manager would import eventlet into this process (only the server, a
    child process, needs it), and eventlet's fork hook would then warn in every later test that forks."""
    blocked = "eventlet.green.zmq" not in sys.modules
    if blocked:
        sys.modules["eventlet.green.zmq"] = None  # type: ignore[assignment]
    try:
        server.check_stack()
        import socketio  # noqa: F401
        import websocket  # noqa: F401
    except (DrivenetError, ImportError) as err:
        pytest.skip(
            f'needs the sim extra and websocket-client: pip install -e ".[dev,sim]" ({err})',
            allow_module_level=True,
        )
    finally:
        if blocked:
            del sys.modules["eventlet.green.zmq"]


# Longest wait for the server to start (a Python with numpy, eventlet and a model), answer or stop: generous,
# as a loaded 2-core CI machine can be many times slower than usual, but finite.
TIMEOUT_S = 60
PORT_TRIES = 3  # a free port found here may be taken by another process before the server listens on it


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Served:
    """`drivenet serve` in a child process on a free loopback port, stopped with Ctrl-C (SIGINT)."""

    def __init__(
        self, *args: object, env: dict[str, str] | None = None, limits: Callable[[], None] | None = None
    ) -> None:
        """`args` for `drivenet serve`; `env`, the environment (default: this one); `limits`, run in the child
        before it starts (resource limits)."""
        self.args = [str(arg) for arg in args]
        self.env = env
        self.limits = limits
        self.stdout = self.stderr = ""
        self.collected: subprocess.Popen | None = None

    def __enter__(self) -> Served:
        for _ in range(PORT_TRIES):
            self.port = free_port()
            self.process = self.start()
            if self.listening():
                return self
            self.stop()
            if "error: cannot listen on" not in self.stderr:
                break
        raise AssertionError(f"the server did not start: {self.stderr}")

    def start(self) -> subprocess.Popen:
        command = [sys.executable, "-m", "drivenet", "serve", *self.args, "--port", str(self.port)]
        ignored = signal.getsignal(signal.SIGINT) == signal.SIG_IGN  # as in a job started with `&`
        if ignored:  # the child must not inherit that, or Ctrl-C could not stop it
            signal.signal(signal.SIGINT, signal.SIG_DFL)
        try:
            return subprocess.Popen(
                [*command, "--host", "127.0.0.1"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=self.env,
                preexec_fn=self.limits,  # noqa: PLW1509 - only setrlimit, in tests
            )
        finally:
            if ignored:
                signal.signal(signal.SIGINT, signal.SIG_IGN)

    def listening(self) -> bool:
        """Whether the port takes connections before the server exits or TIMEOUT_S passes. (It listens
        before it loads the model: a client's handshake waits in the port's backlog until it answers.)"""
        deadline = time.monotonic() + TIMEOUT_S
        while self.process.poll() is None and time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 1):
                return True
            time.sleep(0.05)
        return False

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Ctrl-C, then collect the output (killed if it does not stop in time); once per process."""
        if self.collected is self.process:
            return
        self.collected = self.process
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
        import socketio

        self.client = socketio.Client(reconnection=False)
        for event in ("steer", "manual"):
            self.client.on(event, lambda data, event=event: self.replies.put((event, data)))
        self.client.connect(f"http://127.0.0.1:{port}", transports=["websocket"])

    def __enter__(self) -> Simulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Leave as the simulator leaves autonomous mode, dropping the connection, once all that was sent is
        written; return when the client's threads have ended.

        Not `Client.disconnect()`: python-socketio 4 queues its goodbye packets for its writer thread and
        closes the WebSocket from this one at once; the server closes its end in turn, and the writer, still
        sending, dies of a BrokenPipeError (an unhandled exception in a thread). Here the writer is stopped
        first (no more is queued, pings included, and it exits after what is queued), then the socket is shut
        down, which the reader thread takes as the end: it stops the pinger and ends."""
        engine = self.client.eio
        if engine.state != "connected":
            return
        engine.state = "disconnecting"
        engine.queue.put(None)
        engine.write_loop_task.join(TIMEOUT_S)
        with contextlib.suppress(OSError):
            engine.ws.sock.shutdown(socket.SHUT_RDWR)
        engine.read_loop_task.join(TIMEOUT_S)
        engine.ws.shutdown()
        assert not engine.write_loop_task.is_alive() and not engine.read_loop_task.is_alive()

    def reply(self) -> tuple[str, dict]:
        return self.replies.get(timeout=TIMEOUT_S)

    def send(self, data: object) -> tuple[str, dict]:
        """Send telemetry and wait for its reply (the simulator sends the next only after one)."""
        self.client.emit("telemetry", data)
        return self.reply()


def predicted(model, paths) -> list[float]:
    """The steering `drivenet predict --json` gives for the frames `paths`, in order."""
    result = CliRunner().invoke(app, ["predict", str(model), *map(str, paths), "--json"])
    assert result.exit_code == 0, result.output
    return [row["steering"] for row in json.loads(result.output)]
