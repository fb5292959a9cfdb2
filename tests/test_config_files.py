"""The shipped configs: all load, default.toml spells out every default, alvinn.toml is ALVINN's network."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from support import CONFIGS

from drivenet.config import RunConfig, load_config
from drivenet.data import Preprocess
from drivenet.model import BumpEncoding
from drivenet.model.steering_model import SteeringModel

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.toml")), ids=lambda p: p.name)
def test_every_config_loads_and_builds_a_model(path):
    config = load_config(path)
    model = SteeringModel.build(config, Preprocess.from_config(config.data))
    frames = 1 + len(config.data.motion_gaps)  # the frame and its motion from each earlier one
    pixels = config.data.width * config.data.height * model.preprocess.channels
    assert int(np.prod(model.net.input_shape)) == pixels * frames


def test_default_toml_spells_out_every_default():
    written = tomllib.loads((CONFIGS / "default.toml").read_text(encoding="utf-8"))
    assert written == RunConfig().to_dict()  # a key added to drivenet.config belongs in default.toml too


def test_alvinn_is_a_30x32_retina_one_sigmoid_layer_and_45_bump_units():
    config = load_config(CONFIGS / "alvinn.toml")
    model = SteeringModel.build(config, Preprocess.from_config(config.data))
    assert model.preprocess.shape == (30, 32, 1)
    assert len(model.net.dense_layers) == 2 and config.model.activation == "sigmoid"
    assert isinstance(model.encoding, BumpEncoding) and model.encoding.n_outputs == 45
