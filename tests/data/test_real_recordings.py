"""The shared real recordings (skipped unless DRIVENET_DATASETS points at them)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from drivenet.config import DataConfig
from drivenet.data import Preprocess, build_cache, read_recordings


@pytest.fixture(scope="module")
def datasets() -> Path:
    root = os.environ.get("DRIVENET_DATASETS")
    if not root or not Path(root, "udacity-sample").is_dir():
        pytest.skip("set DRIVENET_DATASETS to the shared datasets folder to run the real-data tests")
    return Path(root)


def test_udacity_center_frames_all_load(datasets: Path) -> None:
    result = read_recordings([datasets / "udacity-sample"])
    assert len(result.frames) == 8036 and result.problems == []
    assert result.frames["steering"].between(-1, 1).all()
    cache, skipped = build_cache(result.frames.iloc[::40], Preprocess(), workers=1, progress=False)
    assert skipped == [] and cache.images.shape == (201, 30, 32, 1)
    assert cache.images.std() > 10  # real pictures, not blank


def test_udacity_side_cameras_load_where_present(datasets: Path) -> None:
    result = read_recordings([datasets / "udacity-sample"], DataConfig(cameras="all"))
    counts = result.frames["camera"].value_counts().to_dict()
    assert counts == {"center": 8036, "left": 1500, "right": 1500}
    assert result.frames.loc[result.frames["camera"] != "center", "frame"].max() == 1499
    assert len(result.problems) == 2 * (8036 - 1500)
    assert {p.kind for p in result.problems} == {"missing image"}
    assert min(p.row for p in result.problems) == 1502  # header + 1500 rows present


def test_donkey_tub_and_dashcam(datasets: Path) -> None:
    tub = read_recordings([datasets / "donkey-tub-rc"])
    assert len(tub.frames) == 2000 and tub.problems == []
    assert tub.frames["steering"].min() < -0.5 < 0.5 < tub.frames["steering"].max()
    dash = read_recordings([datasets / "sully-dashcam"])
    assert len(dash.frames) == 101 and dash.problems == []
    assert np.abs(dash.frames["steering"]).max() < 0.1  # gentle driving: under 45 wheel degrees
    cache, _ = build_cache(dash.frames, Preprocess(color="yuv"), workers=2, progress=False)
    assert cache.images.shape == (101, 30, 32, 3)
