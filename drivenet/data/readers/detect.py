"""Which format a path holds: a log file, a recording folder, or a folder of recording folders."""

from __future__ import annotations

import os
from pathlib import Path

from drivenet.config import DataConfig
from drivenet.data.readers.plaincsv import read_header
from drivenet.errors import DrivenetError

FORMATS = ("udacity", "donkey", "sully", "csv")
EXPECTED = "driving_log.csv, a Donkey tub (manifest.json or record_N.json), data.txt, or a .csv log"


def csv_format(path: Path, data: DataConfig) -> str:
    """A `.csv` is a plain CSV when its header names the configured columns, else a Udacity log."""
    header = read_header(path, data.follow_links)
    plain = data.csv_image_column in header and data.csv_steering_column in header
    return "csv" if plain and path.name != "driving_log.csv" else "udacity"


def detect_file(path: Path, data: DataConfig) -> str | None:
    """The format of a log file, or None when the file is not one."""
    name = path.name.lower()
    if name.endswith(".csv"):
        return csv_format(path, data)
    if name == "manifest.json" or (name.startswith("record_") and name.endswith(".json")):
        return "donkey"
    if name.endswith(".txt") and not name.startswith(("license", "readme")):
        return "sully"
    return None


def detect_folder(folder: Path, data: DataConfig) -> tuple[str, Path] | None:
    """(format, what to read) for a recording folder, or None when the folder holds no log."""
    if os.path.lexists(folder / "manifest.json") or any(folder.glob("record_*.json")):
        return "donkey", folder
    for name in ("driving_log.csv", "data.txt"):
        if os.path.lexists(folder / name):  # a FIFO or a stray link too: the reader refuses it by name
            return ("udacity" if name.endswith(".csv") else "sully"), folder / name
    logs = sorted(folder.glob("*.csv"))
    if len(logs) == 1:
        return csv_format(logs[0], data), logs[0]
    return None


def find_recordings(path: Path, data: DataConfig) -> list[tuple[str, Path]]:
    """The recordings under `path` as (format, file or tub folder); `data.format` other than auto is
    forced."""
    fmt = data.format
    if not path.exists():
        raise DrivenetError(f"{path}: no such file or folder; check the path")
    if not path.is_file() and not path.is_dir():
        raise DrivenetError(
            f"{path}: neither a regular file nor a folder (a FIFO or device); give a recording"
            " folder or its log"
        )
    if path.is_file():
        found = detect_file(path, data)
        if found is None and fmt == "auto":
            raise DrivenetError(f"{path}: not a known log; expected {EXPECTED}, or pass --format")
        target = path.parent if (fmt == "donkey" or found == "donkey") else path
        return [(fmt if fmt != "auto" else str(found), target)]
    found_here = detect_folder(path, data)
    if found_here is not None:
        return [(fmt if fmt != "auto" else found_here[0], found_here[1])]
    subfolders = sorted(p for p in path.iterdir() if p.is_dir())
    nested = [(f, target) for p in subfolders if (hit := detect_folder(p, data)) for f, target in [hit]]
    if not nested:
        raise DrivenetError(f"{path}: no recording found; expected {EXPECTED} in it or in its subfolders")
    return [(fmt if fmt != "auto" else f, target) for f, target in nested]
