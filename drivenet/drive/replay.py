"""Closed-loop replay on a real recording: NVIDIA's PilotNet simulator, built from recorded video.

The recorded path is rebuilt from the log with the kinematic bicycle of the recording's car (its
camera model: wheelbase L, front-wheel angle δ_max at steering 1): from frame k the car drove an arc
of curvature κ_k = tan(u_k·δ_max) / L for d_k = v_k·Δt_k metres, u_k its steering, v_k its speed and
Δt_k the time to the next frame. A simulated car starts on that path. Before each step it is shown the
recorded frame nearest to it along the path, warped (view synthesis) to its lateral offset and heading
error; then it drives Δt_k at v_k with the model's steering. More than `max_offset` metres off the path,
or turned more than `max_heading` degrees away from it, is a takeover: counted, and the car is put
back on the path. Autonomy = max(0, 1 - takeovers · 6 s / elapsed s) · 100, as for `drive`. A step
longer than SUBSTEP metres is driven in equal parts of at most SUBSTEP, each located on the path and
checked for a takeover, so that a long step (a low frame rate) cannot lose the car's place on it.
Stretches where the recorded driver stood, reversed or paused the recording are masked (replay_mask.py):
the car is carried along the path there, no takeover is counted, and their seconds leave the elapsed time.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import ImageDraw

from drivenet.config import CameraConfig, DataConfig
from drivenet.data.images import ImageRefused, read_rgb
from drivenet.data.marked import marker_of
from drivenet.data.odometry import driven_steps, read_odometry
from drivenet.data.readers import read_recordings
from drivenet.data.readers.detect import find_recordings
from drivenet.drive.rendered import DriveReport, autonomy
from drivenet.drive.replay_mask import Stretch, check_judged, find_stretches, stop_speed
from drivenet.errors import DrivenetError
from drivenet.geometry.camera import MARKER, CameraModel, camera_for_frames, preset_name
from drivenet.geometry.car import KAPPA_MAX, advance
from drivenet.geometry.track import STEP, Pose, Track
from drivenet.geometry.viewsynth import warp

Steer = Callable[[np.ndarray], float]  # view uint8 (H, W, 3) RGB -> steering in [-1, 1]
SUBSTEP = 5.0  # metres: the longest part of a step driven at once (Track.locate searches ±20 m)
MAX_SPEED = 100.0  # m/s (360 km/h): no car these recordings come from goes faster; above it, a corrupt row
MAX_FRAME_RATE = 1000.0  # Hz: no camera of these recordings films faster
MIN_FRAME_RATE = 0.1  # Hz: a time-lapse; with frames further apart the path between them is guesswork


@dataclass(frozen=True)
class RecordedDrive:
    """A recording's centre frames in time order, with the speed, timing and car that rebuild its path."""

    images: list[str]
    steering: np.ndarray  # (N,) in [-1, 1]
    speed: np.ndarray  # (N,) m/s
    interval: np.ndarray  # (N - 1,) seconds from each frame to the next
    camera: CameraModel
    paused: np.ndarray  # (N - 1,) steps across a pause (longer than PAUSE: the typical interval instead)
    reversing: np.ndarray  # (N - 1,) steps across reversing rows
    logged_speed: bool  # False when one speed was given for every frame (--speed): no stop can be seen
    recording: str  # the recording's folder or log, as given, for messages
    camera_name: str = ""  # where `camera` came from, for people: its preset, marker or overrides
    dropped: dict[str, int] = field(default_factory=dict)  # rows left out: why -> how many

    @property
    def pauses(self) -> int:
        """How many steps crossed a pause in the recording."""
        return int(self.paused.sum())

    @property
    def stretches(self) -> list[Stretch]:
        """Where the recorded driver stood (only with a logged speed), reversed or paused: the stretches
        replay masks."""
        stop_below = stop_speed(self.speed) if self.logged_speed else None
        return find_stretches(self.speed, self.interval, self.reversing, self.paused, stop_below)

    @property
    def distance(self) -> np.ndarray:
        """Metres driven from each frame to the next: d_k = v_k·Δt_k."""
        return self.speed[:-1] * self.interval

    @property
    def curvature(self) -> np.ndarray:
        """Path curvature (1/m, positive = bending right) at each frame: κ = tan(u·δ_max) / L."""
        return curvature(self.steering, self.camera)


def curvature(steering: np.ndarray | float, camera: CameraModel) -> np.ndarray:
    """The curvature that steering u gives the camera model's car: κ = tan(u·δ_max) / L (1/m)."""
    return np.tan(np.clip(steering, -1.0, 1.0) * camera.max_wheel_angle) / camera.wheelbase


