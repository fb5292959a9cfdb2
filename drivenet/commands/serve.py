"""Command `serve`: drive the Udacity simulator's autonomous mode with a model (needs the `sim` extra)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from drivenet.commands.options import check_positive
from drivenet.errors import DrivenetError, cli_errors


def serve(
    model: Annotated[Path, typer.Argument(help="A model checkpoint (best.npz or last.npz of a run).")],
    port: Annotated[int, typer.Option("--port", help="Port the simulator connects to.")] = 4567,
    speed: Annotated[
        float, typer.Option("--speed", help="Speed to hold, in mph (the car tops out near 30).")
    ] = 20.0,
    record: Annotated[
        Path | None, typer.Option("--record", help="Folder to record the run in (driving_log.csv + IMG/).")
    ] = None,
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on; 0.0.0.0 for a simulator on another machine.")
    ] = "127.0.0.1",
    force: Annotated[bool, typer.Option("--force", help="Replace a --record folder drivenet made.")] = False,
) -> None:
    """Drive the Udacity simulator in autonomous mode; a live status line, a summary on Ctrl-C."""
    from drivenet.drive.udacity import server

    server.check_stack()  # before anything slow: without the extra, say what to install at once
    if not 0 < port < 65536:
        raise DrivenetError(f"--port {port}: must be between 1 and 65535")
    check_positive(speed, "--speed")
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
