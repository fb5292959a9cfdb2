"""Command `gym drive`: a model (or the expert) drives CarRacing in closed loop, scored by the env."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from drivenet.commands.gym import EnvArgOpt, EnvOpt, env_kwargs
from drivenet.commands.options import echo_json
from drivenet.drive.gym.env import DEFAULT_GAS
from drivenet.errors import DrivenetError, cli_errors

if TYPE_CHECKING:
    from drivenet.drive.gym.rollout import DriveReport, Summary


def gym_drive(
    model: Annotated[
        str, typer.Argument(metavar="MODEL", help="A checkpoint (best.npz of a run), or the word expert.")
    ],
    episodes: Annotated[int, typer.Option("--episodes", help="Episodes, one per seed.")] = 10,
    seed: Annotated[int, typer.Option("--seed", help="The first seed; then seed+1, seed+2...")] = 0,
    jobs: Annotated[int, typer.Option("--jobs", help="Worker processes.")] = 1,
    gas: Annotated[
        float, typer.Option("--gas", help="Gas, 0..1, of a model that predicts no throttle (model.targets).")
    ] = DEFAULT_GAS,
    expert: Annotated[
        bool, typer.Option("--expert/--no-expert", help="Drive the seeds with the expert too, to compare.")
    ] = True,
    gif: Annotated[Path | None, typer.Option("--gif", help="Write a GIF of the first episode.")] = None,
    saliency: Annotated[
        str | None,
        typer.Option(
            "--saliency", help="With --gif: the model's input and this saliency map beside each frame."
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing GIF.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as one JSON object.")] = False,
    env: EnvOpt = "CarRacing-v3",
    env_arg: EnvArgOpt = [],  # noqa: B006 - typer reads the default, it is never mutated
) -> None:
    """Drive one CarRacing episode per seed and score it by the env's reward (-0.1 a frame, +1000/N per
    tile of N first visited); also tiles visited, off-track frames (no wheel on the road) and laps, and
    the mean reward as a percentage of the expert's on the same seeds."""
    from drivenet.drive.gym.rollout import drive
    from drivenet.io import check_output_file

    if episodes < 1:
        raise DrivenetError(f"--episodes {episodes}: must be at least 1")
    if jobs < 1:
        raise DrivenetError(f"--jobs {jobs}: must be at least 1")
    if seed < 0:
        raise DrivenetError(f"--seed {seed}: must be 0 or more")
    if gif is not None:
        check_output_file(gif, force)
    if saliency is not None:
        from drivenet.model.checkpoint import load_model
        from drivenet.model.saliency import check_method

        if gif is None or model == "expert":
            raise DrivenetError(
                "--saliency draws a model's maps beside the GIF's frames: give a model and --gif"
            )
        check_method(load_model(model), saliency)
    seeds = range(seed, seed + episodes)
    kwargs = env_kwargs(env_arg)
    report = drive(
        model,
        seeds,
        jobs=jobs,
        env_id=env,
        env_kwargs=kwargs,
        gas=gas,
        gif=gif,
        compare=expert,
        saliency=saliency,
    )
    if as_json:
        echo_json({"model": model, "env": env, **report.to_dict()})
        return
    typer.echo(report_text(report) + (f"\nGIF: {gif}" if gif is not None else ""))


def report_text(report: DriveReport) -> str:
    """One line per episode under a header, then the totals and the comparison with the expert."""
    lines = [f"{'seed':>6} {'reward':>8} {'tiles':>7} {'off-track':>9} {'laps':>4}  end"]
    lines += [
        f"{e.seed:6d} {e.reward:8.1f} {e.tile_share:7.1%} {e.off_track:9d} {e.laps:4d}  {e.end}"
        for e in report.episodes
    ]
    lines.append(f"total: {summary_text(report.summary)}")
    if report.expert_summary is not None:
        lines.append(f"expert: {summary_text(report.expert_summary)}")
    if report.percent_of_expert is not None:
        lines.append(f"{report.percent_of_expert:.1f}% of the expert's mean reward")
    return "\n".join(lines)


def summary_text(s: Summary) -> str:
    """'reward 812.3 ± 54.1 (min 700.2, max 880.0), tiles 97.1%, off-track 30 frames (0.5%), 9/10 laps'."""
    return (
        f"reward {s.mean:.1f} ± {s.sd:.1f} (min {s.min:.1f}, max {s.max:.1f}), tiles {s.tile_share:.1%}, "
        f"off-track {s.off_track} frames ({s.off_track_share:.1%}), {s.laps}/{s.episodes} laps"
    )


def register(group: typer.Typer) -> None:
    """Add `drive` to the `gym` group."""
    group.command("drive")(cli_errors(gym_drive))
