"""Checks of saliency maps: how much of a map's mass lies on a region (ground truth from the renderer's
road masks), and the randomisation test of Adebayo et al. (NeurIPS 2018), for which a map that stays the
same when the trained weights are replaced by random ones, layer by layer, does not explain the model."""

from __future__ import annotations

import numpy as np

from drivenet.model.saliency import explain_clips
from drivenet.model.steering_model import SteeringModel


def mask_mass_ratio(maps: np.ndarray, masks: np.ndarray) -> float:
    """The share of each map's mass on its mask (0 for a map without any), averaged over the maps
    (N, H, W), over the masks' (N, H, W) mean share of the image area: 1 for maps blind to the mask."""
    flat = np.asarray(maps, np.float64).reshape(len(maps), -1)
    total = flat.sum(axis=1, keepdims=True)
    shares = np.divide(flat, total, out=np.zeros_like(flat), where=total > 0)
    return float((shares * np.asarray(masks).reshape(len(masks), -1)).sum(axis=1).mean() / np.mean(masks))


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation of two maps of one shape (ties broken by position)."""
    ra, rb = (np.argsort(np.argsort(np.ravel(v))).astype(np.float64) for v in (a, b))
    return float(np.corrcoef(ra, rb)[0, 1])


def randomisation_cascade(model: SteeringModel, clips: np.ndarray, method: str, seed: int = 1) -> list[float]:
    """Mean rank correlations (over the clips) of the trained model's maps with those after randomising
    the top layer's weights, then also the layer below, ... down to the first layer: each a normal draw
    with the trained weights' standard deviation. The model's weights are restored afterwards."""
    trained = explain_clips(model, clips, method).frame
    saved = model.net.state_dict()
    rng = np.random.default_rng(seed)
    correlations = []
    try:
        for layer in [*model.net.dense_layers[::-1], *model.net.conv_layers[::-1]]:
            layer.weight.value[...] = rng.normal(0, np.std(layer.weight.value), layer.weight.value.shape)
            maps = explain_clips(model, clips, method).frame
            correlations.append(
                float(np.mean([rank_correlation(a, b) for a, b in zip(trained, maps, strict=True)]))
            )
    finally:
        model.net.load_state_dict(saved)
    return correlations
