"""Run configuration: TOML files in `configs/`, every value overridable with `--set section.key=value`.

A config is a two-level mapping `{section: {key: value}}`. `DEFAULTS` names every known key and
its type; a file or override with an unknown key or a value of the wrong type is an error.
"""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Iterable, Mapping
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
        "activation": "sigmoid",  # sigmoid | tanh | relu
        "encoding": "scalar",  # scalar | bump | classes
        "outputs": 45,  # output units of the bump encoding
        "scalar_output": "tanh",  # tanh | linear: output unit of the scalar encoding
        "class_magnitude": 0.5,  # steering decoded from the left/right classes of the classes encoding
        "init": "xavier",  # xavier | he
        "dtype": "float32",  # float32 | float64
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
        "patience": 8,  # epochs without a better validation loss before stopping
        "seed": 0,
    },
    "augment": {
        "flip": True,
        "drop_zero_share": 0.0,  # share of near-zero-steering frames dropped each epoch
        "zero_threshold": 0.02,
        "shift_pixels": 0,  # largest lateral shift, in cache pixels
        "shift_steering_per_pixel": 0.0,
        "brightness": 0.0,  # largest relative brightness change
        "smooth_window": 0,  # frames in the label-smoothing window (0 = off)
    },
    "evaluate": {
        "straight_band": 0.05,  # |steering| at most this counts as straight
        "smooth_window": 5,
    },
}


def _check_type(where: str, default: Any, value: Any) -> Any:
    """Return `value` coerced to the type of `default`, or raise naming `where`."""
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(default, list):
        ok = isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    else:
        ok = isinstance(value, type(default))
    if not ok:
        raise DrivenetError(
            f"{where}: expected {type(default).__name__} like {json.dumps(default)}, got {json.dumps(value)}"
        )
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
            out[section][key] = _check_type(f"{source}: {section}.{key}", DEFAULTS[section][key], value)
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
        lines += [f"{key} = {json.dumps(value)}" for key, value in values.items()]
        lines.append("")
    return "\n".join(lines)
