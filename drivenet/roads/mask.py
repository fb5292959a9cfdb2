"""Where the road is, from the renderer itself: ground truth for saliency maps.

The renderer blends paints per sample with weights (ground, shoulder, road, line, texture); the road's
cover of a sample is its road weight plus its line weight (the lane edges painted on it). Filtered down
by the model view's own triangle weights, that is the share of each input pixel the road covers.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from drivenet.data.transform import Preprocess
from drivenet.geometry.car import pursuit_steering
from drivenet.geometry.track import Pose, Track
from drivenet.roads.renderer import Camera, Look
from drivenet.roads.synth import road_scenes
from drivenet.roads.view import ModelView


def road_cover(view: ModelView, track: Track, pose: Pose, s: float, look: Look) -> np.ndarray:
    """The share of each of the model's input pixels covered by road or line paint, float32 (h, w)."""
    renderer = view.renderer
    cover = np.zeros(renderer.shape, np.float32)
    if renderer.sky_rows < renderer.shape[0]:
        weights, _ = renderer._paint_weights(track, pose, s, look)
        cover[renderer.sky_rows :] = weights[..., 2] + weights[..., 3]
    return view.row_weights @ cover @ view.column_weights


def road_mask(cover: np.ndarray, dilate: int = 1) -> np.ndarray:
    """Pixels at least half covered by road, grown by `dilate` pixels in every direction (a square
    neighbourhood), so the road's edges count as road: bool (h, w)."""
    mask = np.asarray(cover) >= 0.5
    for _ in range(dilate):
        grown = mask.copy()
        grown[1:] |= mask[:-1]
        grown[:-1] |= mask[1:]
        grown[:, 1:] |= grown[:, :-1].copy()
        grown[:, :-1] |= grown[:, 1:].copy()
        mask = grown
    return mask


def masked_views(
    count: int, seed: int, preprocess: Preprocess, camera: Camera | None = None
) -> Iterator[tuple[np.ndarray, float, np.ndarray]]:
    """`count` (model input uint8 (h, w, C), steering, road mask bool (h, w)) of fresh random roads, as
    `labelled_frames` places them, rendered straight at the model's resolution (`ModelView`)."""
    rng = np.random.default_rng(seed)
    view = ModelView(camera or Camera(), preprocess)
    for track, pose, s, look in road_scenes(count, rng):
        image = view.render(track, pose, s, look, rng)
        yield image, pursuit_steering(track, pose, s), road_mask(road_cover(view, track, pose, s, look))
