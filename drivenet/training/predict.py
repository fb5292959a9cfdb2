"""Steer on camera images: raw frames in, the model's own preprocessing applied, steering out.

Sources are image files, folders of images, or recording folders (whose logs give the true steering).
Images that cannot be read are skipped and listed, as when a cache is built.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from drivenet.config import DataConfig
from drivenet.data.readers import IMAGE_SUFFIXES, read_recordings
from drivenet.data.readers.detect import detect_folder
from drivenet.data.readers.finder import scan_folder
from drivenet.errors import DrivenetError
from drivenet.io import atomic_write
from drivenet.model.encoding import BumpEncoding, direction_name
from drivenet.model.steering_model import ClipStream, SteeringModel
from drivenet.viz import overlay

CHUNK = 256  # frames decoded at a time


@dataclass(frozen=True)
class Sample:
    """One image to steer on, its recorded steering when it came from a recording, and why it is not
    read when it is refused (a link out of its folder, a FIFO)."""

    path: Path
    true: float | None = None
    refused: str | None = None


def natural_key(name: str) -> tuple[list[int | str], str]:
    """Sort key putting numbered names in number order: frame2 before frame10, 9.jpg before 10.jpg."""
    parts = re.split(r"(\d+)", name)
    return [int(p) if i % 2 else p.lower() for i, p in enumerate(parts)], name


def folder_samples(folder: Path) -> list[Sample]:
    """The images of a plain folder in natural order (consecutive frames for a motion model); entries
    that are not regular files inside it are kept as refused samples, to be counted as skipped."""
    files, refused = scan_folder(folder, folder.resolve())
    names = [n for n in {*files, *refused} if n.lower().endswith(IMAGE_SUFFIXES)]
    return [Sample(folder / n, refused=refused.get(n)) for n in sorted(names, key=natural_key)]


def collect_samples(paths: Sequence[str | Path], data: DataConfig) -> list[Sample]:
    """Image files as given; a folder's images, or a recording folder's centre frames with their labels."""
    samples: list[Sample] = []
    for path in map(Path, paths):
        if path.is_file():
            samples.append(Sample(path))
        elif path.is_dir():
            images = folder_samples(path)
            if images and detect_folder(path, data) is None:
                samples += images
                continue
            frames = read_recordings([path], replace(data, cameras="center")).frames
            labelled = zip(frames["path"], frames["steering"], strict=True)
            samples += [Sample(Path(p), float(s)) for p, s in labelled]
        elif path.exists():
            raise DrivenetError(
                f"{path}: neither a regular file nor a folder (a FIFO or device); pass images"
            )
        else:
            raise DrivenetError(f"{path}: no such image or folder; check the path")
    if not samples:
        raise DrivenetError(
            f"no images found in {', '.join(map(str, paths))}; pass JPEG or PNG camera frames"
        )
    return samples


def read_frame(path: Path) -> np.ndarray | str:
    """An image file as uint8 (h, w, 3) RGB, or the reason it cannot be read. An image larger than
    Pillow's decompression-bomb limit (`Image.MAX_IMAGE_PIXELS`, about 89 million pixels) is refused
    before it is decoded: no camera frame is that large, and decoding it could take gigabytes."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                return np.asarray(image.convert("RGB"), dtype=np.uint8)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        return f"refused: too many pixels for a camera frame ({err})"
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError, EOFError) as err:
        return f"cannot read this image ({err})"


def predict_samples(
    model: SteeringModel,
    samples: Sequence[Sample],
    overlay_dir: Path | None = None,
    band: float = 0.05,
    skipped: list[tuple[Path, str]] | None = None,
) -> Iterator[dict[str, Any]]:
    """For each sample: path, steering, direction, each pedal the model predicts (throttle, brake), true
    steering (when known) and, for a bump model, the steering output activations; with `overlay_dir`,
    also writes the frame with the steering drawn on it.
    A motion model reads the samples as consecutive frames, each with the ones before it.

    Unreadable images are left out and appended to `skipped` as (path, reason); DrivenetError when
    none can be read."""
    bump = isinstance(model.encoding, BumpEncoding)
    used: set[str] = set()
    stream = ClipStream(model)
    unread: list[tuple[Path, str]] = []
    for start in range(0, len(samples), CHUNK):
        read = [
            (s, read_frame(s.path) if s.refused is None else f"refused: {s.refused}")
            for s in samples[start : start + CHUNK]
        ]
        bad = [(s.path, frame) for s, frame in read if isinstance(frame, str)]
        unread += bad
        if skipped is not None:
            skipped += bad
        readable = [(s, frame) for s, frame in read if not isinstance(frame, str)]
        if not readable:
            continue
        chunk, frames = zip(*readable, strict=True)
        outputs, steering = model.read(stream.clips(model.images_from_frames(frames)))
        pedals = model.heads.decode_pedals(outputs)
        activations = model.heads.steering_outputs(outputs)
        for k, (sample, frame, value) in enumerate(zip(chunk, frames, steering, strict=True)):
            result: dict[str, Any] = {
                "path": str(sample.path),
                "steering": float(value),
                "direction": direction_name(float(value), band),
                **{name: float(values[k]) for name, values in pedals.items()},
            }
            if sample.true is not None:
                result["true"] = sample.true
            if bump:
                result["activations"] = [round(float(a), 4) for a in activations[k]]
            if overlay_dir is not None:
                name = _unique_name(sample.path, used)
                picture = overlay(frame, float(value), sample.true, band)
                result["overlay"] = str(
                    atomic_write(overlay_dir / name, lambda tmp, p=picture: p.save(tmp, "PNG"))
                )
            yield result
    if unread and len(unread) == len(samples):
        path, reason = unread[0]
        raise DrivenetError(
            f"none of the {len(samples)} images could be read; first: {path}: {reason}; "
            "pass JPEG or PNG camera frames"
        )


def _unique_name(path: Path, used: set[str]) -> str:
    """`<stem>.png`, numbered when two inputs share a stem."""
    name, k = f"{path.stem}.png", 1
    while name in used:
        name, k = f"{path.stem}_{k}.png", k + 1
    used.add(name)
    return name
