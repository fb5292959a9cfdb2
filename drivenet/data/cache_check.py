"""Check a loaded cache's arrays agree with each other and with its transform, before anything uses them.

A cache file edited, truncated by hand or written by another tool can hold arrays of different lengths
or images of another size; trusting them would fail far away (a broadcast error mid-epoch) or silently
pair images with the wrong labels.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from drivenet.data.transform import Preprocess
from drivenet.errors import DrivenetError

TEXT_COLUMNS = ("frame_path", "frame_camera", "frame_recording")


def check_cache_arrays(path: str | Path, arrays: Mapping[str, Any], meta: Mapping[str, Any]) -> Preprocess:
    """The cache's transform, after checking: images uint8 (N, H, W, C) with (H, W, C) the transform's;
    steering and every frame column 1-D of length N; steering finite, in [-1, 1]; frame numbers integers,
    the text columns strings. Anything else is a DrivenetError naming the file and the array."""
    remedy = "re-create it with `drivenet preprocess DATA --out CACHE`"
    try:
        preprocess = Preprocess.from_dict(meta["preprocess"])
    except (KeyError, TypeError, ValueError, AttributeError, DrivenetError) as err:
        raise DrivenetError(f"{path}: corrupt preprocessing settings ({err}); {remedy}") from None
    if not isinstance(meta.get("summary", {}), dict):
        raise DrivenetError(f"{path}: corrupt summary; {remedy}")
    images = arrays["images"]
    if images.ndim != 4 or images.dtype != np.uint8 or tuple(images.shape[1:]) != preprocess.shape:
        raise DrivenetError(
            f"{path}: its arrays disagree: images are {images.dtype} {tuple(images.shape)}, expected "
            f"uint8 (N, {', '.join(map(str, preprocess.shape))}) for its preprocessing; {remedy}"
        )
    count = len(images)
    for name in ("steering", "frame_frame", *TEXT_COLUMNS):
        shape = tuple(arrays[name].shape)
        if shape != (count,):
            raise DrivenetError(
                f"{path}: its arrays disagree: {name} has shape {shape}, but there are {count} images; "
                f"{remedy}"
            )
    kinds = {"steering": "fiu", "frame_frame": "iu", **dict.fromkeys(TEXT_COLUMNS, "U")}
    for name, allowed in kinds.items():
        if arrays[name].dtype.kind not in allowed:
            raise DrivenetError(
                f"{path}: its arrays disagree: {name} holds {arrays[name].dtype} values; {remedy}"
            )
    steering = np.asarray(arrays["steering"], dtype=np.float64)
    bad = ~(np.abs(steering) <= 1.0)  # NaN fails the comparison too
    if bad.any():
        row = int(np.argmax(bad))
        raise DrivenetError(f"{path}: steering of frame {row} is {steering[row]}, not in [-1, 1]; {remedy}")
    return preprocess
