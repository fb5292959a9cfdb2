"""Image files an attacker or an unlucky user could hand drivenet, made by the tests themselves: formats
Pillow opens through outside programs or decoders of their own, a header that claims a huge frame, and a
PNG whose every conversion warns."""

from __future__ import annotations

import io
import os
import struct
from pathlib import Path

import numpy as np
from PIL import Image

DDS_FOURCC = 0x4  # DDPF_FOURCC: the pixel format is named by a four-character code


def eps_bytes() -> bytes:
    """A small EPS: Pillow renders it by running Ghostscript (`gs`) on its PostScript."""
    return (
        b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 64 40\n%%EndComments\n"
        b"newpath 0 0 moveto 64 40 lineto stroke showpage\n%%EOF\n"
    )


def dds_bytes() -> bytes:
    """435 bytes of DDS naming a pixel format Pillow does not know: Image.open raises NotImplementedError."""
    pixel_format = struct.pack("<4I", 32, DDS_FOURCC, 0x5A5A5A5A, 0)
    header = struct.pack("<3I", 0x1007, 40, 64) + bytes(56) + pixel_format
    data = b"DDS " + struct.pack("<I", 124) + header.ljust(120, b"\0")
    return data.ljust(435, b"\0")


def tiff_bytes() -> bytes:
    """A deflate-compressed TIFF (decoded by libtiff)."""
    buffer = io.BytesIO()
    Image.fromarray(np.full((40, 64, 3), 90, np.uint8)).save(buffer, "TIFF", compression="tiff_deflate")
    return buffer.getvalue()


def huge_jpeg(width: int, height: int) -> bytes:
    """A JPEG of a few hundred bytes whose header claims `width` x `height` pixels (its data ends early)."""
    buffer = io.BytesIO()
    Image.fromarray(np.full((8, 8, 3), 128, np.uint8)).save(buffer, "JPEG")
    data = bytearray(buffer.getvalue())
    sof = data.index(b"\xff\xc0")  # baseline start of frame: length, precision, height, width
    struct.pack_into(">HH", data, sof + 5, height, width)
    return bytes(data)


def warning_png() -> bytes:
    """A palette PNG with transparency given as bytes: Pillow warns each time it is converted to RGB."""
    rgb = np.zeros((40, 64, 3), np.uint8)
    rgb[:, 32:] = 200
    buffer = io.BytesIO()
    Image.fromarray(rgb).convert("P").save(buffer, "PNG", transparency=bytes([0, 255, 128]))
    return buffer.getvalue()


def fake_ghostscript(folder: Path) -> tuple[str, Path]:
    """A `gs` that only notes that it ran: (a PATH that finds it first, the file it writes when run)."""
    folder.mkdir(parents=True, exist_ok=True)
    ran = folder / "gs-ran"
    script = folder / "gs"
    script.write_text(f'#!/bin/sh\necho "$@" >> "{ran}"\nexit 0\n')
    script.chmod(0o755)
    return f"{folder}{os.pathsep}{os.environ.get('PATH', '')}", ran
