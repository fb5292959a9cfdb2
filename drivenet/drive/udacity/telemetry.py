"""One telemetry message of the simulator, read without trusting any of it.

The simulator sends `steering_angle` (degrees), `throttle`, `speed` (mph), each as a number or a string,
and `image`, a base64 JPEG of the centre camera. Whatever is wrong with a message is named as a problem
(a short, fixed phrase, so problems can be counted by kind) instead of raised: the car keeps moving.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from drivenet.data.images import ImageRefused, ImageTooLarge, read_rgb

NUMBERS = ("steering_angle", "throttle", "speed")
# The simulator's camera sends 320x160 (51,200 pixels); a frame twenty times that is refused undecoded, so a
# few hundred bytes claiming 9000x9000 never cost a gigabyte.
FRAME_PIXELS = 1_000_000


@dataclass(frozen=True)
class Telemetry:
    """What could be read of one message: the camera frame (uint8 (h, w, 3) RGB) with its JPEG bytes, the
    numbers, each None when missing or broken, and the problems found."""

    frame: np.ndarray | None
    jpeg: bytes | None
    steering_angle: float | None
    throttle: float | None
    speed: float | None
    problems: tuple[str, ...]


def read_telemetry(
    data: Any, warned: Counter[str] | None = None, max_pixels: int = FRAME_PIXELS
) -> Telemetry:
    """Read a telemetry message (the JSON object the simulator sent, already parsed), its frame of at most
    `max_pixels`; the image decoder's warnings are counted in `warned`."""
    if not isinstance(data, Mapping):
        return Telemetry(None, None, None, None, None, ("telemetry is not an object",))
    problems: list[str] = []
    numbers = {name: read_number(data, name, problems) for name in NUMBERS}
    jpeg, frame = read_image(data.get("image"), problems, warned, max_pixels)
    return Telemetry(frame, jpeg, **numbers, problems=tuple(problems))


def read_number(data: Mapping[str, Any], name: str, problems: list[str]) -> float | None:
    """A finite number from a number or numeric string; None (and a problem) otherwise."""
    if name not in data:
        problems.append(f"no {name}")
        return None
    value, number = data[name], math.nan
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        with contextlib.suppress(ValueError, OverflowError):
            number = float(value)
    if not math.isfinite(number):
        problems.append(f"{name} is not a number")
        return None
    return number


def read_image(
    text: Any, problems: list[str], warned: Counter[str] | None = None, max_pixels: int = FRAME_PIXELS
) -> tuple[bytes | None, np.ndarray | None]:
    """(JPEG bytes, RGB frame) from a base64 JPEG or PNG of at most `max_pixels` (by its header, before it
    is decoded); (None, None) and a problem when it cannot be read (any other format is refused unopened:
    see `drivenet.data.images`)."""
    if text is None:
        problems.append("no image")
        return None, None
    try:
        jpeg = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError, TypeError):
        problems.append("image is not base64")
        return None, None
    try:
        return jpeg, read_rgb(jpeg, max_pixels, warned)
    except ImageTooLarge:
        problems.append("image has too many pixels")
    except ImageRefused:
        problems.append("image is not a picture")
    return None, None
