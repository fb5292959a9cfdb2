"""Models of every kind for the export tests, frames to steer on, and the skip for a missing export extra."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from drivenet.data import Preprocess
from drivenet.model.encoding import BumpEncoding
from drivenet.model.steering_model import SteeringModel
from support.tiny import tiny_config

EXPORT_MISSING = importlib.util.find_spec("onnx") is None or importlib.util.find_spec("onnxruntime") is None
needs_export = pytest.mark.skipif(EXPORT_MISSING, reason='needs the export extra: pip install -e ".[export]"')

CONV = "model.conv=[{filters=4, kernel=3, stride=2, pool=2}, {filters=6, kernel=3, padding='same'}]"
IMAGE = ["data.width=40", "data.height=20", "data.crop_top=0.35", "data.crop_bottom=0.15"]
PILOTNET = ["data.width=100", "data.height=33", "data.crop_top=0.35", "data.crop_bottom=0.15"]
TANH = 'model.activation="tanh"'
PEDALS = 'model.targets=["steering", "throttle", "brake"]'
KINDS = {  # each model kind drivenet trains, as config overrides of the tiny test config (sigmoid)
    "mlp sigmoid bump": ['model.encoding="bump"', "model.outputs=15", *IMAGE[2:]],
    "mlp regression rgb": ['data.color="rgb"', "data.crop_top=0.3", "model.scalar_output='linear'", TANH],
    "mlp three-way": ['model.encoding="classes"', "model.class_magnitude=0.4"],
    "mlp motion": ["data.motion_gaps=[1, 3]", *IMAGE[2:]],
    "conv yuv": [CONV, 'data.color="yuv"', *IMAGE, 'model.activation="elu"'],
    "conv motion": [CONV, "data.motion_gaps=[1, 2]", *IMAGE, 'model.activation="relu"'],
    "conv mirror average": [CONV, "model.mirror_average=true", 'data.color="yuv"', *IMAGE],
    "mlp several outputs": [PEDALS, "model.hidden=[8, 6]"],
    "bump pedals mirror": ['model.encoding="bump"', "model.outputs=9", PEDALS, "model.mirror_average=true"],
    "conv pilotnet image": [CONV, 'data.color="yuv"', *PILOTNET],
}  # fmt: skip


def model_of(kind: str, seed: int = 0, overrides: Sequence[str] = ()) -> SteeringModel:
    """An untrained model of `kind`, with further config `overrides`, whose outputs vary from frame to
    frame: a bump model's output biases make a bump at steering 0.3 that its inputs move."""
    config = tiny_config("model.init='he'", f"train.seed={seed}", *KINDS[kind], *overrides)
    model = SteeringModel.build(config, Preprocess.from_config(config.data))
    if isinstance(model.encoding, BumpEncoding):
        last = model.net.dense_layers[-1]
        bump = np.clip(model.encoding.encode(np.array([0.3]))[0], 0.02, 0.98)
        last.bias.value[: len(bump)] = np.log(bump / (1 - bump))
        last.weight.value *= 0.5
    return model


def asymmetric_frame(width: int = 320, height: int = 160) -> np.ndarray:
    """A road frame that is not its own mirror image: a bright lane edge bending off to the left, a dark
    verge on the right, and a colour gradient from left to right."""
    rgb = np.zeros((height, width, 3), dtype=np.uint8)
    rgb[..., 0] = np.linspace(30, 220, width, dtype=np.uint8)[None, :]
    rgb[..., 1] = 90
    rgb[..., 2] = np.linspace(60, 140, height, dtype=np.uint8)[:, None]
    for row in range(height // 3, height):
        x = int(width * 0.2 + (row - height // 3) * 0.8)
        rgb[row, x : x + 12] = 250
    rgb[:, int(width * 0.85) :] //= 4
    return rgb


def donkey_jpegs(frames: int) -> list[Path] | None:
    """The first `frames` consecutive camera frames (160x120) of donkey-tub-rc; None when
    DRIVENET_DATASETS is unset."""
    root = os.environ.get("DRIVENET_DATASETS")
    if not root:
        return None
    images = (Path(root) / "donkey-tub-rc" / "images").glob("*_cam_image_array_.jpg")
    return sorted(images, key=lambda path: int(path.name.split("_")[0]))[:frames]
