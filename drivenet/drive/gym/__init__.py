"""Gymnasium's CarRacing-v3: a world drivenet did not build, and an expert that reads its privileged state.

`make_env` imports gymnasium only when called (the `gym` extra); `Expert` needs numpy only.
"""

from __future__ import annotations

from drivenet.drive.gym.env import make_env
from drivenet.drive.gym.expert import CarState, Expert, car_state

__all__ = ["CarState", "Expert", "car_state", "make_env"]
