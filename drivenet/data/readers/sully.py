"""Sully Chen style dashcam logs (`data.txt`): `name angle` or `name angle,timestamp` a line.

The angle is the steering wheel's, in degrees; steering = angle / wheel_degrees_per_unit, clipped to
[-1, 1] (450 by default: a car's wheel turns about 450 degrees from centre to full lock). Positive
angles are right turns, as in the other formats.
"""

from __future__ import annotations

from pathlib import Path

from drivenet.config import DataConfig
from drivenet.data.frames import Problem, ReadResult
from drivenet.data.readers.finder import FrameCollector
from drivenet.data.readers.logfile import numbered_lines, read_log, shown


def read_sully(log: Path, data: DataConfig) -> ReadResult:
    """Read one `data.txt`; images are resolved inside its folder."""
    out = FrameCollector(log.parent, data.follow_links)
    for row, line in numbered_lines(read_log(log, follow_links=data.follow_links)):
        fields = line.split(maxsplit=1)
        if len(fields) < 2:
            if fields:
                out.problems.append(
                    Problem(str(log), row, f"expected 'name angle', got {shown(line.strip())}")
                )
            continue
        angle = fields[1].split(",")[0]
        value = out.steering(angle, log, row, data.wheel_degrees_per_unit)
        if value is not None:
            out.add(fields[0], value, log, row, row - 1)
    return out.result()
