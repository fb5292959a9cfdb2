"""Run configuration: TOML files in `configs/`, every value overridable with `--set section.key=value`.

A config is a two-level mapping `{section: {key: value}}`. `DEFAULTS` names every known key and
its type; a file or override with an unknown key or a value of the wrong type is an error.
"""

from __future__ import annotations

import copy
import json
import math
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from drivenet.errors import DrivenetError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

Config = dict[str, dict[str, Any]]

DEFAULTS: Config = {
    "data": {
        "format": "auto",  # auto | udacity | donkey | sully | csv
        "cameras": "center",  # center | all
        "side_correction": 0.2,  # steering added for the left camera, subtracted for the right
        "wheel_degrees_per_unit": 450.0,  # Sully-style logs: steering-wheel degrees that map to 1.0
        "csv_image_column": "image",
        "csv_steering_column": "steering",
        "crop_top": 0.35,  # share of rows cut from the top (sky)
        "crop_bottom": 0.15,  # share of rows cut from the bottom (hood)
        "width": 32,
        "height": 30,
        "color": "gray",  # gray | rgb | yuv
        "motion_gaps": [],  # frames back whose difference to the current frame joins the input ([]: none)
        "workers": 2,
    },
    "model": {
        "hidden": [64],
        "activation": "sigmoid",  # sigmoid | tanh | relu | elu
        "encoding": "scalar",  # scalar | bump | classes
        "outputs": 45,  # output units of the bump encoding
        "scalar_output": "tanh",  # tanh | linear: output unit of the scalar encoding
        "class_magnitude": 0.5,  # steering decoded from the left/right classes of the classes encoding
        "init": "xavier",  # xavier | he
        "dtype": "float32",  # float32 | float64
        "conv": [],  # convolutional layers before the hidden ones: [{filters, kernel, stride, padding, pool}]
        "dropout": 0.0,  # share of hidden dense units dropped in each training batch (0: off)
        "mirror_average": False,  # steer (f(x) - f(mirror x)) / 2: left/right-consistent, 2x inference
    },
    "train": {
        "epochs": 30,
        "batch_size": 64,
        "optimizer": "adam",  # adam | sgd
        "lr": 0.001,
        "lr_decay": 1.0,  # learning rate multiplied by this after every epoch
        "momentum": 0.9,
        "weight_decay": 0.0,
        "val_fraction": 0.2,
        "split_block": 200,  # frames per contiguous block of the train/validation split (0: one block)
        "split_seed": 0,  # picks which blocks are held out for validation
        "val_recordings": [],  # recordings held out whole for validation (instead of blocks)
        "test_fraction": 0.0,  # share of frames held out as the test split (0: none)
        "test_recordings": [],  # recordings held out whole as the test split (instead of blocks)
        "patience": 8,  # epochs without a better validation loss before stopping
        "seed": 0,
    },
    "augment": {
        "flip": True,
        "drop_zero_share": 0.0,  # share of near-zero-steering frames dropped each epoch
        "zero_threshold": 0.02,
        "shift_pixels": 0,  # largest lateral shift, in cache pixels
        "shift_steering_per_pixel": 0.0,
        "shift_m": 0.0,  # view synthesis: std of the random lateral camera shift, metres (0 = off)
        "yaw_deg": 0.0,  # view synthesis: std of the random camera yaw, degrees (0 = off)
        "recovery_seconds": 2.0,  # a synthesised view's label steers back onto the path in this time
        "recovery_speed": 13.0,  # m/s for that label and a clip's drift (caches hold no speed; ~30 mph)
        "brightness": 0.0,  # largest relative brightness change
        "smooth_window": 0,  # frames in the label-smoothing window, odd (0 = off)
        "channel_brightness": 0.0,  # largest relative brightness change of each colour channel
        "channel_contrast": 0.0,  # largest relative contrast change of each colour channel
        "shadow": 0.0,  # share of frames with a random dark band
        "shadow_darkness": 0.5,  # a shadow multiplies its pixels by a factor in [1 - this, 1]
        "vertical_pixels": 0,  # largest vertical shift, in cache pixels (steering unchanged)
        "recording_repeats": {},  # recording name -> times its frames appear in each epoch (others: once)
    },
    "evaluate": {
        "straight_band": 0.05,  # |steering| at most this counts as straight
        "smooth_window": 5,
    },
    "camera": {  # the recording source's geometry (drivenet.geometry.camera); 0 keeps the preset's value
        "preset": "auto",  # auto (data.format, else the frame size) | udacity | donkey | sully | roads
        "width": 0,  # raw frame width, pixels
        "height": 0,  # raw frame height, pixels
        "fov_degrees": 0.0,  # vertical field of view
        "mount_height": 0.0,  # metres above the road
        "horizon": 0.0,  # share of the frame height above the horizon (sets the pitch)
        "side_offset": 0.0,  # metres from the centre camera to each side camera
        "wheel_degrees": 0.0,  # front-wheel angle at steering 1.0
        "wheelbase": 0.0,  # metres
    },
}


