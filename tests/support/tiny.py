"""A tiny, fast training config and a recording whose steering can be read off each frame, made by the tests
themselves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from drivenet.config import RunConfig, load_config

SIZE = (48, 36)  # (width, height) of the test camera frames

# A small, fast configuration: 12x16 gray inputs, one hidden layer of 8 units, 4 epochs.
TINY = [
    "data.width=16",
    "data.height=12",
    "data.crop_top=0.0",
    "data.crop_bottom=0.0",
    "data.workers=1",
    "model.hidden=[8]",
    "train.epochs=4",
    "train.batch_size=32",
    "train.lr=0.01",
    "train.split_block=40",
    "augment.flip=false",
]


def tiny_config(*overrides: str) -> RunConfig:
    """The tiny test config with extra `section.key=value` overrides."""
    return load_config(None, [*TINY, *overrides])


def road_frame(steering: float, rng: np.random.Generator) -> np.ndarray:
    """A dark frame with a bright vertical stripe whose position is the steering (left edge = -1)."""
    width, height = SIZE
    rgb = rng.integers(40, 70, size=(height, width, 3), dtype=np.uint8)
    x = int(round((steering + 1) / 2 * (width - 8)))
    rgb[:, x : x + 8] = 220
    return rgb


def make_recording(folder: Path, frames: int = 200, seed: int = 0) -> Path:
    """A Udacity-layout recording (driving_log.csv + IMG/) whose steering can be read off each frame."""
    rng = np.random.default_rng(seed)
    steering = np.clip(np.sin(np.arange(frames) / 7.0) * 0.6 + rng.normal(0, 0.05, frames), -0.9, 0.9)
    (folder / "IMG").mkdir(parents=True)
    lines = ["center,left,right,steering,throttle,brake,speed"]
    for i, value in enumerate(steering):
        name = f"IMG/center_{i:05d}.jpg"
        Image.fromarray(road_frame(value, rng)).save(folder / name, quality=95)
        lines.append(f"{name}, {name}, {name}, {value:.4f}, 0.5, 0, 20")
    (folder / "driving_log.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder
