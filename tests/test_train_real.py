"""Real data: configs/udacity.toml trained on part of udacity-sample beats predict-zero on held-out frames.

Needs the recordings folder named by DRIVENET_DATASETS (CI sets it); skipped without it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from drivenet.config import load_config
from drivenet.data import Preprocess, build_cache, read_from_config
from drivenet.training.checkpoint import SteeringModel
from drivenet.training.evaluate import evaluate_model
from drivenet.training.trainer import split_frames, train_run

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
FRAMES = 3000  # the first 3000 centre frames: a few laps of track 1


def recording(name: str) -> Path:
    root = os.environ.get("DRIVENET_DATASETS")
    if not root:
        pytest.skip("DRIVENET_DATASETS is not set, so there are no real recordings to train on")
    path = Path(root) / name
    if not path.is_dir():
        pytest.skip(f"{path} is missing; DRIVENET_DATASETS should hold {name}/")
    return path


def test_udacity_subset_beats_the_predict_zero_baseline(tmp_path):
    config = load_config(CONFIGS / "udacity.toml", ["train.epochs=15"])
    frames = read_from_config([recording("udacity-sample")], config["data"]).frames.iloc[:FRAMES]
    cache, skipped = build_cache(frames, Preprocess.from_config(config["data"]), progress=False)
    assert not skipped
    result = train_run(cache.save(tmp_path / "cache.npz"), config, tmp_path / "run", progress=False)

    held_out = split_frames(cache, config["train"])[1]
    report = evaluate_model(SteeringModel.load(result.best), cache, indices=held_out)
    assert report["n"] == len(held_out) >= 0.15 * FRAMES
    assert report["rmse"] < 0.95 * report["zero_rmse"]
    assert report["turn_sign_accuracy"] > 0.75
