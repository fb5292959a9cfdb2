"""Steering metrics on arrays of predicted and true steering (both float, negative = left).

- RMSE = sqrt(mean((p - t)^2)), MAE = mean(|p - t|).
- Direction: left if s < -band, right if s > band, straight if |s| <= band
  (`drivenet.model.encoding.direction`, the classes of the classes encoding); accuracy = share of
  frames whose predicted direction equals the true one (with per-direction recall).
- Turn sign accuracy: on frames that really turn (|t| > band), the share with sign(p) == sign(t).
- Correlation: Pearson's r between p and t (undefined, reported as None, when either is constant).
- Pedals (throttle, brake in [0, 1]): RMSE and MAE on the frames whose logged value is known, beside
  predict-mean's RMSE.
- Lead: the whole number of frames k that lines the prediction up best with the labels, the k maximising
  r(p_f, t_{f+k}) over the same frames f for every k (those whose run holds f + k for all |k| <= the
  largest lag tried; at least LEAD_MIN_FRAMES of them, else no lead). k > 0: the model steers k frames
  before the labels (it reads the road ahead, or the driver turns late); k < 0: after them, as a copycat
  that continues what the car was already doing would. Frames are counted, not seconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from drivenet.model.encoding import DIRECTIONS, direction

LEAD_MIN_FRAMES = 20  # frames that every lag is scored on, at the least


def rmse(pred: np.ndarray, true: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(pred, np.float64) - true) ** 2)))


def mae(pred: np.ndarray, true: np.ndarray) -> float:
    return float(np.mean(np.abs(np.asarray(pred, np.float64) - true)))


def direction_accuracy(pred: np.ndarray, true: np.ndarray, band: float) -> float:
    return float(np.mean(direction(pred, band) == direction(true, band)))


def direction_recall(pred: np.ndarray, true: np.ndarray, band: float) -> dict[str, float | None]:
    """For each true direction, the share of its frames predicted in that direction."""
    p, t = direction(pred, band), direction(true, band)
    return {
        name: (float(np.mean(p[t == d] == d)) if np.any(t == d) else None)
        for name, d in zip(DIRECTIONS, (-1, 0, 1), strict=True)
    }


def turn_sign_accuracy(pred: np.ndarray, true: np.ndarray, band: float) -> float | None:
    turning = direction(true, band) != 0
    if not np.any(turning):
        return None
    return float(np.mean(np.sign(pred[turning]) == np.sign(true[turning])))


def correlation(pred: np.ndarray, true: np.ndarray) -> float | None:
    pred, true = np.asarray(pred, np.float64), np.asarray(true, np.float64)
    if len(pred) < 2 or np.std(pred) == 0 or np.std(true) == 0:
        return None
    return float(np.corrcoef(pred, true)[0, 1])


def steering_metrics(pred: np.ndarray, true: np.ndarray, band: float) -> dict[str, Any]:
    """All the per-frame metrics of one prediction against one set of labels."""
    pred, true = np.asarray(pred, np.float64), np.asarray(true, np.float64)
    return {
        "rmse": rmse(pred, true),
        "mae": mae(pred, true),
        "direction_accuracy": direction_accuracy(pred, true, band),
        "direction_recall": direction_recall(pred, true, band),
        "turn_sign_accuracy": turn_sign_accuracy(pred, true, band),
        "correlation": correlation(pred, true),
        "n": int(len(true)),
    }


def pedal_metrics(pred: np.ndarray, true: np.ndarray, mean: float | None = None) -> dict[str, Any]:
    """RMSE and MAE of a pedal's predictions on the frames whose `true` value is known (not NaN), and
    `mean_rmse`, predict-mean's (`mean`: the training frames' mean pedal, else these labels'); the
    metrics are None when no frame has a value."""
    pred, true = np.asarray(pred, np.float64), np.asarray(true, np.float64)
    known = ~np.isnan(true)
    pred, true = pred[known], true[known]
    if not len(true):
        return {"rmse": None, "mae": None, "mean_rmse": None, "n": 0}
    baseline = np.full_like(true, float(np.mean(true)) if mean is None else mean)
    return {
        "rmse": rmse(pred, true),
        "mae": mae(pred, true),
        "mean_rmse": rmse(baseline, true),
        "n": len(true),
    }


def lead(
    pred: np.ndarray, true: np.ndarray, pairs: Mapping[int, tuple[np.ndarray, np.ndarray]], band: float
) -> dict[str, Any]:
    """The lag k of `pairs` (k -> positions of p_f and of t_{f+k}) with the highest correlation, and how
    the model scores against the labels k frames on (the model as if it steered k frames later):
    {"frames": k, "correlation", "rmse", "zero_rmse" (predict-zero's on those labels),
    "turn_sign_accuracy"}, all None where no lag has a correlation. Every lag is scored on the same
    frames f, those paired at every k; with fewer than LEAD_MIN_FRAMES of them there is no lead."""
    common = None
    for before, _ in pairs.values():
        common = before if common is None else np.intersect1d(common, before)
    best: tuple[int, float, np.ndarray, np.ndarray] | None = None
    if common is not None and len(common) >= LEAD_MIN_FRAMES:
        for k, (before, after) in sorted(pairs.items(), key=lambda item: (abs(item[0]), -item[0])):
            # a tie goes to the smaller |k|, then to the lead (k > 0) before the lag
            keep = np.isin(before, common)
            p, t = pred[before[keep]], true[after[keep]]
            r = correlation(p, t)
            if r is not None and np.isfinite(r) and (best is None or r > best[1]):
                best = (k, r, p, t)
    if best is None:
        return dict.fromkeys(("frames", "correlation", "rmse", "zero_rmse", "turn_sign_accuracy"))
    k, r, p, t = best
    return {
        "frames": k,
        "correlation": r,
        "rmse": rmse(p, t),
        "zero_rmse": rmse(np.zeros_like(t), t),
        "turn_sign_accuracy": turn_sign_accuracy(p, t, band),
    }
