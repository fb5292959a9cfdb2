"""Atomic file writes and safe `.npz` + JSON storage (never pickled)."""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import signal
import socket
import stat
import tempfile
import threading
import time
import zipfile
import zlib
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
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


TEMP_SUFFIX = ".tmp"  # a temporary is `.NAME.HOST-pidPID-RANDOM.tmpSUFFIX` beside the output NAME
STALE_SECONDS = 86400  # a temporary whose writer cannot be asked (another host, no pid) this old is removed


MACHINE_IDS = (Path("/etc/machine-id"), Path("/var/lib/dbus/machine-id"))


def this_machine(ids: Sequence[Path] = MACHINE_IDS) -> str:
    """This machine as temporaries name it, in letters, digits and _: its host name and the start of the
    first readable machine id in `ids` (machines may share a host name: containers, "localhost"); the
    host name alone where there is none (then two such machines on one disk look like one)."""
    ident = ""
    for path in ids:
        with contextlib.suppress(OSError):
            ident = path.read_text(encoding="ascii", errors="replace").strip()[:8]
            break
    return re.sub(r"[^A-Za-z0-9_]", "_", f"{socket.gethostname()}_{ident}".strip("_"))[:80] or "host"


HOST = this_machine()


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call `write(tmp)` on a temporary file beside `path`, fsync it, rename it into place and fsync the
    folder, so that the new file survives a power cut once this returns.

    A crash or Ctrl-C half-way leaves the old file (or none), never a truncated one. The temporary is
    removed on any exit the process survives (an exception, Ctrl-C, SIGTERM); one left by a killed
    process is removed by the next run that writes into the same folder. A path that is a folder, or
    that the system refuses (a file in the way, no permission, disk full), is a DrivenetError.
    """
    path = check_output_file(path, force=True)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(path.parent)
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{path.name}.{HOST}-pid{os.getpid()}-", suffix=TEMP_SUFFIX + path.suffix, dir=path.parent
        )
    except OSError as err:
        raise DrivenetError(f"cannot write {path}: {err.strerror or err}; choose another path") from None
    try:
        os.fchmod(fd, file_mode(path))  # mkstemp makes 0600; the result gets the mode `open` would give
    finally:
        os.close(fd)
    tmp = Path(tmp_name)
    try:
        with terminate_as_exit():
            write(tmp)
            sync(tmp)
            os.replace(tmp, path)
            sync(path.parent)
    except OSError as err:
        raise DrivenetError(f"cannot write {path}: {err.strerror or err}; choose another path") from None
    finally:
        tmp.unlink(missing_ok=True)
    return path


def sync(path: Path) -> None:
    """fsync a file or a folder (a folder's fsync makes a rename in it durable)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def terminate_as_exit() -> Iterator[None]:
    """Within the block, SIGTERM raises SystemExit (status 143) so that `finally` clauses run; only in
    the main thread, and only where SIGTERM still has its default action (a handler someone set stays)."""
    main = threading.current_thread() is threading.main_thread()
    if not main or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


TEMPORARY = re.compile(
    r"\.(?P<name>.+)\.(?:(?:(?P<host>[A-Za-z0-9_]+)-)?pid(?P<pid>\d+)-)?[a-z0-9_]{8}\.tmp(?P<suffix>\.[^./]*)?"
)
_SWEPT: set[str] = set()  # folders whose stale temporaries this process has removed already


def remove_stale_temporaries(folder: Path) -> None:
    """Remove the temporaries that killed writes left in `folder` (once per folder and process: a
    recording's folder of frames is not listed again for each frame). A temporary is stale when the
    pid in its name no longer runs on this host, or, made on another host (a shared disk: its writer
    cannot be asked) or named without a pid by an older drivenet, when it has been untouched for
    STALE_SECONDS."""
    key = os.path.realpath(folder)
    if key in _SWEPT:
        return
    now, stale = time.time(), []
    with os.scandir(folder) as entries:
        for entry in entries:
            match = TEMPORARY.fullmatch(entry.name)
            if match is None or not match["name"].endswith(match["suffix"] or ""):
                continue
            pid = match["pid"] if match["host"] in (HOST, None) else None
            if entry.is_file(follow_symlinks=False) and not _owner_alive(pid, entry, now):
                stale.append(entry.path)
    for name in stale:
        with contextlib.suppress(FileNotFoundError):  # its owner's own cleanup came first
            os.unlink(name)
    _SWEPT.add(key)


def _owner_alive(pid: str | None, entry: os.DirEntry, now: float) -> bool:
    """Whether the process that made a temporary (`pid` on this host; None: it cannot be asked) may
    still be writing it."""
    if pid is None:
        return now - entry.stat(follow_symlinks=False).st_mtime < STALE_SECONDS
    if int(pid) == os.getpid():
        return True  # this process: another thread may be writing it
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, OverflowError):  # gone; or a pid no system has
        return False
    except PermissionError:  # someone else's live process
        pass
    return True


