"""The one image transform used everywhere: crop sky and hood, resize, convert colour, normalise.

Training, evaluation, prediction and the simulator all call `Preprocess`, and a cache stores its
settings, so a model always sees its inputs exactly as it was trained on them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from drivenet.config import DataConfig, RunConfig
from drivenet.data.images import open_image

MODES = {"gray": "L", "rgb": "RGB", "yuv": "YCbCr"}  # colour setting -> Pillow mode
EPS = 0.01  # added to each image's std (pixels scaled to [0, 1]), so flat images are not blown up


DATA = DataConfig()  # `[data]`'s defaults, which are the transform's


@dataclass(frozen=True)
class Preprocess:
    """Crop `crop_top`/`crop_bottom` shares of the rows, resize to `width` x `height`, convert to `color`.

    The five keys of `[data]` that shape an input, with their defaults and rules (checked on creation,
    so a cache or checkpoint file holding other values is refused, naming the key)."""

    crop_top: float = DATA.crop_top
    crop_bottom: float = DATA.crop_bottom
    width: int = DATA.width
    height: int = DATA.height
    color: str = DATA.color

    def __post_init__(self) -> None:
        RunConfig().updated({"data": self.to_dict()}, "preprocessing").check()

    @classmethod
    def from_config(cls, data: DataConfig) -> Preprocess:
        """The transform of the five keys of `[data]` it reads."""
        return cls(data.crop_top, data.crop_bottom, data.width, data.height, data.color)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Preprocess:
        """Build from a dict holding (at least) the five settings."""
        return cls(**{name: values[name] for name in cls.__dataclass_fields__ if name in values})

    def to_dict(self) -> dict[str, Any]:
        """The settings as a plain JSON-able dict."""
        return asdict(self)

    @property
    def channels(self) -> int:
        """1 for gray, 3 for rgb and yuv."""
        return 1 if self.color == "gray" else 3

    @property
    def shape(self) -> tuple[int, int, int]:
        """(H, W, C) of one preprocessed image."""
        return (self.height, self.width, self.channels)

    def draft_size(self, full: tuple[int, int]) -> tuple[int, int]:
        """The smallest decoded size whose cropped part still holds `width` x `height` pixels."""
        keep = 1.0 - self.crop_top - self.crop_bottom
        return (min(full[0], self.width), min(full[1], int(np.ceil(self.height / keep))))

    def apply(self, image: Image.Image) -> np.ndarray:
        """Preprocess an opened (not yet loaded) image: uint8 (H, W, C).

        JPEGs are decoded straight at reduced scale (`Image.draft`, DCT-domain scaling by 1/2, 1/4 or
        1/8), never below the size the crop and resize need, and for gray straight to luma. The crop is
        taken as shares of the decoded rows, so the result is within a grey level or so (on average) of
        `apply_array` on the fully decoded frame.
        """
        if image.format == "JPEG":
            image.draft(MODES[self.color], self.draft_size(image.size))
        return self.finish(image)

    def apply_file(self, path: str | Path, warned: Counter[str] | None = None) -> np.ndarray:
        """Open and preprocess one JPEG or PNG file; ImageRefused for anything else, DECODE_ERRORS from a
        broken one, its decoder's warnings counted in `warned` (see `drivenet.data.images.open_image`)."""
        with open_image(path, warned=warned) as image:
            return self.apply(image)

    def apply_array(self, rgb: np.ndarray) -> np.ndarray:
        """Preprocess a raw RGB frame, uint8 (h, w, 3) (simulator or camera): uint8 (H, W, C)."""
        rgb = np.asarray(rgb)
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"expected a uint8 (h, w, 3) RGB frame, got {rgb.dtype} {rgb.shape}")
        return self.finish(Image.fromarray(rgb, "RGB"))

    def finish(self, image: Image.Image) -> np.ndarray:
        """Convert colour, crop and resize a Pillow image."""
        mode = MODES[self.color]
        if image.mode != mode:
            image = image.convert("RGB").convert(mode) if mode == "YCbCr" else image.convert(mode)
        w, h = image.size
        top, bottom = self.kept_rows(h)
        out = image.crop((0, top, w, bottom)).resize((self.width, self.height), Image.Resampling.BILINEAR)
        return np.asarray(out, dtype=np.uint8).reshape(self.shape)

    def kept_rows(self, height: int) -> tuple[int, int]:
        """The rows [top, bottom) of a `height`-row frame that the crop keeps."""
        return round(height * self.crop_top), height - round(height * self.crop_bottom)

    def to_inputs(self, images: np.ndarray) -> np.ndarray:
        """Network inputs from uint8 images (N, H, W, C), or clips (N, H, W, k*C), into float32 (N, D).

        Per-image standardisation: with pixels p scaled to [0, 1], x = (p - mean(p)) / (std(p) + EPS),
        mean and std taken over each image. A brighter or darker scene (p -> a*p + b) gives nearly the
        same x, so the steering it predicts does not depend on the lighting.

        A clip holds the current frame and k-1 earlier ones stacked on the channel axis (see
        `drivenet.data.dataset.clips`); its inputs are x_0 followed by the motion x_0 - x_j of each
        earlier frame j (D = k*H*W*C), so the network sees how the view turned since then.
        """
        images = np.asarray(images)
        if images.ndim == 3:
            images = images[None]
        n, c = len(images), self.channels
        frames = [images[..., j : j + c].reshape(n, -1) for j in range(0, images.shape[-1], c)]
        x = [standardise(frame) for frame in frames]
        return np.concatenate([x[0], *(x[0] - earlier for earlier in x[1:])], axis=1) if len(x) > 1 else x[0]

    def as_images(self, inputs: np.ndarray) -> np.ndarray:
        """Flat inputs of `to_inputs` (N, k*H*W*C) laid out as images NHWC float32 (N, H, W, k*C), what a
        convolutional network reads: channels [x_0, x_0 - x_1, ...], each block of C in the image's own
        channel order, so a filter sees the frame and its motion at the same pixel. A view for k = 1."""
        n, (h, w, c) = len(inputs), self.shape
        k = inputs.shape[1] // (h * w * c)
        return inputs.reshape(n, k, h, w, c).transpose(0, 2, 3, 1, 4).reshape(n, h, w, k * c)


def standardise(pixels: np.ndarray) -> np.ndarray:
    """uint8 rows (N, D) -> float32 (p - mean(p)) / (std(p) + EPS) per row, p = pixels / 255."""
    x = pixels.astype(np.float32) / np.float32(255.0)
    x -= x.mean(axis=1, keepdims=True)
    x /= x.std(axis=1, keepdims=True) + np.float32(EPS)
    return x
