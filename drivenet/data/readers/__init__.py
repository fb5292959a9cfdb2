"""Readers for every supported recording format, all yielding one frame table (see `frames`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

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
    for path in paths:
        for fmt, target in find_recordings(Path(path), format, options):
            try:
                results.append(READERS[fmt](target, options))
            except (OSError, UnicodeDecodeError) as err:
                raise DrivenetError(f"{target}: cannot read it as a {fmt} recording ({err})") from None
    result = combine(results)
    raise_first(result.problems, strict)
    return result


def read_from_config(
    paths: Sequence[Path | str], data_config: Mapping[str, Any], strict: bool = False
) -> ReadResult:
    """`read_recordings` with the settings of a config's `[data]` section."""
    keys = (
        "format",
        "cameras",
        "side_correction",
        "wheel_degrees_per_unit",
        "csv_image_column",
        "csv_steering_column",
    )
    return read_recordings(paths, **{k: data_config[k] for k in keys if k in data_config}, strict=strict)


__all__ = ["FORMATS", "IMAGE_SUFFIXES", "READERS", "ReadOptions", "read_from_config", "read_recordings"]
