"""Hostile recordings: links out of the folder, loops, FIFOs, odd encodings, duplicates, broken catalogs.

Each is read inside its own folder only, a bad frame is skipped and counted, and whatever cannot be read
at all is a one-line error, never a traceback or a hang.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from support.cli import deadline, one_line_error
from support.recordings import donkey_v1, donkey_v2, plain_csv, sully, udacity, write_jpeg
from typer.testing import CliRunner

from drivenet.cli import app
from drivenet.config import DataConfig
from drivenet.data import read_recordings
from drivenet.errors import DrivenetError

STEERING = [0.0, -0.5, 0.25, 1.0]


def cli(*args: object):
    """Run drivenet in-process under a deadline; the result of CliRunner."""
    with deadline():
        return CliRunner().invoke(app, [str(a) for a in args])


def add_row(rec: Path, name: str, steering: float = 0.5) -> None:
    with open(rec / "driving_log.csv", "a") as fh:
        fh.write(f"{name},,,{steering},0,0,1\n")


def test_a_link_out_of_the_recording_is_refused_and_counted(tmp_path: Path) -> None:
    rec = udacity(tmp_path / "rec", STEERING, sides=False)
    secret = write_jpeg(tmp_path / "elsewhere" / "secret.jpg")  # a readable image: it must still not be read
    (rec / "IMG" / "evil.jpg").symlink_to(secret)
    (rec / "IMG" / "passwd.jpg").symlink_to("/etc/passwd")
    add_row(rec, "IMG/evil.jpg")
    add_row(rec, "passwd.jpg")
    result = read_recordings([rec])
    assert len(result.frames) == 4
    assert not any("elsewhere" in p or p == "/etc/passwd" for p in result.frames["path"])
    assert [p.kind for p in result.problems] == ["refused image", "refused image"]
    assert "leads outside the recording folder" in str(result.problems[0])


def test_a_link_inside_the_recording_is_followed(tmp_path: Path) -> None:
    rec = udacity(tmp_path / "rec", STEERING, sides=False)
    (rec / "IMG" / "again.jpg").symlink_to(rec / "IMG" / "center_2016_12_01_13_30_000001.jpg")
    add_row(rec, "IMG/again.jpg")
    frames = read_recordings([rec]).frames
    assert len(frames) == 5 and frames["path"].iloc[4] == frames["path"].iloc[1]


@pytest.mark.parametrize("kind", ["loop", "dangling", "fifo", "folder"])
def test_a_bad_entry_in_img_skips_its_frame_only(tmp_path: Path, kind: str) -> None:
    rec = udacity(tmp_path / "rec", STEERING, sides=False)
    entry = rec / "IMG" / "bad.jpg"
    if kind == "loop":
        entry.symlink_to(entry)
    elif kind == "dangling":
        entry.symlink_to(rec / "IMG" / "gone.jpg")
    elif kind == "fifo":
        os.mkfifo(entry)
    else:
        entry.mkdir()
    add_row(rec, "IMG/bad.jpg")
    with deadline():
        result = read_recordings([rec])
    assert len(result.frames) == 4
    assert [(p.row, p.kind) for p in result.problems] == [(6, "refused image")]


@pytest.mark.parametrize("given", ["folder", "log"])
def test_a_fifo_log_is_a_one_line_error_not_a_hang(tmp_path: Path, given: str) -> None:
    rec = tmp_path / "rec"
    rec.mkdir()
    os.mkfifo(rec / "driving_log.csv")
    target = rec if given == "folder" else rec / "driving_log.csv"
    one_line_error(cli("inspect", target), "driving_log.csv", "a regular file")


def test_a_device_or_fifo_given_as_data_is_a_one_line_error(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    for target in ("/dev/null", tmp_path / "pipe"):
        one_line_error(cli("inspect", target), "neither a regular file nor a folder")


def test_a_log_linked_from_outside_its_folder_is_refused(tmp_path: Path) -> None:
    real = udacity(tmp_path / "real", STEERING, sides=False)
    rec = tmp_path / "rec"
    (rec / "IMG").mkdir(parents=True)
    (rec / "driving_log.csv").symlink_to(real / "driving_log.csv")
    with pytest.raises(DrivenetError, match="outside its recording folder"):
        read_recordings([rec])


def with_bom(log: Path, encoding: str) -> None:
    """Rewrite a log in `encoding` (Python adds the byte-order mark for utf-8-sig, utf-16, utf-32)."""
    log.write_bytes(log.read_text(encoding="utf-8").encode(encoding))


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-be", "utf-32"])
@pytest.mark.parametrize("fmt", ["udacity", "sully", "csv", "donkey"])
def test_a_byte_order_mark_is_honoured_and_the_first_frame_kept(
    tmp_path: Path, fmt: str, encoding: str
) -> None:
    if fmt == "udacity":
        rec, logs = udacity(tmp_path / "rec", STEERING, sides=False), ["driving_log.csv"]
    elif fmt == "sully":
        rec, logs = sully(tmp_path / "rec", [0, 45, -90, 450]), ["data.txt"]
    elif fmt == "csv":
        rec, logs = plain_csv(tmp_path / "rec", STEERING).parent, ["labels.csv"]
    else:
        rec, logs = donkey_v2(tmp_path / "rec", STEERING), ["manifest.json", "catalog_0.catalog"]
    expected = read_recordings(
        [rec], DataConfig(format=fmt, csv_image_column="file", csv_steering_column="angle")
    )
    for log in logs:
        if encoding == "utf-16-be":  # Python writes no mark for an explicit byte order: add it
            (rec / log).write_bytes(b"\xfe\xff" + (rec / log).read_text().encode("utf-16-be"))
        else:
            with_bom(rec / log, encoding)
    result = read_recordings(
        [rec], DataConfig(format=fmt, csv_image_column="file", csv_steering_column="angle")
    )
    assert result.problems == []
    assert result.frames.equals(expected.frames)


def test_utf16_without_a_mark_is_refused_without_printing_nul_bytes(tmp_path: Path) -> None:
    rec = udacity(tmp_path / "rec", STEERING, sides=False)
    log = rec / "driving_log.csv"
    log.write_bytes(log.read_text().encode("utf-16-le"))
    one_line_error(cli("inspect", rec), "driving_log.csv", "NUL bytes", "save it as UTF-8")


def test_control_characters_of_a_log_are_escaped_in_messages(tmp_path: Path) -> None:
    rec = udacity(tmp_path / "rec", STEERING, header="\x1b[31mcamera,wheel" + "x" * 500)
    line = one_line_error(cli("inspect", rec), "unknown columns")
    assert "\x1b" not in line and "\\x1b" in line and "x" * 100 not in line


def test_an_endless_quoted_field_keeps_the_rows_before_it(tmp_path: Path) -> None:
    rec = udacity(tmp_path / "rec", STEERING, sides=False)
    with open(rec / "driving_log.csv", "a") as fh:
        fh.write('"' + "y" * 200_000 + "\n")
    result = read_recordings([rec])
    assert len(result.frames) == 4
    assert "the rest of the log cannot be parsed" in str(result.problems[-1])


def test_the_same_recording_twice_is_refused(tmp_path: Path) -> None:
    rec = udacity(tmp_path / "rec", STEERING, sides=False)
    (tmp_path / "alias").symlink_to(rec)
    for second in (rec / "driving_log.csv", tmp_path / "alias", tmp_path):
        with pytest.raises(DrivenetError, match="the same recording as .*given twice"):
            read_recordings([rec, second])
    out = tmp_path / "c.npz"
    one_line_error(cli("preprocess", rec, rec / "driving_log.csv", "--out", out), "given twice")
    assert not out.exists()


def test_the_same_frame_files_in_two_recordings_are_refused(tmp_path: Path) -> None:
    log = plain_csv(tmp_path / "rec", STEERING)
    copy = log.with_name("copy.csv")
    copy.write_text(log.read_text())
    with pytest.raises(DrivenetError, match=r"f0.jpg is a frame of both rec and rec#2"):
        read_recordings(
            [log, copy], DataConfig(format="csv", csv_image_column="file", csv_steering_column="angle")
        )


def rewrite_catalog(tub: Path, change) -> None:
    catalog = tub / "catalog_0.catalog"
    records = [json.loads(line) for line in catalog.read_text().splitlines()]
    change(records)
    catalog.write_text("".join(json.dumps(r) + "\n" for r in records))


@pytest.mark.parametrize("index", [None, "abc", "2", 1.5, True, [1]])
def test_a_donkey_record_with_a_bad_index_is_skipped(tmp_path: Path, index: object) -> None:
    tub = donkey_v2(tmp_path / "tub", [0.1, 0.2, 0.3, 0.4])
    rewrite_catalog(tub, lambda records: records[1].update(_index=index))
    result = read_recordings([tub])
    assert result.frames["frame"].tolist() == [0, 2, 3]
    assert [(p.row, p.kind) for p in result.problems] == [(2, "bad record")]
    assert "_index" in result.problems[0].reason


def test_deeply_nested_or_huge_catalog_lines_are_bad_records(tmp_path: Path) -> None:
    tub = donkey_v2(tmp_path / "tub", [0.1, 0.2])
    with open(tub / "catalog_0.catalog", "a") as fh:
        fh.write("[" * 100_000 + "\n" + "9" * 5000 + "\n")
    result = read_recordings([tub])
    assert len(result.frames) == 2 and [p.kind for p in result.problems] == ["bad record"] * 2


@pytest.mark.parametrize("deleted", [["a"], [None], [1.5], "1", {"x": 1}])
def test_bad_deleted_indexes_are_a_one_line_error(tmp_path: Path, deleted: object) -> None:
    tub = donkey_v2(tmp_path / "tub", [0.1, 0.2])
    manifest = tub / "manifest.json"
    lines = manifest.read_text().splitlines()
    entry = json.loads(lines[-1])
    entry["deleted_indexes"] = deleted
    manifest.write_text("\n".join([*lines[:-1], json.dumps(entry)]) + "\n")
    one_line_error(cli("inspect", tub), "manifest.json, line 5", "deleted_indexes")


def test_deleted_indexes_still_delete(tmp_path: Path) -> None:
    tub = donkey_v2(tmp_path / "tub", [0.1, 0.2, 0.3], deleted=[1])
    assert read_recordings([tub]).frames["frame"].tolist() == [0, 2]


@pytest.mark.parametrize("what", ["catalog", "record"])
def test_a_donkey_catalog_or_record_that_is_a_fifo_is_skipped(tmp_path: Path, what: str) -> None:
    if what == "catalog":
        tub = donkey_v2(tmp_path / "tub", [0.1, 0.2, 0.3, 0.4])
        bad = tub / "catalog_1.catalog"
    else:
        tub = donkey_v1(tmp_path / "tub", [0.1, 0.2, 0.3, 0.4])
        bad = tub / "record_3.json"
    bad.unlink()
    os.mkfifo(bad)
    with deadline():
        result = read_recordings([tub])
    assert len(result.frames) == 3
    assert [p.kind for p in result.problems] == ["unreadable log"]


def test_a_log_too_large_to_be_one_is_refused_before_reading(tmp_path: Path) -> None:
    rec = udacity(tmp_path / "rec", STEERING, sides=False)
    with open(rec / "driving_log.csv", "r+b") as fh:
        fh.truncate(2**30 + 1)  # sparse: takes no disk space
    one_line_error(cli("inspect", rec), "driving_log.csv", "too large for a driving log")


def test_a_folder_that_cannot_be_listed_is_a_one_line_error(tmp_path: Path, monkeypatch) -> None:
    udacity(tmp_path / "all" / "rec", STEERING, sides=False)

    def refuse(self: Path):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "iterdir", refuse)  # as for a folder of another user's (tests run as root)
    with pytest.raises(DrivenetError, match=r"all: cannot look inside \(Permission denied\)"):
        read_recordings([tmp_path / "all"])


def test_control_characters_in_file_names_never_reach_the_terminal(tmp_path: Path) -> None:
    rec = udacity(tmp_path / "re\x1b[2Jc\nx", STEERING, sides=False)
    (rec / "IMG" / "center_2016_12_01_13_30_000001.jpg").write_bytes(b"broken")
    result = cli("inspect", rec)
    assert result.exit_code == 0 and "re\\x1b[2Jc\\nx" in result.output and "\x1b" not in result.output
    os.mkfifo(rec / "IMG" / "x.jpg")
    (rec / "driving_log.csv").unlink()
    os.mkfifo(rec / "driving_log.csv")
    line = one_line_error(cli("inspect", rec), "not a regular file")
    assert "re\\x1b[2Jc\\nx" in line


def test_an_img_folder_linked_from_outside_is_refused_frame_by_frame(tmp_path: Path) -> None:
    elsewhere = udacity(tmp_path / "elsewhere", STEERING, sides=False)
    rec = tmp_path / "rec"
    rec.mkdir()
    shutil.copy(elsewhere / "driving_log.csv", rec)
    (rec / "IMG").symlink_to(elsewhere / "IMG")
    result = read_recordings([rec], DataConfig(format="udacity"))
    assert len(result.frames) == 0
    assert [p.kind for p in result.problems] == ["refused image"] * len(STEERING)
    assert "leads outside the recording folder" in result.problems[0].reason
