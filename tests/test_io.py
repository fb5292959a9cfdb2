"""Atomic writes and pickle-free .npz storage."""

from pathlib import Path

import numpy as np
import pytest

from drivenet.errors import DrivenetError
from drivenet.io import atomic_write, check_kind, load_npz, prepare_output_dir, save_npz


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
