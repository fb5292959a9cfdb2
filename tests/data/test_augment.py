"""Augmentations change images and steering consistently; datasets shuffle, augment and batch."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from drivenet.config import AugmentConfig, load_config
from drivenet.data import Preprocess, SteeringCache, SteeringDataset, augment
from drivenet.data.frames import make_frames
from drivenet.errors import DrivenetError

OFF = AugmentConfig(flip=False)


def ramp_images(n: int, width: int = 12) -> np.ndarray:
    """Images whose brightness rises from left to right, with a bright marker column at 3."""
    images = np.tile(np.linspace(10, 120, width).astype(np.uint8), (n, 4, 1))[..., None]
    images[:, :, 3] = 250
    return images


def make_cache(n: int = 40, steering: np.ndarray | None = None) -> SteeringCache:
    steering = np.linspace(-0.8, 0.8, n).astype(np.float32) if steering is None else steering
    frames = make_frames([f"/r/{i}.jpg" for i in range(n)], steering, "center", range(n), "r")
    return SteeringCache(
        ramp_images(n), frames["steering"].to_numpy(), frames, Preprocess(width=12, height=4)
    )


def test_flip_mirrors_and_negates() -> None:
    images, steering = ramp_images(200), np.full(200, 0.3, np.float32)
    augment.flip(images, steering, np.random.default_rng(0))
    flipped = steering < 0
    assert 60 < flipped.sum() < 140
    np.testing.assert_allclose(steering[flipped], -0.3)
    assert np.all(images[flipped, :, -4] == 250) and np.all(images[~flipped, :, 3] == 250)


def test_shift_moves_content_and_steers_back_towards_the_lane() -> None:
    images, steering = ramp_images(100), np.zeros(100, np.float32)
    augment.shift(images, steering, np.random.default_rng(1), pixels=2, per_pixel=0.05)
    marker = np.argmax(images[:, 0, :, 0] == 250, axis=1)
    offsets = marker - 3
    assert set(offsets) == {-2, -1, 0, 1, 2}
    np.testing.assert_allclose(steering, 0.05 * offsets, atol=1e-6)  # content right -> steer right


def test_gamma_changes_contrast_but_keeps_order() -> None:
    images = ramp_images(50)
    before = images.copy()
    augment.gamma(images, np.random.default_rng(2), strength=0.5)
    assert np.any(images != before)
    assert np.all(np.diff(images[:, 0, :3, 0].astype(int), axis=1) >= 0)  # still a rising ramp


def test_drop_near_zero_drops_about_the_share() -> None:
    steering = np.r_[np.zeros(1000), np.full(1000, 0.5)].astype(np.float32)
    keep = augment.drop_near_zero(steering, np.random.default_rng(0), share=0.7, threshold=0.02)
    assert keep[1000:].all() and 250 < keep[:1000].sum() < 350


def test_smoothing_averages_within_a_recording_only() -> None:
    a = make_frames(["a"] * 5, [0, 0, 1, 0, 0], "center", [4, 3, 2, 1, 0], "a")  # stored in reverse
    b = make_frames(["b"] * 2, [-1, -1], "center", [0, 1], "b")
    smooth = augment.smooth_labels(pd.concat([a, b], ignore_index=True), 3)
    np.testing.assert_allclose(smooth, [0, 1 / 3, 1 / 3, 1 / 3, 0, -1, -1], atol=1e-6)


def test_dataset_epochs_cover_the_subset_in_fresh_orders() -> None:
    cache = make_cache()
    subset = np.arange(5, 35)
    data = SteeringDataset(cache, subset, OFF, seed=0)
    epochs = [np.concatenate([y for _, y in data.batches(7)]) for _ in range(2)]
    for ys in epochs:
        np.testing.assert_allclose(np.sort(ys), np.sort(cache.steering[subset]))
    assert not np.array_equal(epochs[0], epochs[1])
    x, _ = next(data.batches(7))
    assert x.shape == (7, 48) and x.dtype == np.float32


def test_dataset_augments_copies_never_the_cache() -> None:
    cache = make_cache()
    before = cache.images.copy()
    cfg = replace(OFF, flip=True, shift_pixels=2, shift_steering_per_pixel=0.1, brightness=0.3)
    data = SteeringDataset(cache, np.arange(40), cfg, seed=0)
    ys = np.concatenate([y for _, y in data.batches(16)])
    assert ys.min() >= -1 and ys.max() <= 1
    assert not np.allclose(np.sort(ys), np.sort(cache.steering))
    np.testing.assert_array_equal(cache.images, before)


@pytest.mark.parametrize("share", [0.0, 1.0])
def test_dataset_drops_near_zero_frames(share: float) -> None:
    steering = np.r_[np.zeros(20), np.full(20, 0.4)].astype(np.float32)
    settings = replace(OFF, drop_zero_share=share)
    data = SteeringDataset(make_cache(40, steering), np.arange(40), settings, seed=0)
    assert sum(len(y) for _, y in data.batches(8)) == (40 if share == 0 else 20)


def test_dataset_repeats_the_frames_of_the_recordings_named() -> None:
    cache = make_cache(40)
    cache.frames["recording"] = ["a"] * 30 + ["b"] * 10
    data = SteeringDataset(cache, np.arange(40), replace(OFF, recording_repeats={"b": 3}), seed=0)
    order = data.epoch_indices()
    assert np.array_equal(np.bincount(order, minlength=40), np.r_[np.ones(30), np.full(10, 3)])
    assert data.batches_per_epoch(10) == 6 and sum(len(y) for _, y in data.batches(10)) == 60
    with pytest.raises(DrivenetError, match="recording_repeats: no recording named lake.*a, b"):
        SteeringDataset(cache, np.arange(40), replace(OFF, recording_repeats={"lake": 2}), seed=0)


def colour_images(n: int, frames: int = 1, seed: int = 0) -> np.ndarray:
    """Random mid-grey RGB clips (n, 8, 10, 3 * frames), away from 0 and 255 so nothing clips."""
    rng = np.random.default_rng(seed)
    return rng.integers(90, 160, size=(n, 8, 10, 3 * frames)).astype(np.uint8)


def test_channel_brightness_scales_each_channel_by_its_own_draw() -> None:
    images = colour_images(2000, frames=2)
    before = images.astype(np.float64)
    augment.channel_jitter(images, np.random.default_rng(3), brightness=0.3, contrast=0.0, channels=3)
    gain = images.mean(axis=(1, 2)) / before.mean(axis=(1, 2)) - 1  # (n, 6): frame 0 RGB, frame 1 RGB
    np.testing.assert_allclose(gain[:, :3], gain[:, 3:], atol=0.01)  # a clip's frames share the draw
    assert np.abs(gain).max() <= 0.3 + 0.01
    assert gain.std() == pytest.approx(0.3 / np.sqrt(3), rel=0.1)  # uniform in [-0.3, 0.3]
    assert abs(np.corrcoef(gain[:, 0], gain[:, 1])[0, 1]) < 0.1  # channels drawn independently


def test_channel_contrast_scales_spread_and_keeps_the_mean() -> None:
    images = colour_images(2000)
    before = images.astype(np.float64)
    augment.channel_jitter(images, np.random.default_rng(4), brightness=0.0, contrast=0.4, channels=3)
    after = images.astype(np.float64)
    np.testing.assert_allclose(after.mean(axis=(1, 2)), before.mean(axis=(1, 2)), atol=0.6)
    change = after.std(axis=(1, 2)) / before.std(axis=(1, 2)) - 1
    assert np.abs(change).max() <= 0.4 + 0.02
    assert change.std() == pytest.approx(0.4 / np.sqrt(3), rel=0.1)


def test_shadow_darkens_a_band_on_about_the_share_of_frames() -> None:
    images = np.full((1000, 12, 16, 6), 200, np.uint8)  # clips of two RGB frames
    augment.shadow(images, np.random.default_rng(5), share=0.3, darkness=0.6)
    dark = images < 200
    assert not np.any(images > 200)  # a shadow never brightens
    assert np.array_equal(dark, np.broadcast_to(dark[..., :1], dark.shape))  # one mask for every channel
    shaded = dark.any(axis=(1, 2, 3))
    assert 250 < shaded.sum() < 350
    factor = images[..., 0].astype(float) / 200
    assert factor[dark[..., 0]].min() >= 0.4 - 0.01
    assert factor[dark[..., 0]].std() > 0.05  # the darkness is drawn, not fixed
    mask = dark[shaded, :, :, 0]

    def convex(m: np.ndarray) -> bool:  # each row's and each column's dark pixels form one run
        return all(
            np.all(np.sum(np.diff(a.astype(int), axis=-1) == 1, axis=-1) + a[..., 0] <= 1) for a in (m, m.T)
        )

    assert all(convex(m) for m in mask)
    top_to_bottom = mask[:, 0].any(axis=1) & mask[:, -1].any(axis=1)
    side_to_side = mask[:, :, 0].any(axis=1) & mask[:, :, -1].any(axis=1)
    assert top_to_bottom.mean() > 0.3 and side_to_side.mean() > 0.3  # bands along and across the road


def test_vertical_shift_moves_rows_and_not_columns() -> None:
    images = np.zeros((200, 9, 5, 1), np.uint8)
    images[:, 4] = 255  # a bright row in the middle
    augment.vertical_shift(images, np.random.default_rng(6), pixels=2)
    bright = np.argmax(images[:, :, 2, 0] == 255, axis=1)
    assert set(bright - 4) == {-2, -1, 0, 1, 2}
    assert np.all(images.min(axis=2) == images.max(axis=2))  # every row still uniform


def test_photometric_augmentations_leave_the_steering_alone() -> None:
    cache = make_cache()
    cfg = replace(OFF, vertical_pixels=1, channel_brightness=0.3, channel_contrast=0.3, shadow=0.5)
    data = SteeringDataset(cache, np.arange(40), cfg, seed=0)
    plain = SteeringDataset(cache, np.arange(40), OFF, seed=0)
    (x, y), (x0, y0) = next(data.batches(40)), next(plain.batches(40))
    np.testing.assert_array_equal(y, y0)  # same order and labels: only pixels change
    assert not np.allclose(x, x0)


def test_an_even_smoothing_window_is_refused() -> None:
    with pytest.raises(DrivenetError, match="augment.smooth_window = 4: .* odd"):
        load_config(None, ["augment.smooth_window=4"])
