"""The camera a recording names itself: `drivenet synth` writes `camera.json` beside its log, since its
frames (drivenet's road camera, 320x160) cannot be told from the Udacity simulator's by format or size."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from drivenet.config import DataConfig
from drivenet.data.readers.detect import find_recordings
from drivenet.errors import DrivenetError
from drivenet.geometry.camera import CameraModel, read_marker


def marker_of(target: Path) -> tuple[str, CameraModel] | None:
    """The marker of the recording that `target` is (its log file or its folder), None without one."""
    return read_marker(target if target.is_dir() else target.parent)


def recorded_camera(sources: Sequence[Path], data: DataConfig) -> CameraModel | None:
    """The camera that every recording under `sources` names; None when none names one (caches, `.npz`,
    name none). Recordings naming different cameras, or some naming one and some not, are refused: one
    camera model warps all of them."""
    marks: dict[str, tuple[str, CameraModel] | None] = {}
    for source in sources:
        if source.suffix == ".npz":
            marks[str(source)] = None
            continue
        for _, target in find_recordings(source, data):
            marks[str(target)] = marker_of(target)
    cameras = {None if mark is None else mark[1] for mark in marks.values()}
    if len(cameras) > 1:
        named = next(name for name, mark in marks.items() if mark is not None)
        other = next(name for name, mark in marks.items() if mark != marks[named])
        raise DrivenetError(
            f"{named} and {other} come from different cameras (camera.json); recovery views warp all "
            "frames with one camera model: train on one kind of recording, or set camera.preset"
        )
    return cameras.pop() if cameras else None
