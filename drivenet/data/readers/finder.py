"""Shared reader helpers: find a logged image inside its recording's folder, parse a steering value and
the optional throttle, brake and speed (frames.py)."""

from __future__ import annotations

import math
import os
import posixpath
from collections.abc import Mapping
from pathlib import Path

from drivenet.data.frames import OPTIONAL_COLUMNS, Problem, ReadResult, make_frames
from drivenet.data.readers.logfile import FOLLOW_HINT, is_inside, shown

IMAGE_FOLDERS = ("IMG", "images", "")  # where recordings keep their frames, relative to the recording
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")  # image files drivenet reads (drivenet/data/images.py), lower case


def scan_folder(
    folder: Path, root: Path, follow_links: bool = False
) -> tuple[dict[str, str], dict[str, str]]:
    """The regular files in `folder` whose real place is inside the resolved folder `root` (anywhere,
    with `follow_links`), as {name: resolved path}, and the other entries as {name: why not} (a link out
    of `root`, a link that loops or leads nowhere, a sub-folder, a FIFO or other special file). No
    folder, no entries.
    """
    files: dict[str, str] = {}
    refused: dict[str, str] = {}
    if not folder.is_dir():
        return files, refused
    real_folder = os.path.realpath(folder)
    with os.scandir(folder) as entries:
        for entry in entries:
            try:
                if entry.is_symlink():
                    real = os.path.realpath(entry.path, strict=True)
                    regular = os.path.isfile(real)
                else:
                    real = os.path.join(real_folder, entry.name)
                    regular = entry.is_file(follow_symlinks=False)
            except OSError as err:
                refused[entry.name] = (
                    f"{entry.name} is a link that cannot be followed ({err.strerror or err})"
                )
                continue
            if not (follow_links or is_inside(real, str(root))):
                refused[entry.name] = f"{entry.name} leads outside the recording folder; {FOLLOW_HINT}"
            elif regular:
                files[entry.name] = real
            else:
                refused[entry.name] = f"{entry.name} is not a regular file"
    return files, refused


class ImageFinder:
    """Resolve image names from a log to files inside one recording folder, and nowhere else.

    A log may name an image by a relative path, a bare name, or an absolute Windows or Unix path
    from the machine that recorded it. A path is used as written when it leads to a file inside the
    folder; anything else is looked up by its base name in the folder, its `IMG/` or its `images/`.
    Every path is resolved, links included: a file whose real place is outside the folder (unless
    `follow_links`: then links may lead anywhere, but a path as written must still stay inside), a link
    that loops or leads nowhere, and anything but a regular file (a FIFO would block) are refused, with
    the reason kept in `refused` for the frame that names it.
    """

    def __init__(self, root: Path, follow_links: bool = False) -> None:
        self.root = root.resolve()
        self.follow_links = follow_links
        self.by_name: dict[str, str] = {}
        self.refused: dict[str, str] = {}  # base name -> why the file of that name is not read
        for sub in IMAGE_FOLDERS:
            files, refused = scan_folder(self.root / sub, self.root, follow_links)
            self.by_name = {**files, **self.by_name}  # the first folder holding a name wins
            self.refused = {**refused, **self.refused}

    def find(self, name: str) -> str | None:
        """The resolved path of the logged image `name`, or None when the folder does not hold it."""
        unix = name.strip().replace("\\", "/")
        base = posixpath.basename(unix)
        folder = posixpath.dirname(unix)
        inside = str(self.root) + os.sep
        windows = len(unix) > 1 and unix[1] == ":"
        if (
            folder not in IMAGE_FOLDERS
            and not windows
            and (unix.startswith(inside) or not posixpath.isabs(unix))
        ):
            written = os.path.normpath(os.path.join(self.root, unix))  # `..` taken, no link followed
            candidate = os.path.realpath(written)
            inside_now = candidate.startswith(inside) or (self.follow_links and written.startswith(inside))
            if inside_now and os.path.isfile(candidate):
                return candidate
        return self.by_name.get(base)

    def why_not(self, name: str) -> tuple[str, str]:
        """(reason, problem kind) for an image name that `find` did not resolve."""
        base = posixpath.basename(name.strip().replace("\\", "/"))
        if base in self.refused:
            return f"image {shown(name.strip())} refused: {self.refused[base]}", "refused image"
        return (
            f"image {shown(name.strip())} not found in the recording folder (nor its IMG/ or images/)",
            "missing image",
        )


