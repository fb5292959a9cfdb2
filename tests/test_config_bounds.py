"""Config values made to hurt: nesting, size and upper limits are one-line errors that say the allowed
range, and a network is checked to fit before any weight is allocated (issue 22, item 9)."""

from __future__ import annotations

import re
import tracemalloc
from pathlib import Path

import pytest

from drivenet.config import load_config
from drivenet.data import Preprocess
from drivenet.errors import DrivenetError
from drivenet.model.steering_model import SteeringModel

MB = 2**20


def refused(*overrides: str, path: Path | None = None) -> str:
    with pytest.raises(DrivenetError) as caught:
        load_config(path, list(overrides))
    message = str(caught.value)
    assert "\n" not in message and len(message) < 400, message
    return message


@pytest.mark.parametrize("depth", [40, 4_000])
def test_a_deeply_nested_set_value_is_a_one_line_error(depth):
    message = refused("model.hidden=" + "[" * depth + "]" * depth)
    assert "model.hidden" in message and "nest" in message


def test_a_deeply_nested_toml_file_is_a_one_line_error(tmp_path):
    path = tmp_path / "deep.toml"
    path.write_text("[model]\nhidden = " + "[" * 40_000 + "]" * 40_000 + "\n")
    message = refused(path=path)
    assert str(path) in message and "nest" in message


def test_a_huge_set_value_and_a_huge_toml_file_are_refused_before_parsing(tmp_path):
    message = refused("train.val_recordings=[" + ", ".join(['"r"'] * 200_000) + "]")
    assert "train.val_recordings" in message and "characters" in message
    path = tmp_path / "big.toml"
    path.write_text("[train]\nval_recordings = [" + ", ".join(['"r"'] * 1_000_000) + "]\n")
    assert "too large" in refused(path=path)


def test_a_long_list_is_refused_with_its_limit():
    message = refused("model.hidden=[" + ", ".join(["1"] * 1000) + "]")
    assert re.search(r"model.hidden.*at most \d+ of them", message), message


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("model.hidden=[100000000]", "model.hidden"),
        ("model.conv=[{filters = 8, kernel = 100000}]", "kernel"),
        ("model.conv=[{filters = 100000000, kernel = 3}]", "filters"),
        ("model.outputs=100000000", "model.outputs"),
        ("augment.recording_repeats={rec = 1000000000}", "augment.recording_repeats"),
        ("train.split_block=100000000000000000000000", "train.split_block"),
        ("train.seed=100000000000000000000000", "train.seed"),
        ("train.batch_size=100000000000", "train.batch_size"),
        ("data.workers=100000", "data.workers"),
        ("dagger.rounds=100000000", "dagger.rounds"),
    ],
)
def test_values_beyond_their_upper_limit_say_the_allowed_range(override, key):
    message = refused(override)
    assert key in message and re.search(r"in \[\d+, \d+\]", message), message


def build(*overrides: str) -> SteeringModel:
    small = ["data.width=16", "data.height=12", "data.crop_top=0", "data.crop_bottom=0"]
    config = load_config(None, [*small, *overrides])
    return SteeringModel.build(config, Preprocess.from_config(config.data))


def peak_while_refused(*overrides: str) -> tuple[str, int]:
    tracemalloc.start()
    try:
        with pytest.raises(DrivenetError) as caught:
            build(*overrides)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return str(caught.value), peak


def test_a_convolution_that_does_not_fit_is_refused_before_its_kernels_are_allocated():
    message, peak = peak_while_refused("model.conv=[{filters = 4096, kernel = 64}]", "data.color=rgb")
    assert "does not fit" in message and "12x16" in message, message
    assert peak < 20 * MB, f"{peak / MB:.0f} MB allocated before refusing"


def test_a_network_beyond_the_parameter_limit_is_refused_before_allocation():
    message, peak = peak_while_refused("data.width=4096", "data.height=4096", "model.hidden=[100000]")
    assert "parameters, more than the" in message, message
    assert peak < 20 * MB, f"{peak / MB:.0f} MB allocated before refusing"


def test_values_at_their_limits_still_load():
    config = load_config(None, ["model.hidden=[100000]", "augment.recording_repeats={rec = 100}"])
    assert config.model.hidden == (100_000,) and config.augment.recording_repeats == {"rec": 100}