STRING_LISTS = {("train", "val_recordings"), ("train", "test_recordings")}  # lists of names, not of ints


# keys of one table in `model.conv`: an example value (its type is the one wanted), then the default
# (None: the key is required) and the allowed values (a tuple) or the smallest one
CONV_LAYER: dict[str, tuple[Any, Any, Any]] = {
    "filters": (24, None, 1),
    "kernel": (5, None, 1),
    "stride": (2, 1, 1),
    "padding": ("valid", "valid", ("valid", "same")),
    "pool": (2, 0, 0),
}
TABLE_LISTS = {("model", "conv"): CONV_LAYER}  # lists of tables, each with these keys


def _check_tables(where: str, fields: dict[str, tuple[Any, Any, Any]], value: Any) -> list[dict[str, Any]]:
    """A list of tables with the keys `fields` (checked for type and range), missing optional keys filled
    in with their defaults; a one-line error naming the table and key otherwise."""
    example = "{" + ", ".join(f"{k} = {json.dumps(v[0])}" for k, v in fields.items() if v[1] is None) + "}"
    if not isinstance(value, list) or not all(isinstance(table, Mapping) for table in value):
        raise DrivenetError(f"{where}: expected a list of tables like [{example}], got {json.dumps(value)}")
    tables = []
    for i, table in enumerate(value):
        unknown = sorted(set(table) - set(fields))
        if unknown:
            raise DrivenetError(f"{where}[{i}]: unknown key {unknown[0]}; known keys: {', '.join(fields)}")
        checked = {}
        for key, (sample, default, allowed) in fields.items():
            if key not in table:
                if default is None:
                    raise DrivenetError(f"{where}[{i}]: {key} is missing; each table needs e.g. {example}")
                checked[key] = default
                continue
            item = _check_type(f"{where}[{i}].{key}", sample, table[key])
            if (item not in allowed) if isinstance(allowed, tuple) else (item < allowed):
                wanted = " or ".join(allowed) if isinstance(allowed, tuple) else f"at least {allowed}"
                raise DrivenetError(f"{where}[{i}].{key} = {json.dumps(item)}: must be {wanted}")
            checked[key] = item
        tables.append(checked)
    return tables


def _check_type(where: str, default: Any, value: Any, item: type = int) -> Any:
    """Return `value` coerced to the type of `default` (a list's items of type `item`), or raise naming
    `where`."""
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(default, list):
        ok = isinstance(value, list) and all(isinstance(v, item) and not isinstance(v, bool) for v in value)
    else:
        ok = isinstance(value, type(default))
    if not ok:
        raise DrivenetError(
            f"{where}: expected {type(default).__name__} like {json.dumps(default)}, got {json.dumps(value)}"
        )
    return value


Rule = tuple[Callable[[Any], bool], str]  # (does a value pass, the allowed values in words)


