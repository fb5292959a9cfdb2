"""Read a recording's log as text, safely: only a regular file inside the recording, in a known encoding.

Refused, each with a one-line reason: a log that is a link leading out of its recording folder, a FIFO,
device or folder (reading a FIFO would wait forever), and text holding NUL characters (a binary file, or
UTF-16 without a byte-order mark, whose NULs would otherwise end up printed in messages). A byte-order
mark is honoured (UTF-8, UTF-16 or UTF-32) and removed; other text is read as UTF-8, undecodable bytes
becoming U+FFFD (they then fail as a bad row, not as the whole file).
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from drivenet.data.frames import Problem
from drivenet.errors import DrivenetError

BOMS = (  # the UTF-32 marks first: UTF-32-LE's begins with UTF-16-LE's
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
SHOWN = 60  # characters of a log's text quoted in a message, at most
MAX_LOG_BYTES = 2**30  # a log is read whole; a million frames take about 100 MB

FOLLOW_HINT = "pass --follow-links to read it"  # or data.follow_links = true in a config (README)


class UnreadableLog(DrivenetError):
    """A log file drivenet refuses to read; `reason` is the message without the file name."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.reason = reason


def is_inside(path: str, root: str) -> bool:
    """Whether the resolved `path` lies in the resolved folder `root` (or is it)."""
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def shown(text: str) -> str:
    """`text` quoted for a message: control characters escaped, cut to SHOWN characters."""
    cut = text[:SHOWN]
    return repr(cut) + ("..." if len(text) > SHOWN else "")


def decode_log(data: bytes) -> str | None:
    """The text of a log's bytes, or None when it holds NUL characters."""
    encoding = next((name for bom, name in BOMS if data.startswith(bom)), "utf-8")
    text = data.decode(encoding, errors="replace")
    return None if "\0" in text else text


def read_log(path: Path, root: Path | None = None, follow_links: bool = False) -> str:
    """The text of the log at `path`, which must be a regular file inside `root` (default: its folder),
    or, with `follow_links`, where a link in it leads."""
    folder = os.path.realpath(root if root is not None else path.parent)
    try:
        real = os.path.realpath(path, strict=True)
        status = os.stat(real)
    except OSError as err:
        raise UnreadableLog(path, f"cannot read it ({err.strerror or err}); check the path") from None
    if not (follow_links or is_inside(real, folder)):
        raise UnreadableLog(
            path,
            f"is a link to a file outside its recording folder; copy the file in, pass the real file, or "
            f"{FOLLOW_HINT}",
        )
    if not stat.S_ISREG(status.st_mode):
        raise UnreadableLog(
            path, "not a regular file (a FIFO, device or folder); give a recording folder or its log file"
        )
    if status.st_size > MAX_LOG_BYTES:
        raise UnreadableLog(path, f"{status.st_size / 2**30:.1f} GiB is too large for a driving log")
    try:
        with open(real, "rb") as fh:
            data = fh.read()
    except OSError as err:
        raise UnreadableLog(path, f"cannot read it ({err.strerror or err})") from None
    text = decode_log(data)
    if text is None:
        raise UnreadableLog(
            path,
            "holds NUL bytes, so it is not a text log (a binary file, or UTF-16 without a byte-order "
            "mark); save it as UTF-8",
        )
    return text


def numbered_lines(text: str) -> Iterator[tuple[int, str]]:
    """(line number from 1, line) of a log's text, lines split as a text file splits them."""
    return enumerate(io.StringIO(text, newline=None), 1)


def csv_rows(text: str, log: Path, problems: list[Problem]) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of each CSV row of `text`; a row the csv module cannot parse (an endless
    quoted field) ends the log with a Problem, keeping the rows before it."""
    reader = csv.reader(io.StringIO(text, newline=""), skipinitialspace=True)
    try:
        for fields in reader:
            yield reader.line_num, fields
    except csv.Error as err:
        problems.append(Problem(str(log), reader.line_num, f"the rest of the log cannot be parsed ({err})"))
