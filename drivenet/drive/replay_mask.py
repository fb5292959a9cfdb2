"""Where a recording cannot judge a model, and how far off its line a car may fairly be.

Replay counts a takeover when the car is more than `max_offset` from the recorded path. Where the
recorded driver was not following the road, that path is no line to hold, so these stretches are
masked (no takeover counted, their seconds left out of autonomy, the car carried along the path):

- a stop: a logged speed below v_stop = min(STOP_SPEED, STOP_SHARE · median of the logged speeds above
  0) for at least STOP_SECONDS (waiting, parked, the recording's start): 0.5 m/s for a car, a tenth of
  its usual speed for a slow one (an RC car creeping at 0.4 m/s is driving). A speed given for every
  frame (`--speed`) says nothing about stops, so none is sought then;
- reversing: log rows of negative speed (left out of the path, which is rebuilt driving forwards);
- a pause: the log's clock jumps by more than PAUSE s (recording stopped and went on; the car may have
  been moved, so its position and heading jump). The rebuilt path itself turns at most κ_max·d per
  frame, so a jump in heading can only be seen in the log, never in the path.

Each is widened by MARGIN s on either side (the driver slows before and sets off after) and
overlapping stretches merge. Autonomy over a masked drive: max(0, 1 - takeovers · 6 s / (elapsed s -
masked s)) · 100. Where more than MOST_MASKED of the recording's seconds would be masked, too little is
left for that figure to mean anything, and replay refuses (`check_judged`) rather than report it.

A limit from the road instead of NVIDIA's 1 m: a car of width c on a line inside a lane of width w is
still in the lane at up to (w - c) / 2 m from the line's centre (`road_offset`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from drivenet.errors import DrivenetError

STOP_SPEED = 0.5  # m/s (1.1 mph): slower than this the recorded car is standing
STOP_SHARE = 0.1  # of the recording's median moving speed: a slow car's stop speed
STOP_FLOOR = 0.05  # m/s: whatever the median, slower than this is standing (a parked car's sensor noise)
MOST_MASKED = 0.5  # share of the recording's seconds: masking more leaves too little to judge
STOP_SECONDS = 0.5  # s: a stop lasts at least this long (a car passing through 0 while reversing does not)
MARGIN = 1.0  # s masked on either side of a stretch
CAR_WIDTH = 1.8  # m: a mid-size car (an assumption, not a measurement: the user sets --car-width)
KINDS = ("stop", "reversing", "pause")


@dataclass(frozen=True)
class Stretch:
    """Masked steps first..end-1 (step k: frame k to k+1): what they hold ("stop", "stop+pause"), when
    they start (s into the recording), how long they last (s) and how far the recorded car went (m)."""

    kind: str
    first: int
    end: int
    start: float
    seconds: float
    metres: float

    def to_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "start": round(self.start, 2), "seconds": round(self.seconds, 2),
                "metres": round(self.metres, 2)}  # fmt: skip


def runs(flag: np.ndarray) -> list[tuple[int, int]]:
    """The (first, end) of every run of True in `flag`."""
    edges = np.diff(np.concatenate([[0], flag.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True))


def stop_speed(speed: np.ndarray) -> float:
    """v_stop (m/s) of a recording's logged speeds (N,): max(STOP_FLOOR, min(STOP_SPEED, STOP_SHARE ·
    median of those above 0)); STOP_FLOOR when the car never moved."""
    moving = speed[speed > 0]
    share = STOP_SHARE * float(np.median(moving)) if len(moving) else 0.0
    return max(STOP_FLOOR, min(STOP_SPEED, share))


def find_stretches(
    speed: np.ndarray,
    interval: np.ndarray,
    reversing: np.ndarray,
    paused: np.ndarray,
    stop_below: float | None,
) -> list[Stretch]:
    """The masked stretches of a recorded drive: `speed` (N,) m/s per frame, `interval` (N - 1,) s per
    step, `reversing` and `paused` (N - 1,) flags of the steps across reversing rows or a pause; a stop
    is a speed below `stop_below` m/s (None: no stops sought, the speed was not logged)."""
    clock = np.concatenate([[0.0], np.cumsum(interval)])  # s: when each frame was taken
    distance = speed[:-1] * interval
    standing = speed[:-1] < stop_below if stop_below is not None else np.zeros(len(interval), bool)
    flags = {
        "stop": [(a, b) for a, b in runs(standing) if interval[a:b].sum() >= STOP_SECONDS],
        "reversing": runs(reversing),
        "pause": runs(paused),
    }
    spans: list[tuple[int, int, set[str]]] = []
    for kind, found in flags.items():
        for a, b in found:
            lo = int(np.searchsorted(clock[1:], clock[a] - MARGIN, side="right"))  # steps ending after
            hi = int(np.searchsorted(clock[:-1], clock[b] + MARGIN, side="left"))  # steps starting before
            spans.append((lo, max(hi, lo + 1), {kind}))
    merged: list[tuple[int, int, set[str]]] = []
    for lo, hi, kinds in sorted(spans, key=lambda span: span[0]):
        if merged and lo <= merged[-1][1]:
            last = merged[-1]
            merged[-1] = (last[0], max(last[1], hi), last[2] | kinds)
        else:
            merged.append((lo, hi, kinds))
    return [
        Stretch("+".join(k for k in KINDS if k in kinds), lo, hi, float(clock[lo]),
                float(interval[lo:hi].sum()), float(distance[lo:hi].sum()))
        for lo, hi, kinds in merged
    ]  # fmt: skip


def check_judged(stretches: list[Stretch], seconds: float, recording: str) -> None:
    """DrivenetError when the stretches mask more than MOST_MASKED of a recording's `seconds`."""
    masked = sum(stretch.seconds for stretch in stretches)
    if masked > MOST_MASKED * seconds:
        kinds = ", ".join(sorted({stretch.kind for stretch in stretches}))
        raise DrivenetError(
            f"{recording}: {masked:.1f} s of its {seconds:.1f} s would be masked ({kinds}), too little "
            "left to judge; replay a recording that mostly drives, or pass --no-mask (mask = false in a "
            "sweep) to judge every step"
        )


