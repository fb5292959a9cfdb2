"""An animated GIF of a drive: the camera view with the network's and the expert's steering drawn on
it, a small map of the road with the car on it, and the distance, offset and takeovers so far; with
`SaliencyFilm`, the model's input and its saliency map beside each picture."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from drivenet.drive.rendered import ClosedLoop
from drivenet.geometry.car import pursuit_steering
from drivenet.geometry.track import Track
from drivenet.model.saliency import explain_clips
from drivenet.model.steering_model import ClipStream, SteeringModel
from drivenet.viz import input_saliency_panel, overlay, save_gif, side_by_side

MAP_SIZE = 90  # pixels of the square map inset
GIF_COLOURS = 48  # a small palette: sensor noise makes big ones compress badly
CAR_COLOUR, ROAD_COLOUR = (255, 60, 60), (230, 230, 230)
STATUS_FONT = ImageFont.load_default_imagefont()  # a bitmap font: 100x faster than outlined TrueType


class DriveFilm:
    """A `watch` for `ClosedLoop.run` that keeps every `every`-th step, up to `max_frames` frames; only
    the kept steps render a full camera frame."""

    def __init__(self, track: Track, every: int = 2, max_frames: int = 150) -> None:
        self.every, self.max_frames, self.dt = every, max_frames, 0.1
        self.frames: list[Image.Image] = []
        self.steps = 0
        self.track = track
        pick = slice(None, None, max(1, len(track.s) // 2000))
        self.origin = np.array([track.x.min(), track.y.min()])
        span = max(track.x.max() - track.x.min(), track.y.max() - track.y.min(), 1.0)
        self.scale = (MAP_SIZE - 8) / span
        self.map = Image.new("RGB", (MAP_SIZE, MAP_SIZE), (25, 30, 35))
        points = [self.to_map(x, y) for x, y in zip(track.x[pick], track.y[pick], strict=True)]
        ImageDraw.Draw(self.map).line(points, fill=ROAD_COLOUR, width=1)

    def to_map(self, x: float, y: float) -> tuple[float, float]:
        """Map pixel of a ground point: east to the right, north up."""
        return 4 + (x - self.origin[0]) * self.scale, MAP_SIZE - 4 - (y - self.origin[1]) * self.scale

    def __call__(self, loop: ClosedLoop, frame: np.ndarray, steering: float) -> None:
        self.steps, self.dt = self.steps + 1, loop.dt
        if (self.steps - 1) % self.every or len(self.frames) >= self.max_frames:
            return
        image = overlay(loop.camera_frame(), steering, pursuit_steering(loop.track, loop.pose, loop.s))
        inset = self.map.copy()
        cx, cy = self.to_map(loop.pose.x, loop.pose.y)
        ImageDraw.Draw(inset).ellipse([cx - 3, cy - 3, cx + 3, cy + 3], fill=CAR_COLOUR)
        image.paste(inset, (image.width - MAP_SIZE - 4, 4))
        km = (loop.s - self.track.s[0]) / 1000
        status = f"{km:.2f} km | offset {loop.offset:+.2f} m | takeovers {loop.takeovers}"
        draw = ImageDraw.Draw(image)
        draw.rectangle([0, image.height - 16, image.width, image.height], fill=(0, 0, 0))
        draw.text((6, image.height - 14), status, fill=(255, 255, 255), font=STATUS_FONT)
        self.frames.append(image)

    def save(self, path: str | Path) -> Path:
        """Write the GIF atomically, playing at the drive's real speed; loops forever."""
        frames = [f.quantize(GIF_COLOURS, method=Image.Quantize.FASTOCTREE) for f in self.frames]
        return save_gif(frames, path, int(round(1000 * self.dt * self.every)))


class SaliencyFilm:
    """Wraps the `watch` of a film that keeps its pictures in `frames` (`DriveFilm`, `ReplayFilm`): every
    step's frame goes into the model's clip history, and beside each picture the film keeps goes the
    model's input with the `method`'s saliency map over it (and the motion map for a motion model).
    `to_images` turns what the loop shows the model into its preprocessed images uint8 (1, H, W, C)."""

    def __init__(
        self,
        watch: Callable[..., None],
        frames: list[Image.Image],
        model: SteeringModel,
        method: str,
        to_images: Callable[[np.ndarray], np.ndarray],
    ) -> None:
        self.watch, self.frames, self.model, self.method, self.to_images = (
            watch,
            frames,
            model,
            method,
            to_images,
        )
        self.stream = ClipStream(model)

    def __call__(self, loop: object, frame: np.ndarray, *rest: float) -> None:
        kept = len(self.frames)
        self.watch(loop, frame, *rest)
        clips = self.stream.clips(self.to_images(frame))
        if len(self.frames) > kept:
            maps = explain_clips(self.model, clips, self.method)
            titles = [(f"{self.method}: {part}", values) for part, values in maps.parts(0)]
            color = self.model.preprocess.color
            panel = input_saliency_panel(
                clips[0, ..., : self.model.preprocess.channels], color, titles, float(maps.steering[0])
            )
            self.frames[-1] = side_by_side([self.frames[-1], panel])
