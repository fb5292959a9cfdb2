"""Command `replay`: a model drives a real recording in closed loop, seeing warped recorded frames."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from drivenet.commands import counted, plural
from drivenet.commands.options import FollowLinksOpt, echo_json, model_data
from drivenet.errors import DrivenetError, cli_errors


def replay(
    model_path: Annotated[Path, typer.Argument(metavar="MODEL", help="A checkpoint (best.npz of a run).")],
    recording: Annotated[Path, typer.Argument(metavar="RECORDING", help="One recording's folder or log.")],
    speed: Annotated[
        float | None,
        typer.Option("--speed", help="Speed in m/s of every frame; needed where the log has no speed."),
    ] = None,
    fps: Annotated[
        float | None,
        typer.Option("--fps", help="Frames per second; default: the frames' time stamps, else the format's."),
    ] = None,
    fmt: Annotated[
        str | None, typer.Option("--format", help="Recording format; default: the model's data.format.")
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override the recording's camera: camera.key=value (repeatable)."),
    ] = None,
    max_offset: Annotated[
        str,
        typer.Option(
            "--max-offset",
            help="Metres off the recorded path that call a takeover (NVIDIA's 1), or `road`: "
            "(--road-width - --car-width) / 2.",
        ),
    ] = "1.0",
    road_width: Annotated[
        float | None,
        typer.Option("--road-width", help="With --max-offset road: the width (m) of the car's lane."),
    ] = None,
    car_width: Annotated[
        float | None, typer.Option("--car-width", help="With --max-offset road: the car's width (m); 1.8.")
    ] = None,
    mask: Annotated[
        bool,
        typer.Option(
            "--mask/--no-mask",
            help="Judge nothing where the recorded driver stood, reversed or paused (--no-mask: every step).",
        ),
    ] = True,
    max_heading: Annotated[
        float, typer.Option("--max-heading", help="Degrees of heading error that call a takeover.")
    ] = 15.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    gif: Annotated[Path | None, typer.Option("--gif", help="Write an animated GIF of the replay.")] = None,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Write the offset over time to this PNG.")
    ] = None,
    saliency: Annotated[
        str | None,
        typer.Option(
            "--saliency", help="With --gif: the model's input and this saliency map beside each frame."
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing outputs.")] = False,
    follow_links: FollowLinksOpt = False,
) -> None:
    """Let a model steer along a real recording: each step it sees the recorded frame warped to where
    its own steering has led the car; > 1 m off the recorded path is a takeover (NVIDIA's autonomy)."""
    from drivenet.config import parse_override
    from drivenet.drive.replay import Replay, ReplayFilm, load_recorded_drive, plot_replay
    from drivenet.drive.replay_mask import max_offset_of
    from drivenet.io import check_output_file
    from drivenet.model.checkpoint import load_model

    limit = max_offset_of(max_offset, road_width, car_width)
    for name, value in (("--speed", speed), ("--fps", fps)):
        if value is not None and not (math.isfinite(value) and value > 0):
            raise DrivenetError(f"{name} {value:g}: must be a finite number above 0")
    if not 0 < max_heading < 90:
        raise DrivenetError(f"--max-heading {max_heading:g}: expected degrees between 0 and 90")
    if gif is not None and plot is not None and gif.resolve() == plot.resolve():
        raise DrivenetError(f"--gif and --plot both name {gif}: give each its own file")
    for out in (gif, plot):
        if out is not None:
            check_output_file(out, force)
    model = load_model(model_path)
    if saliency is not None:
        from drivenet.model.saliency import check_method

        if gif is None:
            raise DrivenetError("--saliency draws beside the GIF's frames: give --gif FILE too")
        check_method(model, saliency)
    overrides: dict[str, dict[str, object]] = {}
    for text in set_ or []:
        section, key, value = parse_override(text)
        if section != "camera":
            raise DrivenetError(f"--set {text}: replay takes camera.* overrides only")
        overrides.setdefault(section, {})[key] = value
    config = model.config.updated(overrides, "--set")
    data_cfg = model_data(config.data, follow_links)
    data_cfg = data_cfg if fmt is None else replace(data_cfg, format=fmt)
    drive = load_recorded_drive(recording, data_cfg, config.camera, speed, fps)
    loop = Replay(drive, limit, max_heading, mask)
    film = watch = ReplayFilm(loop) if gif is not None else None
    if film is not None and saliency is not None:  # the model is shown the raw warped views
        from drivenet.drive.film import SaliencyFilm

        watch = SaliencyFilm(
            film, film.film.frames, model, saliency, lambda view: model.images_from_frames([view])
        )
    report = loop.run(model.driver(), watch)
    written = []
    if film is not None and gif is not None:
        written.append(f"GIF: {film.save(gif)}")
    if plot is not None:
        written.append(f"plot: {plot_replay(loop, plot, f'{model_path} on {recording}')}")
    if as_json:
        echo_json(report.to_dict())
        return
    paused = f" ({counted(report.pauses, 'pause')} in the recording skipped)" if report.pauses else ""
    typer.echo(
        f"replayed {report.km:.2f} km of {recording} in {report.seconds:.0f} s{paused}: "
        f"{counted(report.takeovers, 'takeover')}, "
        f"autonomy {report.autonomy:.1f}% (1 - takeovers x 6 s / judged s); "
        f"takeover beyond {limit:.2f} m or {max_heading:g} degrees\n"
        f"{_masked(report.masked, report.masked_seconds, mask, drive.logged_speed)}"
        f"{_takeover_times(report.takeover_seconds)}{_dropped(report.dropped)}"
        f"offset from the recorded path: mean {report.mean_offset:.2f} m, worst {report.worst_offset:.2f} m\n"
        f"camera model: {report.camera}" + "".join(f"\n{line}" for line in written)
    )


def register(app: typer.Typer) -> None:
    """Add `replay` to the CLI."""
    app.command()(cli_errors(replay))


def _dropped(dropped: dict[str, int]) -> str:
    """'dropped 3 rows: 2 with a negative speed (reversing), 1 with ...', a line of its own; nothing when
    every row was driven."""
    if not dropped:
        return ""
    reasons = ", ".join(f"{n} with {why}" for why, n in dropped.items())
    return f"dropped {counted(sum(dropped.values()), 'row')} of the log: {reasons}\n"


def _masked(stretches: tuple[dict[str, object], ...], seconds: float, mask: bool, stops: bool) -> str:
    """'masked 2 stretches (1 stop, 1 stop+pause; from 0.0, 106.1 s): 4.3 s, 2.1 m, not judged', a line
    of its own; `stops`: whether stops were sought (the speed was logged, not given by --speed)."""
    if not mask:
        return "masked nothing (--no-mask): every step judged\n"
    unseen = "" if stops else " (no stop sought: --speed gives every frame one speed)"
    if not stretches:
        what = "stood, reversed or paused" if stops else "reversed or paused"
        return f"masked nothing: the recorded driver never {what}{unseen}\n"
    kinds: dict[str, int] = {}
    for stretch in stretches:
        kinds[str(stretch["kind"])] = kinds.get(str(stretch["kind"]), 0) + 1
    each = ", ".join(f"{n} {kind}" for kind, n in kinds.items())
    metres = sum(float(s["metres"]) for s in stretches)  # type: ignore[arg-type]
    starts = ", ".join(f"{float(s['start']):.1f}" for s in stretches[:12])  # type: ignore[arg-type]
    return (
        f"masked {len(stretches)} {'stretch' if len(stretches) == 1 else 'stretches'} ({each}; "
        f"from {starts} s): {seconds:.1f} s, {metres:.1f} m, not judged{unseen}\n"
    )


def _takeover_times(seconds: tuple[float, ...], most: int = 12) -> str:
    """'takeovers at 62.3, 64.1 s' (the first `most`), a line of its own; nothing without takeovers."""
    if not seconds:
        return ""
    more = f" and {len(seconds) - most} more" if len(seconds) > most else ""
    return f"{plural(len(seconds), 'takeover')} at {', '.join(f'{t:.1f}' for t in seconds[:most])} s{more}\n"
