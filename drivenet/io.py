"""Atomic file writes and safe `.npz` + JSON storage (never pickled)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from drivenet.errors import DrivenetError

META_KEY = "__meta__"
OUTPUT_MARKER = ".drivenet-output"  # written into every folder prepare_output_dir makes; --force needs it


def check_output_file(path: str | Path, force: bool) -> Path:
    """Refuse an output file name that is a folder, or an existing file without `force`; writes nothing."""
    path = Path(path)
    if path.is_dir():
        raise DrivenetError(f"{path} is a folder; give a file name for the output")
    if path.exists() and not force:
        raise DrivenetError(f"{path} already exists; pass --force to overwrite it")
    return path


def file_mode(path: Path) -> int:
    """The permission bits `open(path, "w")` leaves: an existing file keeps its own, a new one gets
    0o666 less the user's umask."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        umask = os.umask(0o022)  # the only way to read it is to set it: put it straight back
        os.umask(umask)
        return 0o666 & ~umask


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call `write(tmp)` on a temporary file beside `path`, then rename it into place.

    A crash or Ctrl-C half-way leaves the old file (or none), never a truncated one. A path that is a
    folder, or that the system refuses (a file in the way, no permission, disk full), is a DrivenetError.
    """
    path = check_output_file(path, force=True)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix, dir=path.parent)
    except OSError as err:
        raise DrivenetError(f"cannot write {path}: {err.strerror or err}; choose another path") from None
    try:
        os.fchmod(fd, file_mode(path))  # mkstemp makes 0600; the result gets the mode `open` would give
    finally:
        os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.replace(tmp, path)
    except OSError as err:
        raise DrivenetError(f"cannot write {path}: {err.strerror or err}; choose another path") from None
    finally:
        tmp.unlink(missing_ok=True)
    return path


def save_figure(fig: Any, path: str | Path) -> Path:
    """Write a matplotlib figure as PNG (100 dpi), atomically."""
    return atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))


def write_text(path: str | Path, text: str) -> Path:
    """Write a text file atomically."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_json(path: str | Path, obj: Any) -> Path:
    """Write JSON atomically, indented for people to read."""
    return write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def save_npz(path: str | Path, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]) -> Path:
    """Save arrays plus a JSON metadata dict into one `.npz`, atomically.

    The metadata is stored as a unicode string array, so loading never needs pickle.
    """
    if META_KEY in arrays:
        raise ValueError(f"array name {META_KEY!r} is reserved")
    payload = {name: np.asarray(a) for name, a in arrays.items()}
    payload[META_KEY] = np.array(json.dumps(dict(meta), sort_keys=True))

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez(fh, **payload)

    return atomic_write(path, write)


def load_npz(path: str | Path, skip: Collection[str] = ()) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Load a file written by `save_npz`: (arrays, metadata), without the arrays named in `skip` (read
    them another way, e.g. as a memory map). Never unpickles."""
    path = Path(path)
    if not path.is_file():
        raise DrivenetError(f"{path}: no such file; check the path")
    if not zipfile.is_zipfile(path):
        raise DrivenetError(f"{path}: not an .npz file (empty, truncated or another format); re-create it")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files if name not in skip}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as err:  # BadZipFile: a bad CRC
        raise DrivenetError(f"{path}: not a readable drivenet .npz file ({err}); re-create it") from None
    if META_KEY not in arrays:
        raise DrivenetError(f"{path}: has no drivenet metadata; was it written by drivenet?")
    try:
        meta = json.loads(str(arrays.pop(META_KEY)))
    except (ValueError, RecursionError) as err:  # not JSON, or absurd digits or nesting
        raise DrivenetError(f"{path}: corrupt metadata ({err}); re-create the file") from None
    if not isinstance(meta, dict):
        raise DrivenetError(f"{path}: corrupt metadata (not a JSON object); re-create the file")
    return arrays, meta


def check_kind(path: str | Path, meta: Mapping[str, Any], kind: str, version: int, remedy: str) -> None:
    """Refuse a `.npz` whose metadata names another kind of file or another format version."""
    if meta.get("kind") != kind:
        found = meta.get("kind") or "file of unknown kind"
        raise DrivenetError(f"{path}: holds a {found}, not a {kind}; {remedy}")
    if meta.get("version") != version:
        raise DrivenetError(
            f"{path}: {kind} version {meta.get('version')}, this drivenet reads version {version}; {remedy}"
        )


def check_output_dir(path: str | Path, force: bool, *, inputs: Sequence[str | Path] = ()) -> Path:
    """Refuse an output folder that would lose someone's files; writes nothing.

    Refused: a file; a folder that is or holds one of `inputs` or the working folder (`--force` would
    delete them); a non-empty folder without `force`; with `force`, a folder drivenet did not make
    (no OUTPUT_MARKER in it).
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise DrivenetError(f"{path} is a file, not a folder; choose another output folder")
    where = path.resolve()
    for item in inputs:
        if Path(item).resolve().is_relative_to(where):
            raise DrivenetError(f"{path} is or holds the input {item}; choose another output folder")
    if Path.cwd().resolve().is_relative_to(where):
        raise DrivenetError(f"{path} holds the working folder; choose another output folder")
    if path.is_dir() and any(p.name != OUTPUT_MARKER for p in path.iterdir()):
        if not force:
            raise DrivenetError(f"{path} already exists and is not empty; pass --force to overwrite it")
        if not (path / OUTPUT_MARKER).is_file():
            raise DrivenetError(
                f"{path} is not a folder drivenet made (no {OUTPUT_MARKER}), so --force leaves it alone; "
                "choose another output folder"
            )
    return path


def prepare_output_dir(path: str | Path, force: bool, *, inputs: Sequence[str | Path] = ()) -> Path:
    """An empty output folder marked as drivenet's; see `check_output_dir` for what is refused.

    With `force`, a non-empty folder drivenet made earlier is deleted first.
    """
    path = check_output_dir(path, force, inputs=inputs)
    try:
        if path.is_dir() and any(path.iterdir()):  # check_output_dir let it through: force and our marker
            shutil.rmtree(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / OUTPUT_MARKER).write_text("made by drivenet; `--force` may replace this folder\n")
    except OSError as err:
        raise DrivenetError(f"cannot make the folder {path}: {err.strerror or err}; choose another") from None
    return path
