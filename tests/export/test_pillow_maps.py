"""Pillow's colour conversion and bilinear resize as the exported graph computes them: equal to Pillow's."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from support.exported import asymmetric_frame

from drivenet.export.pillow_maps import FRACTION_BITS, PILLOW_MAJOR, ColourMap, height_first, resize_passes

MODES = {"gray": "L", "yuv": "YCbCr"}


def convert(colour: ColourMap, rgb: np.ndarray) -> np.ndarray:
    """The table conversion of the module docstring, in numpy."""
    total = sum(colour.tables[c][rgb[..., c]] for c in range(3))
    return (np.floor((total + colour.bias) / 2.0**colour.shift) + colour.offset).astype(np.uint8)


def pillow_resize(image: np.ndarray, out: tuple[int, int]) -> np.ndarray:
    """Pillow's bilinear resize of uint8 (h, w, C), C = 1 or 3, to (W, H) `out`: (H, W, C)."""
    pillow = Image.fromarray(image if image.shape[2] == 3 else image[..., 0])
    return np.asarray(pillow.resize(out, Image.Resampling.BILINEAR)).reshape(out[1], out[0], -1)


def resize(image: np.ndarray, passes: list[tuple[int, np.ndarray]]) -> np.ndarray:
    """uint8 (h, w, C) resized by the fixed-point `passes`, in numpy."""
    x = image.astype(np.float64)
    for axis, weights in passes:
        moved = np.moveaxis(np.moveaxis(x, axis - 1, -1) @ weights.T, -1, axis - 1)
        x = np.clip(np.floor((moved + 2.0 ** (FRACTION_BITS - 1)) / 2.0**FRACTION_BITS), 0, 255)
    return x.astype(np.uint8)


@pytest.mark.parametrize("color", MODES)
def test_the_colour_tables_convert_every_rgb_colour_as_pillow_does(color):
    every = np.arange(2**24, dtype=np.uint32)
    rgb = np.stack([every >> 16, (every >> 8) & 255, every & 255], axis=-1).astype(np.uint8)
    rgb = rgb.reshape(4096, 4096, 3)
    pillow = np.asarray(Image.fromarray(rgb, "RGB").convert(MODES[color])).reshape(4096, 4096, -1)
    np.testing.assert_array_equal(convert(ColourMap(color), rgb), pillow)


def test_the_tables_are_not_plain_rounding():
    """The check above can fail: chroma from round(64 c v) alone differs from Pillow's on some colours."""
    colour = ColourMap("yuv")
    rgb = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    pillow = np.asarray(Image.fromarray(rgb, "RGB").convert("YCbCr"))
    colour.tables[0, 1:, 1] -= 1  # Cb's red table without its +1
    assert not np.array_equal(convert(colour, rgb), pillow)


@pytest.mark.parametrize(
    "size, out",
    [
        ((320, 88), (100, 33)),  # PilotNet's at 320x160 frames: both sides shrink, the width pass first
        ((160, 60), (100, 33)),  # PilotNet's at Donkey's 160x120 frames: still the width pass first
        ((100, 100), (50, 40)),
        ((100, 90), (20, 100)),
        ((320, 112), (32, 30)),
        ((160, 120), (160, 60)),  # the height alone
        ((320, 160), (400, 50)),  # wider but flatter: the height pass first (Pillow 13)
        ((48, 36), (16, 12)),
        ((40, 30), (100, 90)),  # both grow
    ],
)
def test_the_resize_passes_give_pillows_bilinear_resize(size, out):
    rng = np.random.default_rng(1)
    for image in (asymmetric_frame(*size), rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)):
        np.testing.assert_array_equal(resize(image, resize_passes(size, out)), pillow_resize(image, out))


def test_the_resize_passes_give_pillows_resize_for_random_sizes():
    """A sweep of (source, target) sizes, a third of them within a pixel of the order's threshold
    h - H = 2 (w - W), each on a random colour image and a random gray one."""
    rng = np.random.default_rng(2)
    pairs = [tuple(rng.integers(2, 130, 4)) for _ in range(200)]
    for _ in range(100):
        w, width, h = rng.integers(2, 90, 3)
        pairs.append((w, h + 180, width, h + 180 - 2 * (w - width) + rng.integers(-1, 2)))
    for w, h, width, height in pairs:
        size, out = (int(w), int(h)), (int(width), int(height))
        for channels in (3, 1):
            image = rng.integers(0, 256, (h, w, channels), dtype=np.uint8)
            np.testing.assert_array_equal(resize(image, resize_passes(size, out)), pillow_resize(image, out))


@pytest.mark.parametrize(
    "size, out", [((160, 60), (100, 33)), ((100, 90), (20, 100)), ((320, 160), (400, 50))]
)
def test_the_pass_order_matters(size, out):
    """The checks above can fail: the other pass order is off by one level here and there, which is why
    Pillow's order is kept."""
    image = asymmetric_frame(*size)
    passes = resize_passes(size, out)
    assert [axis for axis, _ in passes] == ([1, 2] if out == (400, 50) and PILLOW_MAJOR >= 13 else [2, 1])
    np.testing.assert_array_equal(resize(image, passes), pillow_resize(image, out))
    assert np.abs(resize(image, passes[::-1]).astype(int) - pillow_resize(image, out)).max() == 1


def test_pillow_before_13_always_runs_the_width_pass_first():
    assert height_first((320, 160), (400, 50)) == (PILLOW_MAJOR >= 13)
    assert not height_first((320, 160), (400, 50), pillow_major=12)
