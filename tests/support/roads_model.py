"""Steering models trained in a few seconds on rendered roads, with the renderer's road masks of fresh test
roads: the ground truth that saliency maps are checked against."""

from __future__ import annotations

import numpy as np

from drivenet.config import load_config
from drivenet.data.transform import Preprocess
from drivenet.model.steering_model import SteeringModel
from drivenet.nn import Adam
from drivenet.roads.mask import masked_views
from support import CONFIGS

# a small convolutional model on the demo's 30x32 grey view (so both models are measured on the same frames
# and masks): two strided convolutions, 32 hidden units, a tanh steering output, L2 decay
SMALL_CONV = [
    "model.conv=[{filters = 6, kernel = 3, stride = 2}, {filters = 8, kernel = 3, stride = 2}]",
    "model.hidden=[32]",
    "model.activation=relu",
    "model.encoding=scalar",
    "train.weight_decay=0.003",
]


def road_set(preprocess: Preprocess, count: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(images uint8 (N, h, w, C), steering (N,), road masks bool (N, h, w)) of `count` fresh roads."""
    images, steering, masks = zip(*masked_views(count, seed, preprocess), strict=True)
    return np.stack(images), np.array(steering, np.float32), np.stack(masks)


def trained_model(
    overrides: list[str], frames: int = 800, epochs: int = 12, lr: float = 0.003
) -> SteeringModel:
    """The alvinn.toml model with `overrides`, trained with Adam (`train.weight_decay`) on `frames`
    rendered roads and their mirror images (negated steering), seed 0; untrained with `epochs` = 0."""
    config = load_config(CONFIGS / "alvinn.toml", overrides)
    model = SteeringModel.build(config, Preprocess.from_config(config.data))
    images, steering, _ = road_set(model.preprocess, frames, seed=100)
    images, steering = np.concatenate([images, images[:, :, ::-1]]), np.concatenate([steering, -steering])
    inputs = model.arrange(model.preprocess.to_inputs(images))
    optimizer = Adam(model.net.parameters(), lr=lr, weight_decay=config.train.weight_decay)
    rng = np.random.default_rng(0)
    model.net.train()
    for _ in range(epochs):
        order = rng.permutation(len(inputs))
        for start in range(0, len(order), 32):
            batch = order[start : start + 32]
            _, grad = model.heads.loss(model.net.forward(inputs[batch]), steering[batch])
            model.net.backward(grad)
            optimizer.step()
    model.net.eval()
    return model
