"""Config files, --set overrides and their errors."""

from pathlib import Path

import pytest
from support import CONFIGS

from drivenet.config import TrainConfig, load_config, to_toml
from drivenet.errors import DrivenetError


def test_defaults_then_file_then_override(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[train]\nlr = 0.5\nepochs = 3\n[data]\ncolor = "rgb"\n')
    config = load_config(path, ["train.lr=0.05", "model.hidden=[16, 8]", "data.color=yuv"])
    assert config.train.lr == 0.05
    assert config.train.epochs == 3
    assert config.model.hidden == (16, 8)
    assert config.data.color == "yuv"
    assert config.train.batch_size == TrainConfig().batch_size


def test_int_is_accepted_for_float() -> None:
    config = load_config(None, ["train.lr=1"])
    assert config.train.lr == 1.0 and isinstance(config.train.lr, float)


@pytest.mark.parametrize(
    "override, message",
    [
        ("train.lrr=0.1", "unknown key train.lrr"),
        ("nosuch.lr=0.1", "unknown section [nosuch]"),
        ("train.epochs=many", "expected int"),
        ("train.epochs=2.5", "expected int"),
        ("augment.flip=1", "expected bool"),
        ("train.lr", "expected section.key=value"),
    ],
)
def test_bad_overrides_name_the_key(override: str, message: str) -> None:
    with pytest.raises(DrivenetError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_config(None, [override])


def test_bad_file(tmp_path: Path) -> None:
    with pytest.raises(DrivenetError, match="config file not found"):
        load_config(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[train\nlr = ")
    with pytest.raises(DrivenetError, match="not valid TOML"):
        load_config(broken)


def test_resolved_config_round_trips(tmp_path: Path) -> None:
    config = load_config(
        None, ["model.hidden=[5]", "data.color=rgb", 'augment.recording_repeats={"a b#2" = 2, lake = 3}']
    )
    assert config.augment.recording_repeats == {"a b#2": 2, "lake": 3}
    path = tmp_path / "resolved.toml"
    path.write_text(to_toml(config))
    assert load_config(path) == config


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.toml")), ids=lambda p: p.name)
def test_shipped_configs_load(path: Path) -> None:
    load_config(path)
