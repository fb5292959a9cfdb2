"""Calibrate the Udacity simulator's camera model on udacity-sample's side cameras.

Usage: python scripts/calibrate_camera.py [DATA] [--frames 80] [--scale 2]
(DATA defaults to $DRIVENET_DATASETS/udacity-sample; the last line printed is JSON.)

A centre frame warped sideways by the side cameras' offset (and turned by their outward yaw, if any)
must look like the left and right frames in the road region (raw rows 45%-78%: below the horizon,
above the hood). Pitch and offset are searched by coordinate descent on grids; the yaw three ways:
held at 0; free in the road region; or fitted on the scenery region (rows 10%-38%, above the
horizon), where the warp is a pure rotation, so only a yaw can move it (the parallax of scenery that
is not infinitely far makes this an upper bound of the outward yaw).

On flat ground a sideways move s seen from height h shifts the image by (s/h)·(rows below the
horizon), so the side cameras fix the pitch, the yaw and the ratio s/h, not s and h apart. The height
is the simulator's own: its car prefab (udacity/self-driving-car-sim, Car.prefab, "Front Facing
Camera") puts the camera 0.971 m above the car's origin, which sits at about road level, and the
offset follows from the ratio. (Forward motion between frames, d = speed x Δt, would fix h from the
data in principle, but on the simulator's straight roads the blurred asphalt gives almost no signal:
the error barely changes with h.)

Fit and report use disjoint rows (alternate samples). The error is the mean absolute grey-level
difference (0-255) over a region of frames at 1/scale resolution, filled pixels included.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

from drivenet.data.images import read_rgb
from drivenet.geometry.camera import PRESETS, CameraModel
from drivenet.geometry.viewsynth import recovery_steering, warp

ROAD = (0.45, 0.78)  # raw rows: below the horizon, above the hood
SCENERY = (0.10, 0.38)  # raw rows: above the horizon
HEIGHT = 0.971  # metres: the simulator's prefab (the side cameras fix only offset / height)
# the facts alone: a little below 1 m up, a few degrees down, side cameras 0.8 m out, not turned
GUESS = replace(
    PRESETS["udacity"], mount_height=0.9, pitch_degrees=3.0, side_offset=0.8, side_yaw_degrees=0.0
)
SIDE_ROWS = 1500  # udacity-sample has side images for its first 1500 rows
PITCHES = np.arange(-2.0, 12.01, 0.25)
OFFSETS = np.arange(0.2, 1.601, 0.025)
YAWS = np.arange(-3.0, 3.01, 0.25)
FIELDS = ("mount_height", "pitch_degrees", "side_offset", "side_yaw_degrees")
SPEED = 13.0  # m/s (about 30 mph, udacity-sample's usual speed) for the side cameras' geometric label


def read_log(folder: Path) -> list[dict[str, str]]:
    with open(folder / "driving_log.csv", newline="", encoding="utf-8") as fh:
        return [{k.strip(): v.strip() for k, v in row.items()} for row in csv.DictReader(fh)]


def timestamp(path: str) -> float:
    """Seconds of the day from a simulator file name `..._YYYY_MM_DD_HH_MM_SS_mmm.jpg`."""
    h, m, s, ms = (int(x) for x in re.findall(r"_(\d+)", Path(path).stem)[-4:])
    return h * 3600 + m * 60 + s + ms / 1000


def load(folder: Path, names: list[str], scale: int) -> np.ndarray:
    """Grey frames uint8 (N, H/scale, W/scale, 1)."""
    out = []
    for name in names:
        grey = Image.fromarray(read_rgb(folder / name)).convert("L")
        size = (grey.width // scale, grey.height // scale)
        out.append(np.asarray(grey.resize(size, Image.Resampling.BOX)))
    return np.stack(out)[..., None]


def region_error(a: np.ndarray, b: np.ndarray, region: tuple[float, float]) -> float:
    h = a.shape[1]
    rows = slice(round(region[0] * h), round(region[1] * h))
    return float(np.mean(np.abs(a[:, rows].astype(np.float32) - b[:, rows])))


def side_error(
    camera: CameraModel, sides: dict[str, np.ndarray], region: tuple[float, float] = ROAD
) -> float:
    """Mean of the left and right errors of the centre frames moved to the side cameras."""
    s, yaw = camera.side_offset, camera.side_yaw_degrees
    left, _ = warp(sides["center"], camera, -s, -yaw)
    right, _ = warp(sides["center"], camera, s, yaw)
    return (region_error(left, sides["left"], region) + region_error(right, sides["right"], region)) / 2


def descend(
    camera: CameraModel, sides: dict[str, np.ndarray], searches: list[tuple[str, np.ndarray]], region: tuple
) -> CameraModel:
    """Three rounds of coordinate descent: each field in turn set to its best grid value."""
    for _ in range(3):
        for field, grid in searches:
            errors = [side_error(replace(camera, **{field: float(v)}), sides, region) for v in grid]
            camera = replace(camera, **{field: float(grid[int(np.argmin(errors))])})
    return camera


def fit(sides: dict[str, np.ndarray], yaw: str) -> CameraModel:
    """Pitch and offset on the road region, the yaw held at 0 ("zero"), free there too ("road"), or
    fitted on the scenery region in turn with them ("scenery")."""
    geometry = [("pitch_degrees", PITCHES), ("side_offset", OFFSETS)]
    start = replace(GUESS, mount_height=HEIGHT)
    if yaw == "road":
        return descend(start, sides, [*geometry, ("side_yaw_degrees", YAWS)], ROAD)
    camera = descend(start, sides, geometry, ROAD)
    if yaw == "scenery":
        for _ in range(2):
            camera = descend(camera, sides, [("side_yaw_degrees", YAWS)], SCENERY)
            camera = descend(camera, sides, geometry, ROAD)
    return camera


def side_correction(camera: CameraModel) -> float:
    """The steering a left-camera frame needs added (a right one subtracted) by the camera's geometry:
    the recovery from a car standing side_offset left of the path, turned side_yaw left, in 2 s at SPEED."""
    return float(recovery_steering(-camera.side_offset, -camera.side_yaw_degrees, SPEED, 2.0, camera))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(os.environ.get("DRIVENET_DATASETS", "../shared/datasets")) / "udacity-sample"
    parser.add_argument("data", nargs="?", type=Path, default=default)
    parser.add_argument("--frames", type=int, default=80, help="frames in the fit set and in the report set")
    parser.add_argument("--scale", type=int, default=2, help="compare frames at 1/scale resolution")
    args = parser.parse_args()
    if not (args.data / "driving_log.csv").is_file():
        sys.exit(
            f"error: {args.data}: no driving_log.csv; pass udacity-sample's folder or set DRIVENET_DATASETS"
        )
    log = read_log(args.data)
    with_sides = [i for i in range(min(SIDE_ROWS, len(log))) if (args.data / log[i]["left"]).is_file()]
    if len(with_sides) < 2 * args.frames:
        sys.exit(f"error: {args.data}: only {len(with_sides)} rows with side images; pass a smaller --frames")
    rows = np.array(with_sides)[np.linspace(0, len(with_sides) - 1, 2 * args.frames).astype(int)]
    fit_set, report_set = (
        {cam: load(args.data, [log[i][cam] for i in part], args.scale) for cam in ("center", "left", "right")}
        for part in (rows[0::2], rows[1::2])
    )
    cameras = {"guess": GUESS, **{f"yaw_{how}": fit(fit_set, how) for how in ("scenery", "road", "zero")}}
    no_warp = {
        name: np.mean(
            [region_error(report_set["center"], report_set[side], region) for side in ("left", "right")]
        )
        for name, region in (("road", ROAD), ("scenery", SCENERY))
    }
    report = {
        "error_road": {"no_warp": round(float(no_warp["road"]), 2)}
        | {name: round(side_error(cam, report_set, ROAD), 2) for name, cam in cameras.items()},
        "error_scenery": {"no_warp": round(float(no_warp["scenery"]), 2)}
        | {name: round(side_error(cam, report_set, SCENERY), 2) for name, cam in cameras.items()},
        "cameras": {
            name: {
                **{k: round(getattr(cam, k), 3) for k in FIELDS},
                "horizon": round(cam.horizon, 3),
                "offset_per_height": round(cam.side_offset / cam.mount_height, 3),
                "side_correction": round(side_correction(cam), 3),
            }
            for name, cam in cameras.items()
        },
        "frames": {"fit": len(rows[0::2]), "report": len(rows[1::2]), "scale": args.scale},
        "median_frame_interval_s": round(float(np.median(np.diff([timestamp(r["center"]) for r in log]))), 3),
    }
    print(f"road region error (grey levels, report frames): {report['error_road']}")
    print(f"scenery region error: {report['error_scenery']}")
    for name, values in report["cameras"].items():
        print(f"{name}: {values}")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
