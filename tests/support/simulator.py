"""Camera frames, telemetry and tiny models for the Udacity simulator bridge tests, made by the tests."""

from __future__ import annotations

import base64
import io
import os
from pathlib import Path

import numpy as np
from PIL import Image

from drivenet.training.trainer import train_run
from support.tiny import make_recording, road_frame, tiny_config

SIM_SIZE = (320, 160)  # (width, height) of the simulator's centre camera


def camera_jpegs(folder: Path, frames: int = 6, seed: int = 0) -> list[Path]:
    """Simulator-sized JPEGs of a stripe wandering left and right, numbered in driving order."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, steering in enumerate(np.sin(np.arange(frames) / 2.0) * 0.7):
        frame = Image.fromarray(road_frame(float(steering), rng)).resize(SIM_SIZE)
        paths.append(folder / f"{i:03d}.jpg")
        frame.save(paths[-1], quality=90)
    return paths


def udacity_jpegs(frames: int) -> list[Path] | None:
    """The first consecutive centre frames of udacity-sample; None when DRIVENET_DATASETS is unset."""
    root = os.environ.get("DRIVENET_DATASETS")
    if not root:
        return None
    images = sorted((Path(root) / "udacity-sample" / "IMG").glob("center_*.jpg"))
    return images[:frames]


def telemetry(jpeg: bytes, speed: float = 12.5) -> dict[str, str]:
    """A telemetry message as the simulator sends it: numbers as strings, the frame as base64 JPEG."""
    return {
        "steering_angle": "0.0",
        "throttle": "0.2",
        "speed": f"{speed:.4f}",
        "image": base64.b64encode(jpeg).decode("ascii"),
    }


def jpeg_bytes(rgb: np.ndarray) -> bytes:
    """An RGB frame as JPEG bytes."""
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG")
    return buffer.getvalue()


def tiny_model(folder: Path, *overrides: str) -> Path:
    """best.npz of a tiny model trained for two epochs on a generated recording."""
    recording = make_recording(folder / "rec", frames=80)
    config = tiny_config("train.epochs=2", *overrides)
    train_run(recording, config, folder / "run")
    return folder / "run" / "best.npz"


def serve_models(folder: Path) -> dict[str, Path | list[Path]]:
    """A single-frame and a motion model (gaps 1 and 2), and simulator-sized frames, all under `folder`."""
    return {
        "single": tiny_model(folder / "single"),
        "motion": tiny_model(folder / "motion", "data.motion_gaps=[1, 2]"),
        "frames": camera_jpegs(folder / "frames"),
    }
