"""Command `drive`: a model steers a car in closed loop on a rendered road it has not seen."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from drivenet.commands.options import Force, Seed, check_positive, echo_json
from drivenet.errors import DrivenetError, cli_errors

if TYPE_CHECKING:
    from drivenet.model.steering_model import SteeringModel
    from drivenet.roads.renderer import Camera


def drive_camera(size: str | None, trained: tuple[int, int] | None, model_path: Path) -> Camera:
    """The camera of a drive: the model's training frame size (320x160 if unknown), or --size if it agrees."""
    from drivenet.roads.renderer import Camera
    from drivenet.roads.synth import parse_size

    if size is None:
        return Camera(*trained) if trained is not None else Camera()
    camera = parse_size(size)
    if trained is not None and (camera.width, camera.height) != tuple(trained):
        w, h = trained
        raise DrivenetError(
            f"--size {size}: {model_path} was trained on {w}x{h} frames; drop --size or pass --size {w}x{h}"
        )
    return camera


def check_saliency(model: SteeringModel, method: str | None, gif: Path | None) -> None:
    """A one-line error for --saliency without --gif, or with a method the model cannot use."""
    if method is None:
        return
    from drivenet.model.saliency import check_method

    if gif is None:
        raise DrivenetError("--saliency draws beside the GIF's frames: give --gif FILE too")
    check_method(model, method)


def drive(
    model_path: Annotated[Path, typer.Argument(metavar="MODEL", help="A checkpoint (best.npz of a run).")],
    km: Annotated[float, typer.Option("--km", help="Kilometres to drive.")] = 5.0,
    seed: Seed = 0,
    gif: Annotated[Path | None, typer.Option("--gif", help="Write an animated GIF of the drive.")] = None,
    size: Annotated[
        str | None,
        typer.Option("--size", help="Camera image size WIDTHxHEIGHT; default: the model's frame size."),
    ] = None,
    speed: Annotated[float, typer.Option("--speed", help="Speed in m/s.")] = 10.0,
    saliency: Annotated[
        str | None,
        typer.Option(
            "--saliency", help="With --gif: the model's input and this saliency map beside each frame."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    force: Force = False,
) -> None:
    """Let a model steer a car on a road it has not seen; counts takeovers (> 1 m off the centre).

    The camera has the size of the model's training frames; only the rows the model's crop keeps are
    rendered, straight at its input size (and full frames for the GIF).
    """
    from drivenet.drive.rendered import ClosedLoop, drive_track, model_steering
    from drivenet.io import check_output_file
    from drivenet.model.checkpoint import load_model

    check_positive(km, "--km")
    check_positive(speed, "--speed")
    if gif is not None:
        check_output_file(gif, force)
    model = load_model(model_path)
    check_saliency(model, saliency, gif)
    camera = drive_camera(size, model.frame_size, model_path)
    loop = ClosedLoop(drive_track(km, seed), camera, seed, speed=speed, view=model.preprocess)
    film = watch = None
    if gif is not None:
        from drivenet.drive.film import DriveFilm, SaliencyFilm  # loads matplotlib: only for a GIF

        film = watch = DriveFilm(loop.track)
        if saliency is not None:  # the loop shows the model its own input images
            watch = SaliencyFilm(film, film.frames, model, saliency, lambda image: image[None])
    report = loop.run(model_steering(model), km, watch)
    if film is not None and gif is not None:
        film.save(gif)
    if as_json:
        echo_json(report.to_dict())
        return
    typer.echo(
        f"drove {report.km:.2f} km in {report.seconds:.0f} s: {report.takeovers} takeovers, "
        f"autonomy {report.autonomy:.1f}% (1 - takeovers x 6 s / elapsed s)\n"
        f"offset from the lane centre: mean {report.mean_offset:.2f} m, worst {report.worst_offset:.2f} m"
        + (f"\nGIF: {gif}" if gif is not None else "")
    )


def register(app: typer.Typer) -> None:
    """Add `drive` to the CLI."""
    app.command()(cli_errors(drive))
