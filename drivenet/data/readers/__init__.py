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
from drivenet.data.readers.finder import IMAGE_SUFFIXES
from drivenet.data.readers.plaincsv import read_plain_csv
from drivenet.data.readers.sully import read_sully
from drivenet.data.readers.udacity import read_udacity
from drivenet.errors import DrivenetError

READERS: dict[str, Callable[[Path, DataConfig], ReadResult]] = {
    "udacity": read_udacity,
    "donkey": read_donkey,
    "sully": read_sully,
    "csv": read_plain_csv,
}

DATA = DataConfig()  # the reader settings' defaults


def read_recordings(paths: Sequence[Path | str], data: DataConfig = DATA, strict: bool = False) -> ReadResult:
    """Read and combine recordings with the reader settings of `[data]` (format, cameras, side_correction,
    wheel_degrees_per_unit, csv_*_column); rows that cannot be used are skipped and listed in
    `.problems`. With `strict`, the first such problem is raised as a DrivenetError instead.
    """
    results = []
    for fmt, target in distinct_recordings(paths, data):
        try:
            results.append(READERS[fmt](target, data))
        except (OSError, UnicodeDecodeError) as err:
            raise DrivenetError(f"{target}: cannot read it as a {fmt} recording ({err})") from None
    result = combine(results)
    refuse_shared_frames(result.frames)
    raise_first(result.problems, strict)
    return result


def distinct_recordings(paths: Sequence[Path | str], data: DataConfig) -> list[tuple[str, Path]]:
    """The recordings under `paths`; one reached twice (`rec` and `rec/driving_log.csv`) is an error, as
    its frames would count twice and could land on both sides of the validation split."""
    found: dict[str, Path] = {}
    recordings = []
    for path in paths:
        try:
            targets = find_recordings(Path(path), data)
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


__all__ = ["FORMATS", "IMAGE_SUFFIXES", "READERS", "read_recordings"]
