"""Which line a model wants to drive on a recording, against the recorded driver's line.

For every `--every`-th frame, the recording is seen from cameras moved sideways by each of `--offsets`
metres (view synthesis, heading unchanged; a motion model reads its earlier frames moved alike), and the
model's steering is compared with the recorded steering (smoothed over 9 frames). Where the two are equal
the model would hold its place: that offset o* (linear between the two offsets around the sign change
nearest 0) is its line, in metres right of the driver's. Replay's takeovers come where o* stays far
from 0, because 1 m off the recorded path is a takeover whoever drives the better line.

    python scripts/replay_line.py runs/udacity/best.npz ../shared/datasets/lake-achauhan

Prints o* per stretch of `--stretch` frames with the recorded steering; last line JSON:
{"mean_line_m": m, "left_bends_line_m": l, "right_bends_line_m": r, "frames": n}, bends being frames
with smoothed steering beyond ±0.05.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from drivenet.data.dataset import clips
from drivenet.data.viewsynth import warp
from drivenet.roads.replay import load_frame, load_recorded_drive
from drivenet.training.checkpoint import SteeringModel

BEND = 0.05  # smoothed steering beyond which a frame counts as in a bend


def zero_crossing(offsets: np.ndarray, gap: np.ndarray) -> float:
    """The offset where `gap` (model minus recorded steering at each offset) crosses 0, nearest 0 m."""
    signs = np.flatnonzero(np.sign(gap[:-1]) != np.sign(gap[1:]))
    if len(signs) == 0:
        return float("nan")
    i = signs[np.argmin(np.abs(offsets[signs]))]
    return float(offsets[i] + (offsets[i + 1] - offsets[i]) * gap[i] / (gap[i] - gap[i + 1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("recording", type=Path)
    parser.add_argument("--offsets", type=float, nargs="+", default=[-1.0, -0.5, 0.0, 0.5, 1.0])
    parser.add_argument("--every", type=int, default=4)
    parser.add_argument("--stretch", type=int, default=60)
    args = parser.parse_args()
    model = SteeringModel.load(args.model)
    drive = load_recorded_drive(args.recording, model.config["data"], model.config["camera"])
    offsets = np.sort(np.asarray(args.offsets, np.float64))
    gaps = np.asarray(model.motion_gaps, np.int64)
    rows = np.arange(int(gaps.max(initial=0)), len(drive.images), args.every)
    earlier = np.arange(len(drive.images))[:, None] - gaps[None, :]
    frames = [load_frame(path) for path in drive.images]
    steering = []
    for offset in offsets:
        images = model.images_from_frames([warp(frame, drive.camera, offset, 0.0)[0] for frame in frames])
        steering.append(model.steer_inputs(clips(images, rows, earlier)))
    recorded = np.convolve(drive.steering, np.ones(9) / 9, "same")[rows]
    gap = np.array(steering) - recorded  # (offsets, frames)
    line = np.array([zero_crossing(offsets, gap[:, j]) for j in range(len(rows))])
    per = max(1, args.stretch // args.every)
    for start in range(0, len(rows), per):
        part = slice(start, start + per)
        print(
            f"frames {rows[start]:5d}-{rows[part][-1]:5d}: recorded steering {recorded[part].mean():+.3f}, "
            f"model's line {np.nanmean(line[part]):+.2f} m"
        )
    summary = {
        "mean_line_m": float(np.nanmean(line)),
        "left_bends_line_m": float(np.nanmean(line[recorded < -BEND])),
        "right_bends_line_m": float(np.nanmean(line[recorded > BEND])),
        "frames": int(np.isfinite(line).sum()),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
