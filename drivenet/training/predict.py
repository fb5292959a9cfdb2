"""Steer on camera images: raw frames in, the model's own preprocessing applied, steering out.

Sources are image files, folders of images, or recording folders (whose logs give the true steering).
Images that cannot be read are skipped and listed, as when a cache is built.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from drivenet.config import DataConfig
from drivenet.data.images import ImageRefused, read_rgb
from drivenet.data.readers import IMAGE_SUFFIXES, read_recordings
from drivenet.data.readers.detect import detect_folder
from drivenet.data.readers.finder import scan_folder
from drivenet.errors import DrivenetError
from drivenet.io import atomic_write
from drivenet.model.encoding import BumpEncoding, direction_name
from drivenet.model.saliency import Saliency, explain_clips, on_frame
from drivenet.model.steering_model import ClipStream, SteeringModel
from drivenet.viz import overlay, saliency_overlay

CHUNK = 256  # frames decoded at a time
CHUNK_BYTES = 256 * 2**20  # raw frames kept at a time for drawing on (a 640x480 camera's 290 frames)


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


def folder_samples(folder: Path, follow_links: bool = False) -> list[Sample]:
    """The images of a plain folder in natural order (consecutive frames for a motion model); entries
    that are not regular files inside it (or, with `follow_links`, where its links lead) are kept as
    refused samples, to be counted as skipped."""
    files, refused = scan_folder(folder, folder.resolve(), follow_links)
    names = [n for n in {*files, *refused} if n.lower().endswith(IMAGE_SUFFIXES)]
    return [Sample(folder / n, refused=refused.get(n)) for n in sorted(names, key=natural_key)]


def collect_samples(paths: Sequence[str | Path], data: DataConfig) -> list[Sample]:
    """Image files as given; a folder's images, or a recording folder's centre frames with their labels."""
    samples: list[Sample] = []
    for path in map(Path, paths):
        if path.is_file():
            samples.append(Sample(path))
        elif path.is_dir():
            images = folder_samples(path, data.follow_links)
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


FORMAT_REMEDY = "pass JPEG or PNG camera frames"


class Unread(NamedTuple):
    """Why an image cannot be read, and what to pass instead when the decoder refused it (its format,
    size or contents); None when the reason says what to do (a refused link) or nothing will help."""

    reason: str
    remedy: str | None = None


def read_frame(path: Path) -> np.ndarray | Unread:
    """A JPEG or PNG file as uint8 (h, w, 3) RGB, or why it cannot be read. Another format, or an
    image with more pixels than a camera frame has, is refused before it is decoded (`read_rgb`); its
    decoder's warnings are counted in `drivenet.data.images.WARNED`, not printed."""
    try:
        return read_rgb(path)
    except ImageRefused as err:
        return Unread(str(err), FORMAT_REMEDY)
    except OSError as err:
        return Unread(f"cannot read this image ({err.strerror or err})")


@dataclass(frozen=True)
class Chunk:
    """Consecutive readable samples, the clips the model reads of them, and their raw RGB frames when
    they are kept (to draw on), else ()."""

    samples: tuple[Sample, ...]
    clips: np.ndarray
    frames: tuple[np.ndarray, ...] = ()


def read_chunks(
    model: SteeringModel,
    samples: Sequence[Sample],
    skipped: list[tuple[Path, str]] | None = None,
    keep_frames: bool = False,
) -> Iterator[Chunk]:
    """The readable samples in chunks of at most CHUNK; a motion model reads them as consecutive frames,
    each with the ones before it. Each frame is preprocessed as soon as it is decoded; with
    `keep_frames` its raw frame is kept too, and a chunk ends once its raw frames hold CHUNK_BYTES, so
    at most CHUNK_BYTES plus one frame are held (a frame has at most `MAX_PIXELS` x 3 bytes).

    Unreadable images are left out and appended to `skipped` as (path, reason); DrivenetError when
    none can be read."""
    stream = ClipStream(model)
    unread: list[tuple[Path, Unread]] = []
    taken: list[tuple[Sample, np.ndarray]] = []  # (sample, preprocessed image)
    kept: list[np.ndarray] = []  # their raw frames, with `keep_frames`
    for sample in samples:
        frame = read_frame(sample.path) if sample.refused is None else Unread(f"refused: {sample.refused}")
        if isinstance(frame, Unread):
            unread.append((sample.path, frame))
            if skipped is not None:
                skipped.append((sample.path, frame.reason))
            continue
        taken.append((sample, model.preprocess.apply_array(frame)))
        if keep_frames:
            kept.append(frame)
        if len(taken) == CHUNK or sum(f.nbytes for f in kept) >= CHUNK_BYTES:
            yield chunk_of(stream, taken, kept)
            taken, kept = [], []
    if taken:
        yield chunk_of(stream, taken, kept)
    if unread and len(unread) == len(samples):
        path, why = unread[0]
        raise DrivenetError(
            f"none of the {len(samples)} images could be read; first: {path}: {why.reason}"
            + (f"; {why.remedy}" if why.remedy else "")
        )


