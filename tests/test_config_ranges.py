"""Every config key has an allowed range, checked when a file or --set is read, named in the error."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
from support import CONFIGS

from drivenet.config import RunConfig, load_config
from drivenet.errors import DrivenetError

DEFAULTS = RunConfig()
SECTIONS = {f.name: getattr(DEFAULTS, f.name) for f in fields(DEFAULTS)}


def rule(section: str, key: str) -> Any:
    """The (check, words) rule written beside `section.key`."""
    return {f.name: f for f in fields(SECTIONS[section])}[key].metadata["rule"]


def test_every_key_has_a_range_and_every_range_a_key() -> None:
    """A key added without `setting(default, rule)` fails here, so no range can be forgotten."""
    keys = {(section, f.name) for section, values in SECTIONS.items() for f in fields(values)}
    ruled = {(s, f.name) for s, values in SECTIONS.items() for f in fields(values) if "rule" in f.metadata}
    assert keys - ruled == set(), "keys without a range in drivenet.config"
    unbounded = {key for key in keys if rule(*key)[1] == "anything of its type"}
    # only switches take any value of their type (the conv tables are counted; each key has its own rule)
    assert unbounded == {("augment", "flip"), ("model", "mirror_average"), ("data", "follow_links")}


def test_the_defaults_and_every_shipped_config_are_in_range() -> None:
    for section, values in SECTIONS.items():
        for key, value in ((f.name, getattr(values, f.name)) for f in fields(values)):
            ok, wanted = rule(section, key)
            assert ok(value), f"default {section}.{key} = {value!r} is not {wanted}"
    for path in sorted(CONFIGS.glob("*.toml")):
        load_config(path)


@pytest.mark.parametrize(
    ("override", "allowed"),
    [
        ("augment.drop_zero_share=7", "in [0, 1]"),
        ('augment.recording_repeats={"udacity-sample" = 0}', "whole numbers in [1, 100]"),
        ('augment.recording_repeats={"udacity-sample" = 1.5}', "whole numbers in [1, 100]"),
        ('augment.recording_repeats={" " = 2}', "recording names"),
        ("evaluate.straight_band=-1", "in [0, 1]"),
        ("augment.brightness=-0.2", "in [0, 1]"),
        ("augment.shadow=1.5", "in [0, 1]"),
        ("augment.shift_pixels=-3", "in [0, 4096]"),
        ("augment.smooth_window=4", "0 (off) or an odd number"),
        ("train.lr=nan", "above 0"),
        ("train.lr=inf", "above 0"),
        ("train.momentum=1.0", "in [0, 1)"),
        ("train.val_fraction=0", "in (0, 1)"),
        ("train.seed=-1", "in [0, 4294967295]"),
        ("train.test_recordings=['']", "a list whose items are each a non-empty name"),
        ("data.width=0", "in [1, 4096]"),
        ("data.crop_top=0.95", "in [0, 0.95)"),
        ("data.side_correction=-0.2", "in [0, 1]"),
        ("data.motion_gaps=[1, 0]", "a list whose items are each in [1, 1000]"),
        ("data.color=purple", "one of gray, rgb, yuv"),
        ("data.csv_image_column=' '", "a non-empty name"),
        ("model.hidden=[16, 0]", "each in [1, 100000]"),
        ("model.activation=softmax", "one of sigmoid, tanh, relu, elu"),
        ("model.class_magnitude=0", "in (0, 1]"),
        ("model.dropout=1", "in [0, 1)"),
        ("camera.fov_degrees=-10", "in [0, 180)"),
    ],
)
def test_out_of_range_values_are_refused_naming_the_range(override: str, allowed: str) -> None:
    key = override.partition("=")[0]
    with pytest.raises(DrivenetError, match=rf"--set {key}=.*: {key} = .*: must be .*") as err:
        load_config(None, [override])
    assert allowed in str(err.value)


def test_a_file_with_an_out_of_range_value_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[augment]\ndrop_zero_share = 7.0\n")
    with pytest.raises(DrivenetError, match=r"c.toml: augment.drop_zero_share = 7.0: must be in \[0, 1\]"):
        load_config(path)


def test_the_named_choices_are_the_ones_the_code_knows() -> None:
    from drivenet.data.readers import FORMATS
    from drivenet.data.transform import MODES
    from drivenet.nn.layers import ACTIVATIONS, INITS

    def choices(section: str, key: str) -> set[str]:
        ok = rule(section, key)[0]
        candidates = {"auto", *FORMATS, *MODES, *ACTIVATIONS, *INITS, "center", "all", "softmax", "x"}
        return {c for c in candidates if ok(c)}

    assert choices("data", "format") == {"auto", *FORMATS}
    assert choices("data", "color") == set(MODES)
    assert choices("model", "activation") == set(ACTIVATIONS)
    assert choices("model", "init") == set(INITS)