def arc(pose: Pose, kappa: float, distance: float) -> Pose:
    """Drive `distance` m along an arc of curvature `kappa` with car.py's `advance`.

    `advance` drives curvatures up to its κ_max; the arc of curvature κ/c and length c·d, shrunk by c
    about its start, is the arc of curvature κ and length d, so c = max(1, |κ| / κ_max) covers any κ.
    """
    scale = max(1.0, abs(kappa) / KAPPA_MAX)
    end = advance(Pose(0.0, 0.0, pose.heading), kappa / (scale * KAPPA_MAX), scale * distance)
    return Pose(pose.x + end.x / scale, pose.y + end.y / scale, end.heading)


@dataclass(frozen=True)
class RecordedPath:
    """The rebuilt path as a Track sampled every STEP metres, and each frame's arc length on it."""

    track: Track
    at: np.ndarray  # (N,) metres


def rebuild_path(kappa: np.ndarray, distance: np.ndarray) -> RecordedPath:
    """Integrate the arcs (κ_k, d_k) from the origin heading north; frame k stands at s_k = Σ_{j<k} d_j."""
    at = np.concatenate([[0.0], np.cumsum(distance)])
    if at[-1] < 2 * STEP:
        raise DrivenetError(
            f"the recording drives only {at[-1]:.2f} m in all; replay needs a car that moves "
            "(check its speed column or --speed)"
        )
    poses = [Pose(0.0, 0.0, 0.0)]
    for k, d in zip(kappa[:-1], distance, strict=True):
        poses.append(arc(poses[-1], float(k), float(d)))
    s = np.append(np.arange(0.0, at[-1], STEP), at[-1])
    segment = np.clip(np.searchsorted(at, s, side="right") - 1, 0, len(distance) - 1)
    samples = [arc(poses[k], float(kappa[k]), float(x - at[k])) for k, x in zip(segment, s, strict=True)]
    track = Track(
        s=s,
        x=np.array([p.x for p in samples]),
        y=np.array([p.y for p in samples]),
        heading=np.array([p.heading for p in samples]),
        curvature=kappa[segment].astype(np.float64),
        width=np.full(len(s), np.nan),  # unknown: the road is seen only in the frames
    )
    return RecordedPath(track, at)


