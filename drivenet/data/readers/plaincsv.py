"""A plain CSV with a header: one image column and one steering column (names set in `[data]`).

Steering must already be in [-1, 1] with negative = left; images are resolved inside the CSV's folder.
Columns named `throttle`, `brake` or `speed`, when the header has them, fill the frame table's optional
columns of those names (a row too short to reach one leaves it NaN).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from drivenet.config import DataConfig
from drivenet.data.frames import OPTIONAL_COLUMNS, Problem, ReadResult
from drivenet.data.readers.finder import FrameCollector
from drivenet.data.readers.logfile import csv_rows, read_log, shown
from drivenet.errors import DrivenetError


def read_header(path: Path, follow_links: bool = False) -> list[str]:
    """The stripped header fields of a CSV file (see `read_log` for `follow_links`)."""
    return header_of(read_log(path, follow_links=follow_links))


def header_of(text: str) -> list[str]:
    """The stripped fields of the first row of a CSV text."""
    first = next(csv.reader(io.StringIO(text, newline=""), skipinitialspace=True), [])
    return [f.strip() for f in first]


def read_plain_csv(path: Path, data: DataConfig) -> ReadResult:
    """Read one CSV with the configured image and steering columns."""
    text = read_log(path, follow_links=data.follow_links)
    header = header_of(text)
    wanted = (data.csv_image_column, data.csv_steering_column)
    if not all(col in header for col in wanted):
        raise DrivenetError(
            f"{path}, line 1: unknown columns {shown(','.join(header))}; set data.csv_image_column and "
            f"data.csv_steering_column (now {wanted[0]!r}, {wanted[1]!r}) to its image and steering columns"
        )
    image_at, steering_at = header.index(wanted[0]), header.index(wanted[1])
    optional_at = {name: header.index(name) for name in OPTIONAL_COLUMNS if name in header}
    out = FrameCollector(path.parent, data.follow_links)
    rows = csv_rows(text, path, out.problems)
    next(rows, None)  # the header
    for row, fields in rows:
        if not any(f.strip() for f in fields):
            continue
        if len(fields) <= max(image_at, steering_at):
            out.problems.append(Problem(str(path), row, f"expected {len(header)} fields, got {len(fields)}"))
            continue
        value = out.steering(fields[steering_at], path, row)
        if value is None:
            continue
        texts = {name: fields[i] for name, i in optional_at.items() if i < len(fields)}
        optional = out.numbers(texts, path, row)
        out.add(fields[image_at], value, path, row, row - 2, optional=optional)
    return out.result()
