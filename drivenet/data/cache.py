"""A steering cache: every frame decoded and preprocessed once, stored in one `.npz` with its settings."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from drivenet.config import DataConfig
from drivenet.data.cache_check import check_cache_arrays
from drivenet.data.decode import decode_all, progress_bar
from drivenet.data.frames import (
    COLUMNS,
    OPTIONAL_COLUMNS,
    Problem,
    count_kinds,
    no_usable_frames,
    raise_first,
)
from drivenet.data.images import open_image
from drivenet.data.npzmap import memmap_member
from drivenet.data.readers import read_recordings
from drivenet.data.transform import Preprocess
from drivenet.errors import DrivenetError
from drivenet.io import check_kind, check_output_file, load_npz, save_npz

KIND = "drivenet-steering-cache"
VERSION = 1
NEAR_ZERO = 0.02  # |steering| below this counts as driving straight in summaries
HIST_EDGES = np.linspace(-1.05, 1.05, 22)  # 21 bins of width 0.1 centred on -1.0, -0.9, ..., 1.0


class StackedImages:
    """Several image arrays (N_i, H, W, C) read as one, without copying them: indexing with an array of
    rows reads only those rows, from memory maps too. `np.asarray` makes the whole array."""

    def __init__(self, parts: Sequence[np.ndarray]) -> None:
        self.parts = list(parts)
        self.starts = np.cumsum([0, *(len(part) for part in self.parts)])
        self.shape = (int(self.starts[-1]), *self.parts[0].shape[1:])
        self.dtype = self.parts[0].dtype
        self.ndim = len(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows: Any) -> np.ndarray:
        """The images `rows` (an int array, or anything numpy takes for the first axis), a new array."""
        rows = np.arange(len(self))[rows]
        out = np.empty((*np.shape(rows), *self.shape[1:]), dtype=self.dtype)
        which = np.searchsorted(self.starts, rows, side="right") - 1
        for i, part in enumerate(self.parts):
            mine = which == i
            if np.any(mine):
                out[mine] = part[rows[mine] - self.starts[i]]
        return out

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return np.concatenate(self.parts).astype(dtype or self.dtype, copy=False)


@dataclass
class SteeringCache:
    """Preprocessed images uint8 (N, H, W, C), steering float32 (N,), the frame table, the transform.

    The images of a loaded cache are a read-only memory map of the file (pages are read when used), and
    those of several caches at once a `StackedImages`; both are indexed like an array.
    """

    images: np.ndarray | StackedImages
    steering: np.ndarray
    frames: pd.DataFrame
    preprocess: Preprocess
    summary: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.steering)

    @property
    def frame_size(self) -> tuple[int, int] | None:
        """(width, height) of the raw camera frames; None for caches made before it was recorded."""
        size = self.summary.get("frame_size")
        return None if size is None else (int(size[0]), int(size[1]))

    def centre_rows(self, rows: np.ndarray) -> np.ndarray:
        """The centre-camera frames among `rows`; all of them when the cache has no centre camera."""
        rows = np.asarray(rows)
        if "camera" not in self.frames:
            return rows
        centre = self.frames["camera"].to_numpy()[rows] == "center"
        return rows[centre] if np.any(centre) else rows

    def save(self, path: str | Path, force: bool = False) -> Path:
        """Write the cache as one `.npz`, atomically; an existing file needs `force`."""
        path = check_output_file(path, force)
        arrays = {"images": np.asarray(self.images), "steering": self.steering.astype(np.float32)}
        for column in COLUMNS:
            if column != "steering":
                values = self.frames[column].to_numpy()
                arrays[f"frame_{column}"] = (
                    values.astype(np.int64) if column == "frame" else values.astype(str)
                )
        for column in OPTIONAL_COLUMNS:  # throttle, brake, speed: kept when the recordings had them
            if column in self.frames.columns:
                arrays[f"frame_{column}"] = self.frames[column].to_numpy(np.float32)
        meta = {
            "kind": KIND,
            "version": VERSION,
            "preprocess": self.preprocess.to_dict(),
            "summary": self.summary,
        }
        return save_npz(path, arrays, meta)

    @classmethod
    def load(cls, path: str | Path) -> SteeringCache:
        """Read a cache written by `save` (or `drivenet preprocess`); its images are memory-mapped."""
        arrays, meta = load_npz(path, skip=("images",))
        remedy = "make one with `drivenet preprocess DATA --out CACHE`"
        check_kind(path, meta, KIND, VERSION, remedy)
        names = ["steering", *(f"frame_{c}" for c in COLUMNS if c != "steering")]
        missing = [name for name in names if name not in arrays]
        if missing:
            raise DrivenetError(f"{path}: incomplete cache, no {', '.join(missing)} array; {remedy}")
        images = memmap_member(path, "images")
        preprocess = check_cache_arrays(path, {**arrays, "images": images}, meta)
        steering = arrays["steering"].astype(np.float32)
        table = {c: arrays[f"frame_{c}"] for c in COLUMNS if c != "steering"}
        frames = pd.DataFrame({**table, "steering": steering}, columns=list(COLUMNS))
        for column in ("path", "camera", "recording"):
            frames[column] = frames[column].astype(object)
        for column in OPTIONAL_COLUMNS:
            values = arrays.get(f"frame_{column}")
            if values is not None:
                if values.shape != (len(frames),) or values.dtype.kind != "f":
                    raise DrivenetError(f"{path}: frame_{column} is {values.dtype} {values.shape}; {remedy}")
                frames[column] = values.astype(np.float32)
        return cls(images, steering, frames, preprocess, meta.get("summary", {}))


def summarize(
    frames: pd.DataFrame, problems: Sequence[Problem], frame_size: tuple[int, int] | None = None
) -> dict[str, Any]:
    """Counts for people: frames kept per recording and camera, skipped by kind, steering histogram, and
    the raw frame size (width, height) of the first frame."""
    steering = frames["steering"].to_numpy(dtype=np.float32)
    counts, _ = np.histogram(np.clip(steering, -1, 1), bins=HIST_EDGES)
    return {
        "frames": int(len(frames)),
        "recordings": {str(k): int(v) for k, v in frames["recording"].value_counts(sort=False).items()},
        "cameras": {str(k): int(v) for k, v in frames["camera"].value_counts(sort=False).items()},
        "skipped": count_kinds(problems),
        "near_zero_share": float(np.mean(np.abs(steering) < NEAR_ZERO)) if len(steering) else 0.0,
        "histogram": {"edges": [round(float(e), 3) for e in HIST_EDGES], "counts": counts.tolist()},
        "frame_size": None if frame_size is None else list(frame_size),
    }


def build_cache(
    frames: pd.DataFrame,
    preprocess: Preprocess,
    workers: int = 2,
    strict: bool = False,
    progress: bool = True,
    problems: Sequence[Problem] = (),
) -> tuple[SteeringCache, list[Problem]]:
    """Decode and preprocess every frame; unreadable images are skipped (or, with `strict`, an error).

    `problems` are the reader's, counted in the summary, and so are the decoders' warnings (in
    `decoder_warnings`, by message, when there were any). Returns the cache and the skipped images.
    """
    if len(frames) == 0:
        raise DrivenetError("no frames to preprocess; check the recording with `drivenet inspect DATA`")
    paths = frames["path"].tolist()
    with progress_bar(len(paths), "preprocessing", progress) as advance:
        images, failures, warned = decode_all(paths, preprocess, workers, advance)
    skipped = [Problem(paths[i], 0, reason, "unreadable image") for i, reason in failures]
    raise_first(skipped, strict)
    if len(skipped) == len(paths):
        raise DrivenetError(f"none of the {len(paths)} images could be read; first: {skipped[0]}")
    if skipped:
        keep = np.ones(len(paths), dtype=bool)
        keep[[i for i, _ in failures]] = False
        images, frames = images[keep], frames[keep]
    frames = frames.reset_index(drop=True)
    steering = frames["steering"].to_numpy(dtype=np.float32)
    with open_image(frames["path"].iloc[0], warned=Counter()) as first:  # the header gives the size
        size = first.size
    summary = summarize(frames, [*problems, *skipped], size)
    if warned:
        summary["decoder_warnings"] = dict(warned.most_common())
    cache = SteeringCache(images, steering, frames, preprocess, summary)
    return cache, skipped


def stack_caches(caches: Sequence[SteeringCache], names: Sequence[str | Path]) -> SteeringCache:
    """One cache of several (`names`: where each came from, for errors), their images not copied.

    Refused: caches made with different preprocessing, or holding the same frame files. A recording name
    that an earlier cache already holds gets `#2`, `#3`... appended, as `preprocess` does.
    """
    if len(caches) == 1:
        return caches[0]
    first = caches[0]
    tables, seen_paths, seen_names = [], {}, Counter()
    for cache, name in zip(caches, names, strict=True):
        if cache.preprocess != first.preprocess:
            raise DrivenetError(
                f"{name}: made with preprocessing {cache.preprocess.to_dict()}, but {names[0]} with "
                f"{first.preprocess.to_dict()}; re-run `drivenet preprocess` with one config for all"
            )
        for path in cache.frames["path"]:
            if path in seen_paths:
                raise DrivenetError(
                    f"{name} and {seen_paths[path]} both hold the frame {path}; pass each recording once"
                )
        seen_paths.update(dict.fromkeys(cache.frames["path"], name))
        renamed = {}
        for recording in cache.frames["recording"].unique():
            seen_names[recording] += 1
            if seen_names[recording] > 1:
                renamed[recording] = f"{recording}#{seen_names[recording]}"
        tables.append(cache.frames.replace({"recording": renamed}) if renamed else cache.frames)
    frames = pd.concat(tables, ignore_index=True)
    sizes = {cache.frame_size for cache in caches}
    summary = summarize(frames, [], sizes.pop() if len(sizes) == 1 else None)
    steering = np.concatenate([cache.steering for cache in caches])
    images = StackedImages([cache.images for cache in caches])
    return SteeringCache(images, steering, frames, first.preprocess, summary)


def load_or_build(
    source: str | Path | Sequence[str | Path], data: DataConfig, progress: bool = False
) -> SteeringCache:
    """Load `.npz` caches (their stored transform wins) and read and preprocess recording folders in
    memory; several sources are stacked into one cache (see `stack_caches`)."""
    sources = [Path(source)] if isinstance(source, (str, Path)) else [Path(s) for s in source]
    caches = [SteeringCache.load(path) for path in sources if path.suffix == ".npz"]
    names: list[str | Path] = [path for path in sources if path.suffix == ".npz"]
    folders = [path for path in sources if path.suffix != ".npz"]
    if folders:
        read = read_recordings(folders, data)
        if len(read.frames) == 0:
            raise no_usable_frames(folders, read.problems)
        cache, _ = build_cache(
            read.frames, Preprocess.from_config(data), data.workers, progress=progress, problems=read.problems
        )
        caches.append(cache)
        names.append(", ".join(map(str, folders)))
    return stack_caches(caches, names)
