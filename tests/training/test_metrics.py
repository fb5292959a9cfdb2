"""Steering metrics and the evaluation report, on hand-made numbers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from drivenet.data.frames import make_frames
from drivenet.model import BumpEncoding, ClassEncoding
from drivenet.training.evaluate import frame_pairs, score
from drivenet.training.metrics import (
    correlation,
    direction,
    direction_accuracy,
    steering_metrics,
    turn_sign_accuracy,
)


def test_direction_uses_the_straight_band():
    values = np.array([-0.3, -0.06, -0.05, 0.0, 0.04, 0.05, 0.06, 0.3])
    assert direction(values, 0.05).tolist() == [-1, -1, 0, 0, 0, 0, 1, 1]
    assert direction(values, 0.01).tolist() == [-1, -1, -1, 0, 1, 1, 1, 1]


def test_direction_and_the_classes_encoding_agree_at_the_band():
    band = 0.25  # exactly representable, so |s| = band is tested exactly
    values = np.array([-0.5, -band, 0.0, band, 0.5])
    np.testing.assert_array_equal(ClassEncoding(band).encode(values) - 1, direction(values, band))
    assert turn_sign_accuracy(np.array([-band, 0.5]), np.array([band, 0.5]), band) == 1.0


def test_turn_sign_accuracy_counts_only_turning_frames():
    true = np.array([-0.2, -0.1, 0.0, 0.01, 0.2, 0.3])
    pred = np.array([-0.01, 0.1, 0.5, -0.5, 0.02, -0.1])
    # turning frames: -0.2 (pred -0.01 right sign), -0.1 (wrong), 0.2 (right), 0.3 (wrong)
    assert turn_sign_accuracy(pred, true, 0.05) == pytest.approx(0.5)
    assert turn_sign_accuracy(pred, np.zeros(6), 0.05) is None


def test_rmse_mae_and_direction_accuracy():
    true = np.array([0.0, 0.1, -0.2, 0.4])
    pred = np.array([0.1, 0.1, -0.1, 0.0])
    m = steering_metrics(pred, true, 0.05)
    assert m["rmse"] == pytest.approx(math.sqrt((0.01 + 0 + 0.01 + 0.16) / 4))
    assert m["mae"] == pytest.approx((0.1 + 0 + 0.1 + 0.4) / 4)
    assert direction_accuracy(pred, true, 0.05) == pytest.approx(2 / 4)
    assert m["direction_recall"] == {"left": 1.0, "straight": 0.0, "right": 0.5}
    assert m["n"] == 4


def test_correlation_is_none_for_a_constant_prediction():
    true = np.array([0.1, -0.2, 0.3])
    assert correlation(np.zeros(3), true) is None
    assert correlation(2 * true + 1, true) == pytest.approx(1.0)
    assert correlation(-true, true) == pytest.approx(-1.0)


def test_correlation_between_the_extremes():
    # hand-worked: deviations (-1.5, -0.5, 0.5, 1.5) and (-1.5, 0.5, -0.5, 1.5): sum of products 4, each
    # sum of squares 5, so r = 4 / 5; orthogonal deviations give 0; scale and offset change nothing
    true = np.array([1.0, 2.0, 3.0, 4.0])
    assert correlation(np.array([1.0, 3.0, 2.0, 4.0]), true) == pytest.approx(0.8)
    assert correlation(np.array([1.0, -1.0, -1.0, 1.0]), true) == pytest.approx(0.0, abs=1e-12)
    assert correlation(10 * np.array([1.0, 3.0, 2.0, 4.0]) - 7, 0.5 * true + 2) == pytest.approx(0.8)
    # a half-signal, half-noise prediction: r = 1 / sqrt(2) for independent parts of equal variance
    rng = np.random.default_rng(0)
    signal, noise = rng.normal(size=(2, 20000))
    assert correlation(signal + noise, signal) == pytest.approx(1 / np.sqrt(2), abs=0.01)


def test_score_reports_baselines_smoothed_labels_and_bump_units():
    rng = np.random.default_rng(0)
    true = rng.uniform(-0.5, 0.5, 200)
    smoothed = np.convolve(true, np.ones(5) / 5, mode="same")
    bump = BumpEncoding(units=45)  # one unit = 2/44 of steering
    pred = true + np.where(np.arange(200) < 150, 0.01, 0.2)  # 150 frames well within two units
    result = score(pred, true, smoothed, straight_band=0.05, mean_steering=0.1, bump=bump)
    assert result["within_2_units"] == pytest.approx(0.75)
    assert result["zero_rmse"] == pytest.approx(np.sqrt(np.mean(true**2)))
    assert result["mean_rmse"] == pytest.approx(np.sqrt(np.mean((true - 0.1) ** 2)))
    assert result["baselines"]["zero"]["rmse"] == pytest.approx(result["zero_rmse"])
    assert result["smoothed"]["zero_rmse"] == pytest.approx(np.sqrt(np.mean(smoothed**2)))
    assert result["smoothed"]["rmse"] != pytest.approx(result["rmse"])
    for key in ("rmse", "mae", "direction_accuracy", "turn_sign_accuracy", "correlation", "zero_rmse", "n"):
        assert key in result and key in result["smoothed"]


def _recording(name: str, numbers: list[int]) -> pd.DataFrame:
    return make_frames([f"{name}/{n}.jpg" for n in numbers], np.zeros(len(numbers)), "center", numbers, name)


def _bends(f: np.ndarray) -> np.ndarray:
    return np.sin(2 * np.pi * f / 47.0) + 0.5 * np.sin(2 * np.pi * f / 13.0)


@pytest.mark.parametrize("ahead", [3, 0, -2])
def test_lead_is_how_many_frames_the_steering_runs_ahead_of_the_labels(ahead):
    numbers = list(range(300))
    frames = _recording("a", numbers)
    true = _bends(np.asarray(numbers))
    pred = _bends(np.asarray(numbers) + ahead)  # steers now as the labels will `ahead` frames later
    pairs = frame_pairs(frames, np.arange(len(frames)))
    result = score(pred, true, true, pairs=pairs)
    assert result["lead"]["frames"] == ahead
    assert result["lead"]["correlation"] == pytest.approx(1.0)
    assert result["smoothed"]["lead"]["frames"] == ahead
    at_lead = result["lead"]  # scored against the labels `ahead` frames on, the model is exact
    assert at_lead["rmse"] == pytest.approx(0.0, abs=1e-9) and at_lead["turn_sign_accuracy"] == 1.0
    assert at_lead["zero_rmse"] > 0.5
    if ahead:
        assert result["rmse"] > 0.1 and result["turn_sign_accuracy"] < 1.0  # but not on the same frame
    assert "lead" not in score(pred, true, true)  # no pairs, no lead
    flat = score(np.zeros_like(true), true, true, pairs=pairs)["lead"]  # constant: no correlation
    assert set(flat.values()) == {None}


def test_lead_compares_every_lag_on_the_same_frames_and_needs_enough_of_them():
    rng = np.random.default_rng(0)
    short = np.arange(12)  # at k = 10 only two pairs, whose correlation would be exactly 1
    pairs = frame_pairs(_recording("a", short.tolist()), np.arange(12))
    true = _bends(short)
    assert set(score(true + 0.5 * rng.normal(size=12), true, true, pairs=pairs)["lead"].values()) == {None}
    numbers = np.arange(300)
    pairs = frame_pairs(_recording("a", numbers.tolist()), np.arange(300))
    true = _bends(numbers)
    noisy = score(true + 0.5 * rng.normal(size=300), true, true, pairs=pairs)["lead"]
    assert noisy["frames"] == 0 and 0.5 < noisy["correlation"] < 0.99
    # scored on the 280 frames with every lag (10 at each end dropped), not on all 300
    pred = true.copy()
    pred[:10] = -true[:10]
    assert score(pred, true, true, pairs=pairs)["lead"]["correlation"] == pytest.approx(1.0)
    broken = true.copy()
    broken[50] = np.nan  # a NaN prediction leaves every lag without a finite correlation
    assert set(score(broken, true, true, pairs=pairs)["lead"].values()) == {None}


def test_frame_pairs_join_frames_k_apart_within_one_run_only():
    frames = pd.concat([_recording("a", [0, 1, 2, 4, 5]), _recording("b", [0, 1, 2])], ignore_index=True)
    rows = np.array([0, 1, 2, 3, 4, 5, 6, 7])
    pairs = frame_pairs(frames, rows, most=2)
    assert sorted(pairs) == [-2, -1, 0, 1, 2]
    numbers, names = frames["frame"].to_numpy(), frames["recording"].to_numpy()
    for k, (before, after) in pairs.items():
        assert (numbers[rows[after]] - numbers[rows[before]] == k).all()
        assert (names[rows[after]] == names[rows[before]]).all()
    assert len(pairs[1][0]) == 2 + 1 + 2  # a: 0-1, 1-2, 4-5 (3 is missing); b: 0-1, 1-2
    assert len(pairs[2][0]) == 2 + 1  # a: 0-2, 2-4; b: 0-2
    part = np.array([0, 0, 1, 1, 1, 0, 0, 0])  # a split between a's frames 1 and 2
    assert len(frame_pairs(frames, rows, part, most=1)[1][0]) == 1 + 1 + 2
    subset = np.array([0, 2, 3, 4])  # positions refer to the evaluated rows, not the table
    before, after = frame_pairs(frames, subset, most=2)[2]
    assert before.tolist() == [0, 1] and after.tolist() == [1, 2]
