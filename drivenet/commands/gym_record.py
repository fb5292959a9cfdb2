"""Command `gym record`: the expert drives CarRacing, each episode written as a drivenet recording."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from drivenet.commands.gym import EnvArgOpt, EnvOpt, env_kwargs
from drivenet.errors import DrivenetError, cli_errors


def gym_record(
    out: Annotated[Path, typer.Argument(metavar="OUT", help="Folder for the recordings, one per episode.")],
    episodes: Annotated[int, typer.Option("--episodes", help="Episodes, one per seed.")] = 10,
    seed: Annotated[int, typer.Option("--seed", help="The first seed; then seed+1, seed+2...")] = 0,
    noise: Annotated[
        float,
        typer.Option("--noise", help="Standard deviation of the noise added to the steering applied (DART)."),
    ] = 0.0,
    frames: Annotated[
        int | None, typer.Option("--frames", help="Write at most this many frames per episode.")
    ] = None,
    jobs: Annotated[int, typer.Option("--jobs", help="Worker processes (the same recordings whatever).")] = 1,
    force: Annotated[bool, typer.Option("--force", help="Replace episode folders drivenet wrote.")] = False,
    env: EnvOpt = "CarRacing-v3",
    env_arg: EnvArgOpt = [],  # noqa: B006 - typer reads the default, it is never mutated
) -> None:
    """Record one CarRacing episode per seed as OUT/seed_NNNNN/ (IMG/*.png and log.csv): the expert's
    action is the label, the action applied has N(0, noise^2) added to its steering. The first 49 frames
    (the camera zooming in) are driven but not written. A seed gives the same recording whatever --jobs.
    Read it like any recording: `drivenet inspect
    OUT`, `drivenet preprocess OUT --out CACHE`."""
    from drivenet.drive.gym.record import record_episodes

    if episodes < 1:
        raise DrivenetError(f"--episodes {episodes}: must be at least 1")
    if seed < 0:
        raise DrivenetError(f"--seed {seed}: must be 0 or more")
    summary = record_episodes(
        out,
        range(seed, seed + episodes),
        noise=noise,
        frames=frames,
        force=force,
        env_id=env,
        env_kwargs=env_kwargs(env_arg),
        jobs=jobs,
    )
    for e in summary.episodes:
        typer.echo(f"{e.folder}: {e.frames} frames, reward {e.reward:.1f} over {e.steps} steps")
    typer.echo(f"total: {summary.text()}")


def register(group: typer.Typer) -> None:
    """Add `record` to the `gym` group."""
    group.command("record")(cli_errors(gym_record))
