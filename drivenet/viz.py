"""Overlays shared by `predict`, `drive` and `replay` (the steering drawn on a camera frame), and the GIF
writer of every closed loop that films."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from drivenet.io import atomic_write
from drivenet.model.encoding import direction_name

PRED_COLOUR, TRUE_COLOUR = (255, 80, 40), (40, 220, 90)


def overlay(frame: np.ndarray, pred: float, true: float | None = None, band: float = 0.05) -> Image.Image:
    """A camera frame with the predicted (and true) steering drawn as lines from the bottom centre.

    A line leans by steering x 45 degrees from vertical: left for negative, right for positive.
    """
    image = Image.fromarray(np.asarray(frame, dtype=np.uint8), "RGB")
    if image.width < 320:
        scale = 320 / image.width
        image = image.resize((320, round(image.height * scale)), Image.Resampling.BILINEAR)
    draw = ImageDraw.Draw(image)
    w, h = image.size
    base = (w / 2, h - 1)
    length = 0.45 * h
    lines = [(pred, PRED_COLOUR, "pred")] + ([] if true is None else [(true, TRUE_COLOUR, "true")])
    for k, (value, colour, name) in enumerate(lines):
        angle = float(np.clip(value, -1, 1)) * math.pi / 4
        tip = (base[0] + length * math.sin(angle), base[1] - length * math.cos(angle))
        draw.line([base, tip], fill=colour, width=5 - 3 * k)  # the true line thinner, on top
        text = f"{name} {value:+.3f} {direction_name(value, band)}"
        draw.text((6, 4 + 14 * k), text, fill=colour, stroke_width=2, stroke_fill=(0, 0, 0))
    return image


def save_gif(frames: Sequence[Image.Image], path: str | Path, frame_ms: int) -> Path:
    """An endless animated GIF of `frames`, each shown `frame_ms` milliseconds, written atomically (an
    unwritable path is a DrivenetError naming it)."""
    if not frames:
        raise ValueError("no frames to film")
    first, rest = frames[0], list(frames[1:])
    return atomic_write(
        path,
        lambda tmp: first.save(
            tmp, format="GIF", save_all=True, append_images=rest, duration=frame_ms, loop=0
        ),
    )
