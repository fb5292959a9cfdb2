"""The Socket.IO server the simulator's autonomous mode connects to (needs the `sim` extra).

The simulator's Unity client opens `ws://HOST:4567/socket.io/?EIO=4&transport=websocket` and then speaks
the older Engine.IO 3 / Socket.IO 2 protocol (it pings the server; the server does not ping it). Only
python-socketio 4.x with python-engineio 3.x speaks that on the server side: engineio 3.x ignores the
`EIO=4` in the address, 4.x and later believe it and answer in a protocol the client does not know (the
car never moves, or the log fills with `GET /socket.io/?EIO=4... 400`). The client goes straight to a
WebSocket, which engineio 3.x serves only under eventlet or gevent (its threading mode has none), so
the server runs on eventlet's WSGI server, every handler in one green thread, one message at a time.

What reaches the server is bounded: a message (all its WebSocket fragments together, or a polling request)
of over MAX_MESSAGE_BYTES closes its connection, a client must send its request within REQUEST_WAIT_S, and
at most CONNECTION_CAP connections are open at once: one more closes the one quiet the longest, whose last
frame the model steered is the oldest (one that never sent such a frame first). The simulator sends its
next frame as soon as one is answered, so connections that ping, or send telemetry without a usable frame,
cannot lock it out. A frame counts for the connection that carried it: a client that connected by polling
and upgraded sends its frames on the WebSocket. Each refusal is logged once and counted.

Ctrl-C only writes a byte to a pipe; a green thread waiting on it stops the server between two messages.
Python's default (KeyboardInterrupt raised wherever the main thread happens to be) would, during a frame,
land inside engineio's handler call, whose bare `except:` logs and swallows it: the server kept running.
"""

from __future__ import annotations

import contextlib
import ipaddress
import math
import os
import signal
import socket
import time
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
# A simulator frame is a base64 JPEG of some 20 KB; a megabyte is fifty of them. Without this cap a 24 MB
# message in fragments took the server to 570 MB (eventlet unmasks it byte by byte).
MAX_MESSAGE_BYTES = 1_000_000
REQUEST_WAIT_S = 5.0  # a client sends its request as soon as it connects
SOCKET_TIMEOUT_S = 60.0  # any other wait on a client (engineio sets its ping timeout, 60 s, on WebSockets)
# The simulator needs one connection; eventlet's own cap (1,024, silent) let idle connections lock it out.
CONNECTION_CAP = 64


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


def exposed(host: str) -> str | None:
    """A warning when `host` is not a loopback address (others on the network can then connect), else None."""
    with contextlib.suppress(ValueError):
        if ipaddress.ip_address(host.strip("[]")).is_loopback:
            return None
    if host == "localhost":
        return None
    return (
        f"warning: listening on {host}, not only on this machine: anyone who can reach this port can "
        "connect and drive (or record); use it on a trusted network only"
    )


def serve(pilot: Pilot, listener: object) -> None:
    """Answer the simulator on `listener` (from `listen`) until Ctrl-C; a second Ctrl-C interrupts at once."""
    eventlet, wsgi, socketio = load_stack()
    # eventlet's own dependency: how a killed green thread ends, and the green thread running now
    from greenlet import GreenletExit, getcurrent

    sio = socketio.Server(
        async_mode="eventlet",
        always_connect=True,  # send Socket.IO's CONNECT before the first command, not after it
        async_handlers=False,  # frames are steered in the order they arrive (motion models need it)
        logger=False,
        engineio_logger=False,
        max_http_buffer_size=MAX_MESSAGE_BYTES,  # the polling transport's cap
    )
    # engineio 3.x makes its WebSockets with the class in `_async` (no option for a size): capped ones
    sio.eio._async = {**sio.eio._async, "websocket": capped_websocket(sio.eio._async["websocket"], pilot)}

    def send(sid: str, reply: Reply) -> None:
        sio.emit(reply.event, data=reply.data, room=sid)

    answering: dict[Any, socket.socket] = {}  # green thread -> the client socket of the request it answers
    gate = ConnectionGate(listener, CONNECTION_CAP, pilot.refused)

    def connected(sid: str, environ: dict[str, Any]) -> None:
        send(sid, pilot.connect(sid))

    def telemetry(sid: str, *data: Any) -> None:
        reply = pilot.telemetry(data[0] if data else None, sid)
        if reply.steered:  # handlers run in the green thread of the request that carried the message
            gate.heard(answering.get(getcurrent()))
        send(sid, reply)

    sio.on("connect", connected)
    sio.on("telemetry", telemetry)
    sio.on("disconnect", pilot.disconnect)
    app = tracking(socketio.WSGIApp(sio), answering, getcurrent)
    server = eventlet.spawn(
        wsgi.server,
        gate,
        app,
        log_output=False,
        max_size=2 * CONNECTION_CAP,  # room for closed connections whose green threads are still ending
        keepalive=REQUEST_WAIT_S,  # eventlet: the wait for a request line, the first one included
        socket_timeout=SOCKET_TIMEOUT_S,
    )

    def stop_on_interrupt(interrupted: int) -> None:
        eventlet.hubs.trampoline(interrupted, read=True)
        for connection in list(answering.values()):  # the simulator's connection ends as if it had left
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


