"""Random damage to small recordings, read by `drivenet preprocess`: never a traceback or a hang, and every
frame that survives decodes to exactly the pixels it had before the damage.

Damage (seeded, a few of these per trial): bytes flipped in a JPEG or in the log, a JPEG or a log line
cut short, the log re-encoded (UTF-8 with a byte-order mark, UTF-16 or UTF-32 with or without one,
Latin-1), a frame replaced by a link out of the recording, a link loop, a dangling link or a FIFO, a frame
deleted. An undamaged log with undamaged frames must keep all of those frames and their steering.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from support.cli import deadline
from support.recordings import donkey_v2, sully, udacity, write_jpeg
from typer.testing import CliRunner

from drivenet.cli import app
from drivenet.data import SteeringCache

TRIALS = 10
STEERING = [0.0, -0.5, 0.25, 1.0, -0.1, 0.6]
LOGS = {"udacity": "driving_log.csv", "sully": "data.txt", "donkey": "catalog_0.catalog"}
FRAMES = {"udacity": "IMG", "sully": ".", "donkey": "images"}
SETTINGS = ["data.width=8", "data.height=6", "data.crop_top=0.0", "data.crop_bottom=0.0"]
ENCODINGS = ["utf-8-sig", "utf-16", "utf-32", "latin-1", "utf-16-le"]  # utf-16-le: no byte-order mark


def make(fmt: str, folder: Path) -> Path:
    if fmt == "udacity":
        return udacity(folder, STEERING, sides=False)
    if fmt == "sully":
        return sully(folder, [450 * s for s in STEERING])
    return donkey_v2(folder, STEERING)


def preprocess(rec: Path, out: Path):
    """Run `drivenet preprocess` in-process under a deadline; (result, cache or None)."""
    sets = [arg for item in SETTINGS for arg in ("--set", item)]
    with deadline(20):
        result = CliRunner().invoke(app, ["preprocess", str(rec), "--out", str(out), "--workers", "1", *sets])
    return result, (SteeringCache.load(out) if result.exit_code == 0 else None)


def by_name(cache: SteeringCache) -> dict[str, tuple[np.ndarray, float]]:
    """Each kept frame's image and steering, keyed by its file name."""
    return {
        Path(p).name: (np.asarray(cache.images[i]), float(cache.steering[i]))
        for i, p in enumerate(cache.frames["path"])
    }


class Damage:
    """Random damage to one copy of a recording, remembering what it touched."""

    def __init__(self, rec: Path, fmt: str, rng: np.random.Generator, outside: Path) -> None:
        self.rec, self.fmt, self.rng, self.outside = rec, fmt, rng, outside
        self.log = rec / LOGS[fmt]
        self.frames = sorted((rec / FRAMES[fmt]).glob("*.jpg"))
        self.damaged: set[str] = set()  # frames whose bytes changed: kept or skipped, either is fine
        self.gone: set[str] = set()  # frames that must not be read (links out, loops, FIFOs, deleted)
        self.log_damaged = False  # rows may now name other frames or other steering
        self.log_refusable = False  # the log may be refused as a whole (UTF-16 without a mark)

    def flip_bytes(self, path: Path) -> None:
        data = bytearray(path.read_bytes())
        for at in self.rng.integers(0, len(data), size=int(self.rng.integers(1, 6))):
            data[at] ^= int(self.rng.integers(1, 256))
        path.write_bytes(bytes(data))

    def frame(self) -> Path:
        return self.frames[int(self.rng.integers(len(self.frames)))]

    def apply(self) -> None:
        kind = ["jpeg bytes", "jpeg cut", "log bytes", "log line", "encoding", "link", "delete"][
            int(self.rng.integers(7))
        ]
        if kind == "jpeg bytes":
            frame = self.frame()
            if frame.is_file() and not frame.is_symlink():
                self.flip_bytes(frame)
                self.damaged.add(frame.name)
        elif kind == "jpeg cut":
            frame = self.frame()
            if frame.is_file() and not frame.is_symlink():
                data = frame.read_bytes()
                frame.write_bytes(data[: int(self.rng.integers(0, len(data)))])
                self.damaged.add(frame.name)
        elif kind == "log bytes":
            self.flip_bytes(self.log)
            self.log_damaged = True
        elif kind == "log line":
            lines = self.log.read_bytes().split(b"\n")
            i = int(self.rng.integers(len(lines)))
            lines[i] = lines[i][: int(self.rng.integers(0, len(lines[i]) + 1))]
            self.log.write_bytes(b"\n".join(lines))
            self.log_damaged = True
        elif kind == "encoding":
            encoding = ENCODINGS[int(self.rng.integers(len(ENCODINGS)))]
            text = self.log.read_bytes().decode("utf-8", errors="replace").lstrip("\ufeff")
            self.log.write_bytes(text.encode(encoding, errors="replace"))
            self.log_refusable |= encoding == "utf-16-le"
            self.log_damaged |= "\ufffd" in text  # earlier damage: re-encoding keeps it
        else:
            frame = self.frame()
            frame.unlink(missing_ok=True)
            self.gone.add(frame.name)
            self.damaged.discard(frame.name)
            choice = int(self.rng.integers(5)) if kind == "link" else -1
            if choice == 0:
                frame.symlink_to(self.outside)  # a valid JPEG: it must still not be read
            elif choice == 1:
                frame.symlink_to(frame)
            elif choice == 2:
                frame.symlink_to(frame.with_name("nowhere.jpg"))
            elif choice == 3:
                os.mkfifo(frame)
            elif choice == 4:
                frame.symlink_to("/etc/passwd")


@pytest.mark.parametrize("fmt", ["udacity", "sully", "donkey"])
def test_random_damage_never_gives_a_traceback_and_survivors_keep_their_pixels(
    tmp_path: Path, fmt: str
) -> None:
    pristine = make(fmt, tmp_path / "pristine" / "rec")
    result, cache = preprocess(pristine, tmp_path / "pristine.npz")
    assert result.exit_code == 0 and cache is not None, result.output
    before = by_name(cache)
    assert len(before) == len(STEERING)
    outside = write_jpeg(tmp_path / "outside.jpg", value=200)
    rng = np.random.default_rng(12)
    for trial in range(TRIALS):
        rec = tmp_path / f"trial{trial}" / "rec"
        shutil.copytree(pristine, rec, symlinks=True)
        damage = Damage(rec, fmt, rng, outside)
        for _ in range(int(rng.integers(1, 4))):
            damage.apply()
        result, cache = preprocess(rec, tmp_path / f"trial{trial}.npz")
        context = f"trial {trial}: damaged {damage.damaged}, gone {damage.gone}, log {damage.log_damaged}"
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            f"{context}: {result.exception!r}\n{result.output}"
        )
        assert "Traceback" not in result.output and "\0" not in result.output, context
        intact = set(before) - damage.damaged - damage.gone
        if result.exit_code != 0:
            assert result.exit_code == 1 and result.output.strip().splitlines()[-1].startswith("error: ")
            assert damage.log_damaged or damage.log_refusable or not intact, f"{context}\n{result.output}"
            continue
        after = by_name(cache)
        assert not set(after) & damage.gone, context
        for name, (image, _) in after.items():
            if name not in damage.damaged:
                np.testing.assert_array_equal(image, before[name][0], err_msg=f"{context}: {name}")
        if not damage.log_damaged:
            assert intact <= set(after), context
            for name in intact:
                assert after[name][1] == pytest.approx(before[name][1]), context
