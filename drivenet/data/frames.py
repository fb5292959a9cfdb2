"""The frame table every reader yields, and the record of what a reader had to skip.

A frame table is a pandas DataFrame with one row per camera image:

- `path`      absolute, resolved image path (str)
- `steering`  float32 in [-1, 1]; negative = steer left, positive = steer right
- `camera`    "center" | "left" | "right"
- `frame`     int, order of the moment within its recording (cameras of one moment share it)
- `recording` str, name of the source recording

and, optionally, what the car's log says besides steering, as logged (not scaled, clipped or checked
against a range; only a value that is not a finite number makes its row a problem):

- `throttle`  float32 (Udacity 0..1, Donkey `user/throttle` -1..1, CarRacing recordings' gas 0..1)
- `brake`     float32 (Udacity and CarRacing recordings 0..1)
- `speed`     float32 (Udacity mph, CarRacing recordings Box2D units/s)

A table has one of these columns only when the log of at least one of its recordings has it, after the
standard columns in that order; rows whose recording lacks it hold NaN. The steering cache keeps them
(`frame_throttle`, ... in the `.npz` of `drivenet preprocess`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from drivenet.errors import DrivenetError

COLUMNS = ("path", "steering", "camera", "frame", "recording")
OPTIONAL_COLUMNS = ("throttle", "brake", "speed")
CAMERAS = ("center", "left", "right")


@dataclass(frozen=True)
class Problem:
    """One skipped row or file: where it is (`row` is a 1-based line number, 0 for a whole file) and why."""

    file: str
    row: int
    reason: str
    kind: str = "bad row"  # short category used to count problems in summaries

    def __str__(self) -> str:
        where = f"{self.file}, line {self.row}" if self.row else self.file
        return f"{where}: {self.reason}"


@dataclass
class ReadResult:
    """The frames a reader could use, and the problems it skipped."""

    frames: pd.DataFrame
    problems: list[Problem] = field(default_factory=list)


def make_frames(
    paths: Sequence[str],
    steering: Sequence[float] | np.ndarray,
    camera: Sequence[str] | str,
    frame: Sequence[int] | np.ndarray,
    recording: str,
    optional: Mapping[str, Sequence[float] | np.ndarray] | None = None,
) -> pd.DataFrame:
    """Build a frame table with the standard columns and dtypes (steering clipped to [-1, 1]), plus the
    `optional` columns given (names from OPTIONAL_COLUMNS, float32, NaN for unknown)."""
    n = len(paths)
    cameras = [camera] * n if isinstance(camera, str) else list(camera)
    optional = optional or {}
    unknown = set(optional) - set(OPTIONAL_COLUMNS)
    if unknown:
        raise ValueError(f"unknown frame columns {sorted(unknown)}; optional ones are {OPTIONAL_COLUMNS}")
    extra = [c for c in OPTIONAL_COLUMNS if c in optional]
    return pd.DataFrame(
        {
            "path": pd.Series(list(paths), dtype=object),
            "steering": np.clip(np.asarray(steering, dtype=np.float32), -1.0, 1.0),
            "camera": pd.Series(cameras, dtype=object),
            "frame": np.asarray(frame, dtype=np.int64),
            "recording": pd.Series([recording] * n, dtype=object),
            **{c: np.asarray(optional[c], dtype=np.float32) for c in extra},
        },
        columns=[*COLUMNS, *extra],
    )


def sequences(frames: pd.DataFrame) -> list[np.ndarray]:
    """The table's rows grouped by recording and camera, each group in frame order."""
    ordered = frames.assign(_row=np.arange(len(frames))).sort_values(["recording", "camera", "frame"])
    return [group["_row"].to_numpy() for _, group in ordered.groupby(["recording", "camera"], sort=False)]


def empty_frames() -> pd.DataFrame:
    """A frame table with no rows."""
    return make_frames([], [], [], [], "")


def combine(results: Iterable[ReadResult]) -> ReadResult:
    """Concatenate several recordings; recordings that share a name get `#2`, `#3`... appended. An
    optional column that some recordings lack is NaN in their rows."""
    tables, problems, seen = [], [], Counter()
    for result in results:
        table = result.frames
        problems += result.problems
        if len(table):
            name = str(table["recording"].iloc[0])
            seen[name] += 1
            if seen[name] > 1:
                table = table.assign(recording=f"{name}#{seen[name]}")
        tables.append(table)
    frames = pd.concat(tables, ignore_index=True) if tables else empty_frames()
    frames = frames.reindex(columns=[c for c in (*COLUMNS, *OPTIONAL_COLUMNS) if c in frames.columns])
    frames["steering"] = frames["steering"].astype(np.float32)
    frames["frame"] = frames["frame"].astype(np.int64)
    for column in OPTIONAL_COLUMNS:
        if column in frames.columns:
            frames[column] = frames[column].astype(np.float32)
    return ReadResult(frames, problems)


def raise_first(problems: Sequence[Problem], strict: bool) -> None:
    """Under `strict`, turn the first problem into a DrivenetError."""
    if strict and problems:
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        raise DrivenetError(f"{problems[0]}{more}; fix it or run without --strict to skip such frames")


def no_usable_frames(sources: Iterable[object], problems: Sequence[Problem]) -> DrivenetError:
    """The error for recordings that gave no frame at all, naming the first problem."""
    first = f"; {len(problems)} problems, the first: {problems[0]}" if problems else ""
    return DrivenetError(f"no usable frames in {', '.join(map(str, sources))}{first}")


def count_kinds(problems: Iterable[Problem]) -> dict[str, int]:
    """How many problems of each kind, most common first."""
    return dict(Counter(p.kind for p in problems).most_common())