def between(lo: float, hi: float = math.inf, *, lo_open: bool = False, hi_open: bool = False) -> Rule:
    """Finite numbers from `lo` to `hi`, an end excluded where `*_open` says so."""

    def ok(v: float) -> bool:
        above = lo < v if lo_open else lo <= v
        below = v < hi if hi_open else v <= hi
        return math.isfinite(v) and above and below

    if hi == math.inf:
        return ok, f"{'above' if lo_open else 'at least'} {lo:g}"
    return ok, f"in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"


def one_of(*choices: str) -> Rule:
    return (lambda v: v in choices), f"one of {', '.join(choices)}"


def each(rule: Rule) -> Rule:
    return (lambda v: all(rule[0](item) for item in v)), f"a list whose items are each {rule[1]}"


ANY: Rule = (lambda v: True, "anything of its type")
NAME: Rule = (lambda v: bool(v.strip()), "a non-empty name")
SHARE = between(0, 1)
COUNT = between(0)  # whole numbers 0 and up
POSITIVE = between(0, lo_open=True)
REPEATS: Rule = (
    lambda v: all(bool(name.strip()) and type(n) is int and n >= 1 for name, n in v.items()),
    "a table of recording names and whole numbers of at least 1, like {\"udacity-sample\" = 3}",
)
WINDOW: Rule = (lambda v: v >= 0 and (v <= 1 or v % 2 == 1), "0 (off) or an odd number of frames")

# The allowed values of every key of DEFAULTS (a test checks none is missing), checked by `merge`.
# Settings that depend on each other (crop_top + crop_bottom, val_fraction + test_fraction) are checked
# where they are used.
RANGES: dict[str, dict[str, Rule]] = {
    "data": {
        "format": one_of("auto", "udacity", "donkey", "sully", "csv"),
        "cameras": one_of("center", "all"),
        "side_correction": SHARE,
        "wheel_degrees_per_unit": POSITIVE,
        "csv_image_column": NAME,
        "csv_steering_column": NAME,
        "crop_top": between(0, 0.95, hi_open=True),
        "crop_bottom": between(0, 0.95, hi_open=True),
        "width": between(1, 4096),
        "height": between(1, 4096),
        "color": one_of("gray", "rgb", "yuv"),
        "motion_gaps": each(between(1, 1000)),
        "workers": between(1, 256),
    },
    "model": {
        "hidden": each(between(1)),
        "activation": one_of("sigmoid", "tanh", "relu", "elu"),
        "encoding": one_of("scalar", "bump", "classes"),
        "outputs": between(5),  # the bump decoder fits 5 outputs around the peak
        "scalar_output": one_of("tanh", "linear"),
        "class_magnitude": between(0, 1, lo_open=True),
        "init": one_of("xavier", "he"),
        "dtype": one_of("float32", "float64"),
        "conv": ANY,  # each table's keys are checked by CONV_LAYER
        "dropout": between(0, 1, hi_open=True),
        "mirror_average": ANY,
    },
    "train": {
        "epochs": between(1),
        "batch_size": between(1),
        "optimizer": one_of("adam", "sgd"),
        "lr": POSITIVE,
        "lr_decay": between(0, 1, lo_open=True),
        "momentum": between(0, 1, hi_open=True),
        "weight_decay": COUNT,
        "val_fraction": between(0, 1, lo_open=True, hi_open=True),
        "split_block": COUNT,
        "split_seed": COUNT,
        "val_recordings": each(NAME),
        "test_fraction": between(0, 1, hi_open=True),
        "test_recordings": each(NAME),
        "patience": between(1),
        "seed": COUNT,
    },
    "augment": {
        "flip": ANY,
        "drop_zero_share": SHARE,
        "zero_threshold": SHARE,
        "shift_pixels": COUNT,
        "shift_steering_per_pixel": SHARE,
        "shift_m": between(0, 5),
        "yaw_deg": between(0, 45),
        "recovery_seconds": POSITIVE,
        "recovery_speed": POSITIVE,
        "brightness": SHARE,
        "smooth_window": WINDOW,
        "channel_brightness": SHARE,
        "channel_contrast": SHARE,
        "shadow": SHARE,
        "shadow_darkness": SHARE,
        "vertical_pixels": COUNT,
        "recording_repeats": REPEATS,
    },
    "evaluate": {
        "straight_band": SHARE,
        "smooth_window": WINDOW,
    },
    "camera": {  # 0 keeps the preset's value
        "preset": one_of("auto", "udacity", "donkey", "sully", "roads"),
        "width": between(0, 100_000),
        "height": between(0, 100_000),
        "fov_degrees": between(0, 180, hi_open=True),
        "mount_height": between(0, 100),
        "horizon": between(0, 1, hi_open=True),
        "side_offset": between(0, 10),
        "wheel_degrees": between(0, 90, hi_open=True),
        "wheelbase": between(0, 100),
    },
}


