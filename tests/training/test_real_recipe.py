"""Real data: the offline Udacity recipe (configs/udacity_offline.toml), trained on udacity-sample frames,
scored on its test split: frames that neither trained nor chose the model.

Needs the recordings folder named by DRIVENET_DATASETS (CI sets it); skipped without it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from support import CONFIGS

from drivenet.config import load_config
from drivenet.data import Preprocess, build_cache, read_recordings
from drivenet.data.split import split_frames
from drivenet.model.checkpoint import load_model
from drivenet.training.evaluate import evaluate_model
from drivenet.training.trainer import train_run

FRAMES = 2500  # the first 2500 centre frames: a few laps of track 1
EPOCHS = 12  # of the recipe's 80, to train within seconds
# Measured on this slice's test split (500 frames): RMSE 0.58 x predict-zero, turn sign 0.95, correlation
# 0.83 (the full-recording figures in docs/results.md: 0.56, 0.98, 0.82). The tolerance below, about 0.12
# on each, leaves room for other machines' floating point and small changes to the recipe, not for a model
# that stopped learning from motion (the single-frame model scores 0.81, 0.88, 0.56 on the full recording).
MAX_RMSE_VS_ZERO = 0.70
MIN_TURN_SIGN = 0.85
MIN_CORRELATION = 0.70


def recording(name: str) -> Path:
    root = os.environ.get("DRIVENET_DATASETS")
    if not root:
        pytest.skip("DRIVENET_DATASETS is not set, so there are no real recordings to train on")
    path = Path(root) / name
    if not path.is_dir():
        pytest.skip(f"{path} is missing; DRIVENET_DATASETS should hold {name}/")
    return path


def test_the_udacity_recipe_on_a_slice_scores_on_its_test_split(tmp_path):
    config = load_config(CONFIGS / "udacity_offline.toml", [f"train.epochs={EPOCHS}"])
    frames = read_recordings([recording("udacity-sample")], config.data).frames.iloc[:FRAMES]
    cache, skipped = build_cache(frames, Preprocess.from_config(config.data), progress=False)
    assert not skipped
    result = train_run(cache.save(tmp_path / "cache.npz"), config, tmp_path / "run")

    split = split_frames(cache, config.train)
    model = load_model(result.best)
    report = evaluate_model(model, cache, indices=split.test, part=split.part)
    assert report["n"] == len(split.test) >= 0.15 * FRAMES
    assert report["rmse"] <= MAX_RMSE_VS_ZERO * report["zero_rmse"]
    assert report["turn_sign_accuracy"] >= MIN_TURN_SIGN
    assert report["correlation"] >= MIN_CORRELATION
