"""Hostile files given to train, evaluate and predict: corrupt .npz, inconsistent caches, decompression
bombs, numbered frames. Each is a one-line error or a counted skip, never a traceback."""

from __future__ import annotations

import json
import os
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from support.cli import deadline, one_line_error
from support.tiny import TINY, make_recording, road_frame, tiny_config
from typer.testing import CliRunner

from drivenet.cli import app
from drivenet.data import load_or_build
from drivenet.io import load_npz, save_npz

SETS = [arg for item in TINY for arg in ("--set", item)]


def invoke(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A small recording, its cache, and a model trained on it."""
    folder = tmp_path_factory.mktemp("hostile")
    recording = make_recording(folder / "rec", frames=80)
    result = invoke("train", recording, "--out", folder / "run", *SETS, "--set", "train.epochs=1", "--quiet")
    assert result.exit_code == 0, result.output
    load_or_build(recording, tiny_config().data).save(folder / "cache.npz")
    return folder


def flip_in_member(source: Path, target: Path, member: str) -> None:
    """Copy `source` to `target` with one byte of the data of its `member` inverted (a bad CRC-32)."""
    data = bytearray(source.read_bytes())
    with zipfile.ZipFile(source) as archive:
        info = archive.getinfo(member)
    name_len, extra_len = struct.unpack("<HH", data[info.header_offset + 26 : info.header_offset + 30])
    start = info.header_offset + 30 + name_len + extra_len
    data[start + info.compress_size // 2] ^= 0xFF
    target.write_bytes(bytes(data))


def test_crc_corrupt_files_are_one_line_errors(run, tmp_path):
    model, cache = tmp_path / "model.npz", tmp_path / "cache.npz"
    flip_in_member(run / "run" / "best.npz", model, "__meta__.npy")
    flip_in_member(run / "cache.npz", cache, "steering.npy")  # images are memory-mapped: no CRC check
    good_model = run / "run" / "best.npz"
    one_line_error(invoke("evaluate", model, run / "cache.npz"), "model.npz", "CRC")
    one_line_error(invoke("evaluate", good_model, cache), "cache.npz", "CRC")
    one_line_error(invoke("predict", model, run / "rec"), "model.npz", "CRC")
    one_line_error(invoke("train", cache, "--out", tmp_path / "t", *SETS, "--quiet"), "cache.npz", "CRC")


def inconsistent(arrays: dict[str, np.ndarray], flaw: str) -> dict[str, np.ndarray]:
    arrays = dict(arrays)
    if flaw == "short steering":
        arrays["steering"] = arrays["steering"][:-3]
    elif flaw == "long paths":
        arrays["frame_path"] = np.concatenate([arrays["frame_path"], arrays["frame_path"][:2]])
    elif flaw == "image size":
        arrays["images"] = arrays["images"][:, :-1]
    elif flaw == "image dtype":
        arrays["images"] = arrays["images"].astype(np.float32)
    elif flaw == "nan steering":
        arrays["steering"] = arrays["steering"].copy()
        arrays["steering"][5] = np.nan
    elif flaw == "2-d steering":
        arrays["steering"] = arrays["steering"][:, None]
    return arrays


@pytest.mark.parametrize(
    "flaw", ["short steering", "long paths", "image size", "image dtype", "nan steering", "2-d steering"]
)
def test_a_cache_whose_arrays_disagree_is_a_one_line_error(run, tmp_path, flaw):
    arrays, meta = load_npz(run / "cache.npz")
    bad = save_npz(tmp_path / "bad.npz", inconsistent(arrays, flaw), meta)
    one_line_error(invoke("evaluate", run / "run" / "best.npz", bad), "bad.npz", "re-create it")
    one_line_error(invoke("train", bad, "--out", tmp_path / "t", *SETS, "--quiet"), "bad.npz")


def test_corrupt_cache_settings_are_a_one_line_error(run, tmp_path):
    arrays, meta = load_npz(run / "cache.npz")
    bad = save_npz(tmp_path / "bad.npz", arrays, {**meta, "preprocess": {"width": "wide"}})
    one_line_error(invoke("train", bad, "--out", tmp_path / "t", *SETS, "--quiet"), "bad.npz", "corrupt")


def png_bomb(path: Path, width: int, height: int) -> Path:
    """A small PNG file claiming `width` x `height` gray pixels (its data: a few zero rows)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\0" * (width + 1) * 4)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )
    return path


def test_a_decompression_bomb_is_refused_by_predict(run, tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.fromarray(road_frame(0.2, np.random.default_rng(0))).save(folder / "a.jpg")
    png_bomb(folder / "b.png", 20_000, 20_000)
    result = invoke("predict", run / "run" / "best.npz", folder, "--json")
    assert result.exit_code == 0, result.output
    assert [Path(r["path"]).name for r in json.loads(result.stdout)] == ["a.jpg"]
    assert "skipped 1" in result.output and "too many pixels" in result.output
    one_line_error(invoke("predict", run / "run" / "best.npz", folder / "b.png"), "too many pixels")


def test_an_image_over_pillows_warning_limit_is_not_decoded(run, tmp_path, monkeypatch):
    """Between the warning limit and twice it, Pillow only warns and decodes: predict refuses it too."""
    image = tmp_path / "big.jpg"
    Image.fromarray(road_frame(0.2, np.random.default_rng(0))).save(image)
    pixels = Image.open(image).size[0] * Image.open(image).size[1]
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", pixels * 2 // 3)
    one_line_error(invoke("predict", run / "run" / "best.npz", image), "too many pixels")


def test_a_decompression_bomb_is_skipped_by_preprocess(run, tmp_path):
    recording = make_recording(tmp_path / "rec", frames=6)
    png_bomb(recording / "IMG" / "center_00002.jpg", 20_000, 20_000)  # over twice the limit: an error
    png_bomb(recording / "IMG" / "center_00004.jpg", 10_000, 10_000)  # over it: only a warning
    result = invoke("preprocess", recording, "--out", tmp_path / "c.npz", "--workers", "1")
    assert result.exit_code == 0, result.output
    assert "frames kept: 4" in result.output and "2 unreadable image" in result.output
    assert result.output.count("too many pixels") == 2


@pytest.mark.parametrize("pattern", ["{}.jpg", "frame_{}.jpg", "img{:d}_cam.png"])
def test_predict_reads_a_folder_in_natural_order(run, tmp_path, pattern):
    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    numbers = [11, 2, 10, 1, 0, 100, 9]
    for n in numbers:
        Image.fromarray(road_frame(0.0, rng)).save(folder / pattern.format(n))
    result = invoke("predict", run / "run" / "best.npz", folder, "--json")
    assert result.exit_code == 0, result.output
    names = [Path(r["path"]).name for r in json.loads(result.stdout)]
    assert names == [pattern.format(n) for n in sorted(numbers)]


def test_predict_refuses_a_link_out_of_the_folder(run, tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.fromarray(road_frame(0.2, np.random.default_rng(0))).save(tmp_path / "outside.jpg")
    Image.fromarray(road_frame(0.2, np.random.default_rng(1))).save(folder / "1.jpg")
    (folder / "2.jpg").symlink_to(tmp_path / "outside.jpg")
    result = invoke("predict", run / "run" / "best.npz", folder, "--json")
    assert result.exit_code == 0, result.output
    assert [Path(r["path"]).name for r in json.loads(result.stdout)] == ["1.jpg"]
    assert "skipped 1" in result.output and "outside" in result.output


def test_predict_and_evaluate_on_a_fifo_are_one_line_errors(run, tmp_path):
    os.mkfifo(tmp_path / "pipe.jpg")
    os.mkfifo(tmp_path / "pipe.npz")
    model = run / "run" / "best.npz"
    with deadline():
        one_line_error(invoke("predict", model, tmp_path / "pipe.jpg"), "neither a regular file nor a folder")
        one_line_error(invoke("evaluate", model, tmp_path / "pipe.npz"), "pipe.npz")
        one_line_error(invoke("evaluate", tmp_path / "pipe.npz", run / "cache.npz"), "pipe.npz")