def chunk_of(stream: ClipStream, taken: list[tuple[Sample, np.ndarray]], kept: list[np.ndarray]) -> Chunk:
    """The Chunk of (sample, preprocessed image) pairs, read as the next images of `stream`, and the raw
    frames `kept` of them."""
    chunk, images = zip(*taken, strict=True)
    return Chunk(chunk, stream.clips(np.stack(images)), tuple(kept))


def predict_samples(
    model: SteeringModel,
    samples: Sequence[Sample],
    overlay_dir: Path | None = None,
    band: float = 0.05,
    skipped: list[tuple[Path, str]] | None = None,
    saliency: str | None = None,
    seed: int = 0,
) -> Iterator[dict[str, Any]]:
    """For each sample: path, steering, direction, each pedal the model predicts (throttle, brake), true
    steering (when known) and, for a bump model, the steering output activations; with `overlay_dir`,
    also writes the frame with the steering drawn on it. With `saliency` (a method of
    `drivenet.model.saliency`; `seed` for smoothgrad's noise) the picture shows the map over the frame
    (and the motion map beside it for a motion model), and the raw maps are saved beside it
    (`saliency_files`).
    A motion model reads the samples as consecutive frames, each with the ones before it.

    Unreadable images are left out and appended to `skipped` as (path, reason); DrivenetError when
    none can be read."""
    bump = isinstance(model.encoding, BumpEncoding)
    used: set[str] = set()
    for chunk in read_chunks(model, samples, skipped, keep_frames=overlay_dir is not None):
        outputs, steering = model.read(chunk.clips)
        pedals = model.heads.decode_pedals(outputs)
        activations = model.heads.steering_outputs(outputs)
        maps = explain_clips(model, chunk.clips, saliency, seed) if saliency is not None else None
        for k, (sample, value) in enumerate(zip(chunk.samples, steering, strict=True)):
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
                frame, name = chunk.frames[k], _unique_name(sample.path, used)
                if maps is None:
                    picture = overlay(frame, float(value), sample.true, band)
                else:
                    result.update(saliency_files(model, maps, k, frame, overlay_dir / name))
                    panels = [
                        (f"{maps.method}: {part}", on_frame(m, model.preprocess, frame.shape))
                        for part, m in maps.parts(k)
                    ]
                    picture = saliency_overlay(frame, panels, float(value), sample.true, band)
                result["overlay"] = str(
                    atomic_write(overlay_dir / name, lambda tmp, p=picture: p.save(tmp, "PNG"))
                )
            yield result


def saliency_files(
    model: SteeringModel, maps: Saliency, k: int, frame: np.ndarray, picture: Path
) -> dict[str, Any]:
    """Save clip k's raw maps (H, W) float32 over the model's input pixels beside `picture` as
    `<stem>.npy` (the frame's) and `<stem>_motion.npy`; returns their paths and where on the frame the
    frame map peaks and has its centre of mass ((x, y) in frame pixels), and for gradient methods of a
    motion model the motion channels' share of the total."""
    found: dict[str, Any] = {"method": maps.method}
    for part, values in maps.parts(k):
        path = picture.with_name(picture.stem + ("" if part == "frame" else f"_{part}") + ".npy")
        found[f"{part}_map"] = str(atomic_write(path, lambda tmp, v=values: np.save(tmp, v)))
    full = on_frame(maps.frame[k], model.preprocess, frame.shape)
    row, column = np.unravel_index(int(np.argmax(full)), full.shape)
    total = float(full.sum())
    rows, columns = np.indices(full.shape)
    found["peak"] = [int(column), int(row)]
    if total > 0:
        found["centre"] = [
            round(float((full * columns).sum() / total), 1),
            round(float((full * rows).sum() / total), 1),
        ]
    if maps.motion is not None and maps.method not in ("occlusion", "vbp"):
        both = float(maps.frame[k].sum() + maps.motion[k].sum())
        found["motion_share"] = round(float(maps.motion[k].sum()) / both, 4) if both > 0 else 0.0
    return found


def _unique_name(path: Path, used: set[str]) -> str:
    """`<stem>.png`, numbered when two inputs share a stem."""
    name, k = f"{path.stem}.png", 1
    while name in used:
        name, k = f"{path.stem}_{k}.png", k + 1
    used.add(name)
    return name
