"""A Udacity simulator recording written row by row with its time, steering and speed: what replay's
tests need to put stops, reversing, pauses or broken rows where they want them."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

HEADER = "center,left,right,steering,throttle,brake,speed"


def stamp(ms: int) -> str:
    """The simulator's stamp in an image name for `ms` milliseconds after 2020-01-01 00:00."""
    return f"2020_01_01_00_{ms // 60000:02d}_{ms // 1000 % 60:02d}_{ms % 1000:03d}"


def write_timed_log(folder: Path, rows: list[tuple[int, float, str]]) -> Path:
    """A Udacity recording: one row per (time in ms, steering, speed in mph as text), its own frame each
    (a row that repeats a time repeats its image name, as a duplicated log line does)."""
    (folder / "IMG").mkdir(parents=True)
    lines = [HEADER]
    for k, (ms, steering, speed) in enumerate(rows):
        name = f"IMG/center_{stamp(ms)}.jpg"
        if not (folder / name).exists():
            Image.new("RGB", (64, 32), (90 + k % 7, 100, 110)).save(folder / name)
        lines.append(f"{name},,,{steering},0,0,{speed}")
    (folder / "driving_log.csv").write_text("\n".join(lines) + "\n")
    return folder
