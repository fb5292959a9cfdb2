"""Memory-map one array of an `.npz` file, so that a cache larger than memory can be trained on.

An `.npz` is a zip archive of `.npy` files. `np.savez` stores them uncompressed, so each array's bytes
lie in the file as they are: after the member's local zip header (30 bytes, then its name and extra
field) comes the `.npy` header, then the raw array. `np.memmap` at that offset reads pages only when
they are used. Nothing is unpickled: arrays of Python objects are refused.
"""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

import numpy as np
from numpy.lib import format as npy

from drivenet.errors import DrivenetError

LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature, 22 bytes we skip, name length, extra field length


def memmap_member(path: str | Path, name: str) -> np.ndarray:
    """The array `name` of the `.npz` at `path`, as a read-only `np.memmap` (a plain array when empty)."""
    path = Path(path)
    remedy = "re-create the file (`drivenet preprocess`)"
    try:
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo(f"{name}.npy")
        if info.compress_type != zipfile.ZIP_STORED:
            raise DrivenetError(
                f"{path}: its {name} array is compressed, so it cannot be memory-mapped; {remedy}"
            )
        with open(path, "rb") as fh:
            fh.seek(info.header_offset)
            signature, name_length, extra_length = LOCAL_HEADER.unpack(fh.read(LOCAL_HEADER.size))
            if signature != b"PK\x03\x04":
                raise ValueError("no zip header where the archive's index points")
            start = info.header_offset + LOCAL_HEADER.size + name_length + extra_length
            fh.seek(start)
            version = npy.read_magic(fh)
            header = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
            shape, fortran_order, dtype = header(fh, max_header_size=10_000)
            offset = fh.tell()
    except (OSError, ValueError, KeyError, struct.error, zipfile.BadZipFile) as err:
        raise DrivenetError(f"{path}: cannot read its {name} array ({err}); {remedy}") from None
    if dtype.hasobject:
        raise DrivenetError(
            f"{path}: its {name} array holds Python objects, which drivenet never reads; {remedy}"
        )
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if offset - start + nbytes != info.file_size:
        raise DrivenetError(f"{path}: its {name} array is shorter or longer than its header says; {remedy}")
    if nbytes == 0:
        return np.zeros(shape, dtype)  # mmap cannot map nothing
    order = "F" if fortran_order else "C"
    try:
        return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape, order=order)
    except (OSError, ValueError) as err:
        raise DrivenetError(f"{path}: cannot map its {name} array ({err}); {remedy}") from None
