"""A drivenet checkpoint driving CarRacing from pixels: observation in, action [steer, gas, brake] out.

Steering conventions agree: drivenet's steering is in [-1, 1] with negative = left, and so is CarRacing's
action[0]. The observation is the env's 96x96 RGB frame, dashboard strip at the bottom included; the
model's own preprocessing (crop, resize, colour) turns it into its inputs, as for any camera.
"""

from __future__ import annotations

import numpy as np

from drivenet.data.transform import Preprocess
from drivenet.drive.gym.env import DEFAULT_GAS, OBSERVATION_SIZE
from drivenet.errors import DrivenetError
from drivenet.model.steering_model import SteeringModel


class ModelPilot:
    """A model drives: each frame (with the frame history a motion model reads) gives the steering and,
    where the model predicts them (`model.targets`), the throttle (CarRacing's gas) and the brake. A
    model that predicts no throttle drives at the constant `gas`; one that predicts no brake never
    brakes."""

    def __init__(self, model: SteeringModel, gas: float = DEFAULT_GAS) -> None:
        if not 0.0 <= gas <= 1.0:
            raise DrivenetError(f"gas {gas:g}: expected a value between 0 and 1")
        check_observation_fits(model.preprocess)
        self.model = model
        self.gas = gas
        self.control = model.controller()

    def reset(self) -> None:
        """A new episode: forget the earlier frames."""
        self.control = self.model.controller()

    def run(self, observation: np.ndarray) -> np.ndarray:
        """The action float32 [steer in -1..1, gas in 0..1, brake in 0..1] for a uint8 (96, 96, 3) frame."""
        controls = self.control(observation)
        gas = self.gas if controls.throttle is None else controls.throttle
        brake = 0.0 if controls.brake is None else controls.brake
        return np.array([min(max(controls.steering, -1.0), 1.0), gas, brake], dtype=np.float32)


def check_observation_fits(p: Preprocess) -> None:
    """Refuse a model input larger than what the crop keeps of a 96x96 frame: it would read pixels made
    up by upscaling."""
    size = OBSERVATION_SIZE
    top, bottom = p.kept_rows(size)
    rows = bottom - top
    if p.width > size or p.height > rows:
        raise DrivenetError(
            f"the model reads {p.width}x{p.height} images, but its crop keeps {size}x{rows} of CarRacing's "
            f"{size}x{size} frames; use a model trained with data.width <= {size} and data.height <= {rows} "
            "(or less crop)"
        )
