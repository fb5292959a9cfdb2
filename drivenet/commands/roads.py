"""Commands `synth` (render a road recording), `drive` (closed loop on unseen road) and `demo`."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from drivenet.errors import DrivenetError, cli_errors

if TYPE_CHECKING:
    from drivenet.roads.renderer import Camera

Size = Annotated[str, typer.Option("--size", help="Camera image size WIDTHxHEIGHT in pixels.")]
Seed = Annotated[int, typer.Option("--seed", help="Seed of the road, poses and appearance.")]
Force = Annotated[bool, typer.Option("--force", help="Overwrite existing outputs.")]


def synth(
    out: Annotated[Path, typer.Argument(help="Folder for driving_log.csv and IMG/.")],
    frames: Annotated[int, typer.Option("--frames", "-n", help="Frames to render.")] = 1200,
    seed: Seed = 0,
    size: Size = "320x160",
    force: Force = False,
) -> None:
    """Render a synthetic road recording in the Udacity simulator layout, labelled with steering."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from drivenet.roads.synth import parse_size, write_recording

    camera = parse_size(size)
    columns = (TextColumn("rendering"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task("render", total=frames)
        log = write_recording(out, frames, seed, camera, force, lambda done: bar.update(task, completed=done))
    typer.echo(f"wrote {frames} frames of {size} to {out}: {log.name} + IMG/")


def check_positive(value: float, option: str) -> None:
    """A DrivenetError unless `value` is a finite number above zero (NaN, inf, 0 and negatives fail)."""
    if not (math.isfinite(value) and value > 0):
        raise DrivenetError(f"{option} {value:g}: must be a finite number above 0")


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
    camera = drive_camera(size, model.frame_size, model_path)
    loop = ClosedLoop(drive_track(km, seed), camera, seed, speed=speed, view=model.preprocess)
    film = None
    if gif is not None:
        from drivenet.drive.film import DriveFilm  # loads matplotlib (training.plots): only for a GIF

        film = DriveFilm(loop.track)
    report = loop.run(model_steering(model), km, film)
    if film is not None and gif is not None:
        film.save(gif)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
        return
    typer.echo(
        f"drove {report.km:.2f} km in {report.seconds:.0f} s: {report.takeovers} takeovers, "
        f"autonomy {report.autonomy:.1f}% (1 - takeovers x 6 s / elapsed s)\n"
        f"offset from the lane centre: mean {report.mean_offset:.2f} m, worst {report.worst_offset:.2f} m"
        + (f"\nGIF: {gif}" if gif is not None else "")
    )


def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for every output.")] = Path("runs/demo"),
    frames: Annotated[int, typer.Option("--frames", help="Training frames (+25% for validation).")] = 1200,
    test_frames: Annotated[int, typer.Option("--test-frames", help="Frames of fresh test roads.")] = 1000,
    epochs: Annotated[int, typer.Option("--epochs", help="Training epochs.")] = 40,
    km: Annotated[float, typer.Option("--km", help="Kilometres of closed-loop driving.")] = 5.0,
    seed: Seed = 0,
    size: Size = "320x160",
    config: Annotated[
        Path | None, typer.Option("--config", help="ALVINN config; default: configs/alvinn.toml of drivenet.")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No training progress bar.")] = False,
    force: Force = False,
) -> None:
    """Render roads, train ALVINN's network on them, evaluate, predict and drive: all in one go."""
    from drivenet.demo import ALVINN_CONFIG, DemoPlan, run_demo
    from drivenet.roads.synth import parse_size

    if min(frames, test_frames, epochs) < 1:
        raise DrivenetError("--frames, --test-frames and --epochs must be positive")
    check_positive(km, "--km")
    plan = DemoPlan(frames, test_frames, epochs, km, seed, parse_size(size))
    summary = run_demo(out, plan, config or ALVINN_CONFIG, force, progress=not quiet, say=typer.echo)
    within = summary["within_2_units"]
    units = "" if within is None else f"{within:.1%} within 2 output units (ALVINN 1989: ~90%), "
    typer.echo(
        f"\ntest roads: {units}rmse {summary['test_rmse']:.3f}\n"
        f"closed loop: {summary['km']:.2f} km, {summary['takeovers']} takeovers, autonomy "
        f"{summary['autonomy']:.1f}%, mean offset {summary['mean_offset']:.2f} m, "
        f"worst {summary['worst_offset']:.2f} m\n"
        f"took {summary['seconds']:.0f} s; outputs:"
    )
    for name, path in summary["outputs"].items():
        typer.echo(f"  {name:<19} {path}")


def register(app: typer.Typer) -> None:
    """Add `synth`, `drive` and `demo` to the CLI."""
    app.command()(cli_errors(synth))
    app.command()(cli_errors(drive))
    app.command()(cli_errors(demo))
