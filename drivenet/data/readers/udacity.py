"""Udacity simulator logs (`driving_log.csv`): with or without header, several header spellings.

Columns are `center, left, right, steering, ...`; without a header the first four fields are taken in
that order (this covers both the seven-column and the five-column `center,left,right,angle,speed` logs).
Throttle, brake and speed fill the frame table's optional columns: from a header's `throttle`, `brake`
and `speed` columns, or without one from fields 4, 5, 6 of a seven-field log (`...,throttle,brake,speed`)
and field 4 of a five-field one (`...,angle,speed`), the layout read off the first row.
Steering is already in [-1, 1] with negative = left. Side cameras (`cameras="all"`) get
`steering + side_correction` (left camera: the car must turn right to reach the centre) and
`steering - side_correction` (right camera), clipped to [-1, 1].
"""

from __future__ import annotations

from pathlib import Path

from drivenet.config import DataConfig
from drivenet.data.frames import OPTIONAL_COLUMNS, Problem, ReadResult
from drivenet.data.readers.finder import FrameCollector, is_image_name
from drivenet.data.readers.logfile import csv_rows, read_log, shown
from drivenet.errors import DrivenetError

ALIASES = {
    "center": "center",
    "center image": "center",
    "centre": "center",
    "left": "left",
    "left image": "left",
    "right": "right",
    "right image": "right",
    "steering": "steering",
    "steering angle": "steering",
    "angle": "steering",
    "throttle": "throttle",
    "brake": "brake",
    "speed": "speed",
}
NO_HEADER = {"center": 0, "left": 1, "right": 2, "steering": 3}
NO_HEADER_OPTIONAL = {7: {"throttle": 4, "brake": 5, "speed": 6}, 5: {"speed": 4}}  # by fields in row 1


def header_columns(log: Path, fields: list[str]) -> dict[str, int]:
    """Map the camera and steering columns of a header row to their positions."""
    columns: dict[str, int] = {}
    for i, name in enumerate(fields):
        key = ALIASES.get(name.strip().lower())
        if key is not None:
            columns.setdefault(key, i)
    if "center" not in columns or "steering" not in columns:
        found = shown(",".join(f.strip() for f in fields))
        raise DrivenetError(
            f"{log}, line 1: unknown columns {found}; expected a Udacity log (center,left,right,steering,...)"
            " or no header; for other CSVs use --format csv and set data.csv_image_column / "
            "data.csv_steering_column"
        )
    return columns


def read_udacity(log: Path, data: DataConfig) -> ReadResult:
    """Read one simulator log; images are resolved inside the log's folder."""
    out = FrameCollector(log.parent, data.follow_links)
    cameras = ("center", "left", "right") if data.cameras == "all" else ("center",)
    correction = {"center": 0.0, "left": data.side_correction, "right": -data.side_correction}
    columns, header_rows = None, 0
    for row, fields in csv_rows(read_log(log, follow_links=data.follow_links), log, out.problems):
        if not any(f.strip() for f in fields):
            continue
        if columns is None and not is_image_name(fields[0]):
            columns, header_rows = header_columns(log, fields), 1
            continue
        if columns is None:
            columns = {**NO_HEADER, **NO_HEADER_OPTIONAL.get(min(len(fields), 7), {})}
        frame = row - 1 - header_rows  # the moment's place in the log
        if len(fields) <= max(columns["center"], columns["steering"]):
            out.problems.append(Problem(str(log), row, f"expected at least 4 fields, got {len(fields)}"))
            continue
        steering = out.steering(fields[columns["steering"]], log, row)
        if steering is None:
            continue
        at = {name: columns[name] for name in OPTIONAL_COLUMNS if name in columns}
        optional = out.numbers({name: fields[i] for name, i in at.items() if i < len(fields)}, log, row)
        for camera in cameras:
            i = columns.get(camera, len(fields))
            if i < len(fields) and fields[i].strip():
                out.add(fields[i], steering + correction[camera], log, row, frame, camera, optional)
    return out.result()
