"""Overlays shared by `predict`, `drive` and `replay` (the steering drawn on a camera frame, and saliency
maps laid over a frame or over the model's own input), and the GIF writer of every closed loop that films."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from drivenet.data.transform import MODES
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


HEAT_MAP = "inferno"  # a perceptually uniform colormap: dark (nothing) to bright yellow (most)


def heat(values: np.ndarray, top: float | None = None) -> np.ndarray:
    """A non-negative map as float32 in [0, 1]: divided by `top` (default its 99th percentile, so one
    hot pixel does not wash the rest out) and clipped."""
    values = np.asarray(values, np.float32)
    top = float(np.percentile(values, 99)) if top is None else top
    return np.clip(values / top, 0.0, 1.0) if top > 0 else np.zeros_like(values)


def blend_heat(frame: np.ndarray, level: np.ndarray) -> np.ndarray:
    """A frame uint8 (h, w, 3) with a heat level (h, w) in [0, 1] laid over it in the HEAT_MAP colours:
    each pixel moves towards its colour by 0.75 x its level, so cold pixels show the frame."""
    from matplotlib import colormaps

    colours = colormaps[HEAT_MAP](level)[..., :3].astype(np.float32) * 255
    share = (0.75 * level)[..., None]
    mixed = np.asarray(frame, np.float32) * (1 - share) + colours * share
    return (mixed + 0.5).astype(np.uint8)


def side_by_side(images: Sequence[Image.Image]) -> Image.Image:
    """Images left to right, each scaled to the first one's height."""
    height = images[0].height
    scaled = [
        im if im.height == height else im.resize((round(im.width * height / im.height), height))
        for im in images
    ]
    row = Image.new("RGB", (sum(im.width for im in scaled), height))
    left = 0
    for im in scaled:
        row.paste(im, (left, 0))
        left += im.width
    return row


def saliency_overlay(
    frame: np.ndarray,
    maps: Sequence[tuple[str, np.ndarray]],
    pred: float,
    true: float | None = None,
    band: float = 0.05,
) -> Image.Image:
    """One panel per (title, map over the frame's pixels (h, w)): the frame with the map blended over it
    (`blend_heat`, all maps on one scale) and the steering drawn as `overlay` draws it, the title at the
    bottom; side by side."""
    top = float(np.percentile(np.stack([values for _, values in maps]), 99))  # one scale for all panels
    panels = []
    for title, values in maps:
        image = overlay(blend_heat(frame, heat(values, top)), pred, true, band)
        draw = ImageDraw.Draw(image)
        draw.text((6, image.height - 16), title, fill=(255, 255, 255), stroke_width=2, stroke_fill=(0, 0, 0))
        panels.append(image)
    return side_by_side(panels)


def input_picture(image: np.ndarray, color: str, width: int = 320) -> np.ndarray:
    """A model's input image uint8 (h, w, C) in its colour setting (gray, rgb or yuv) as RGB uint8,
    enlarged (nearest pixel) to about `width` pixels wide, so each input pixel stays visible."""
    image = np.asarray(image, np.uint8)
    picture = Image.fromarray(image[..., 0], "L") if color == "gray" else Image.fromarray(image, MODES[color])
    scale = max(1, round(width / image.shape[1]))
    big = picture.convert("RGB").resize(
        (image.shape[1] * scale, image.shape[0] * scale), Image.Resampling.NEAREST
    )
    return np.asarray(big, np.uint8)


def input_saliency_panel(
    image: np.ndarray, color: str, maps: Sequence[tuple[str, np.ndarray]], pred: float, band: float = 0.05
) -> Image.Image:
    """`saliency_overlay` on what the network reads: its input image enlarged (`input_picture`), with
    each map (over the input pixels) enlarged alike."""
    picture = input_picture(image, color)
    scale = picture.shape[0] // np.asarray(image).shape[0]
    return saliency_overlay(
        picture, [(t, np.kron(m, np.ones((scale, scale), np.float32))) for t, m in maps], pred, band=band
    )
