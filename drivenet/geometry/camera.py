"""The geometry of a recording source: its camera (pinhole, flat road below it) and its car.

Pixel (u, v) of a W x H frame looks along the camera ray (a, b, 1) with a = (u + ½ - W/2)/f and
b = (v + ½ - H/2)/f, f = (H/2) / tan(fov/2) the focal length in pixels (`fov` vertical). Pitched down by
α, the camera sees the horizon at row H/2 - f·tan α, i.e. a share `horizon` = ½ - f·tan α / H of the
frame lies above it. The car steers with the front-wheel angle δ = steering · `wheel_degrees`.

`camera_for(fmt, camera_cfg)` gives a format's defaults (`PRESETS`), overridden by the `[camera]`
section, where 0 means "the preset's value". A recording whose folder holds `camera.json` (`MARKER`,
written by `drivenet synth`) names its own camera, which wins over the format's.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Protocol

from drivenet.config import CameraConfig
from drivenet.errors import DrivenetError
from drivenet.io import write_json

MPH = 0.44704  # metres per second in one mile per hour
SYNTH_FRAME_RATE = 22.4 * MPH / 3.0  # `drivenet synth` logs 22.4 mph and renders a frame every 3 m


@dataclass(frozen=True)
class CameraModel:
    """A recording source: frame size (pixels), vertical field of view, mounting height above the road
    (m), pitch (degrees, down positive), side cameras' lateral distance (m) and outward yaw (degrees),
    the wheel angle at steering 1.0 (degrees), wheelbase (m), the log's speed unit (m/s per unit, 0 when
    the format logs no speed) and the frame rate (Hz)."""

    width: int
    height: int
    fov_degrees: float
    mount_height: float
    pitch_degrees: float
    side_offset: float = 0.8
    side_yaw_degrees: float = 0.0
    wheel_degrees: float = 25.0
    wheelbase: float = 2.5
    speed_scale: float = MPH
    frame_rate: float = 15.0

    def __post_init__(self) -> None:
        checks = {
            "width": self.width >= 2,
            "height": self.height >= 2,
            "fov_degrees": 0 < self.fov_degrees < 170,
            "mount_height": self.mount_height > 0,
            "pitch_degrees": abs(self.pitch_degrees) < 80,
            "wheel_degrees": 0 < self.wheel_degrees < 90,
            "wheelbase": self.wheelbase > 0,
            "frame_rate": self.frame_rate > 0,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            values = ", ".join(f"camera.{name} = {getattr(self, name)}" for name in bad)
            raise DrivenetError(f"{values}: out of range; check the [camera] section")

    @property
    def focal(self) -> float:
        """Focal length in pixels: f = (H/2) / tan(fov/2)."""
        return self.height / 2 / math.tan(math.radians(self.fov_degrees) / 2)

    @property
    def pitch(self) -> float:
        """Downward tilt α in radians."""
        return math.radians(self.pitch_degrees)

    @property
    def horizon(self) -> float:
        """Share of the frame height above the horizon: ½ - f·tan α / H."""
        return 0.5 - self.focal * math.tan(self.pitch) / self.height

    @property
    def horizontal_fov_degrees(self) -> float:
        """Horizontal field of view: 2·atan((W/2) / f)."""
        return math.degrees(2 * math.atan(self.width / 2 / self.focal))

    @property
    def max_wheel_angle(self) -> float:
        """δ_max in radians: the front-wheel angle at steering ±1."""
        return math.radians(self.wheel_degrees)

    def with_horizon(self, horizon: float) -> CameraModel:
        """The same camera pitched so that a share `horizon` lies above it: tan α = (½ - horizon)·H/f."""
        return replace(
            self, pitch_degrees=math.degrees(math.atan((0.5 - horizon) * self.height / self.focal))
        )


class RenderCamera(Protocol):
    """What `from_render_camera` reads: drivenet.roads.renderer.Camera (horizontal field of view)."""

    width: int
    height: int
    fov_degrees: float
    mount_height: float
    horizon: float


def from_horizontal_fov(
    width: int, height: int, hfov_degrees: float, mount_height: float, horizon: float, **car: float
) -> CameraModel:
    """A camera given by its horizontal field of view and horizon share (as drivenet's road renderer is).

    Both models use square pixels and rays (a, b, 1) through pixel centres, so with f = (W/2)/tan(hfov/2)
    the vertical field of view is 2·atan((H/2)/f), and the pitch puts the horizon on the same row.
    `car` sets the other fields (wheelbase, wheel_degrees, ...).
    """
    focal = width / 2 / math.tan(math.radians(hfov_degrees) / 2)
    fov = math.degrees(2 * math.atan(height / 2 / focal))
    return CameraModel(width, height, fov, mount_height, 0.0, **car).with_horizon(horizon)


def from_render_camera(camera: RenderCamera) -> CameraModel:
    """The exact model of a drivenet.roads.renderer.Camera, with drivenet.geometry.car's car (wheelbase 2.5 m,
    ±25° of wheel angle at steering ±1) and the frame rate of `drivenet synth` recordings."""
    w, h, fov, mount, horizon = (
        camera.width,
        camera.height,
        camera.fov_degrees,
        camera.mount_height,
        camera.horizon,
    )
    return from_horizontal_fov(w, h, fov, mount, horizon, side_offset=0.0, frame_rate=SYNTH_FRAME_RATE)


# Defaults per recording source. Udacity: the simulator's Unity camera renders 320x160 with a vertical
# field of view of 60°, 0.971 m above the car's origin (its Car.prefab), wheelbase 2.87 m (front and rear
# wheels at +1.27 m and -1.60 m), ±25° of wheel angle at steering ±1; pitch and the side cameras' offset
# and yaw calibrated on udacity-sample's side cameras (scripts/calibrate_camera.py, README "Camera model
# and view synthesis"); recordings come at 10-14 Hz (file-name timestamps say exactly). Donkey: a
# Raspberry Pi camera v2 (62° x 49°) on a 1:10 RC car, 20 Hz, no speed logged. Sully: a dashcam on a
# sedan, 1.0 = 450° of steering wheel, about 30° of road wheel at a 15:1 steering ratio. Donkey's and
# Sully's geometry are estimates, not calibrated: override them in [camera] for serious use.
PRESETS: dict[str, CameraModel] = {
    "udacity": CameraModel(320, 160, 60.0, 0.971, 6.25, 0.675, 0.25, 25.0, 2.87, MPH, 15.0),
    "donkey": CameraModel(160, 120, 48.8, 0.2, 15.0, 0.0, 0.0, 25.0, 0.26, 0.0, 20.0),
    "sully": CameraModel(455, 256, 40.0, 1.3, 2.0, 0.0, 0.0, 30.0, 2.7, 0.0, 20.0),
}
ROADS = "roads"  # drivenet's renderer, its default Camera(): 320x160, horizontal fov 60°, 1.4 m, horizon 0.3
PRESETS[ROADS] = from_horizontal_fov(320, 160, 60.0, 1.4, 0.3, side_offset=0.0, frame_rate=SYNTH_FRAME_RATE)
CAMERA_DEFAULTS = CameraConfig()  # no [camera] overrides


def camera_for(
    fmt: str, camera_cfg: CameraConfig = CAMERA_DEFAULTS, recorded: CameraModel | None = None
) -> CameraModel:
    """The camera of recording format `fmt` (udacity, donkey, sully or roads) with the `[camera]` overrides.

    `camera.preset` other than auto wins over `recorded` (a recording's own camera, see `read_marker`),
    which wins over `fmt`; each non-zero key replaces the preset's value and `camera.horizon` (non-zero)
    sets the pitch.
    """
    name = preset_name(fmt, camera_cfg, None)
    if recorded is None or camera_cfg.preset != "auto":
        if name not in PRESETS:
            known = ", ".join(PRESETS)
            raise DrivenetError(
                f"no camera model for format {name!r}; set camera.preset to one of {known} (and override "
                "its values in [camera] to match your camera)"
            )
        recorded = PRESETS[name]
    camera = replace(recorded, **camera_cfg.overrides())
    return camera.with_horizon(camera_cfg.horizon) if camera_cfg.horizon else camera


def preset_name(fmt: str, camera_cfg: CameraConfig, frame_size: tuple[int, int] | None) -> str:
    """The preset a recording of format `fmt` gets: `camera.preset` unless auto, else the format's, where
    format auto (or csv) is told by the raw frame size (width, height): the preset of that size, if
    exactly one has it (`roads` and `udacity` share 320x160: a synth recording says so in its marker)."""
    if camera_cfg.preset != "auto":
        return camera_cfg.preset
    if fmt not in ("auto", "csv") or frame_size is None:
        return fmt
    same = [
        name
        for name, cam in PRESETS.items()
        if name != ROADS and (cam.width, cam.height) == tuple(frame_size)
    ]
    if len(same) != 1:
        width, height = frame_size
        raise DrivenetError(
            f"cannot tell the camera of {width}x{height} frames (data.format = {fmt}); set camera.preset "
            f"to one of {', '.join(PRESETS)} and override its values in [camera] to match your camera"
        )
    return same[0]


def camera_for_frames(
    fmt: str,
    camera_cfg: CameraConfig,
    frame_size: tuple[int, int] | None,
    recorded: CameraModel | None = None,
) -> CameraModel:
    """`camera_for`, where format auto (or csv) is told by the raw frame size (width, height) of the data
    (see `preset_name`) unless the recording names its camera (`recorded`)."""
    if recorded is None:
        fmt = preset_name(fmt, camera_cfg, frame_size)
    return camera_for(fmt, camera_cfg, recorded)


MARKER = "camera.json"  # beside a recording's log: the camera that took its frames


def write_marker(folder: Path, preset: str, camera: CameraModel) -> Path:
    """Name the camera of the recording in `folder` (atomically): `{"preset": ..., "camera": {fields}}`."""
    return write_json(folder / MARKER, {"preset": preset, "camera": asdict(camera)})


def read_marker(folder: Path) -> tuple[str, CameraModel] | None:
    """The preset name and camera that `folder`'s marker names; None when it has none."""
    path = folder / MARKER
    if not path.is_file():
        return None
    try:
        marker = json.loads(path.read_text(encoding="utf-8"))
        known = {f.name for f in fields(CameraModel)}
        values = marker["camera"]
        unknown = set(values) - known
        if unknown or not isinstance(marker["preset"], str):
            raise ValueError(f"unknown keys {sorted(unknown)}" if unknown else "preset is not a name")
        return marker["preset"], CameraModel(**values)
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as err:
        raise DrivenetError(
            f"{path}: not a camera marker ({err}); delete it to use the format's camera, or rewrite it"
        ) from None
