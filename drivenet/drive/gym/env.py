"""Make a headless Gymnasium environment, with a one-line error when the `gym` extra is missing."""

from __future__ import annotations

import os
from typing import Any

from drivenet.errors import DrivenetError

OBSERVATION_SIZE = 96  # CarRacing's observations are 96x96 RGB
# A model that predicts no throttle drives at this gas. The expert's steering with constant gas 0.05, 0.1,
# 0.2 on seeds 1000-1001: 0.1 scored best (831, 669; the expert's own pedals ~920); with 0.2 the car
# spent a third of its frames off the road.
DEFAULT_GAS = 0.1
INSTALL_HINT = 'Gymnasium is not installed: run pip install -e ".[gym]" in the drivenet folder'


def make_env(env_id: str = "CarRacing-v3", **kwargs: Any) -> Any:
    """`gymnasium.make(env_id, **kwargs)` with no window: render_mode None unless given, and pygame told to
    use its dummy video driver, so that it runs without a display. Raises DrivenetError when gymnasium
    (or Box2D, which CarRacing needs) cannot be imported."""
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    try:
        import gymnasium
    except ImportError:
        raise DrivenetError(INSTALL_HINT) from None
    kwargs.setdefault("render_mode", None)
    try:
        return gymnasium.make(env_id, **kwargs)
    except gymnasium.error.DependencyNotInstalled:
        raise DrivenetError(INSTALL_HINT) from None
