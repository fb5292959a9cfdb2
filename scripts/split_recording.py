"""Split a Udacity simulator recording in two at a moment of its drive: the part before trains, the part
after (by default its last fifth, about one lap of udacity-sample) chooses among settings, so that the
recordings that report a model (another driver's lap) never choose it.

    python scripts/split_recording.py ../shared/datasets/udacity-sample --out data/udacity-split
    # -> data/udacity-split/train and data/udacity-split/choose, each a driving_log.csv and IMG/

The frames are copied (a frame whose real path leaves the recording, through a link, is refused unless
--follow-links, as drivenet's readers do), the log's rows keep their order and text; the moment is read
from the image names' time stamps. Both parts are written in a hidden folder beside --out, renamed to
--out at the end: a failure leaves no --out.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import shutil
import sys
import tempfile
from pathlib import Path

from drivenet.data.odometry import base_name, stamp_in_name
from drivenet.data.readers.finder import scan_folder
from drivenet.data.readers.logfile import read_log
from drivenet.errors import DrivenetError, printable


def split_rows(rows: list[list[str]], share: float) -> tuple[list[list[str]], list[list[str]]]:
    """(before, after): the rows whose centre frame comes before / at or after the moment that leaves
    `share` of the recorded time after it (time of the first row to time of the last)."""
    stamps = [stamp_in_name(row[0]) for row in rows]
    if any(s != s for s in stamps):  # NaN: a name without a time stamp
        bad = next(row[0] for row, s in zip(rows, stamps, strict=True) if s != s)
        raise DrivenetError(f"{bad.strip()}: no time stamp in the image name, as a simulator's has")
    cut = stamps[-1] - share * (stamps[-1] - stamps[0])
    return [r for r, s in zip(rows, stamps, strict=True) if s < cut], [
        r for r, s in zip(rows, stamps, strict=True) if s >= cut
    ]


Frames = tuple[Path, dict[str, str], dict[str, str]]  # a recording's IMG/, as `scan_folder` found it


def write_part(frames: Frames, header: list[str] | None, rows: list[list[str]], out: Path) -> None:
    """A recording at `out`: its log, and copies of the frames its rows name (every camera), from the
    source's `frames` (its IMG/ folder, {name: real path}, {name: why refused}). A frame the source lacks
    stays missing, for the readers to report as they do in the source; a refused one is an error."""
    folder, files, refused = frames
    (out / "IMG").mkdir(parents=True)
    for row in rows:
        for name in (base_name(field) for field in row[:3] if field.strip()):
            if name in refused:
                raise DrivenetError(f"{folder}{os.sep}{refused[name]}")
            if name in files:
                shutil.copy2(files[name], out / "IMG" / name)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    if header:
        writer.writerow(header)
    writer.writerows(rows)
    (out / "driving_log.csv").write_text(text.getvalue(), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("recording", type=Path, help="A Udacity recording folder (driving_log.csv, IMG/).")
    parser.add_argument("--out", type=Path, required=True, help="Folder for the parts train/ and choose/.")
    parser.add_argument("--share", type=float, default=0.2, help="Share of the drive's time to hold out.")
    parser.add_argument(
        "--follow-links", action="store_true", help="Copy frames whose links lead outside the recording."
    )
    args = parser.parse_args()
    try:
        split(args.recording, args.out, args.share, args.follow_links)
    except DrivenetError as err:
        sys.exit(f"error: {printable(str(err))}")


def split(recording: Path, out: Path, share: float, follow_links: bool) -> None:
    """Write the parts train/ and choose/ of `recording` into a hidden folder beside `out`, then rename
    it to `out`."""
    if not 0 < share < 1:
        raise DrivenetError(f"--share {share}: must be between 0 and 1")
    if out.exists():
        raise DrivenetError(f"{out} exists; remove it or choose another --out")
    log = read_log(recording / "driving_log.csv", recording, follow_links)
    rows = [row for row in csv.reader(io.StringIO(log), skipinitialspace=True) if any(f.strip() for f in row)]
    header = rows.pop(0) if rows and not rows[0][0].lower().endswith((".jpg", ".jpeg", ".png")) else None
    if not rows:
        raise DrivenetError(f"{recording / 'driving_log.csv'}: no rows to split")
    before, after = split_rows(rows, share)
    if not before or not after:
        raise DrivenetError(
            f"{recording / 'driving_log.csv'}: --share {share} leaves {len(before)} rows to train and "
            f"{len(after)} to choose; both parts need frames: give a longer recording or another --share"
        )
    frames = (recording / "IMG", *scan_folder(recording / "IMG", recording.resolve(), follow_links))
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent) as name:
            new = Path(name) / "new"
            write_part(frames, header, before, new / "train")
            write_part(frames, header, after, new / "choose")
            os.rename(new, out)
    except OSError as err:
        raise DrivenetError(f"cannot write {out}: {err.strerror or err}; choose another --out") from None
    print(f"{len(before)} rows in {out / 'train'}, {len(after)} rows in {out / 'choose'}")


if __name__ == "__main__":
    main()
