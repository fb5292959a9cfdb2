"""`drivenet preprocess` (recordings -> steering cache) and `drivenet inspect` (a report on a recording)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from drivenet.config import load_config
from drivenet.errors import DrivenetError, cli_errors

Data = Annotated[list[Path], typer.Argument(help="Recording folders or log files (several are combined).")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="TOML config; its data table is used.")]
SetOpt = Annotated[list[str], typer.Option("--set", help="Override a config value: data.key=value.")]
FormatOpt = Annotated[str | None, typer.Option("--format", help="auto | udacity | donkey | sully | csv")]
CamerasOpt = Annotated[str | None, typer.Option("--cameras", help="center | all (side cameras corrected).")]
WorkersOpt = Annotated[int | None, typer.Option("--workers", help="Decoding processes.")]


def data_settings(
    config: Path | None, overrides: list[str], fmt: str | None, cameras: str | None, workers: int | None
) -> dict[str, Any]:
    """The `[data]` section: defaults, config file, --set overrides, then the command's own options."""
    data = load_config(config, overrides)["data"]
    options = {"format": fmt, "cameras": cameras, "workers": workers}
    data.update({key: value for key, value in options.items() if value is not None})
    if data["workers"] < 1:
        raise DrivenetError(f"--workers must be at least 1, got {data['workers']}")
    return data


def preprocess(
    data: Data,
    out: Annotated[Path, typer.Option("--out", help="Cache file to write (.npz).")],
    config: ConfigOpt = None,
    set_: SetOpt = [],  # noqa: B006 - typer reads the default, it is never mutated
    format: FormatOpt = None,
    cameras: CamerasOpt = None,
    workers: WorkersOpt = None,
    strict: Annotated[bool, typer.Option("--strict", help="Fail on the first missing or bad frame.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing cache.")] = False,
) -> None:
    """Decode, crop, resize and cache recordings for training."""
    from drivenet.data.cache import build_cache
    from drivenet.data.frames import no_usable_frames
    from drivenet.data.inspect import summary_lines
    from drivenet.data.readers import read_from_config
    from drivenet.data.transform import Preprocess
    from drivenet.io import check_output_file

    settings = data_settings(config, set_, format, cameras, workers)
    if out.suffix != ".npz":
        raise DrivenetError(f"--out {out}: a cache file name must end in .npz")
    check_output_file(out, force)  # before the slow part; cache.save checks again
    transform = Preprocess.from_config(settings)
    read = read_from_config(data, settings, strict=strict)
    if len(read.frames) == 0:
        raise no_usable_frames(data, read.problems)
    cache, skipped = build_cache(read.frames, transform, settings["workers"], strict, True, read.problems)
    cache.save(out, force=force)
    for line in summary_lines(cache.summary, [*read.problems, *skipped]):
        typer.echo(line)
    h, w, c = transform.shape
    size = out.stat().st_size / 1e6
    typer.echo(f"cache: {out} ({size:.1f} MB, {len(cache)} images of {w}x{h}x{c} {transform.color})")


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
    force: Annotated[bool, typer.Option("--force", help="Overwrite a non-empty --out folder.")] = False,
) -> None:
    """Report on recordings without writing a cache: frames, steering, samples, missing files."""
    from drivenet.data.cache import build_cache
    from drivenet.data.frames import no_usable_frames
    from drivenet.data.inspect import plot_histogram, plot_samples, summary_lines, write_problems
    from drivenet.data.readers import read_from_config
    from drivenet.data.transform import Preprocess
    from drivenet.io import prepare_output_dir, write_json

    settings = data_settings(config, set_, format, cameras, workers)
    folder = prepare_output_dir(out, force, inputs=data) if out is not None else None
    read = read_from_config(data, settings)
    cache, skipped = None, []
    if len(read.frames):
        transform = Preprocess.from_config(settings)
        cache, skipped = build_cache(read.frames, transform, settings["workers"], False, True, read.problems)
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
    """Add `preprocess` and `inspect` to the CLI."""
    app.command("preprocess")(cli_errors(preprocess))
    app.command("inspect")(cli_errors(inspect))
