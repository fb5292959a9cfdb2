"""The transform, decoding with workers, corrupt files, and the cache file."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from support.recordings import frame, udacity, write_jpeg

from drivenet.config import AugmentConfig, DataConfig
from drivenet.data import Preprocess, SteeringCache, build_cache, load_or_build, read_recordings
from drivenet.errors import DrivenetError
from drivenet.io import load_npz, save_npz


@pytest.mark.parametrize(("color", "channels"), [("gray", 1), ("rgb", 3), ("yuv", 3)])
def test_file_and_array_paths_agree(tmp_path: Path, color: str, channels: int) -> None:
    pre = Preprocess(crop_top=0.25, crop_bottom=0.25, width=16, height=10, color=color)
    path = write_jpeg(tmp_path / "a.jpg", 40)
    from_file = pre.apply_file(path)
    from_array = pre.apply_array(np.asarray(Image.open(path).convert("RGB")))
    assert from_file.shape == pre.shape == (10, 16, channels) and from_file.dtype == np.uint8
    assert np.abs(from_file.astype(int) - from_array).max() <= 3


def test_crop_removes_sky_and_hood_rows() -> None:
    rgb = np.zeros((100, 40, 3), dtype=np.uint8)
    rgb[:30] = 255  # sky
    rgb[90:] = 128  # hood
    rgb[30:90, :20] = 60
    out = Preprocess(crop_top=0.3, crop_bottom=0.1, width=20, height=12).apply_array(rgb)[..., 0]
    assert out.max() <= 61  # no sky (255) or hood (128) left
    assert np.all(np.abs(out[:, :9].astype(int) - 60) <= 1) and out[:, 11:].max() == 0


def test_inputs_are_standardised_per_image_and_ignore_lighting() -> None:
    pre = Preprocess(width=8, height=5)
    rng = np.random.default_rng(0)
    images = rng.integers(20, 120, size=(3, 5, 8, 1), dtype=np.uint8)
    x = pre.to_inputs(images)
    assert x.shape == (3, 40) and x.dtype == np.float32
    np.testing.assert_allclose(x.mean(axis=1), 0, atol=1e-5)
    assert np.all((x.std(axis=1) > 0.85) & (x.std(axis=1) < 1))  # EPS damps low-contrast images a little
    brighter = pre.to_inputs(images * 2 + 10)
    np.testing.assert_allclose(brighter, x, atol=0.1)
    assert np.abs(images * 2.0 + 10 - images).mean() > 50  # the raw pixels did change a lot
    assert np.all(pre.to_inputs(np.full((1, 5, 8, 1), 77, np.uint8)) == 0)


def test_settings_round_trip_and_validation() -> None:
    pre = Preprocess.from_config(DataConfig(color="yuv", width=20))
    assert Preprocess.from_dict(pre.to_dict()) == pre and pre.shape == (30, 20, 3)
    with pytest.raises(DrivenetError, match="data.color"):
        Preprocess(color="hsv")
    with pytest.raises(DrivenetError, match="crop_top"):
        Preprocess(crop_top=0.6, crop_bottom=0.4)


def recording_with_bad_files(tmp_path: Path) -> Path:
    rec = udacity(tmp_path / "rec", [0.1 * i for i in range(6)], sides=False)
    images = sorted((rec / "IMG").glob("center_*.jpg"))
    images[1].write_bytes(b"")  # zero bytes
    images[3].write_bytes(images[3].read_bytes()[:200])  # truncated
    images[4].write_bytes(b"this is not a jpeg at all" * 20)  # not an image
    return rec


def test_corrupt_images_are_skipped_and_counted(tmp_path: Path) -> None:
    read = read_recordings([recording_with_bad_files(tmp_path)])
    cache, skipped = build_cache(read.frames, Preprocess(), workers=1, progress=False)
    assert len(cache) == 3 and cache.images.shape == (3, 30, 32, 1)
    np.testing.assert_allclose(cache.steering, [0.0, 0.2, 0.5], atol=1e-6)
    assert [Path(p.file).name[-10:] for p in skipped] == ["000001.jpg", "000003.jpg", "000004.jpg"]
    assert "empty file" in skipped[0].reason and "corrupt" in skipped[1].reason
    assert cache.summary["skipped"] == {"unreadable image": 3} and cache.summary["frames"] == 3
    with pytest.raises(DrivenetError, match=r"000001.jpg: empty file .*--strict"):
        build_cache(read.frames, Preprocess(), workers=1, strict=True, progress=False)


def test_workers_give_the_same_cache_as_one_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("drivenet.data.decode.CHUNK", 4)
    read = read_recordings([udacity(tmp_path / "rec", np.linspace(-1, 1, 19), sides=False)])
    one, _ = build_cache(read.frames, Preprocess(), workers=1, progress=False)
    two, _ = build_cache(read.frames, Preprocess(), workers=2, progress=False)
    np.testing.assert_array_equal(one.images, two.images)
    assert np.ptp(one.images[:, 10, 0, 0].astype(int)) > 50  # frames really differ


def test_cache_round_trip_and_no_silent_overwrite(tmp_path: Path) -> None:
    read = read_recordings([udacity(tmp_path / "rec", [0.1, -0.4, 0.0])], DataConfig(cameras="all"))
    cache, _ = build_cache(
        read.frames, Preprocess(color="rgb", width=10, height=6), workers=1, progress=False
    )
    path = cache.save(tmp_path / "c.npz")
    back = SteeringCache.load(path)
    np.testing.assert_array_equal(back.images, cache.images)
    np.testing.assert_array_equal(back.steering, cache.steering)
    assert back.frames.equals(cache.frames) and back.preprocess == cache.preprocess
    assert back.summary["cameras"] == {"center": 3, "left": 3, "right": 3}
    with pytest.raises(DrivenetError, match="already exists; pass --force"):
        cache.save(path)
    cache.save(path, force=True)


def test_load_or_build_takes_a_cache_or_a_recording(tmp_path: Path) -> None:
    rec = udacity(tmp_path / "rec", [0.1, -0.4], sides=False)
    data_cfg = DataConfig(workers=1)
    built = load_or_build(rec, data_cfg)
    built.save(tmp_path / "c.npz")
    loaded = load_or_build(tmp_path / "c.npz", replace(data_cfg, width=8))
    np.testing.assert_array_equal(loaded.images, built.images)
    assert loaded.preprocess.width == 32  # the cache's own transform wins
    (tmp_path / "not.npz").write_bytes(b"junk")
    with pytest.raises(DrivenetError, match="not.npz"):
        load_or_build(tmp_path / "not.npz", data_cfg)


def test_a_recording_with_no_usable_frame_is_an_error(tmp_path: Path) -> None:
    rec = udacity(tmp_path / "rec", [0.1], sides=False)
    for image in (rec / "IMG").iterdir():
        image.unlink()
    with pytest.raises(DrivenetError, match=r"no usable frames in .*rec; 1 problems, the first: .*line 2"):
        load_or_build(rec, DataConfig())


def test_png_frames_take_the_plain_path(tmp_path: Path) -> None:
    pre = Preprocess(width=16, height=10)
    Image.fromarray(frame(90)).convert("RGBA").save(tmp_path / "a.png")
    np.testing.assert_array_equal(pre.apply_file(tmp_path / "a.png"), pre.apply_array(frame(90)))


def test_a_cache_missing_an_array_is_a_clear_error(tmp_path: Path) -> None:
    rec = udacity(tmp_path / "rec", [0.1, -0.4], sides=False)
    path = load_or_build(rec, DataConfig(workers=1)).save(tmp_path / "c.npz")
    arrays, meta = load_npz(path)
    del arrays["steering"]
    save_npz(tmp_path / "cut.npz", arrays, meta)
    with pytest.raises(DrivenetError, match=r"cut\.npz.*steering"):
        SteeringCache.load(tmp_path / "cut.npz")


def test_a_cache_remembers_the_raw_frame_size(tmp_path: Path) -> None:
    rec = udacity(tmp_path / "rec", [0.1, -0.4], sides=False)
    cache = load_or_build(rec, DataConfig(workers=1))
    raw = Image.open(next((rec / "IMG").iterdir())).size
    assert cache.frame_size == raw
    assert SteeringCache.load(cache.save(tmp_path / "c.npz")).frame_size == raw


def big_cache(n: int, shape: tuple[int, int, int] = (66, 200, 3)) -> SteeringCache:
    """A synthetic RGB cache of n frames (n * 39,600 bytes of images at 66x200)."""
    from drivenet.data.frames import make_frames

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(n, *shape), dtype=np.uint8)
    steering = rng.uniform(-1, 1, n).astype(np.float32)
    frames = make_frames([f"/r/{i}.jpg" for i in range(n)], steering, "center", range(n), "r")
    pre = Preprocess(width=shape[1], height=shape[0], color="rgb" if shape[2] == 3 else "gray")
    return SteeringCache(images, frames["steering"].to_numpy(), frames, pre)


def test_a_loaded_cache_maps_its_images_instead_of_reading_them(tmp_path: Path) -> None:
    import itertools
    import tracemalloc

    from drivenet.data import SteeringDataset

    path = big_cache(1500).save(tmp_path / "big.npz")  # 59 MB of images
    tracemalloc.start()
    loaded = SteeringCache.load(path)
    after_load = tracemalloc.get_traced_memory()[1]
    data = SteeringDataset(loaded, np.arange(1500), AugmentConfig(flip=True, shadow=0.5), seed=0)
    batches = list(itertools.islice((y for _, y in data.batches(16)), 10))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert isinstance(loaded.images, np.memmap) and not loaded.images.flags.writeable
    assert after_load < 2_000_000  # the frame table, not the 59 MB of images
    assert len(batches) == 10 and peak < 20_000_000  # a batch at a time (16 frames as float32: 2.5 MB)
    np.testing.assert_array_equal(loaded.images[[5, 1]], big_cache(1500).images[[5, 1]])


def test_a_compressed_or_inconsistent_cache_is_a_clear_error(tmp_path: Path) -> None:
    import zipfile

    path = big_cache(4, (3, 4, 1)).save(tmp_path / "c.npz")
    with (
        zipfile.ZipFile(path) as source,
        zipfile.ZipFile(tmp_path / "z.npz", "w", zipfile.ZIP_DEFLATED) as out,
    ):
        for item in source.namelist():
            out.writestr(item, source.read(item))
    with pytest.raises(DrivenetError, match=r"z\.npz: its images array is compressed"):
        SteeringCache.load(tmp_path / "z.npz")
    arrays, meta = load_npz(path)
    arrays["steering"] = arrays["steering"][:3]
    save_npz(tmp_path / "short.npz", arrays, meta)
    with pytest.raises(DrivenetError, match=r"short\.npz: its arrays disagree"):
        SteeringCache.load(tmp_path / "short.npz")


def test_several_caches_stack_without_copying_their_images(tmp_path: Path) -> None:
    a, b = big_cache(5, (3, 4, 1)), big_cache(7, (3, 4, 1))
    b.frames["recording"] = "s"
    b.frames["path"] = [f"/s/{i}.jpg" for i in range(7)]
    paths = [a.save(tmp_path / "a.npz"), b.save(tmp_path / "b.npz")]
    both = load_or_build(paths, DataConfig())
    assert len(both) == 12 and list(both.frames["recording"].unique()) == ["r", "s"]
    rows = np.array([11, 0, 6, 4, 5])
    np.testing.assert_array_equal(both.images[rows], np.concatenate([a.images, b.images])[rows])
    assert all(isinstance(part, np.memmap) for part in both.images.parts)
    np.testing.assert_array_equal(both.steering, np.r_[a.steering, b.steering])
