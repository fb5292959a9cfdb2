"""Write an autonomous run as a Udacity-layout recording: driving_log.csv + IMG/, as the simulator does.

Each frame's JPEG is stored as received (the bytes the model read), atomically, before its row is appended
to the log, so a run stopped at any moment leaves a log whose every row names a whole image. The log is
written unbuffered, a row at a time: a row that cannot be written whole (a full disk) is cut back off the
log and its JPEG removed, and nothing is left pending that closing could fail to write.
"""

from __future__ import annotations

import contextlib
import csv
import io
from datetime import datetime
from pathlib import Path
from types import TracebackType

from drivenet.errors import DrivenetError
from drivenet.io import atomic_write, prepare_output_dir

LOG = "driving_log.csv"
HEADER = ("center", "left", "right", "steering", "throttle", "brake", "speed")


class Recorder:
    """Frames of a run into `folder` (a new or empty folder, or one drivenet made with `force`)."""

    def __init__(self, folder: str | Path, force: bool = False, inputs: tuple[str | Path, ...] = ()) -> None:
        self.folder = prepare_output_dir(folder, force, inputs=inputs)
        self.frames = 0
        self._names: set[str] = set()
        try:
            self._log = open(self.folder / LOG, "wb", buffering=0)  # noqa: SIM115
        except OSError as err:
            raise DrivenetError(f"cannot write {self.folder / LOG}: {err.strerror or err}") from None
        self._write(HEADER)

    def add(self, jpeg: bytes, steering: str, throttle: str, speed: float) -> Path:
        """Store one frame with the steering and throttle sent for it (the strings sent) and its speed;
        DrivenetError, leaving neither its JPEG nor part of its row, when it cannot be written."""
        name = self._name()
        path = atomic_write(self.folder / "IMG" / name, lambda tmp: tmp.write_bytes(jpeg))
        try:
            self._write((f"IMG/{name}", "", "", steering, throttle, "0", f"{speed:g}"))
        except DrivenetError:
            path.unlink(missing_ok=True)
            raise
        self.frames += 1
        return path

    def close(self) -> None:
        """Close the log (every row is already written)."""
        with contextlib.suppress(OSError):  # a network file system may report an old error here: ignored
            self._log.close()

    def __enter__(self) -> Recorder:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def _write(self, row: tuple[str, ...]) -> None:
        """Append one CSV row whole, or cut the log back to where it was and raise DrivenetError."""
        text = io.StringIO()
        csv.writer(text).writerow(row)
        data = memoryview(text.getvalue().encode("utf-8"))
        end = self._log.tell()
        try:
            while data:
                data = data[self._log.write(data) :]
        except OSError as err:
            with contextlib.suppress(OSError):
                self._log.truncate(end)
                self._log.seek(end)
            raise DrivenetError(f"cannot write {self.folder / LOG}: {err.strerror or err}") from None

    def _name(self) -> str:
        """`center_YYYY_MM_DD_HH_MM_SS_mmm.jpg`, as the simulator names frames (numbered within a ms)."""
        stamp = datetime.now().strftime("%Y_%m_%d_%H_%M_%S_%f")[:-3]
        name, k = f"center_{stamp}.jpg", 1
        while name in self._names:
            name, k = f"center_{stamp}_{k}.jpg", k + 1
        self._names.add(name)
        return name