def parse_number(name: str, text: object, file: Path, row: int) -> float | Problem:
    """The finite number in the text of the column `name`, or the Problem with it (kind "bad <name>")."""
    clean = str(text).strip()
    try:
        value = float(clean)
    except ValueError:
        return Problem(str(file), row, f"{name} {shown(clean)} is not a number", f"bad {name}")
    if not math.isfinite(value):
        return Problem(str(file), row, f"{name} {shown(clean)} is not a finite number", f"bad {name}")
    return value


def parse_steering(
    text: object, file: Path, row: int, degrees_per_unit: float | None = None
) -> float | Problem:
    """A steering value in [-1, 1], or the Problem with it.

    Without `degrees_per_unit` the text must already be in [-1, 1]; with it, the text is a steering-wheel
    angle in degrees, divided by `degrees_per_unit` and clipped to [-1, 1].
    """
    value = parse_number("steering", text, file, row)
    if isinstance(value, Problem):
        return value
    if degrees_per_unit is not None:
        return max(-1.0, min(1.0, value / degrees_per_unit))
    if abs(value) > 1.0:
        return Problem(str(file), row, f"steering {value:g} is outside [-1, 1]", "bad steering")
    return value


def is_image_name(text: str) -> bool:
    """Whether a log field looks like an image file name."""
    return text.strip().lower().endswith(IMAGE_SUFFIXES)


class FrameCollector:
    """Gathers the frames of one recording folder, and the problems met on the way."""

    def __init__(self, root: Path, follow_links: bool = False) -> None:
        self.finder = ImageFinder(root, follow_links)
        self.columns: dict[str, list] = {"path": [], "steering": [], "camera": [], "frame": []}
        self.optional: list[Mapping[str, float]] = []  # each frame's optional columns (frames.py)
        self.problems: list[Problem] = []

    def steering(
        self, text: object, file: Path, row: int, degrees_per_unit: float | None = None
    ) -> float | None:
        """The parsed steering value, or None after noting the problem (see `parse_steering`)."""
        value = parse_steering(text, file, row, degrees_per_unit)
        if isinstance(value, Problem):
            self.problems.append(value)
            return None
        return value

    def numbers(self, texts: Mapping[str, object], file: Path, row: int) -> dict[str, float]:
        """The row's optional columns parsed, {name: text} -> {name: value}; a value that is not a finite
        number is NaN (the frame still steers; training a model on that pedal refuses it, naming it)."""
        values = {}
        for name, text in texts.items():
            value = parse_number(name, text, file, row)
            values[name] = math.nan if isinstance(value, Problem) else value
        return values

    def add(
        self,
        name: str,
        steering: float,
        file: Path,
        row: int,
        frame: int,
        camera: str = "center",
        optional: Mapping[str, float] | None = None,
    ) -> None:
        """Add the frame whose image `file`, line `row` names, with its `optional` columns (from
        `numbers`), or note that the image is missing."""
        path = self.finder.find(name)
        if path is None:
            reason, kind = self.finder.why_not(name)
            self.problems.append(Problem(str(file), row, reason, kind))
            return
        for column, value in zip(self.columns, (path, steering, camera, frame), strict=True):
            self.columns[column].append(value)
        self.optional.append(optional or {})

    def result(self) -> ReadResult:
        """The frame table (recording named after the folder) and the problems; an optional column is
        there when some frame has it, NaN in the frames that do not."""
        c = self.columns
        present = [name for name in OPTIONAL_COLUMNS if any(name in values for values in self.optional)]
        optional = {name: [values.get(name, math.nan) for values in self.optional] for name in present}
        table = make_frames(
            c["path"], c["steering"], c["camera"], c["frame"], self.finder.root.name, optional
        )
        return ReadResult(table, self.problems)
