"""Donkey Car tubs. Steering is `user/angle` in [-1, 1] (-1 = full left), the image `cam/image_array`;
`user/throttle`, in records that have it, fills the frame table's optional `throttle` column.

- v2: `manifest.json` (JSON lines; the last names the `catalog_N.catalog` files and the
  `deleted_indexes`) plus catalogs of one JSON record a line; frames in `images/`.
- v1: one `record_N.json` per frame, images beside them.
Records listed in `deleted_indexes` are not part of the data; a record that is not valid JSON or lacks
a key is reported with its file and line, and skipped.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from drivenet.config import DataConfig
from drivenet.data.frames import Problem, ReadResult
from drivenet.data.readers.finder import FrameCollector
from drivenet.data.readers.logfile import UnreadableLog, numbered_lines, read_log, shown
from drivenet.errors import DrivenetError

IMAGE_KEY = "cam/image_array"
ANGLE_KEY = "user/angle"
THROTTLE_KEY = "user/throttle"
RECORD_V1 = re.compile(r"record_(\d+)\.json$")


def add_record(out: FrameCollector, record: Any, file: Path, row: int, index: int) -> None:
    """Add one parsed tub record to `out`, or the problem that stops it."""
    if not isinstance(record, dict) or IMAGE_KEY not in record or ANGLE_KEY not in record:
        out.problems.append(
            Problem(str(file), row, f"record lacks {IMAGE_KEY!r} or {ANGLE_KEY!r}", "bad record")
        )
        return
    steering = out.steering(record[ANGLE_KEY], file, row)
    if steering is None:
        return
    optional = out.numbers({"throttle": record[THROTTLE_KEY]} if THROTTLE_KEY in record else {}, file, row)
    out.add(str(record[IMAGE_KEY]), steering, file, row, index, optional=optional)


def whole_number(value: Any) -> int | None:
    """`value` as an int when it is a whole number (5 or 5.0, not true, "5" or null), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return int(value) if isinstance(value, int) or value.is_integer() else None


def read_manifest(manifest: Path, follow_links: bool = False) -> tuple[list[str], set[int]]:
    """Catalog file names and deleted indexes from a v2 `manifest.json` (see `read_log` for
    `follow_links`)."""
    for row, line in numbered_lines(read_log(manifest, follow_links=follow_links)):
        try:
            entry = json.loads(line)
        except (ValueError, RecursionError):  # not JSON, or absurd digits or nesting
            raise DrivenetError(
                f"{manifest}, line {row}: not valid JSON; restore the tub's manifest"
            ) from None
        if isinstance(entry, dict) and "paths" in entry:
            paths, deleted = entry["paths"], entry.get("deleted_indexes", [])
            if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
                raise DrivenetError(
                    f"{manifest}, line {row}: 'paths' must list catalog file names; restore the manifest"
                )
            indexes = [whole_number(i) for i in deleted] if isinstance(deleted, list) else [None]
            if None in indexes:
                raise DrivenetError(
                    f"{manifest}, line {row}: 'deleted_indexes' must list whole numbers, got "
                    f"{shown(json.dumps(deleted))}; restore the tub's manifest"
                )
            return paths, {i for i in indexes if i is not None}
    raise DrivenetError(f"{manifest}: no line lists the catalog 'paths'; restore the tub's manifest")


def read_donkey_v2(tub: Path, data: DataConfig) -> ReadResult:
    """Read a v2 tub folder (manifest + catalogs)."""
    catalogs, deleted = read_manifest(tub / "manifest.json", data.follow_links)
    out = FrameCollector(tub, data.follow_links)
    for name in catalogs:
        catalog = tub / Path(name.replace("\\", "/")).name  # never outside the tub
        if not os.path.lexists(catalog):
            out.problems.append(
                Problem(str(catalog), 0, "catalog listed in manifest.json is missing", "missing catalog")
            )
            continue
        try:
            text = read_log(catalog, tub, data.follow_links)
        except UnreadableLog as err:
            out.problems.append(Problem(str(catalog), 0, err.reason, "unreadable log"))
            continue
        for row, line in numbered_lines(text):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except (ValueError, RecursionError):  # not JSON, or absurd digits or nesting
                out.problems.append(
                    Problem(str(catalog), row, "broken catalog line (not valid JSON)", "bad record")
                )
                continue
            raw = record.get("_index", -1) if isinstance(record, dict) else -1
            index = whole_number(raw)
            if index is None:
                reason = f"_index {shown(json.dumps(raw))} is not a whole number"
                out.problems.append(Problem(str(catalog), row, reason, "bad record"))
            elif index not in deleted:
                add_record(out, record, catalog, row, index)
    return out.result()


def read_donkey_v1(tub: Path, data: DataConfig) -> ReadResult:
    """Read a v1 tub folder (`record_N.json` files)."""
    records = sorted(
        ((int(m.group(1)), p) for p in tub.iterdir() if (m := RECORD_V1.match(p.name))), key=lambda r: r[0]
    )
    out = FrameCollector(tub, data.follow_links)
    for index, file in records:
        try:
            record = json.loads(read_log(file, tub, data.follow_links))
        except UnreadableLog as err:
            out.problems.append(Problem(str(file), 0, err.reason, "unreadable log"))
            continue
        except (ValueError, RecursionError):  # not JSON, or absurd digits or nesting
            out.problems.append(Problem(str(file), 1, "broken record (not valid JSON)", "bad record"))
            continue
        add_record(out, record, file, 1, index)
    return out.result()


def read_donkey(tub: Path, data: DataConfig) -> ReadResult:
    """Read a tub of either version."""
    v2 = os.path.lexists(tub / "manifest.json")  # a manifest that is a FIFO or a link is refused by name
    return read_donkey_v2(tub, data) if v2 else read_donkey_v1(tub, data)
