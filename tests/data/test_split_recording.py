"""scripts/split_recording.py: a recording cut in two at a moment, each part a recording drivenet reads;
a frame linked from outside is refused unless --follow-links, and a failure leaves no --out."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from support import REPO
from support.timed_log import write_timed_log

from drivenet.config import DataConfig
from drivenet.data.readers import read_recordings

SCRIPT = REPO / "scripts" / "split_recording.py"


def split(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, SCRIPT, *map(str, args)], capture_output=True, text=True)


def test_the_last_fifth_of_the_drive_goes_to_choose_and_both_parts_read_back(tmp_path):
    rows = [(100 * k, k / 10, "20") for k in range(10)]  # 0.0 to 0.9 s, steering 0.0 to 0.9
    write_timed_log(tmp_path / "rec", rows)
    done = split(tmp_path / "rec", "--out", tmp_path / "parts")
    assert done.returncode == 0, done.stderr
    parts = [tmp_path / "parts" / name for name in ("train", "choose")]
    train, choose = (read_recordings([part], DataConfig()).frames for part in parts)
    assert train["steering"].tolist() == pytest.approx([k / 10 for k in range(8)])  # before 0.72 s
    assert choose["steering"].tolist() == pytest.approx([0.8, 0.9])
    assert all(path.startswith(str(tmp_path / "parts")) for path in [*train["path"], *choose["path"]])


def test_bad_arguments_get_one_line_and_nothing_is_overwritten(tmp_path):
    write_timed_log(tmp_path / "rec", [(0, 0.0, "20"), (100, 0.1, "20")])
    (tmp_path / "parts").mkdir()
    for args, fragment in (
        (["--out", tmp_path / "parts"], "exists"),
        (["--out", tmp_path / "p2", "--share", "1.5"], "--share"),
    ):
        done = split(tmp_path / "rec", *args)
        assert done.returncode != 0 and done.stderr.strip().count("\n") == 0 and fragment in done.stderr
    assert list((tmp_path / "parts").iterdir()) == [] and not (tmp_path / "p2").exists()


def one_line(done: subprocess.CompletedProcess, *fragments: str) -> None:
    assert done.returncode == 1 and done.stderr.startswith("error: ") and done.stderr.count("\n") == 1
    assert all(fragment in done.stderr for fragment in fragments), done.stderr


def linked_out(tmp_path: Path) -> tuple[Path, Path]:
    """A recording whose last frame (in the choose part, written second) is a link to a file outside;
    returns the recording and that frame."""
    folder = write_timed_log(tmp_path / "rec", [(100 * k, k / 10, "20") for k in range(10)])
    last = sorted((folder / "IMG").iterdir())[-1]
    outside = tmp_path / "elsewhere.jpg"
    last.rename(outside)
    last.symlink_to(outside)
    return folder, last


def test_a_frame_linked_from_outside_is_refused_and_leaves_no_output(tmp_path):
    folder, last = linked_out(tmp_path)
    one_line(
        split(folder, "--out", tmp_path / "parts"), last.name, "leads outside the recording", "--follow-links"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["elsewhere.jpg", "rec"]  # no parts, no temporary
    done = split(folder, "--out", tmp_path / "parts", "--follow-links")
    assert done.returncode == 0, done.stderr
    copy = tmp_path / "parts" / "choose" / "IMG" / last.name
    assert copy.is_file() and not copy.is_symlink() and copy.read_bytes() == last.read_bytes()


def test_a_missing_or_empty_recording_is_one_line(tmp_path):
    one_line(split(tmp_path / "nowhere", "--out", tmp_path / "parts"), "driving_log.csv", "cannot read")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "driving_log.csv").write_text("center,left,right,steering,throttle,brake,speed\n")
    one_line(split(tmp_path / "empty", "--out", tmp_path / "parts"), "no rows")
    assert not (tmp_path / "parts").exists()
    assert "--set" not in split(linked_out(tmp_path / "l")[0], "--out", tmp_path / "p3").stderr


def test_a_blank_first_line_is_skipped_and_a_part_left_empty_is_refused(tmp_path):
    folder = write_timed_log(tmp_path / "rec", [(100 * k, k / 10, "20") for k in range(10)])
    log = folder / "driving_log.csv"
    log.write_text("\n" + log.read_text())
    assert split(folder, "--out", tmp_path / "parts").returncode == 0
    single = write_timed_log(tmp_path / "one", [(0, 0.0, "20")])
    one_line(split(single, "--out", tmp_path / "p2"), "both parts")
    assert not (tmp_path / "p2").exists()
