"""Readers for every supported recording format, all yielding one frame table (see `frames`)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from drivenet.config import DataConfig
from drivenet.data.frames import ReadResult, combine, raise_first
from drivenet.data.readers.detect import FORMATS, find_recordings
from drivenet.data.readers.donkey import read_donkey
from drivenet.data.readers.finder import IMAGE_SUFFIXES, ReadOptions
from drivenet.data.readers.plaincsv import read_plain_csv
from drivenet.data.readers.sully import read_sully
from drivenet.data.readers.udacity import read_udacity
from drivenet.errors import DrivenetError

READERS: dict[str, Callable[[Path, ReadOptions], ReadResult]] = {
    "udacity": read_udacity,
    "donkey": read_donkey,
    "sully": read_sully,
    "csv": read_plain_csv,
}


def read_recordings(
    paths: Sequence[Path | str],
    format: str = "auto",
    cameras: str = "center",
    side_correction: float = 0.2,
    wheel_degrees_per_unit: float = 450.0,
    csv_image_column: str = "image",
    csv_steering_column: str = "steering",
    strict: bool = False,
) -> ReadResult:
    """Read and combine recordings; rows that cannot be used are skipped and listed in `.problems`.

    With `strict`, the first such problem is raised as a DrivenetError instead.
    """
    if cameras not in ("center", "all"):
        raise DrivenetError(f"unknown cameras {cameras!r}; use center or all")
    if wheel_degrees_per_unit <= 0:
        raise DrivenetError(f"data.wheel_degrees_per_unit must be positive, got {wheel_degrees_per_unit}")
    options = ReadOptions(
        cameras, side_correction, wheel_degrees_per_unit, csv_image_column, csv_steering_column
    )
    results = []
    for fmt, target in distinct_recordings(paths, format, options):
        try:
            results.append(READERS[fmt](target, options))
        except (OSError, UnicodeDecodeError) as err:
            raise DrivenetError(f"{target}: cannot read it as a {fmt} recording ({err})") from None
    result = combine(results)
    refuse_shared_frames(result.frames)
    raise_first(result.problems, strict)
    return result


def distinct_recordings(
    paths: Sequence[Path | str], fmt: str, options: ReadOptions
) -> list[tuple[str, Path]]:
    """The recordings under `paths`; one reached twice (`rec` and `rec/driving_log.csv`) is an error, as
    its frames would count twice and could land on both sides of the validation split."""
    found: dict[str, Path] = {}
    recordings = []
    for path in paths:
        try:
            targets = find_recordings(Path(path), fmt, options)
        except OSError as err:  # a folder that may not be listed
            raise DrivenetError(
                f"{path}: cannot look inside ({err.strerror or err}); check the path"
            ) from None
        for fmt_here, target in targets:
            real = os.path.realpath(target)
            if real in found:
                raise DrivenetError(
                    f"{target}: the same recording as {found[real]}, given twice; give each recording once"
                )
            found[real] = target
            recordings.append((fmt_here, target))
    return recordings


def refuse_shared_frames(frames: pd.DataFrame) -> None:
    """An image file that is a frame of two recordings is an error (a copied log, or two logs in one
    folder): it would count twice and could land on both sides of the validation split."""
    pairs = frames[["path", "recording"]].drop_duplicates()
    shared = pairs["path"].duplicated(keep=False).to_numpy()
    if shared.any():
        path = pairs["path"].to_numpy()[shared][0]
        names = pairs.loc[pairs["path"] == path, "recording"].tolist()
        raise DrivenetError(
            f"{path} is a frame of both {names[0]} and {names[1]}; give each recording once, or remove the "
            "log that copies the other"
        )


def read_from_config(paths: Sequence[Path | str], data: DataConfig, strict: bool = False) -> ReadResult:
    """`read_recordings` with the reader settings of `[data]`."""
    return read_recordings(
        paths,
        format=data.format,
        cameras=data.cameras,
        side_correction=data.side_correction,
        wheel_degrees_per_unit=data.wheel_degrees_per_unit,
        csv_image_column=data.csv_image_column,
        csv_steering_column=data.csv_steering_column,
        strict=strict,
    )


__all__ = ["FORMATS", "IMAGE_SUFFIXES", "READERS", "ReadOptions", "read_from_config", "read_recordings"]
