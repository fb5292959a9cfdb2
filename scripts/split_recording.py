"""Split a Udacity simulator recording in two at a moment of its drive: the part before trains, the part
after (by default its last fifth, about one lap of udacity-sample) chooses among settings, so that the
recordings that report a model (another driver's lap) never choose it.

    python scripts/split_recording.py ../shared/datasets/udacity-sample --out data/udacity-split
    # -> data/udacity-split/train and data/udacity-split/choose, each a driving_log.csv and IMG/

The frames are copied (a link out of a recording is refused unless --follow-links), the log's rows keep
their order and text; the moment is read from the image names' time stamps.
"""

from __future__ import annotations

import argparse
import csv
import io
import shutil
import sys
from pathlib import Path

from drivenet.data.odometry import stamp_in_name
from drivenet.data.readers.logfile import read_log


def split_rows(rows: list[list[str]], share: float) -> tuple[list[list[str]], list[list[str]]]:
    """(before, after): the rows whose centre frame comes before / at or after the moment that leaves
    `share` of the recorded time after it (time of the first row to time of the last)."""
    stamps = [stamp_in_name(row[0]) for row in rows]
    if any(s != s for s in stamps):  # NaN: a name without a time stamp
        bad = next(row[0] for row, s in zip(rows, stamps, strict=True) if s != s)
        raise SystemExit(f"error: {bad.strip()}: no time stamp in the image name, as a simulator's has")
    cut = stamps[-1] - share * (stamps[-1] - stamps[0])
    return [r for r, s in zip(rows, stamps, strict=True) if s < cut], [
        r for r, s in zip(rows, stamps, strict=True) if s >= cut
    ]


def write_part(source: Path, header: list[str] | None, rows: list[list[str]], out: Path) -> None:
    """A recording at `out`: its log, and copies of the frames its rows name (every camera; a frame the
    source lacks stays missing, for the readers to report as they do in the source)."""
    (out / "IMG").mkdir(parents=True)
    for row in rows:
        for field in row[:3]:
            frame = source / "IMG" / Path(field.strip().replace("\\", "/")).name
            if frame.is_file():
                shutil.copy2(frame, out / "IMG" / frame.name)
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
    args = parser.parse_args()
    if not 0 < args.share < 1:
        sys.exit(f"error: --share {args.share}: must be between 0 and 1")
    if args.out.exists():
        sys.exit(f"error: {args.out} exists; remove it or choose another --out")
    rows = list(csv.reader(io.StringIO(read_log(args.recording / "driving_log.csv")), skipinitialspace=True))
    header = rows.pop(0) if rows and not rows[0][0].lower().endswith((".jpg", ".jpeg", ".png")) else None
    before, after = split_rows([r for r in rows if r], args.share)
    write_part(args.recording, header, before, args.out / "train")
    write_part(args.recording, header, after, args.out / "choose")
    print(f"{len(before)} rows in {args.out / 'train'}, {len(after)} rows in {args.out / 'choose'}")


if __name__ == "__main__":
    main()
