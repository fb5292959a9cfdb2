"""How fast a recording's car went and when each frame was taken: what rebuilding its path needs.

Speeds are the log's own numbers (Udacity logs: mph; the camera model's `speed_scale` turns them into
m/s); times are seconds. Where a recording does not say, the value is NaN:

- Udacity logs: the `speed` column (named in a header, else the last of 7 or 5 unnamed fields).
- Donkey tubs: `_timestamp_ms` of each catalog record; no speed.
- Sully logs: the newer release's timestamp (`0.jpg 0.0,2018-07-01 17:09:44:912`); no speed.
- Plain CSV: a `speed` column and a `time` or `timestamp` column (seconds), when present.

Every format also takes the time from image names stamped as the Udacity simulator stamps them
(`center_2016_12_01_13_30_48_287.jpg`: 13:30:48.287 on 1 Dec 2016).
"""

from __future__ import annotations

import csv
import io
import json
import math
import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from drivenet.config import DataConfig
from drivenet.data.readers.donkey import read_manifest
from drivenet.data.readers.finder import is_image_name
from drivenet.data.readers.logfile import read_log
from drivenet.data.readers.udacity import ALIASES

NAME_STAMP = re.compile(r"(\d{4})_(\d\d)_(\d\d)_(\d\d)_(\d\d)_(\d\d)_(\d{3})")
SULLY_STAMP = "%Y-%m-%d %H:%M:%S:%f"
UNNAMED_SPEED = {7: 6, 5: 4}  # Udacity logs without a header: field count -> speed field


@dataclass(frozen=True)
class Odometry:
    """Per frame: the logged speed (the log's unit) and the time (s); NaN where the recording is silent."""

    speed: np.ndarray
    time: np.ndarray


PAUSE = 1.0  # seconds between two frames beyond which the recording was paused, not driven


def driven_steps(steps: np.ndarray, frame_rate: float) -> tuple[np.ndarray, float]:
    """Which steps between frames (seconds per frame) were driven: known, forward and at most PAUSE;
    and the typical step, the median of those (1 / `frame_rate` where there are none)."""
    with np.errstate(invalid="ignore"):
        known = np.isfinite(steps) & (steps > 0) & (steps <= PAUSE)
    return known, float(np.median(steps[known])) if known.any() else 1.0 / frame_rate


def base_name(name: str) -> str:
    """The file name of a logged image path, Windows or POSIX."""
    return posixpath.basename(name.strip().replace("\\", "/"))


def stamp_in_name(name: str) -> float:
    """Seconds since 1970 from a Udacity-style stamp in an image name, NaN when it has none."""
    match = NAME_STAMP.search(base_name(name))
    if match is None:
        return math.nan
    year, month, day, hour, minute, second, milli = (int(g) for g in match.groups())
    try:
        when = datetime(year, month, day, hour, minute, second, milli * 1000, tzinfo=timezone.utc)
    except ValueError:
        return math.nan
    return when.timestamp()


def number(text: object) -> float:
    """A finite float, or NaN."""
    try:
        value = float(str(text).strip())
    except ValueError:
        return math.nan
    return value if math.isfinite(value) else math.nan


def udacity_speeds(log: Path, follow_links: bool = False) -> dict[str, tuple[float, float]]:
    """Image base name -> (speed, NaN) for every row of a simulator log."""
    out: dict[str, tuple[float, float]] = {}
    centre_at, speed_at, first = 0, None, True
    for fields in csv.reader(io.StringIO(read_log(log, follow_links=follow_links)), skipinitialspace=True):
        if not any(f.strip() for f in fields):
            continue
        if first and not is_image_name(fields[0]):
            names = [ALIASES.get(f.strip().lower(), f.strip().lower()) for f in fields]
            centre_at = names.index("center") if "center" in names else 0
            speed_at = names.index("speed") if "speed" in names else len(fields)
            first = False
            continue
        first = False
        at = UNNAMED_SPEED.get(len(fields), len(fields)) if speed_at is None else speed_at
        if centre_at < len(fields):
            out[base_name(fields[centre_at])] = (
                number(fields[at]) if at < len(fields) else math.nan,
                math.nan,
            )
    return out


def donkey_times(tub: Path, follow_links: bool = False) -> dict[str, tuple[float, float]]:
    """Image base name -> (NaN, time) from a v2 tub's catalogs (v1 tubs: none)."""
    out: dict[str, tuple[float, float]] = {}
    if not (tub / "manifest.json").is_file():
        return out
    catalogs, _ = read_manifest(tub / "manifest.json")
    for name in catalogs:
        catalog = tub / Path(name.replace("\\", "/")).name
        if not catalog.is_file():
            continue
        for line in read_log(catalog, tub, follow_links).splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict) and "cam/image_array" in record:
                stamp = number(record.get("_timestamp_ms", math.nan)) / 1000.0
                out[base_name(str(record["cam/image_array"]))] = (math.nan, stamp)
    return out


def sully_times(log: Path, follow_links: bool = False) -> dict[str, tuple[float, float]]:
    """Image base name -> (NaN, time) from the stamps of a newer Sully log (older ones: NaN)."""
    out: dict[str, tuple[float, float]] = {}
    for line in read_log(log, follow_links=follow_links).splitlines():
        fields = line.split(maxsplit=1)
        if len(fields) < 2:
            continue
        _, _, stamp = fields[1].partition(",")
        try:
            when = datetime.strptime(stamp.strip(), SULLY_STAMP).replace(tzinfo=timezone.utc).timestamp()
        except ValueError:
            when = math.nan
        out[base_name(fields[0])] = (math.nan, when)
    return out


def csv_columns(path: Path, image_column: str, follow_links: bool = False) -> dict[str, tuple[float, float]]:
    """Image base name -> (speed, time) from a plain CSV's `speed` and `time`/`timestamp` columns."""
    rows = list(csv.DictReader(io.StringIO(read_log(path, follow_links=follow_links)), skipinitialspace=True))
    out: dict[str, tuple[float, float]] = {}
    for row in rows:
        clean = {str(k).strip(): v for k, v in row.items() if k is not None}
        stamp = clean.get("time", clean.get("timestamp", math.nan))
        out[base_name(str(clean.get(image_column, "")))] = (
            number(clean.get("speed", math.nan)),
            number(stamp),
        )
    return out


def read_odometry(fmt: str, target: Path, images: Sequence[str], data: DataConfig) -> Odometry:
    """Speed and time of the frames whose image files are `images` (in order), from the recording that
    `target` is (the log file, or the Donkey tub folder) in format `fmt` (reads `csv_image_column` and
    `follow_links` of [data])."""
    if fmt == "udacity":
        logged = udacity_speeds(target, data.follow_links)
    elif fmt == "donkey":
        logged = donkey_times(target, data.follow_links)
    elif fmt == "sully":
        logged = sully_times(target, data.follow_links)
    else:
        logged = csv_columns(target, data.csv_image_column, data.follow_links)
    speed, time = np.full(len(images), np.nan), np.full(len(images), np.nan)
    for i, image in enumerate(images):
        name = base_name(image)
        speed[i], time[i] = logged.get(name, (math.nan, math.nan))
        if math.isnan(time[i]):
            time[i] = stamp_in_name(name)
    return Odometry(speed, time)
