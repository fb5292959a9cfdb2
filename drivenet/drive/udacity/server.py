"""The Socket.IO server the simulator's autonomous mode connects to (needs the `sim` extra).

The simulator's Unity client opens `ws://HOST:4567/socket.io/?EIO=4&transport=websocket` and then speaks
the older Engine.IO 3 / Socket.IO 2 protocol (it pings the server; the server does not ping it). Only
python-socketio 4.x with python-engineio 3.x speaks that on the server side: engineio 3.x ignores the
`EIO=4` in the address, 4.x and later believe it and answer in a protocol the client does not know (the
car never moves, or the log fills with `GET /socket.io/?EIO=4... 400`). The client goes straight to a
WebSocket, which engineio 3.x serves only under eventlet or gevent (its threading mode has none), so
the server runs on eventlet's WSGI server, every handler in one green thread, one message at a time.

Ctrl-C only writes a byte to a pipe; a green thread waiting on it stops the server between two messages.
Python's default (KeyboardInterrupt raised wherever the main thread happens to be) would, during a frame,
land inside engineio's handler call, whose bare `except:` logs and swallows it: the server kept running.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import warnings
from collections.abc import Callable, Iterator
from importlib.metadata import PackageNotFoundError, version
from types import FrameType, ModuleType
from typing import TYPE_CHECKING, Any

from drivenet.errors import DrivenetError

if TYPE_CHECKING:  # the pilot pulls in numpy and the model; checking the extra must not wait for them
    from drivenet.drive.udacity.pilot import Pilot, Reply

INSTALL = 'pip install -e ".[sim]"'
# distribution -> the major version that speaks the simulator's protocol (None: any)
STACK = {"python-socketio": "4", "python-engineio": "3", "eventlet": None}
STOP_GRACE_S = 2.0  # after Ctrl-C, how long open connections get to end before they are abandoned


def installed_version(distribution: str) -> str | None:
    """The installed version of a distribution, None when it is not installed."""
    try:
        return version(distribution)
    except PackageNotFoundError:
        return None


def check_stack() -> None:
    """DrivenetError, saying what to install, unless the versions that speak Engine.IO 3 are installed."""
    for distribution, major in STACK.items():
        found = installed_version(distribution)
        if found is None:
            raise DrivenetError(
                f"drivenet serve needs the simulator extra ({distribution} is missing): {INSTALL}"
            )
        if major is not None and found.split(".")[0] != major:
            raise DrivenetError(
                f"{distribution} {found} cannot talk to the simulator, which speaks Engine.IO 3 "
                f"({distribution} {major}.x does): {INSTALL}"
            )


def load_stack() -> tuple[ModuleType, ModuleType, ModuleType]:
    """(eventlet, eventlet.wsgi, socketio), after `check_stack`."""
    check_stack()
    os.environ.setdefault("EVENTLET_NO_GREENDNS", "yes")  # serving needs no DNS; saves half a second
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
            import eventlet
            import eventlet.wsgi
            import socketio
    except ImportError as err:
        raise DrivenetError(f"the simulator extra is incomplete ({err}): {INSTALL}") from None
    return eventlet, eventlet.wsgi, socketio


def listen(host: str, port: int) -> object:
    """A socket listening on host:port, from eventlet; DrivenetError when the port is taken."""
    eventlet = load_stack()[0]
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # reuse_port off: a second server (an old drive.py) on the port must be an error, not a lottery
        return eventlet.listen((host, port), family, reuse_port=False)
    except OSError as err:
        raise DrivenetError(
            f"cannot listen on {host}:{port} ({err.strerror or err}); stop the other server using it "
            "(a drive.py?) or pass another --port"
        ) from None


def serve(pilot: Pilot, listener: object) -> None:
    """Answer the simulator on `listener` (from `listen`) until Ctrl-C; a second Ctrl-C interrupts at once."""
    eventlet, wsgi, socketio = load_stack()
    from greenlet import GreenletExit  # eventlet's own dependency: how a killed green thread ends

    sio = socketio.Server(
        async_mode="eventlet",
        always_connect=True,  # send Socket.IO's CONNECT before the first command, not after it
        async_handlers=False,  # frames are steered in the order they arrive (motion models need it)
        logger=False,
        engineio_logger=False,
    )

    def send(sid: str, reply: Reply) -> None:
        sio.emit(reply.event, data=reply.data, room=sid)

    sio.on("connect", lambda sid, environ: send(sid, pilot.connect()))
    sio.on("telemetry", lambda sid, *data: send(sid, pilot.telemetry(data[0] if data else None)))
    sio.on("disconnect", lambda sid: pilot.disconnect())
    connections: set[socket.socket] = set()
    app = tracking(socketio.WSGIApp(sio), connections)
    server = eventlet.spawn(wsgi.server, listener, app, log_output=False)

    def stop_on_interrupt(interrupted: int) -> None:
        eventlet.hubs.trampoline(interrupted, read=True)
        for connection in list(connections):  # the simulator's connection ends as if it had left
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        server.kill()  # wsgi.server stops accepting, then waits for its connections to end ...
        eventlet.sleep(STOP_GRACE_S)
        server.kill()  # ... but not for one that does not (an Engine.IO long poll)

    with interrupt_pipe() as interrupted:
        stopper = eventlet.spawn(stop_on_interrupt, interrupted)
        try:
            with contextlib.suppress(GreenletExit):
                server.wait()
        finally:
            stopper.kill()


def tracking(app: Callable[..., Any], connections: set[socket.socket]) -> Callable[..., Any]:
    """The WSGI `app`, keeping the client socket of each request it is answering in `connections`."""

    def tracked(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        connection = environ["eventlet.input"].get_socket()
        connections.add(connection)
        try:
            return app(environ, start_response)  # a WebSocket returns when its connection ends
        finally:
            connections.discard(connection)

    return tracked


@contextlib.contextmanager
def interrupt_pipe() -> Iterator[int]:
    """While inside: Ctrl-C (SIGINT) writes a byte to a pipe whose reading end is yielded, instead of raising
    KeyboardInterrupt, and puts Python's default back, so that a second Ctrl-C raises it."""
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)

    def on_interrupt(signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        with contextlib.suppress(OSError):
            os.write(write_end, b"\0")

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield read_end
    finally:
        signal.signal(signal.SIGINT, previous)
        os.close(read_end)
        os.close(write_end)
