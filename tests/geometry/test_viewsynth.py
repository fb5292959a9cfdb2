"""View synthesis checked against drivenet's own roads, whose frames at any pose are ground truth."""

from __future__ import annotations

import numpy as np
import pytest

from drivenet.config import CameraConfig, load_config
from drivenet.data import Preprocess, SteeringCache, SteeringDataset
from drivenet.data.dataset import clip_lags, earlier_rows
from drivenet.data.frames import make_frames
from drivenet.errors import DrivenetError
from drivenet.geometry.camera import (
    MPH,
    PRESETS,
    CameraModel,
    camera_for,
    camera_for_frames,
    from_render_camera,
)
from drivenet.geometry.car import LOOKAHEAD, pursuit_steering
from drivenet.geometry.track import Pose, Track, random_track
from drivenet.geometry.viewsynth import RecoveryViews, recovery_steering, warp
from drivenet.roads import Camera, Look, RoadRenderer
from drivenet.roads.synth import SPACING, SPEED_MPH
from drivenet.training.trainer import recovery_views

# Renderer proof: on the ground rows the camera saw, a warped frame differs from the frame rendered at
# the new pose by at most MEAN_TOLERANCE grey levels on average and P95_TOLERANCE for 95% of the pixel
# values (8-bit RGB); without the warp the two differ by more than NO_WARP_LEAST on average.
MEAN_TOLERANCE = 3.0
P95_TOLERANCE = 10.0
NO_WARP_LEAST = 10.0
# Label: same sign as the renderer's pure-pursuit label and within 15% of its size. The two differ by
# design: the renderer maps curvature to steering by tan δ = u·tan δ_max, recovery by δ = u·δ_max.
LABEL_TOLERANCE = 0.15
S = 100.0  # metres along the road where frames are taken


@pytest.fixture(scope="module")
def scene() -> tuple[RoadRenderer, Track, CameraModel]:
    renderer = RoadRenderer(Camera())
    return renderer, random_track(300.0, 5), from_render_camera(renderer.camera)


def render(scene, offset: float = 0.0, yaw_deg: float = 0.0, s: float = S) -> np.ndarray:
    renderer, track, _ = scene
    pose = track.place(s, offset, np.radians(yaw_deg))
    return renderer.render(track, pose, s, Look(noise=0.0), np.random.default_rng(0))


def ground_errors(
    camera: CameraModel, warped: np.ndarray, filled: np.ndarray, truth: np.ndarray
) -> np.ndarray:
    """|warped - truth| over the pixels below the horizon that the recorded camera saw."""
    b = (np.arange(camera.height) + 0.5 - camera.height / 2) / camera.focal
    rows = b * np.cos(camera.pitch) + np.sin(camera.pitch) > 1e-6
    seen = ~filled[rows]
    return np.abs(warped[rows].astype(np.float64) - truth[rows])[seen]


@pytest.mark.parametrize("shift, yaw", [(0.5, 3.0), (-0.5, -3.0), (0.5, -3.0)])
def test_warp_matches_the_frame_rendered_at_the_new_pose(scene, shift, yaw):
    centred, truth = render(scene), render(scene, shift, yaw)
    warped, filled = warp(centred, scene[2], shift, yaw)
    errors = ground_errors(scene[2], warped, filled, truth)
    assert errors.mean() <= MEAN_TOLERANCE
    assert np.percentile(errors, 95) <= P95_TOLERANCE
    assert ground_errors(scene[2], centred, filled, truth).mean() > NO_WARP_LEAST
    assert 0.0 < filled.mean() < 0.3  # the camera moved: some of the view was never seen, most was


def test_advance_matches_the_frame_rendered_further_along():
    """On a straight road with a strong ground texture; haze is off, since it depends on the distance
    from the camera and so changes with the camera's position rather than moving with the ground."""
    renderer, track = RoadRenderer(Camera()), Track.straight(200.0)
    look = Look(noise=0.0, texture=0.3, texture_scale=2.0, visibility=1e9)
    earlier, later = (
        renderer.render(track, track.place(s, 0.5), s, look, np.random.default_rng(0)) for s in (98.0, 100.0)
    )
    warped, filled = warp(earlier, from_render_camera(renderer.camera), 0.0, 0.0, advance_m=2.0)
    camera = from_render_camera(renderer.camera)
    error = ground_errors(camera, warped, filled, later).mean()
    assert error <= MEAN_TOLERANCE and error < ground_errors(camera, earlier, filled, later).mean() / 2


