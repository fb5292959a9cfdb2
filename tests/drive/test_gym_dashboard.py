"""configs/carracing.toml cuts CarRacing's dashboard (the bottom 12 rows: speed, ABS, steering and gyro
bars) out of what the model reads, so that it cannot copy the car; checked on a real frame."""

from __future__ import annotations

import numpy as np
from support import CONFIGS, needs_gym

from drivenet.config import load_config
from drivenet.data.transform import Preprocess
from drivenet.drive.gym.env import make_env
from drivenet.drive.gym.expert import Expert

DASHBOARD = 12  # rows at the bottom of a 96x96 observation


def driven_frame(steps: int = 80) -> np.ndarray:
    """A real observation after the expert has driven `steps` frames: the bars show speed and steering."""
    env = make_env()
    observation, _ = env.reset(seed=4)
    expert = Expert()
    for _ in range(steps):
        observation, *_ = env.step(expert.run(env.unwrapped))
    env.close()
    return observation


@needs_gym
def test_the_dashboard_is_the_bottom_12_rows_and_the_config_cuts_it():
    frame = driven_frame()
    dashboard, road = frame[-DASHBOARD:], frame[:-DASHBOARD]
    assert (dashboard.max(axis=2) < 30).mean() > 0.7  # mostly black, with a few bright bars
    assert (road.max(axis=2) < 30).mean() < 0.01  # above it: road and grass
    scrambled = frame.copy()
    scrambled[-DASHBOARD:] = np.random.default_rng(0).integers(0, 256, scrambled[-DASHBOARD:].shape)
    shipped = Preprocess.from_config(load_config(CONFIGS / "carracing.toml").data)
    np.testing.assert_array_equal(shipped.apply_array(frame), shipped.apply_array(scrambled))
    kept = Preprocess.from_config(load_config(CONFIGS / "carracing.toml", ["data.crop_bottom=0"]).data)
    assert not np.array_equal(kept.apply_array(frame), kept.apply_array(scrambled))  # the check can fail
