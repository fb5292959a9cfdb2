"""Temporary files of atomic writes: gone after any exit the process survives, cleaned up after a kill,
and the data synced to disk before the rename (issue 22, item 10)."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import drivenet.io
from drivenet.io import atomic_write, write_text

WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from drivenet.io import atomic_write

    def slow(tmp: Path) -> None:
        tmp.write_bytes(b"x" * 100_000)
        print("writing", flush=True)
        time.sleep(30)

    atomic_write(Path(sys.argv[1]), slow)
    """
)


def start_writer(out: Path) -> subprocess.Popen:
    """A process stopped half-way through an atomic write of `out` (it has printed 'writing')."""
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(out)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "writing"
    return proc


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".tmp" in p.name)


def test_sigterm_half_way_removes_the_temporary_and_keeps_the_old_file(tmp_path: Path) -> None:
    out = tmp_path / "cache.npz"
    out.write_text("old")
    proc = start_writer(out)
    assert leftovers(tmp_path), "the writer should have a temporary file by now"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) != 0
    assert leftovers(tmp_path) == []
    assert out.read_text() == "old"


def test_a_killed_writers_temporary_is_removed_by_the_next_write_into_its_folder(tmp_path: Path) -> None:
    out = tmp_path / "cache.npz"
    proc = start_writer(out)
    proc.kill()
    proc.wait(timeout=20)
    assert leftovers(tmp_path), "SIGKILL cannot be caught: its temporary stays until the next run"
    write_text(out, "new")
    assert leftovers(tmp_path) == [] and out.read_text() == "new"


def test_files_that_only_look_like_temporaries_are_left_alone(tmp_path: Path) -> None:
    kept = [".notes.txt.tmp", ".a.npz.pid1-short.tmp.npz", ".a.npz.abcdefgh.tmp.png"]
    kept.append("b.npz.abcdefgh.tmp.npz")  # not hidden: not a drivenet temporary
    week_ago = time.time() - 7 * 86400
    for name in kept:
        (tmp_path / name).write_text("someone's")
        os.utime(tmp_path / name, (week_ago, week_ago))
    write_text(tmp_path / "a.npz", "new")
    assert sorted(kept) == sorted(p.name for p in tmp_path.iterdir() if p.name != "a.npz")


def test_a_live_writers_temporary_is_left_alone(tmp_path: Path) -> None:
    out = tmp_path / "cache.npz"
    proc = start_writer(out)
    try:
        before = leftovers(tmp_path)
        write_text(out, "mine")
        assert leftovers(tmp_path) == before and out.read_text() == "mine"
    finally:
        proc.kill()
        proc.wait(timeout=20)


def test_an_old_style_temporary_older_than_a_day_is_removed(tmp_path: Path) -> None:
    out = tmp_path / "best.npz"
    old = tmp_path / ".best.npz.k2j4_x9q.tmp.npz"  # tempfile's random name, as earlier drivenets made it
    fresh = tmp_path / ".best.npz.a8b9c0d1.tmp.npz"
    for path in (old, fresh):
        path.write_bytes(b"half")
    week_ago = time.time() - 7 * 86400
    os.utime(old, (week_ago, week_ago))
    write_text(out, "new")
    assert not old.exists() and fresh.exists()


def test_another_hosts_temporary_is_not_judged_by_this_hosts_processes(tmp_path: Path) -> None:
    """On a shared disk (sweep workers on several machines), a pid that runs nowhere here may be writing
    there: another host's temporary is removed only once it is older than a day."""
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True)
    pid = int(ended.stdout)  # a process that has ended: no longer running on this host
    theirs = tmp_path / f".spec.json.{drivenet.io.HOST}x-pid{pid}-abcd1234.tmp.json"
    old_theirs = tmp_path / f".winner.toml.{drivenet.io.HOST}x-pid{pid}-efgh5678.tmp.toml"
    ours = tmp_path / f".best.npz.{drivenet.io.HOST}-pid{pid}-ijkl9012.tmp.npz"
    for path in (theirs, old_theirs, ours):
        path.write_text("half")
    week_ago = time.time() - 7 * 86400
    os.utime(old_theirs, (week_ago, week_ago))
    write_text(tmp_path / "a.txt", "new")
    assert theirs.exists() and not old_theirs.exists() and not ours.exists()


def test_machines_that_share_a_host_name_are_told_apart_by_their_machine_id(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("3d1219c7aaaa\n")
    (tmp_path / "b").write_text("77e0ab12bbbb\n")
    one, other = (drivenet.io.this_machine([tmp_path / "none", tmp_path / n]) for n in ("a", "b"))
    assert one != other and one.endswith("_3d1219c7") and other.endswith("_77e0ab12")
    assert drivenet.io.this_machine([tmp_path / "none"]) == one.removesuffix("_3d1219c7")  # host name only


def test_the_file_and_its_folder_are_synced_before_and_after_the_rename(tmp_path: Path, monkeypatch) -> None:
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append("fsync folder" if os.path.isdir(f"/proc/self/fd/{fd}") else "fsync file")
        real_fsync(fd)

    def replace(src, dst) -> None:
        events.append("replace")
        real_replace(src, dst)

    monkeypatch.setattr(drivenet.io.os, "fsync", fsync)
    monkeypatch.setattr(drivenet.io.os, "replace", replace)
    write_text(tmp_path / "a.txt", "x")
    assert events == ["fsync file", "replace", "fsync folder"]


def test_an_exception_in_the_writer_leaves_no_temporary(tmp_path: Path) -> None:
    def boom(tmp: Path) -> None:
        tmp.write_text("half")
        raise RuntimeError("writer failed")

    with pytest.raises(RuntimeError):
        atomic_write(tmp_path / "f.txt", boom)
    assert list(tmp_path.iterdir()) == []