def test_recovery_label_agrees_with_the_renderers_label():
    track = Track.straight(200.0)
    speed = LOOKAHEAD / 2.0  # the renderer's label aims 7 m ahead, recovery aims speed x 2 s ahead
    for shift, yaw in [(0.5, 3.0), (-0.5, -3.0), (0.8, 0.0), (0.0, -2.0)]:
        truth = pursuit_steering(track, track.place(50.0, shift, np.radians(yaw)), 50.0)
        label = float(recovery_steering(shift, yaw, speed, seconds=2.0, camera=PRESETS["roads"]))
        assert np.sign(label) == np.sign(truth)
        assert abs(label - truth) <= LABEL_TOLERANCE * abs(truth)


def test_recovery_steers_back_and_softer_with_more_time():
    right = recovery_steering(0.5, 0.0, 10.0)
    assert right < 0 and recovery_steering(-0.5, 0.0, 10.0) == pytest.approx(-right)
    assert recovery_steering(0.0, 2.0, 10.0) < 0  # turned right: steer left
    assert abs(recovery_steering(0.5, 0.0, 10.0, seconds=4.0)) < abs(right)
    batch = recovery_steering(np.array([0.5, -0.5]), np.zeros(2), np.array([10.0, 10.0]))
    assert batch.shape == (2,) and batch[0] == pytest.approx(right)


def test_zero_move_is_the_identity_and_a_batch_equals_single_frames(scene):
    frame = render(scene)
    same, filled = warp(frame, scene[2], 0.0, 0.0)
    assert np.array_equal(same, frame) and not filled.any()
    frames = np.stack([frame, render(scene, 0.3)])
    batch, batch_filled = warp(frames, scene[2], np.array([0.4, -0.2]), np.array([1.0, -2.0]))
    for i, (shift, yaw) in enumerate([(0.4, 1.0), (-0.2, -2.0)]):
        one, one_filled = warp(frames[i], scene[2], shift, yaw)
        assert np.array_equal(batch[i], one) and np.array_equal(batch_filled[i], one_filled)


