"""Small recordings in every supported format (Udacity, donkey v1/v2, Sully Chen, plain CSV), written by the
tests themselves."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

SIZE = (64, 40)  # (width, height) of the test frames


def frame(value: int, width: int = SIZE[0], height: int = SIZE[1]) -> np.ndarray:
    """An RGB frame: brightness `value` on the left half, 255 - value on the right, black top row."""
    rgb = np.full((height, width, 3), value, dtype=np.uint8)
    rgb[:, width // 2 :] = 255 - value
    rgb[0] = 0
    return rgb


def write_jpeg(path: Path, value: int = 40) -> Path:
    """Write one test frame as a JPEG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(frame(value)).save(path, quality=95)
    return path


def udacity(
    folder: Path,
    steering: Sequence[object],
    header: str | None = "center,left,right,steering,throttle,brake,speed",
    name_style: str = "relative",
    images: str = "IMG",
    sides: bool = True,
    fields: int = 7,
) -> Path:
    """A simulator recording; `name_style` is relative | bare | windows | unix (absolute, another machine)."""
    lines = [header] if header else []
    for i, value in enumerate(steering):
        names = []
        for camera in ("center", "left", "right"):
            base = f"{camera}_2016_12_01_13_30_{i:06d}.jpg"
            if camera == "center" or sides:
                write_jpeg(folder / images / base, 20 + 5 * i)
            names.append(
                {
                    "relative": f"{images}/{base}",
                    "bare": base,
                    "windows": f"C:\\Users\\x\\Desktop\\{images}\\{base}",
                    "unix": f"/home/someone/rec/{images}/{base}",
                }[name_style]
            )
        rest = [str(value), "0", "0", "22.1"] if fields == 7 else [str(value), "22.1"]
        lines.append(", ".join(names + rest))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "driving_log.csv").write_text("\n".join(lines) + "\n")
    return folder


def donkey_v2(
    folder: Path, angles: Sequence[float], deleted: Sequence[int] = (), broken_line: int = 0
) -> Path:
    """A v2 tub with catalogs of 3 records each; `broken_line` (1-based in catalog_0) is cut short."""
    catalogs: dict[str, list[str]] = {}
    for i, angle in enumerate(angles):
        image = f"{i}_cam_image_array_.jpg"
        write_jpeg(folder / "images" / image, 30 + 10 * i)
        record = {"_index": i, "cam/image_array": image, "user/angle": angle, "user/throttle": 0.3}
        catalogs.setdefault(f"catalog_{i // 3}.catalog", []).append(json.dumps(record))
    if broken_line:
        lines = catalogs["catalog_0.catalog"]
        lines[broken_line - 1] = lines[broken_line - 1][:25]
    for name, lines in catalogs.items():
        (folder / name).write_text("\n".join(lines) + "\n")
    manifest = [
        ["cam/image_array", "user/angle", "user/throttle"],
        ["image_array", "float", "float"],
        {},
        {"created_at": 0},
        {
            "paths": list(catalogs),
            "current_index": len(angles),
            "max_len": 3,
            "deleted_indexes": list(deleted),
        },
    ]
    (folder / "manifest.json").write_text("\n".join(json.dumps(m) for m in manifest) + "\n")
    return folder


def donkey_v1(folder: Path, angles: Sequence[float]) -> Path:
    """A v1 tub: `meta.json` and one `record_N.json` per frame, images beside them."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "meta.json").write_text(json.dumps({"inputs": ["cam/image_array", "user/angle"]}))
    for i, angle in enumerate(angles):
        image = f"{i}_cam-image_array_.jpg"
        write_jpeg(folder / image, 30 + 10 * i)
        record = {"cam/image_array": image, "user/angle": angle, "user/throttle": 0.2}
        (folder / f"record_{i}.json").write_text(json.dumps(record))
    return folder


def sully(folder: Path, degrees: Sequence[object], timestamps: bool = False) -> Path:
    """A Sully Chen style `data.txt` with frames `0.jpg`, `1.jpg`, ..."""
    lines = []
    for i, angle in enumerate(degrees):
        write_jpeg(folder / f"{i}.jpg", 50 + i)
        lines.append(f"{i}.jpg {angle}" + (f",2018-07-01 17:09:44:{i:03d}" if timestamps else ""))
    (folder / "data.txt").write_text("\n".join(lines) + "\n")
    return folder


def plain_csv(folder: Path, steering: Sequence[object], columns: tuple[str, str] = ("file", "angle")) -> Path:
    """A plain CSV `labels.csv` with extra columns around the image and steering ones."""
    lines = [f"time,{columns[0]},speed,{columns[1]}"]
    for i, value in enumerate(steering):
        write_jpeg(folder / "frames" / f"f{i}.jpg", 60 + i)
        lines.append(f"{i},frames/f{i}.jpg,3.0,{value}")
    (folder / "labels.csv").write_text("\n".join(lines) + "\n")
    return folder / "labels.csv"
