"""Command `serve`: drive the Udacity simulator's autonomous mode with a model (needs the `sim` extra)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from drivenet.commands.options import check_positive
from drivenet.errors import DrivenetError, cli_errors

SIMULATORS = {"udacity": (4567, 20.0), "donkey": (9091, 10.0)}  # --sim: default --port and --speed (mph)


def serve(
    model: Annotated[Path, typer.Argument(help="A model checkpoint (best.npz or last.npz of a run).")],
    port: Annotated[
        int | None,
        typer.Option("--port", help="udacity: port to listen on (4567); donkey: the simulator's (9091)."),
    ] = None,
    speed: Annotated[
        float | None,
        typer.Option("--speed", help="Speed to hold, in mph (udacity: 20, donkey: 10 by default)."),
    ] = None,
    record: Annotated[
        Path | None, typer.Option("--record", help="Folder to record the run in (driving_log.csv + IMG/).")
    ] = None,
    host: Annotated[
        str,
        typer.Option("--host", help="udacity: address to listen on (0.0.0.0: any); donkey: the simulator's."),
    ] = "127.0.0.1",
    force: Annotated[bool, typer.Option("--force", help="Replace a --record folder drivenet made.")] = False,
    sim: Annotated[
        str, typer.Option("--sim", help="udacity (it connects to drivenet) | donkey (drivenet to it).")
    ] = "udacity",
    scene: Annotated[
        str | None, typer.Option("--scene", help="donkey: the scene to load (default: the first).")
    ] = None,
) -> None:
    """Drive the Udacity simulator in autonomous mode, or the Donkey simulator; a live status line, a summary
    on Ctrl-C."""
    if sim not in SIMULATORS:
        raise DrivenetError(f"--sim {sim}: choose one of {', '.join(SIMULATORS)}")
    port = SIMULATORS[sim][0] if port is None else port
    speed = SIMULATORS[sim][1] if speed is None else speed
    if not 0 < port < 65536:
        raise DrivenetError(f"--port {port}: must be between 1 and 65535")
    check_positive(speed, "--speed")
    if sim == "donkey":  # needs no extra: the standard library's sockets
        from drivenet.drive.donkey.client import serve as serve_donkey

        typer.echo(serve_donkey(model, host, port, scene, speed, record, force))
        return
    if scene is not None:
        raise DrivenetError(f"--scene {scene}: scenes are the Donkey simulator's; add --sim donkey")
    from drivenet.drive.udacity import server

    server.check_stack()  # before anything slow: without the extra, say what to install at once
    from drivenet.drive.udacity.pilot import Pilot
    from drivenet.drive.udacity.recorder import Recorder
    from drivenet.drive.udacity.status import StatusLine
    from drivenet.io import check_output_dir
    from drivenet.model.checkpoint import load_model

    if record is not None:
        check_output_dir(record, force, inputs=[model])
    listener = server.listen(host, port)
    steering_model = load_model(model)
    recorder = Recorder(record, force, inputs=(model,)) if record is not None else None
    status = StatusLine()
    pilot = Pilot(steering_model, speed, status, recorder)
    status.message(f"listening on {host}:{port}: start the simulator, choose autonomous mode; Ctrl-C stops")
    warning = server.exposed(host)
    if warning is not None:
        status.message(warning)
    try:
        server.serve(pilot, listener)
    except KeyboardInterrupt:  # `serve` returns on Ctrl-C; a second one, impatient, lands here
        pass
    finally:
        if pilot.recorder is not None:
            pilot.recorder.close()
        status.clear()
    typer.echo(pilot.summary())


def register(app: typer.Typer) -> None:
    """Add this module's commands to the CLI."""
    app.command()(cli_errors(serve))
