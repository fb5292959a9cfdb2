"""Which line a model wants to drive on a recording, against the recorded driver's line.

For every `--every`-th frame, the recording is seen from cameras moved sideways by each of `--offsets`
metres (view synthesis, heading unchanged; a motion model reads its earlier frames moved alike), and the
model's steering is compared with the recorded steering (smoothed over `--smooth-window` frames). Where
the two are equal and the model steers back towards that place from either side, the model would hold
its place: that offset o* (linear between the two offsets around it; the one nearest 0 where there are
several) is its line, in metres right of the driver's. Replay's takeovers
come where o* stays far from 0: 1 m off the recorded path is a takeover whoever drives the better line.

    python scripts/replay_line.py runs/udacity/best.npz ../shared/datasets/lake-achauhan

Prints o* per stretch of `--stretch` frames with the recorded steering; last line JSON:
{"mean_line_m": m, "left_bends_line_m": l, "right_bends_line_m": r, "frames": n}, bends being frames
with smoothed steering beyond ±0.05 (null where no frame has a line).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from drivenet.data.augment import smooth_labels
from drivenet.data.frames import make_frames
from drivenet.drive.replay import load_frame, load_recorded_drive
from drivenet.geometry.viewsynth import warp
from drivenet.model.checkpoint import load_model

BEND = 0.05  # smoothed steering beyond which a frame counts as in a bend


def held_offset(offsets: np.ndarray, gap: np.ndarray) -> float:
    """Where `gap` (model minus recorded steering at each of the sorted `offsets`) falls through 0 (from
    > 0 to <= 0: a stable place), by linear interpolation; the one nearest 0 m, NaN where there is none."""
    down = np.flatnonzero((gap[:-1] > 0) & (gap[1:] <= 0))
    if len(down) == 0:
        return float("nan")
    at = offsets[down] + (offsets[down + 1] - offsets[down]) * gap[down] / (gap[down] - gap[down + 1])
    return float(at[np.argmin(np.abs(at))])


def mean_or_none(values: np.ndarray) -> float | None:
    """The mean of the finite values, None when there are none (valid JSON, unlike NaN)."""
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if len(finite) else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("recording", type=Path)
    parser.add_argument("--offsets", type=float, nargs="+", default=[-1.0, -0.5, 0.0, 0.5, 1.0])
    parser.add_argument("--every", type=int, default=4)
    parser.add_argument("--stretch", type=int, default=60)
    parser.add_argument("--smooth-window", type=int, default=9)
    args = parser.parse_args()
    if len(set(args.offsets)) < 2:
        parser.error("--offsets: give at least two different offsets")
    model = load_model(args.model)
    drive = load_recorded_drive(args.recording, model.config.data, model.config.camera)
    offsets = np.sort(np.asarray(args.offsets, np.float64))
    rows = np.arange(max(model.motion_gaps, default=0), len(drive.images), args.every)
    frames = [load_frame(path) for path in drive.images]
    steering = []
    for offset in offsets:
        images = model.images_from_frames([warp(frame, drive.camera, offset, 0.0)[0] for frame in frames])
        steering.append(model.steer_inputs(model.clips(images)[rows]))
    log = make_frames(drive.images, drive.steering, "center", range(len(frames)), args.recording.name)
    recorded = smooth_labels(log, args.smooth_window)[rows]
    gap = np.array(steering) - recorded  # (offsets, frames)
    line = np.array([held_offset(offsets, gap[:, j]) for j in range(len(rows))])
    per = max(1, args.stretch // args.every)
    for start in range(0, len(rows), per):
        part = slice(start, start + per)
        held = mean_or_none(line[part])
        print(
            f"frames {rows[start]:5d}-{rows[part][-1]:5d}: recorded steering {recorded[part].mean():+.3f}, "
            f"model's line " + ("none found" if held is None else f"{held:+.2f} m")
        )
    summary = {
        "mean_line_m": mean_or_none(line),
        "left_bends_line_m": mean_or_none(line[recorded < -BEND]),
        "right_bends_line_m": mean_or_none(line[recorded > BEND]),
        "frames": int(np.isfinite(line).sum()),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