def save_figure(fig: Any, path: str | Path) -> Path:
    """Write a matplotlib figure as PNG (100 dpi), atomically."""
    return atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))


def write_text(path: str | Path, text: str) -> Path:
    """Write a text file atomically."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def json_text(obj: Any, indent: int | None = 2, sort_keys: bool = False) -> tuple[str, int]:
    """`obj` as strict JSON, and how many non-finite numbers (NaN, ±inf: JSON has none, and Python's
    `NaN` is not JSON to other readers) it held, each written as null."""
    nulls = 0

    def finite(value: Any) -> Any:
        nonlocal nulls
        if isinstance(value, float) and not math.isfinite(value):
            nulls += 1
            return None
        if isinstance(value, Mapping):
            return {key: finite(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [finite(item) for item in value]
        return value

    return json.dumps(finite(obj), indent=indent, sort_keys=sort_keys, allow_nan=False), nulls


def write_json(path: str | Path, obj: Any) -> Path:
    """Write JSON atomically, indented for people to read (a non-finite number as null)."""
    return write_text(path, json_text(obj, sort_keys=True)[0] + "\n")


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


Member = tuple[tuple[int, ...], np.dtype]  # an array's shape and dtype, as its .npy header declares them
MAX_INFLATION = 100  # a compressed member may hold at most this many times its stored bytes...
INFLATION_FLOOR = 64 * 2**20  # ...once it holds more than this (drivenet itself never compresses)


def npz_members(path: Path) -> dict[str, Member]:
    """{name: (shape, dtype)} of every array in the `.npz` at `path`, read from the .npy headers alone.

    A member whose header declares another number of bytes than the member holds (a header claiming
    terabytes), an object array (it would need pickle), or a compressed member that would inflate more
    than MAX_INFLATION times (a zip bomb) is a DrivenetError naming it; no array is read.
    """
    members: dict[str, Member] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                name = info.filename.removesuffix(".npy")
                held = info.file_size
                if held > max(INFLATION_FLOOR, MAX_INFLATION * info.compress_size):
                    raise DrivenetError(
                        f"{path}: member {name!r} inflates {info.compress_size} stored bytes to {held} "
                        "(a zip bomb?); re-create the file"
                    )
                with archive.open(info) as fh:
                    version = np.lib.format.read_magic(fh)
                    read_header = (
                        np.lib.format.read_array_header_1_0
                        if version == (1, 0)
                        else np.lib.format.read_array_header_2_0
                    )
                    shape, _, dtype = read_header(fh)
                    declared = fh.tell() + math.prod(shape) * dtype.itemsize
                if dtype.hasobject:
                    raise DrivenetError(
                        f"{path}: member {name!r} holds Python objects, which drivenet never "
                        "unpickles; re-create the file"
                    )
                if declared != held:
                    raise DrivenetError(
                        f"{path}: member {name!r} declares a {'x'.join(map(str, shape))} {dtype} array "
                        f"({declared} bytes) but holds {held} bytes; the file is corrupt, re-create it"
                    )
                members[name] = (tuple(shape), dtype)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as err:
        raise DrivenetError(f"{path}: not a readable drivenet .npz file ({err}); re-create it") from None
    return members


MemberCheck = Callable[[dict[str, Any], dict[str, Member]], None]  # (metadata, members) -> raise to refuse


def load_npz(
    path: str | Path, skip: Collection[str] = (), check: MemberCheck | None = None
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Load a file written by `save_npz`: (arrays, metadata), without the arrays named in `skip` (read
    them another way, e.g. as a memory map). Never unpickles. Every member's header is checked first
    (`npz_members`); `check(metadata, members)`, when given, runs before any array is read, so a file
    can be refused by its names, shapes and metadata before they cost memory."""
    path = Path(path)
    if not path.is_file():
        raise DrivenetError(f"{path}: no such file; check the path")
    if not zipfile.is_zipfile(path):
        raise DrivenetError(f"{path}: not an .npz file (empty, truncated or another format); re-create it")
    members = npz_members(path)
    if META_KEY not in members:
        raise DrivenetError(f"{path}: has no drivenet metadata; was it written by drivenet?")
    try:
        with np.load(path, allow_pickle=False) as data:
            text = str(data[META_KEY])
            try:
                meta = json.loads(text)
            except (ValueError, RecursionError) as err:  # not JSON, or absurd digits or nesting
                raise DrivenetError(f"{path}: corrupt metadata ({err}); re-create the file") from None
            if not isinstance(meta, dict):
                raise DrivenetError(f"{path}: corrupt metadata (not a JSON object); re-create the file")
            if check is not None:
                check(meta, {name: member for name, member in members.items() if name != META_KEY})
            arrays = {name: data[name] for name in data.files if name not in skip and name != META_KEY}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as err:  # BadZipFile: a bad CRC
        raise DrivenetError(f"{path}: not a readable drivenet .npz file ({err}); re-create it") from None
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
