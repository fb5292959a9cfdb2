"""Rendered training data: camera frames of random roads, each labelled with its pure-pursuit steering.

Frames are taken every few metres along one random road, each with a random lateral offset, heading
error and appearance, as ALVINN's simulated training set varied road shape, position and lighting.
`write_recording` stores them in the Udacity simulator's layout, so they flow through the same
readers, caches and commands as real recordings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from drivenet.errors import DrivenetError
from drivenet.geometry.camera import ROADS, from_render_camera, write_marker
from drivenet.geometry.car import pursuit_steering
from drivenet.geometry.track import Pose, Track, random_track
from drivenet.io import prepare_output_dir, write_text
from drivenet.roads.renderer import Camera, Look, RoadRenderer

SPACING = 3.0  # metres of road between consecutive frames
MAX_OFFSET = 1.2  # metres: offsets are uniform in ±MAX_OFFSET
MAX_HEADING_ERROR = np.radians(5.0)  # heading errors are uniform in ±5°
LOG_HEADER = "center,left,right,steering,throttle,brake,speed"
SPEED_MPH = 22.4  # the speed column of the log (10 m/s); informational only


def parse_size(text: str) -> Camera:
    """A camera for an image size written `WxH`, e.g. `320x160`."""
    width, sep, height = text.lower().partition("x")
    if not (sep and width.isdigit() and height.isdigit() and int(width) >= 8 and int(height) >= 8):
        raise DrivenetError(f"--size {text!r}: expected WIDTHxHEIGHT in pixels, each >= 8, e.g. 320x160")
    return Camera(width=int(width), height=int(height))


def road_scenes(count: int, rng: np.random.Generator) -> Iterator[tuple[Track, Pose, float, Look]]:
    """`count` (track, pose, arc length, look) along one random road, every SPACING metres, each pose
    with a random offset and heading error; the caller renders each with the same `rng`."""
    track = random_track(count * SPACING + 2 * RoadRenderer.view_distance, rng)
    for i in range(count):
        s = 10.0 + i * SPACING
        offset = rng.uniform(-MAX_OFFSET, MAX_OFFSET)
        pose = track.place(s, offset, rng.uniform(-MAX_HEADING_ERROR, MAX_HEADING_ERROR))
        yield track, pose, s, Look.random(rng)


def labelled_frames(
    count: int, seed: int, camera: Camera | None = None
) -> Iterator[tuple[np.ndarray, float]]:
    """Yield `count` (frame uint8 (H, W, 3), steering) pairs, the same for the same seed."""
    rng = np.random.default_rng(seed)
    renderer = RoadRenderer(camera)
    for track, pose, s, look in road_scenes(count, rng):
        yield renderer.render(track, pose, s, look, rng), pursuit_steering(track, pose, s)


def render_set(count: int, seed: int, camera: Camera | None = None) -> tuple[np.ndarray, np.ndarray]:
    """`count` frames in memory: uint8 (N, H, W, 3) and float32 steering (N,)."""
    pairs = list(labelled_frames(count, seed, camera))
    frames = np.stack([frame for frame, _ in pairs]) if pairs else np.zeros((0, 0, 0, 3), np.uint8)
    return frames, np.array([steering for _, steering in pairs], np.float32)


def write_recording(
    out: Path,
    count: int,
    seed: int,
    camera: Camera | None = None,
    force: bool = False,
    progress: Callable[[int], None] | None = None,
) -> Path:
    """Render `count` frames into `out` as a Udacity simulator recording; returns the log's path.

    `IMG/center_NNNNN.jpg` holds the frames (JPEG quality 95) and `driving_log.csv` names them with
    relative paths; the left and right camera columns are empty, since only the centre camera is
    rendered. `camera.json` names the renderer's camera (`drivenet.geometry.camera.MARKER`), so replay and
    recovery views do not take the frames for the Udacity simulator's. The log is written last and
    atomically, so an interrupted run leaves no half-listed recording; the images, listed nowhere until
    then, are written straight into the new folder.
    """
    if count < 1:
        raise DrivenetError(f"--frames {count}: need at least 1 frame")
    out = prepare_output_dir(out, force)
    (out / "IMG").mkdir()
    rows = [LOG_HEADER]
    for i, (frame, steering) in enumerate(labelled_frames(count, seed, camera)):
        name = f"IMG/center_{i:05d}.jpg"
        try:
            Image.fromarray(frame).save(out / name, format="JPEG", quality=95)
        except OSError as err:
            raise DrivenetError(
                f"cannot write {out / name}: {err.strerror or err}; choose another folder"
            ) from None
        rows.append(f"{name},,,{steering:.6f},0.3,0,{SPEED_MPH}")
        if progress is not None:
            progress(i + 1)
    write_marker(out, ROADS, from_render_camera(camera or Camera()))
    return write_text(out / "driving_log.csv", "\n".join(rows) + "\n")