def frame_intervals(time: np.ndarray, frame_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Seconds between consecutive frames from their times (1 / frame_rate where unknown); a pause
    (more than PAUSE s) or a step back in time counts as the typical (median) interval. Also returns
    which steps were such pauses."""
    gaps = np.diff(time)
    known, typical = driven_steps(gaps, frame_rate)
    unknown = ~np.isfinite(gaps)
    gaps = np.where(unknown, 1.0 / frame_rate, gaps)
    paused = ~unknown & ~known
    return np.where(known | unknown, gaps, typical), paused


@lru_cache(maxsize=8)
def load_frame(path: str) -> np.ndarray:
    """A recorded frame uint8 (H, W, 3) RGB, kept for the next few steps that show it again."""
    try:
        return read_rgb(path)
    except (OSError, ImageRefused) as err:
        raise DrivenetError(f"{path}: cannot read this image ({err}); replay needs every frame") from None


def load_recorded_drive(
    recording: Path,
    data: DataConfig,
    camera_cfg: CameraConfig,
    speed: float | None = None,
    frame_rate: float | None = None,
) -> RecordedDrive:
    """Read one recording's centre frames, speeds and times (`speed` m/s and `frame_rate` Hz, when
    given, replace the log's); DrivenetError naming what is missing when its path cannot be rebuilt.
    Rows no car could have driven are left out (`usable_rows`), so the path is never longer than
    MAX_SPEED over the recording's time."""
    if speed is not None and not 0 < speed <= MAX_SPEED:
        raise DrivenetError(f"--speed {speed:g}: expected m/s in (0, {MAX_SPEED:g}]")
    if frame_rate is not None and not MIN_FRAME_RATE <= frame_rate <= MAX_FRAME_RATE:
        raise DrivenetError(
            f"--fps {frame_rate:g}: expected frames per second in [{MIN_FRAME_RATE:g}, {MAX_FRAME_RATE:g}]"
        )
    found = find_recordings(recording, data)
    if len(found) != 1:
        raise DrivenetError(
            f"{recording} holds {len(found)} recordings; replay drives one: pass one recording's folder"
        )
    fmt, target = found[0]
    read = read_recordings([recording], replace(data, cameras="center"))
    frames = read.frames.sort_values("frame", kind="stable")
    if len(frames) < 2:
        skipped = (
            f" ({len(read.problems)} rows skipped, the first: {read.problems[0]})" if read.problems else ""
        )
        raise DrivenetError(f"{recording}: {len(frames)} usable frames{skipped}; replay needs at least 2")
    images = [str(p) for p in frames["path"]]
    first = load_frame(images[0])
    size = (first.shape[1], first.shape[0])
    marker = marker_of(target)
    camera = camera_for_frames(fmt, camera_cfg, size, marker[1] if marker else None)
    name = camera_label(fmt, camera_cfg, size, marker[0] if marker else None)
    odometry = read_odometry(fmt, target, images, data)
    if speed is None:
        if camera.speed_scale <= 0 or np.isnan(odometry.speed).all():
            raise DrivenetError(
                f"{recording}: a {fmt} recording logs no speed; pass --speed M/S (the car's speed)"
            )
        missing = np.flatnonzero(np.isnan(odometry.speed))
        if len(missing):
            raise DrivenetError(
                f"{images[missing[0]]}: no speed logged for this frame ({len(missing)} frames lack one); "
                "fix the log or pass --speed M/S"
            )
        speeds = odometry.speed * camera.speed_scale
    else:
        speeds = np.full(len(images), float(speed))
    times = odometry.time if frame_rate is None else np.full(len(images), np.nan)
    keep, dropped = usable_rows(speeds, times, images)
    if keep.sum() < 2:
        reasons = ", ".join(f"{n} with {why}" for why, n in dropped.items())
        raise DrivenetError(
            f"{recording}: {int(keep.sum())} usable frames ({reasons}); replay needs at least 2"
        )
    images = [image for image, kept in zip(images, keep, strict=True) if kept]
    interval, paused = frame_intervals(times[keep], frame_rate or camera.frame_rate)
    steering = frames["steering"].to_numpy(np.float64)[keep]
    backwards = np.cumsum(speeds < 0)[keep]  # reversing rows up to each kept row
    reversing = np.diff(backwards) > 0
    speeds = speeds[keep].astype(np.float64)
    return RecordedDrive(images, steering, speeds, interval, camera, paused, reversing,
                         logged_speed=speed is None, recording=str(recording), camera_name=name,
                         dropped=dropped)  # fmt: skip


def usable_rows(speed: np.ndarray, time: np.ndarray, images: list[str]) -> tuple[np.ndarray, dict[str, int]]:
    """Which rows a path can be rebuilt from (a mask), and how many were left out for each reason: a
    negative speed (reversing: the path is rebuilt driving forwards), a speed above MAX_SPEED, the
    time or image of the row kept before it (a duplicated row, which would count as a step), or a time
    earlier than it (time going back)."""
    keep = (speed >= 0) & (speed <= MAX_SPEED)
    dropped = {"a negative speed (reversing)": int(np.sum(speed < 0))}
    dropped[f"a speed above {MAX_SPEED:g} m/s"] = int(np.sum(speed > MAX_SPEED))
    duplicate = back = 0
    last_time, last_image = -math.inf, ""
    for i in np.flatnonzero(keep):
        if time[i] == last_time or images[i] == last_image:
            keep[i], duplicate = False, duplicate + 1
        elif time[i] < last_time:
            keep[i], back = False, back + 1
        else:
            last_time = time[i] if math.isfinite(time[i]) else last_time
            last_image = images[i]
    dropped["a duplicate row (the time or image of the row before)"] = duplicate
    dropped["a time earlier than the row before"] = back
    return keep, {why: n for why, n in dropped.items() if n}


def camera_label(fmt: str, camera_cfg: CameraConfig, frame_size: tuple[int, int], marked: str | None) -> str:
    """Which camera model a recording got: `udacity`, `roads (camera.json)`, `... with [camera] overrides`."""
    if marked is not None and camera_cfg.preset == "auto":
        label = f"{marked} ({MARKER})"
    else:
        label = preset_name(fmt, camera_cfg, frame_size)
    changed = bool(camera_cfg.overrides()) or bool(camera_cfg.horizon)
    return label + (" with [camera] overrides" if changed else "")


@dataclass(frozen=True)
class ReplayReport(DriveReport):
    """A drive's report (offsets from the recorded path), with the recording's frames and pauses."""

    frames: int = 0
    pauses: int = 0
    dropped: dict[str, int] = field(default_factory=dict)  # log rows left out: why -> how many
    camera: str = ""  # the camera model the views were warped with
    takeover_seconds: tuple[float, ...] = ()  # when each takeover came, seconds into the recording
    masked: tuple[dict[str, object], ...] = ()  # the masked stretches: kind, start (s), seconds, metres
    masked_seconds: float = 0.0  # of `seconds`, those driven masked: not judged

    @property
    def autonomy(self) -> float:
        """NVIDIA's autonomy over the judged seconds: max(0, 1 - takeovers · 6 / (elapsed - masked))."""
        return autonomy(self.takeovers, self.seconds - self.masked_seconds)

    def to_dict(self) -> dict[str, object]:
        metres = sum(float(m["metres"]) for m in self.masked)  # type: ignore[arg-type]
        return {**super().to_dict(), "masked_metres": round(metres, 2)}


Watch = Callable[["Replay", np.ndarray, float, float], None]  # (replay, view, steering, recorded steering)


class Replay:
    """A simulated car on a recording's rebuilt path; `step` moves it and calls for takeovers."""

    def __init__(
        self, drive: RecordedDrive, max_offset: float = 1.0, max_heading: float = 15.0, mask: bool = True
    ) -> None:
        """`mask`: carry the car through the stretches where the recorded driver stood, reversed or
        paused (`RecordedDrive.stretches`) without judging it; False judges every step, as NVIDIA did.
        DrivenetError when masking would leave too little to judge (`check_judged`)."""
        self.drive, self.max_offset, self.max_heading = drive, max_offset, max_heading
        self.stretches = drive.stretches if mask else []
        check_judged(self.stretches, float(drive.interval.sum()), drive.recording)
        self.masked = np.zeros(len(drive.interval), bool)  # the masked steps
        for stretch in self.stretches:
            self.masked[stretch.first : stretch.end] = True
        self.masked_clock = 0.0  # seconds driven masked
        self.path = rebuild_path(drive.curvature, drive.distance)
        self.track = self.path.track
        self.pose, self.s = self.track.place(0.0), 0.0
        self.offset, self.heading_error, self.takeovers = 0.0, 0.0, 0
        self.shown = 0  # the recorded frame shown last
        self.trace: dict[str, list[float]] = {"time": [], "offset": [], "steering": [], "recorded": []}
        self.clock = 0.0  # seconds of the recording driven
        self.taken: list[float] = []  # the times of the takeovers

    def nearest(self, step: int) -> int:
        """The recorded frame nearest the car along the path; among frames at the same place (the car
        stood still), the one closest to `step` in time."""
        at = self.path.at
        i = int(np.searchsorted(at, self.s))
        i = min(max(i, 1), len(at) - 1)
        place = at[i - 1] if self.s - at[i - 1] <= at[i] - self.s else at[i]
        lo, hi = np.searchsorted(at, place, side="left"), np.searchsorted(at, place, side="right") - 1
        return int(np.clip(step, lo, hi))

    def view(self, step: int) -> np.ndarray:
        """What the car's camera sees: the nearest recorded frame, warped to its offset and heading error."""
        self.shown = self.nearest(step)
        frame = load_frame(self.drive.images[self.shown])
        warped, _ = warp(frame, self.drive.camera, self.offset, math.degrees(self.heading_error))
        return warped

    def step(self, step: int, steering: float) -> float:
        """Drive recorded interval `step` with `steering`, in parts of at most SUBSTEP metres (a takeover
        puts the car back on the path and it drives on, its time noted at the end of its part); returns
        the largest offset reached in the step."""
        kappa = float(curvature(steering, self.drive.camera))
        distance, interval = float(self.drive.distance[step]), float(self.drive.interval[step])
        if self.masked[step]:  # carried along the path to where the recorded car was next
            self.s = float(min(self.path.at[step + 1], self.track.length))
            self.pose, self.offset, self.heading_error = self.track.place(self.s), 0.0, 0.0
            self.clock += interval
            self.masked_clock += interval
            return 0.0
        parts = max(1, math.ceil(distance / SUBSTEP))
        worst = 0.0
        for part in range(parts):
            self.pose = arc(self.pose, kappa, distance / parts)
            self.s, offset, error = self.track.locate(self.pose, self.s)
            self.offset, self.heading_error = offset, error
            worst = offset if abs(offset) > abs(worst) else worst
            if abs(offset) > self.max_offset or abs(math.degrees(error)) > self.max_heading:
                self.takeovers += 1
                # (part + 1) / parts is exactly 1 for the last part: its time is the step's own, as traced
                self.taken.append(self.clock + interval * ((part + 1) / parts))
                self.pose, self.heading_error, self.offset = self.track.place(self.s), 0.0, 0.0
        self.clock += interval
        return worst

    def run(self, steer: Steer, watch: Watch | None = None) -> ReplayReport:
        """Let `steer` drive the whole recording (until its time or its path ends) and report how it went."""
        offsets: list[float] = []
        end = self.path.at[-1] - 1e-6
        for step in range(len(self.drive.interval)):
            if self.s >= end:
                break
            view = self.view(step)
            steering = float(np.clip(steer(view), -1.0, 1.0))
            recorded = float(self.drive.steering[self.shown])
            if watch is not None:
                watch(self, view, steering, recorded)
            offset = self.step(step, steering)
            offsets.append(abs(offset))
            for key, value in zip(self.trace, (self.clock, offset, steering, recorded), strict=True):
                self.trace[key].append(value)
        return ReplayReport(
            km=self.s / 1000.0,
            seconds=self.clock,
            steps=len(offsets),
            takeovers=self.takeovers,
            mean_offset=float(np.mean(offsets)) if offsets else 0.0,
            worst_offset=float(np.max(offsets)) if offsets else 0.0,
            frames=len(self.drive.images),
            pauses=self.drive.pauses,
            dropped=dict(self.drive.dropped),
            camera=self.drive.camera_name,
            takeover_seconds=tuple(round(t, 2) for t in self.taken),
            masked=tuple(s.to_dict() for s in self.stretches),
            masked_seconds=round(self.masked_clock, 3),
        )


class ReplayFilm:
    """A `watch` for `Replay.run` keeping every `every`-th warped view, with the predicted and recorded
    steering drawn on it, a map of the rebuilt path with the car, and the offset and takeovers so far."""

    def __init__(self, replay: Replay, every: int = 2, max_frames: int = 150) -> None:
        from drivenet.drive.film import DriveFilm  # loads matplotlib: only for a GIF

        self.film = DriveFilm(replay.track, every, max_frames)
        self.steps = 0

    def __call__(self, replay: Replay, view: np.ndarray, steering: float, recorded: float) -> None:
        from drivenet.viz import overlay

        film, step = self.film, self.steps
        self.steps += 1
        if step % film.every or len(film.frames) >= film.max_frames:
            return
        film.dt = float(replay.drive.interval[min(step, len(replay.drive.interval) - 1)])
        image = overlay(view, steering, recorded)
        inset = film.map.copy()
        cx, cy = film.to_map(replay.pose.x, replay.pose.y)
        ImageDraw.Draw(inset).ellipse([cx - 3, cy - 3, cx + 3, cy + 3], fill=(255, 60, 60))
        image.paste(inset, (image.width - inset.width - 4, 4))
        status = f"{replay.s / 1000:.2f} km | offset {replay.offset:+.2f} m | takeovers {replay.takeovers}"
        draw = ImageDraw.Draw(image)
        draw.text((6, image.height - 16), status, fill=(255, 255, 255), stroke_width=2, stroke_fill=(0, 0, 0))
        film.frames.append(image)

    def save(self, path: str | Path) -> Path:
        """Write the GIF atomically, playing at the recording's speed."""
        return self.film.save(path)


def plot_replay(replay: Replay, out: str | Path, title: str = "") -> Path:
    """The offset from the recorded path over time (takeovers marked, masked stretches shaded), above
    the predicted and recorded steering."""
    from matplotlib.figure import Figure

    from drivenet.io import save_figure

    trace = {key: np.asarray(values) for key, values in replay.trace.items()}
    fig = Figure(figsize=(13, 6), layout="constrained")
    top, low = fig.subplots(2, 1, sharex=True)
    top.plot(trace["time"], trace["offset"], color="C0", lw=0.9, label="offset (positive = right)")
    for limit in (-replay.max_offset, replay.max_offset):
        top.axhline(limit, color="C3", lw=0.6, ls="--")
    taken = np.unique(np.searchsorted(trace["time"], replay.taken))  # the steps that held a takeover
    top.plot(
        trace["time"][taken], trace["offset"][taken], "x", color="C3", label="takeover (offset or heading)"
    )
    for i, stretch in enumerate(replay.stretches):  # masked: not judged
        for ax in (top, low):
            ax.axvspan(stretch.start, stretch.start + stretch.seconds, color="0.85", lw=0,
                       label="masked (stop, reversing, pause)" if i == 0 and ax is top else None)  # fmt: skip
    top.set_ylabel("offset from the path (m)")
    top.set_title(title)
    top.legend(loc="upper right")
    low.plot(trace["time"], trace["recorded"], color="0.5", lw=0.8, label="recorded")
    low.plot(trace["time"], trace["steering"], color="C3", lw=0.9, label="model")
    low.set_xlabel("time (s)")
    low.set_ylabel("steering (negative = left)")
    low.legend(loc="upper right")
    return save_figure(fig, out)