def road_offset(road_width: float, car_width: float = CAR_WIDTH) -> float:
    """The largest offset (m) from the line at which a car `car_width` wide stays inside a lane
    `road_width` wide: (w - c) / 2; DrivenetError for widths that leave no room."""
    for name, value in (("road width", road_width), ("car width", car_width)):
        if not (math.isfinite(value) and 0 < value <= 50):
            raise DrivenetError(f"{name} {value:g}: expected metres in (0, 50]")
    if car_width >= road_width:
        raise DrivenetError(
            f"car width {car_width:g} m is not narrower than road width {road_width:g} m: the car has "
            "no room; give the width of the lane the car drives in"
        )
    return (road_width - car_width) / 2


def max_offset_of(text: str, road_width: float | None, car_width: float | None = None) -> float:
    """`--max-offset`: metres (above 0), or `road` for `road_offset` of `--road-width` (required then)
    and `--car-width` (CAR_WIDTH if None)."""
    if text.strip().lower() == "road":
        if road_width is None:
            raise DrivenetError(
                "--max-offset road needs --road-width M: the width of the lane the car drives in "
                "(measured in frames: about 6.3 for the Udacity lake road, 3.6 for a jungle lane; README)"
            )
        return road_offset(road_width, CAR_WIDTH if car_width is None else car_width)
    try:
        value = float(text)
    except ValueError:
        raise DrivenetError(f"--max-offset {text}: give metres (e.g. 1.0) or road") from None
    if not (math.isfinite(value) and value > 0):
        raise DrivenetError(f"--max-offset {text}: must be a finite number of metres above 0, or road")
    for name, given in (("--road-width", road_width), ("--car-width", car_width)):
        if given is not None:
            raise DrivenetError(f"{name} is used by --max-offset road only, not with --max-offset {text}")
    return value