def capped_websocket(websocket_app: type, pilot: Pilot) -> type:
    """A subclass of engineio's eventlet WebSocket app whose messages are refused (the connection closed,
    `pilot.refused` told) past MAX_MESSAGE_BYTES, counted over all their fragments as they arrive, and that
    speaks RFC 6455 only (the older drafts it also accepts by default have no frame limit)."""
    from eventlet.websocket import FailedConnectionError, RFC6455WebSocket

    TOO_BIG = 1009  # RFC 6455's close code for a message too big to process

    class CappedMessage(RFC6455WebSocket.Message):
        size = 0

        def push(self, data: bytes, final: bool = False) -> None:
            self.size += len(data)
            if self.size > MAX_MESSAGE_BYTES:
                raise FailedConnectionError(TOO_BIG, f"message over {MAX_MESSAGE_BYTES} bytes")
            super().push(data, final)

    class CappedWebSocket(websocket_app):  # type: ignore[misc, valid-type]
        def __init__(self, handler: Callable[..., Any]) -> None:
            super().__init__(handler, max_frame_length=MAX_MESSAGE_BYTES)
            self.support_legacy_versions = False

        def _handle_hybi_request(self, environ: dict[str, Any]) -> Any:
            websocket = super()._handle_hybi_request(environ)
            websocket.Message = CappedMessage
            receive = websocket._recv_frame

            def received(message: Any) -> Any:  # a frame over the cap, or one that takes its message over
                try:
                    return receive(message)
                except FailedConnectionError as err:
                    if err.status == TOO_BIG:
                        pilot.refused(f"message over {MAX_MESSAGE_BYTES:,} bytes (connection closed)")
                    raise

            websocket._recv_frame = received
            return websocket

    return CappedWebSocket


class ConnectionGate:
    """The listening socket as eventlet's server sees it, letting at most `cap` client connections be open.

    One more closes the open connection quiet the longest, told to `refused`: the one last `heard` the
    longest ago, where one never heard counts as quieter than any that was, and among those never heard the
    one accepted first goes first."""

    def __init__(
        self,
        listener: Any,
        cap: int,
        refused: Callable[[str], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.listener = listener
        self.cap = cap
        self.refused = refused
        self.clock = clock
        self.open: dict[Any, float] = {}  # accepted connections, in order -> when last heard (-inf: never)

    def accept(self) -> tuple[Any, Any]:
        """The next connection, as `socket.accept` gives it, after closing the quietest one when full."""
        connection, address = self.listener.accept()
        self.open = {c: t for c, t in self.open.items() if c.fileno() != -1}  # eventlet closed these
        if len(self.open) >= self.cap:
            quietest = min(self.open, key=self.open.__getitem__)  # the first accepted of equals
            self.refused(f"the quietest connection, closed for a new one ({self.cap} connections open)")
            with contextlib.suppress(OSError):
                quietest.shutdown(socket.SHUT_RDWR)
            del self.open[quietest]
        self.open[connection] = -math.inf
        return connection, address

    def heard(self, connection: Any) -> None:
        """`connection` carried a frame the model steered: it is now the last one a newcomer closes."""
        if connection in self.open:
            self.open[connection] = self.clock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.listener, name)


def tracking(
    app: Callable[..., Any], answering: dict[Any, socket.socket], current: Callable[[], Any]
) -> Callable[..., Any]:
    """The WSGI `app`, keeping in `answering` the client socket of each request it is answering, under the
    green thread answering it (`current()`, which also runs the handlers of the messages the request carries:
    a polling POST, or each message of a WebSocket)."""

    def tracked(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        thread = current()
        answering[thread] = environ["eventlet.input"].get_socket()
        try:
            return app(environ, start_response)  # a WebSocket returns when its connection ends
        finally:
            del answering[thread]

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
