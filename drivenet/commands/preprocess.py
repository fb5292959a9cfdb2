"""Command `preprocess`: decode, crop and resize recordings into a steering cache (.npz) for training."""

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
from drivenet.errors import DrivenetError, cli_errors


def preprocess(
    data: Data,
    out: Annotated[Path, typer.Option("--out", help="Cache file to write (.npz).")],
    config: ConfigOpt = None,
    set_: SetOpt = [],  # noqa: B006 - typer reads the default, it is never mutated
    format: FormatOpt = None,
    cameras: CamerasOpt = None,
    workers: WorkersOpt = None,
    follow_links: FollowLinksOpt = False,
    strict: Annotated[bool, typer.Option("--strict", help="Fail on the first missing or bad frame.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing cache.")] = False,
) -> None:
    """Decode, crop, resize and cache recordings for training."""
    from drivenet.data.cache import build_cache
    from drivenet.data.frames import no_usable_frames
    from drivenet.data.inspect import summary_lines
    from drivenet.data.readers import read_recordings
    from drivenet.data.transform import Preprocess
    from drivenet.io import check_output_file

    settings = data_settings(config, set_, format, cameras, workers, follow_links)
    if out.suffix != ".npz":
        raise DrivenetError(f"--out {out}: a cache file name must end in .npz")
    check_output_file(out, force)  # before the slow part; cache.save checks again
    transform = Preprocess.from_config(settings)
    read = read_recordings(data, settings, strict=strict)
    if len(read.frames) == 0:
        raise no_usable_frames(data, read.problems)
    cache, skipped = build_cache(read.frames, transform, settings.workers, strict, True, read.problems)
    cache.save(out, force=force)
    for line in summary_lines(cache.summary, [*read.problems, *skipped]):
        typer.echo(line)
    h, w, c = transform.shape
    size = out.stat().st_size / 1e6
    typer.echo(f"cache: {out} ({size:.1f} MB, {len(cache)} images of {w}x{h}x{c} {transform.color})")


def register(app: typer.Typer) -> None:
    """Add `preprocess` to the CLI."""
    app.command("preprocess")(cli_errors(preprocess))