def _check_range(where: str, rule: Rule | None, value: Any) -> Any:
    """Return `value` when `rule` allows it, else raise naming `where` and the allowed values."""
    ok, wanted = rule if rule is not None else ANY
    if not ok(value):
        raise DrivenetError(f"{where} = {json.dumps(value)}: must be {wanted}")
    return value


def merge(base: Config, update: Mapping[str, Any], source: str) -> Config:
    """Return `base` updated with `update`, checking every section, key and type."""
    out = copy.deepcopy(base)
    for section, values in update.items():
        if section not in DEFAULTS:
            raise DrivenetError(f"{source}: unknown section [{section}]; known: {', '.join(DEFAULTS)}")
        if not isinstance(values, Mapping):
            raise DrivenetError(f"{source}: [{section}] must be a table")
        for key, value in values.items():
            if key not in DEFAULTS[section]:
                known = ", ".join(DEFAULTS[section])
                raise DrivenetError(f"{source}: unknown key {section}.{key}; known keys: {known}")
            where = f"{source}: {section}.{key}"
            if (section, key) in TABLE_LISTS:
                out[section][key] = _check_tables(where, TABLE_LISTS[section, key], value)
                continue
            item = str if (section, key) in STRING_LISTS else int
            value = _check_type(where, DEFAULTS[section][key], value, item)
            out[section][key] = _check_range(where, RANGES.get(section, {}).get(key), value)
    return out


def parse_override(text: str) -> tuple[str, str, Any]:
    """Parse `section.key=value`; the value is read as TOML (`0.05`, `true`, `[64, 32]`, `"rgb"`)."""
    name, sep, raw = text.partition("=")
    section, dot, key = name.strip().partition(".")
    if not sep or not dot:
        raise DrivenetError(f"--set {text!r}: expected section.key=value, e.g. train.lr=0.05")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()  # a bare word such as rgb
    return section, key, value


def load_config(path: str | Path | None = None, overrides: Iterable[str] = ()) -> Config:
    """Defaults, then the TOML file at `path`, then each `section.key=value` override."""
    config = copy.deepcopy(DEFAULTS)
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise DrivenetError(f"{path}: config file not found; see configs/ for examples")
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
            raise DrivenetError(f"{path}: not valid TOML ({err})") from None
        config = merge(config, data, str(path))
    for text in overrides:
        section, key, value = parse_override(text)
        config = merge(config, {section: {key: value}}, f"--set {text}")
    return config


def to_toml(config: Config) -> str:
    """Write a config back as TOML (the resolved config saved with every run)."""
    lines: list[str] = []
    for section, values in config.items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {toml_value(value)}" for key, value in values.items()]
        lines.append("")
    return "\n".join(lines)


BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")  # a TOML key that needs no quotes


def toml_value(value: Any) -> str:
    """One value as TOML: lists and inline tables spelled out, scalars as JSON (which TOML reads alike)."""
    if isinstance(value, Mapping):
        quoted = {key: key if BARE_KEY.fullmatch(key) else json.dumps(key) for key in value}
        keyed = (f"{quoted[key]} = {toml_value(item)}" for key, item in value.items())
        return "{" + ", ".join(keyed) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    return json.dumps(value)
