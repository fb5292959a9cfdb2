"""The CarRacing-v3 expert (drivenet/drive/gym/): it drives, the same twice, and a missing extra is one line.

The driving tests need the `gym` extra (CI installs it) and skip without it; this module imports without it.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
from support import needs_gym

from drivenet.drive.gym.env import make_env
from drivenet.drive.gym.expert import Expert
from drivenet.errors import DrivenetError

SEED = 3
FRAMES = 300


def drive(seed: int, policy, frames: int = FRAMES) -> tuple[float, float]:
    """Reward over the first `frames` frames of `seed`, and the car's distance to the nearest centre-line
    point at the end."""
    env = make_env()
    env.reset(seed=seed)
    total = 0.0
    for _ in range(frames):
        _, reward, terminated, truncated, _ = env.step(policy(env.unwrapped))
        total += float(reward)
        if terminated or truncated:
            break
    car = env.unwrapped.car.hull.position
    track = np.array([(p[2], p[3]) for p in env.unwrapped.track])
    off = float(np.min(np.hypot(track[:, 0] - car[0], track[:, 1] - car[1])))
    env.close()
    return total, off


@needs_gym
def test_expert_beats_driving_straight_and_stays_on_the_road():
    expert_reward, expert_off = drive(SEED, Expert().run)
    straight_reward, _ = drive(SEED, lambda _env: np.array([0.0, 0.3, 0.0], dtype=np.float32))
    assert expert_reward > straight_reward + 100.0
    assert expert_off < 40 / 6  # within the road's half-width of the centre line


@needs_gym
def test_same_seed_same_reward():
    assert drive(SEED, Expert().run, 150) == drive(SEED, Expert().run, 150)


def test_make_env_without_gymnasium_is_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "gymnasium", None)  # `import gymnasium` now raises ImportError
    with pytest.raises(DrivenetError) as err:
        make_env()
    message = str(err.value)
    assert "\n" not in message
    assert 'pip install -e ".[gym]"' in message
