"""The Socket.IO server the simulator's autonomous mode connects to (needs the `sim` extra).

The simulator's Unity client opens `ws://HOST:4567/socket.io/?EIO=4&transport=websocket` and then speaks
the older Engine.IO 3 / Socket.IO 2 protocol (it pings the server; the server does not ping it). Only
python-socketio 4.x with python-engineio 3.x speaks that on the server side: engineio 3.x ignores the
`EIO=4` in the address, 4.x and later believe it and answer in a protocol the client does not know (the
car never moves, or the log fills with `GET /socket.io/?EIO=4... 400`). The client goes straight to a
WebSocket, which engineio 3.x serves only under eventlet or gevent (its threading mode has none), so
the server runs on eventlet's WSGI server, every handler in one green thread, one message at a time.
"""

from __future__ import annotations

import os
import socket
import warnings
from importlib.metadata import PackageNotFoundError, version
from types import ModuleType
from typing import TYPE_CHECKING

from drivenet.errors import DrivenetError

if TYPE_CHECKING:  # the pilot pulls in numpy and the model; checking the extra must not wait for them
    from drivenet.sim.pilot import Pilot, Reply

INSTALL = 'pip install -e ".[sim]"'
# distribution -> the major version that speaks the simulator's protocol (None: any)
STACK = {"python-socketio": "4", "python-engineio": "3", "eventlet": None}


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
    """Answer the simulator on `listener` (from `listen`) until Ctrl-C."""
    _, wsgi, socketio = load_stack()
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
    wsgi.server(listener, socketio.WSGIApp(sio), log_output=False)
