"""Opening images from recordings and from the network: an allow-list of formats, a pixel cap, and the
decoders' Python warnings counted instead of printed.

Pillow can open dozens of formats, a few of them through outside programs (EPS hands the file to
Ghostscript) and some with decoders that fail in their own ways (a DDS variant raises
NotImplementedError, libtiff writes warnings straight to stderr). drivenet opens JPEG and PNG only (every
recording format it reads stores JPEG frames, `gym record` writes PNG, and PNG is what people save by
hand), checks the size the header declares before anything is decoded, and turns every decoder failure
into `ImageRefused` with a short reason.

Warnings (a palette PNG with byte transparency warns on every conversion) are recorded while an image is
open and counted by message in a Counter the caller passes, so a command can summarise them in one line.
"""

from __future__ import annotations

import io
import struct
import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

IMAGE_FORMATS = ("JPEG", "PNG")
MAX_PIXELS = 40_000_000  # an 8K frame is 33 Mpixel; Pillow's own bomb limit (89 Mpixel) decodes to 270 MB
# what Pillow's decoders raise on a broken file (a DDS variant raises NotImplementedError, a bad PNG chunk
# SyntaxError, a cut-off stream OSError or EOFError, a short header field struct.error)
DECODE_ERRORS = (
    OSError,
    ValueError,
    SyntaxError,
    EOFError,
    NotImplementedError,
    struct.error,
    Image.DecompressionBombError,
)
# where warnings go when the caller passes no Counter of its own (a command without a summary)
WARNED: Counter[str] = Counter()


class ImageRefused(ValueError):
    """An image that is not decoded: its reason (one line) is the message."""


class ImageTooLarge(ImageRefused):
    """An image whose header declares more pixels than a camera frame has."""


@contextmanager
def open_image(
    source: str | Path | bytes, max_pixels: int = MAX_PIXELS, warned: Counter[str] | None = None
) -> Iterator[Image.Image]:
    """An opened, not yet decoded JPEG or PNG of at most `max_pixels` (width x height from its header,
    and no more than Pillow's `Image.MAX_IMAGE_PIXELS`).

    Raises ImageRefused (ImageTooLarge for too many pixels) for another format, an empty or unreadable
    header; FileNotFoundError as it is. Decoding happens in the caller's block: catch DECODE_ERRORS there,
    or use `read_rgb`. Python warnings raised inside, the caller's decoding included, are counted by their
    first line in `warned` (in `WARNED` without one) instead of being printed.
    """
    data = io.BytesIO(source) if isinstance(source, bytes) else source
    counts = WARNED if warned is None else warned
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with opened(data, source) as image:
                check_pixels(image.size, max_pixels)
                yield image
        finally:
            counts.update(
                str(w.message).splitlines()[0] if str(w.message) else w.category.__name__
                for w in caught
                if not issubclass(w.category, Image.DecompressionBombWarning)
            )


@contextmanager
def opened(data: str | Path | io.BytesIO, source: str | Path | bytes) -> Iterator[Image.Image]:
    """`Image.open` restricted to IMAGE_FORMATS, its failures as ImageRefused."""
    try:
        image = Image.open(data, formats=IMAGE_FORMATS)
    except UnidentifiedImageError:
        empty = len(source) == 0 if isinstance(source, bytes) else Path(source).stat().st_size == 0
        raise ImageRefused(
            "empty file (0 bytes)" if empty else "not a JPEG or PNG image (corrupt, or another format)"
        ) from None
    except FileNotFoundError:
        raise
    except Image.DecompressionBombError as err:
        raise ImageTooLarge(f"refused: too many pixels for a camera frame ({err})") from None
    except DECODE_ERRORS as err:
        raise ImageRefused(f"corrupt or truncated image header ({err})") from None
    with image:
        yield image


def check_pixels(size: tuple[int, int], max_pixels: int) -> None:
    """ImageTooLarge when width x height is over `max_pixels` or Pillow's `Image.MAX_IMAGE_PIXELS`."""
    width, height = size
    limit = min(max_pixels, Image.MAX_IMAGE_PIXELS or max_pixels)
    if width * height > limit:
        raise ImageTooLarge(
            f"refused: too many pixels for a camera frame ({width}x{height}; at most {limit:,}), "
            "not decoded"
        )


def read_rgb(
    source: str | Path | bytes, max_pixels: int = MAX_PIXELS, warned: Counter[str] | None = None
) -> np.ndarray:
    """A JPEG or PNG decoded to uint8 (h, w, 3) RGB; ImageRefused with the reason otherwise."""
    with open_image(source, max_pixels, warned) as image:
        try:
            return np.asarray(image.convert("RGB"), dtype=np.uint8)
        except DECODE_ERRORS as err:
            raise ImageRefused(f"corrupt or truncated image ({err})") from None


def warnings_line(warned: Counter[str]) -> str | None:
    """One line summarising the decoders' warnings (the frames were used), None when there were none."""
    if not warned:
        return None
    kinds = "; ".join(f"{message} x{n}" for message, n in warned.most_common())
    return f"image decoder warnings ({sum(warned.values())}; the frames were used): {kinds}"