def test_a_shift_right_leaves_the_near_right_unseen(scene):
    _, filled = warp(render(scene), scene[2], 1.0, 0.0)
    h, w = filled.shape
    assert filled[h // 2 :, w // 2 :].sum() > 0 and filled[:, : w // 2].sum() == 0
    assert not filled[: h // 4].any()  # far scenery only turns with yaw: a pure shift leaves it in place


def test_cropped_resized_images_warp_like_full_frames(scene):
    """Warping a cache image (rows 35%-85%, resized) gives the crop of the warped full frame."""
    from PIL import Image

    def cached(frame: np.ndarray) -> np.ndarray:
        crop = Image.fromarray(frame).crop((0, 56, 320, 136)).resize((64, 32), Image.Resampling.BILINEAR)
        return np.asarray(crop)

    frame = render(scene)
    full, _ = warp(frame, scene[2], 0.5, 3.0)
    small, filled = warp(cached(frame), scene[2], 0.5, 3.0, rows=(0.35, 0.85))
    errors = np.abs(small.astype(np.float64) - cached(full))[~filled]
    no_warp = np.abs(cached(frame).astype(np.float64) - cached(full))
    assert errors.mean() < no_warp.mean() / 3


def test_render_camera_conversion_is_the_roads_preset():
    assert from_render_camera(Camera()) == PRESETS["roads"]
    assert PRESETS["roads"].frame_rate == pytest.approx(SPEED_MPH * MPH / SPACING)  # synth's frames and speed
    model = from_render_camera(Camera(width=160, height=120, fov_degrees=70.0, horizon=0.4))
    assert model.horizontal_fov_degrees == pytest.approx(70.0)
    assert model.horizon == pytest.approx(0.4)


def test_camera_config_overrides_and_errors():
    cfg = load_config(overrides=["camera.mount_height=1.2", "camera.horizon=0.45"]).camera
    camera = camera_for("udacity", cfg)
    assert camera.mount_height == 1.2 and camera.horizon == pytest.approx(0.45)
    assert camera.fov_degrees == PRESETS["udacity"].fov_degrees
    assert camera_for("csv", CameraConfig(preset="donkey")) == PRESETS["donkey"]
    assert camera_for_frames("auto", CameraConfig(preset="auto"), (455, 256)) == PRESETS["sully"]
    with pytest.raises(DrivenetError, match="camera.preset"):
        camera_for_frames("auto", CameraConfig(preset="auto"), (100, 100))
    with pytest.raises(DrivenetError, match="camera.mount_height"):
        camera_for("udacity", CameraConfig(mount_height=-1.0))


def test_recovery_views_warp_cached_images_and_relabel_them(scene):
    preprocess = Preprocess(width=64, height=32, color="rgb")
    images = np.stack([preprocess.apply_array(render(scene, o)) for o in (0.0, 0.4, -0.4, 0.2)])
    views = RecoveryViews(scene[2], shift_m=0.5, yaw_deg=2.0, seconds=2.0, speed=5.0)
    steering = np.array([0.1, -0.2, 0.3, 0.0], np.float32)
    out, labels = images.copy(), steering.copy()
    views.apply(out, labels, np.random.default_rng(3), (0.35, 0.85))
    draws = np.random.default_rng(3)
    shift, yaw = draws.normal(0.0, 0.5, 4), draws.normal(0.0, 2.0, 4)
    np.testing.assert_allclose(
        labels - steering, recovery_steering(shift, yaw, 5.0, 2.0, scene[2]), atol=1e-6
    )
    assert np.array_equal(out, warp(images, scene[2], shift, yaw, rows=(0.35, 0.85))[0])


class OneSigma:
    """Random draws that are each exactly one standard deviation: shift = shift_m, yaw = yaw_deg."""

    def normal(self, loc: float, scale: float, size: int) -> np.ndarray:
        return np.full(size, loc + scale)


def test_clip_frames_are_seen_from_where_the_turned_car_stood(scene):
    """A car turned ψ drifts sideways: t seconds earlier it stood v·t·sin ψ further left. On a straight
    road the clip's earlier frame, warped so, matches the frame rendered there; warped to the car's
    present offset (a car gliding parallel to the road) it does not."""
    renderer, _, camera = scene
    road, lag, speed, shift, yaw = Track.straight(300.0), 0.6, 10.0, 0.3, 5.0
    behind = speed * lag
    looks = (Look(noise=0.0), np.random.default_rng(0))
    now, before = (renderer.render(road, road.place(s), s, *looks) for s in (S, S - behind))
    clip = np.concatenate([now, before], axis=-1)[None].copy()
    views = RecoveryViews(camera, shift_m=shift, yaw_deg=yaw, seconds=2.0, speed=speed)
    labels = np.zeros(1, np.float32)
    views.apply(clip, labels, OneSigma(), (0.0, 1.0), lags=np.array([[lag]]), channels=3)
    assert labels[0] == pytest.approx(float(recovery_steering(shift, yaw, speed, 2.0, camera)))
    assert np.array_equal(clip[0, ..., :3], warp(now, camera, shift, yaw)[0])
    drifted = shift - behind * np.sin(np.radians(yaw))
    stood = road.place(S, shift, np.radians(yaw))
    heading = stood.heading
    back = Pose(stood.x - behind * np.sin(heading), stood.y - behind * np.cos(heading), heading)
    truth = renderer.render(road, back, S - behind, *looks)
    warped, filled = warp(before, camera, drifted, yaw)
    assert np.array_equal(clip[0, ..., 3:], warped)
    assert ground_errors(camera, warped, filled, truth).mean() <= MEAN_TOLERANCE
    parallel, filled = warp(before, camera, shift, yaw)
    assert ground_errors(camera, parallel, filled, truth).mean() > 2 * MEAN_TOLERANCE
    for lags, channels in ((np.zeros((1, 2)), 3), (np.zeros((1, 1)), None), (None, 3)):  # 6 channels
        with pytest.raises(ValueError, match="do not hold"):
            views.apply(clip, labels, OneSigma(), (0.0, 1.0), lags, channels)


def test_clip_lags_come_from_the_stamps_in_the_names_as_replay_counts_time():
    ms = [0, 100, 205, 310, 2500, 2600, 2700]  # a 2.19 s pause before the fifth frame
    names = [f"/r/IMG/center_2020_01_01_00_00_{m // 1000:02d}_{m % 1000:03d}.jpg" for m in ms]
    names[6] = "/r/IMG/frame6.jpg"  # no stamp
    frames = make_frames(names, np.zeros(7), "center", range(7), "r")
    lags = clip_lags(frames, earlier_rows(frames, [1, 3]), frame_rate=15.0)
    typical = 0.1025  # the median of the known steps 0.100, 0.105, 0.105, 0.100: the pause and the
    # unstamped step count as this, as in replay; the camera's 15 Hz is only for recordings without stamps
    close = {
        0: [0.0, 0.0],  # the first frame stands in for those before it
        1: [0.1, 0.1],  # only one frame back exists
        3: [0.105, 0.310],  # the stamps' own steps
        4: [typical, 0.105 + 0.105 + typical],  # across the pause
        6: [typical, typical + 0.1 + typical],  # from a frame without a stamp
    }
    for row, expected in close.items():
        np.testing.assert_allclose(lags[row], expected, atol=1e-6)  # stamps: float64 epoch seconds
    unstamped = make_frames([f"/r/{i}.jpg" for i in range(4)], np.zeros(4), "center", [0, 1, 2, 5], "r")
    counted = clip_lags(unstamped, earlier_rows(unstamped, [3]), frame_rate=10.0)[:, 0]
    np.testing.assert_allclose(counted, [0.0, 0.1, 0.2, 0.3])  # frame numbers / 10 Hz, frames 3, 4 missing


def test_dataset_applies_recovery_views_only_when_asked(scene):
    preprocess = Preprocess(width=32, height=16)
    images = np.stack([preprocess.apply_array(render(scene, o)) for o in np.linspace(-0.5, 0.5, 8)])
    frames = make_frames([f"/r/{i}.jpg" for i in range(8)], np.zeros(8), "center", range(8), "r")
    cache = SteeringCache(images, frames["steering"].to_numpy(), frames, preprocess)
    config = load_config(overrides=["augment.flip=false", "augment.shift_m=0.5", 'camera.preset="roads"'])
    views = recovery_views(config.augment, config.data, config.camera, (320, 160), [])
    assert views is not None and views.camera == PRESETS["roads"]
    plain = SteeringDataset(cache, np.arange(8), config.augment, seed=1)
    moved = SteeringDataset(cache, np.arange(8), config.augment, seed=1, views=views)
    (x_plain, y_plain), (x_moved, y_moved) = next(plain.batches(8)), next(moved.batches(8))
    assert np.all(y_plain == 0) and np.all(y_moved != 0) and np.all(np.abs(y_moved) <= 1)
    assert not np.allclose(x_plain, x_moved)
    handed: list[np.ndarray] = []

    class Spy(RecoveryViews):  # records the lags each batch hands over
        def apply(self, images, steering, rng, rows, lags=None, channels=None):
            handed.append(lags)
            super().apply(images, steering, rng, rows, lags, channels)

    spy = Spy(views.camera, views.shift_m, views.yaw_deg, views.seconds, views.speed)
    ms = np.cumsum([0, 90, 110, 95, 130, 100, 85, 120])  # uneven steps: every clip's lag differs
    cache.frames["path"] = [f"/r/IMG/center_2020_01_01_00_00_{m // 1000:02d}_{m % 1000:03d}.jpg" for m in ms]
    clipped, twin = (
        SteeringDataset(cache, np.arange(8), config.augment, seed=1, motion_gaps=[2], views=spy)
        for _ in range(2)
    )
    two_back = ms[np.maximum(np.arange(8) - 2, 0)]
    np.testing.assert_allclose(clipped.lags[:, 0], (ms - two_back) / 1000, atol=1e-6)
    assert next(clipped.batches(8))[0].shape == (8, 2 * 16 * 32)
    order = twin.epoch_indices()  # the same seed: the same shuffle as the batch above
    assert not np.array_equal(order, np.sort(order))
    np.testing.assert_array_equal(handed[0], clipped.lags[order])


def test_recovery_views_settings():
    assert not load_config().augment.views  # off by default: no camera needed
    config = load_config(overrides=["augment.yaw_deg=2.0"])
    views = recovery_views(config.augment, config.data, config.camera, (320, 160), [])
    assert views is not None and views.camera == PRESETS["udacity"] and views.shift_m == 0.0


def test_the_udacity_preset_fits_the_side_cameras_better_than_the_guess():
    """udacity-sample's side images (first 1500 rows) against centre frames warped by the preset's geometry:
    the calibrated preset beats the uncalibrated guess, which beats no warp (road rows, 10 frames)."""
    import os
    from dataclasses import replace
    from pathlib import Path

    from PIL import Image

    root = os.environ.get("DRIVENET_DATASETS")
    if not root:
        pytest.skip("DRIVENET_DATASETS is not set (the folder of the real recordings)")
    folder = Path(root) / "udacity-sample"
    lines = (folder / "driving_log.csv").read_text().splitlines()[1:1500:150]
    frames = {name: [] for name in ("center", "left", "right")}
    for line in lines:
        for name, path in zip(frames, line.split(","), strict=False):
            frames[name].append(np.asarray(Image.open(folder / path.strip()).convert("L"))[..., None])
    sides = {name: np.stack(images) for name, images in frames.items()}
    road = slice(72, 125)  # rows 45%-78%: below the horizon, above the hood

    def error(camera: CameraModel | None) -> float:
        total = 0.0
        for side, sign in (("left", -1.0), ("right", 1.0)):
            moved = (
                sides["center"]
                if camera is None
                else warp(sides["center"], camera, sign * camera.side_offset, sign * camera.side_yaw_degrees)[
                    0
                ]
            )
            total += np.abs(moved[:, road].astype(np.float64) - sides[side][:, road]).mean()
        return total / 2

    preset = PRESETS["udacity"]
    guess = replace(preset, mount_height=0.9, pitch_degrees=3.0, side_offset=0.8, side_yaw_degrees=0.0)
    assert error(preset) < error(guess) < error(None)
