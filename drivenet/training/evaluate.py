"""How well a model steers on a cache: its metrics beside the predict-zero and predict-mean baselines.

Every metric is computed against the raw labels and, in `smoothed`, against labels averaged over a few
frames (a centred moving average within each recording), which removes the jitter of keyboard or
joystick steering that no model can foresee. `lead` says how many frames the model's steering runs
ahead of the labels (`drivenet.training.metrics.lead`), from pairs of frames of one run. A model that
also predicts pedals is scored on each, under `pedals` (`drivenet.training.metrics.pedal_metrics`).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from drivenet.data.augment import smooth_labels
from drivenet.data.cache import SteeringCache
from drivenet.data.dataset import clip_batches, earlier_rows
from drivenet.data.split import runs
from drivenet.model.encoding import BumpEncoding
from drivenet.model.steering_model import SteeringModel
from drivenet.training.metrics import lead, pedal_metrics, rmse, steering_metrics

MAX_LEAD = 10  # frames each way that the lead is looked for
Pairs = dict[int, tuple[np.ndarray, np.ndarray]]


class Predictions(NamedTuple):
    """A model's steering on the evaluated frames, their raw and smoothed labels, `pairs`: for each
    lag k, the positions of frames f and f + k of one run (`frame_pairs`), and for each pedal the model
    predicts, (predicted, logged) values (logged NaN where the recording has none)."""

    predicted: np.ndarray
    true: np.ndarray
    smoothed: np.ndarray
    pairs: Pairs
    pedals: dict[str, tuple[np.ndarray, np.ndarray]]


def evaluation_frames(cache: SteeringCache, indices: np.ndarray | None = None) -> np.ndarray:
    """Indices of the frames to evaluate on: `indices` (or all), centre camera only when the cache has one."""
    return cache.centre_rows(np.arange(len(cache.steering)) if indices is None else np.asarray(indices))


def frame_pairs(
    frames: pd.DataFrame, rows: np.ndarray, part: np.ndarray | None = None, most: int = MAX_LEAD
) -> Pairs:
    """For each k in [-most, most], the positions (i, j) in `rows` (distinct table rows) of the frames
    numbered f and f + k of one run (recording, camera and split `part`, `drivenet.data.split.runs`)."""
    position = np.full(len(frames), -1, np.int64)
    position[rows] = np.arange(len(rows))
    numbers = frames["frame"].to_numpy(np.int64)
    found: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {k: [] for k in range(most + 1)}
    for run in runs(frames, part):
        run = run[position[run] >= 0]
        f = numbers[run]
        for k in range(most + 1):
            later = np.minimum(np.searchsorted(f, f + k), len(f) - 1)
            ok = f[later] == f + k
            found[k].append((position[run[ok]], position[run[later[ok]]]))
    pairs: Pairs = {}
    for k, parts in found.items():
        before = np.concatenate([b for b, _ in parts]) if parts else np.zeros(0, np.int64)
        after = np.concatenate([a for _, a in parts]) if parts else np.zeros(0, np.int64)
        pairs[-k] = (after, before)
        pairs[k] = (before, after)  # after -k, so that k = 0 keeps (before, after)
    return pairs


def score(
    pred: np.ndarray,
    true: np.ndarray,
    smoothed: np.ndarray,
    straight_band: float = 0.05,
    mean_steering: float | None = None,
    bump: BumpEncoding | None = None,
    pairs: Pairs | None = None,
) -> dict[str, Any]:
    """Metrics of `pred` against the labels `true` and against the `smoothed` labels, with both baselines,
    and with `pairs` (`frame_pairs`) the model's `lead` over each.

    `mean_steering` is the predict-mean baseline's constant (the training labels' mean; defaults to the
    mean of `true`). With a bump encoding, `within_2_units` is the share of frames whose decoded steering
    lies within two output units of the label.
    """
    true = np.asarray(true, np.float64)
    mean_steering = float(np.mean(true)) if mean_steering is None else mean_steering
    labels = {"raw": true, "smoothed": np.asarray(smoothed, np.float64)}
    results: dict[str, dict[str, Any]] = {}
    for name, target in labels.items():
        zero, mean = np.zeros_like(target), np.full_like(target, mean_steering)
        result = steering_metrics(pred, target, straight_band)
        if pairs is not None:
            result["lead"] = lead(np.asarray(pred, np.float64), target, pairs, straight_band)
        result["zero_rmse"] = rmse(zero, target)
        result["mean_rmse"] = rmse(mean, target)
        if bump is not None:
            result["within_2_units"] = float(
                np.mean(np.abs(bump.unit_of(pred) - bump.unit_of(target)) <= 2.0)
            )
        result["baselines"] = {
            "zero": steering_metrics(zero, target, straight_band),
            "mean": steering_metrics(mean, target, straight_band),
        }
        results[name] = result
    out = results["raw"]
    out["smoothed"] = results["smoothed"]
    out["settings"] = {"straight_band": straight_band, "mean_steering": mean_steering}
    return out


def predict_cache(
    model: SteeringModel,
    cache: SteeringCache,
    indices: np.ndarray | None = None,
    smooth_window: int = 5,
    part: np.ndarray | None = None,
) -> Predictions:
    """The model's steering (and pedals) on the evaluation frames of a cache, with their labels and frame
    pairs.

    Labels are smoothed, and motion clips taken, within runs of consecutive frames of one recording,
    camera and split `part` (the whole recording without `part`), before the frames are picked: a window
    never spans the gap between two held-out blocks, nor reaches into another split.
    """
    model.check_images(cache.preprocess, "the cache")
    idx = evaluation_frames(cache, indices)
    smoothed = smooth_labels(cache.frames, smooth_window, part)[idx]
    earlier = earlier_rows(cache.frames, model.motion_gaps, part)
    chunks = [model.predict_targets(images) for images in clip_batches(cache, idx, earlier)]
    predicted = {
        name: np.concatenate([chunk[name] for chunk in chunks]) if chunks else np.zeros(0, np.float32)
        for name in model.targets
    }
    logged = {
        name: cache.frames[name].to_numpy(np.float32)[idx]
        if name in cache.frames.columns
        else np.full(len(idx), np.nan, np.float32)
        for name in model.pedals
    }
    pedals = {name: (predicted[name], logged[name]) for name in model.pedals}
    pairs = frame_pairs(cache.frames, idx, part)
    return Predictions(predicted["steering"], cache.steering[idx], smoothed, pairs, pedals)


def score_model(
    model: SteeringModel,
    predictions: Predictions,
    straight_band: float = 0.05,
    smooth_window: int = 5,
) -> dict[str, Any]:
    """`score` of `predict_cache`'s predictions, with the model's training mean as the predict-mean
    baseline and `within_2_units` for a bump encoding; for a model that predicts pedals, `pedals` holds
    each one's `pedal_metrics` (its predict-mean the training frames' mean)."""
    bump = model.encoding if isinstance(model.encoding, BumpEncoding) else None
    mean = model.meta.get("train_mean_steering")
    p = predictions
    result = score(p.predicted, p.true, p.smoothed, straight_band, mean, bump, pairs=p.pairs)
    result["settings"]["smooth_window"] = smooth_window
    if p.pedals:
        result["pedals"] = {
            name: pedal_metrics(pred, true, model.meta.get(f"train_mean_{name}"))
            for name, (pred, true) in p.pedals.items()
        }
    return result


def evaluate_model(
    model: SteeringModel,
    cache: SteeringCache,
    straight_band: float = 0.05,
    smooth_window: int = 5,
    indices: np.ndarray | None = None,
    part: np.ndarray | None = None,
) -> dict[str, Any]:
    """Score a model on a cache (all frames, or `indices` of the split `part`); see `score` for the keys."""
    predictions = predict_cache(model, cache, indices, smooth_window, part)
    return score_model(model, predictions, straight_band, smooth_window)
