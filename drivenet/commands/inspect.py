"""Command `inspect`: a report on recordings without writing a cache (frames, steering, samples, problems)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from drivenet.commands.options import (
    CamerasOpt,
    ConfigOpt,
    Data,
    FollowLinksOpt,
    FormatOpt,
    SetOpt,
    WorkersOpt,
    data_settings,
)
from drivenet.errors import cli_errors


def inspect(
    data: Data,
    out: Annotated[
        Path | None, typer.Option("--out", help="Folder for PNGs and the full problem list.")
    ] = None,
    config: ConfigOpt = None,
    set_: SetOpt = [],  # noqa: B006 - typer reads the default, it is never mutated
    format: FormatOpt = None,
    cameras: CamerasOpt = None,
    workers: WorkersOpt = None,
    follow_links: FollowLinksOpt = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite a non-empty --out folder.")] = False,
) -> None:
    """Report on recordings without writing a cache: frames, steering, samples, missing files."""
    from drivenet.data.cache import build_cache
    from drivenet.data.frames import no_usable_frames
    from drivenet.data.inspect import plot_histogram, plot_samples, summary_lines, write_problems
    from drivenet.data.readers import read_recordings
    from drivenet.data.transform import Preprocess
    from drivenet.io import prepare_output_dir, write_json

    settings = data_settings(config, set_, format, cameras, workers, follow_links)
    folder = prepare_output_dir(out, force, inputs=data) if out is not None else None
    read = read_recordings(data, settings)
    cache, skipped = None, []
    if len(read.frames):
        transform = Preprocess.from_config(settings)
        cache, skipped = build_cache(read.frames, transform, settings.workers, False, True, read.problems)
    problems = [*read.problems, *skipped]
    if folder is not None:
        write_problems(problems, folder / "problems.txt")
    if cache is None:
        raise no_usable_frames(data, problems)
    summary, frames = cache.summary, cache.frames
    for line in summary_lines(summary, problems):
        typer.echo(line)
    if folder is None:
        typer.echo("pass --out DIR for the histogram and sample grid as PNG and every problem in a file")
        return
    plot_histogram(frames["steering"].to_numpy(), folder / "steering_histogram.png")
    plot_samples(frames, folder / "samples.png")
    write_json(folder / "summary.json", summary)
    typer.echo(f"wrote {folder}/steering_histogram.png, samples.png, summary.json, problems.txt")


def register(app: typer.Typer) -> None:
    """Add `inspect` to the CLI."""
    app.command("inspect")(cli_errors(inspect))
