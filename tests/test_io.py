"""Atomic writes and pickle-free .npz storage."""

import os
import stat
from pathlib import Path

import numpy as np
import pytest

from drivenet.errors import DrivenetError
from drivenet.io import (
    atomic_write,
    check_kind,
    check_output_file,
    load_npz,
    prepare_output_dir,
    save_figure,
    save_npz,
    write_text,
)


def test_npz_round_trip_without_pickle(tmp_path: Path) -> None:
    path = save_npz(tmp_path / "a.npz", {"w": np.arange(6, dtype=np.float32).reshape(2, 3)}, {"k": [1, "x"]})
    arrays, meta = load_npz(path)
    assert meta == {"k": [1, "x"]}
    np.testing.assert_array_equal(arrays["w"], np.arange(6).reshape(2, 3))
    assert arrays["w"].dtype == np.float32


def test_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    path.write_text("old")

    def boom(tmp: Path) -> None:
        tmp.write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, boom)
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_pickled_and_foreign_files_are_refused(tmp_path: Path) -> None:
    pickled = tmp_path / "p.npz"
    np.savez(pickled, obj=np.array([{"a": 1}], dtype=object))
    with pytest.raises(DrivenetError, match="p.npz"):
        load_npz(pickled)
    plain = tmp_path / "plain.npz"
    np.savez(plain, w=np.zeros(2))
    with pytest.raises(DrivenetError, match="no drivenet metadata"):
        load_npz(plain)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    with pytest.raises(DrivenetError, match="junk.npz"):
        load_npz(junk)


def test_output_dir_needs_force(tmp_path: Path) -> None:
    run = prepare_output_dir(tmp_path / "run", force=False)
    (run / "metrics.csv").write_text("x")
    with pytest.raises(DrivenetError, match="--force"):
        prepare_output_dir(run, force=False)
    assert (run / "metrics.csv").exists()
    prepare_output_dir(run, force=True)
    assert not (run / "metrics.csv").exists()


def test_kind_and_version_are_checked(tmp_path: Path) -> None:
    check_kind("m.npz", {"kind": "model", "version": 2}, "model", 2, "retrain")
    with pytest.raises(DrivenetError, match="holds a cache, not a model; retrain"):
        check_kind("m.npz", {"kind": "cache", "version": 2}, "model", 2, "retrain")
    with pytest.raises(DrivenetError, match="model version 1, this drivenet reads version 2"):
        check_kind("m.npz", {"kind": "model", "version": 1}, "model", 2, "retrain")


def test_force_replaces_only_a_folder_drivenet_made(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("precious")
    with pytest.raises(DrivenetError, match="not a folder drivenet made"):
        prepare_output_dir(mine, force=True)
    assert (mine / "notes.txt").read_text() == "precious"


def test_output_dir_may_not_hold_an_input_or_the_working_folder(tmp_path: Path, monkeypatch) -> None:
    rec = prepare_output_dir(tmp_path / "rec", force=False)
    (rec / "driving_log.csv").write_text("x")
    for out in (rec, tmp_path):
        with pytest.raises(DrivenetError, match="choose another"):
            prepare_output_dir(out, force=True, inputs=[rec / "driving_log.csv"])
    monkeypatch.chdir(rec)
    for out in (Path("."), tmp_path):
        with pytest.raises(DrivenetError, match="working folder"):
            prepare_output_dir(out, force=True)
    assert (rec / "driving_log.csv").read_text() == "x"


def test_outputs_that_are_folders_or_under_files_are_one_line_errors(tmp_path: Path) -> None:
    folder = tmp_path / "adir"
    folder.mkdir()
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(DrivenetError, match="adir is a folder"):
        atomic_write(folder, lambda tmp: tmp.write_text("y"))
    with pytest.raises(DrivenetError, match="afile"):
        atomic_write(afile / "x.png", lambda tmp: tmp.write_text("y"))
    with pytest.raises(DrivenetError, match="afile is a file"):
        prepare_output_dir(afile, force=True)
    with pytest.raises(DrivenetError, match="afile"):
        prepare_output_dir(afile / "run", force=False)
    with pytest.raises(DrivenetError, match="adir is a folder"):
        check_output_file(folder, force=True)
    with pytest.raises(DrivenetError, match="already exists; pass --force"):
        check_output_file(afile, force=False)
    assert check_output_file(afile, force=True) == afile and afile.read_text() == "x"


def test_save_figure_writes_a_png(tmp_path: Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(1, 1))
    fig.add_subplot().plot([0, 1])
    path = save_figure(fig, tmp_path / "f.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o002])
def test_new_files_get_the_users_umask_and_old_ones_keep_their_mode(tmp_path: Path, umask: int) -> None:
    previous = os.umask(umask)
    try:
        text = write_text(tmp_path / "a.txt", "x")
        npz = save_npz(tmp_path / "a.npz", {"w": np.zeros(2)}, {})
        plain = tmp_path / "plain.txt"
        plain.write_text("as open makes it")
        kept = tmp_path / "kept.txt"
        kept.write_text("old")
        kept.chmod(0o604)
        write_text(kept, "new")
    finally:
        os.umask(previous)
    want = stat.S_IMODE(plain.stat().st_mode)
    assert want == 0o666 & ~umask
    assert stat.S_IMODE(text.stat().st_mode) == want
    assert stat.S_IMODE(npz.stat().st_mode) == want
    assert stat.S_IMODE(kept.stat().st_mode) == 0o604 and kept.read_text() == "new"


@pytest.mark.parametrize("meta", ["[1, 2]", "{", "[" * 100_000, "9" * 5000])
def test_metadata_that_is_no_json_object_is_refused(tmp_path: Path, meta: str) -> None:
    path = tmp_path / "m.npz"
    np.savez(path, w=np.zeros(2), __meta__=np.array(meta))
    with pytest.raises(DrivenetError, match="m.npz: corrupt metadata"):
        load_npz(path)
