"""A drivenet model as a Donkey Car part: a pilot for Donkey's vehicle loop, without donkeycar installed.

Donkey's `Vehicle` calls a part's `run` with the values of its `inputs` each loop and stores what it
returns under its `outputs`; it calls `shutdown` when the car stops. In a car's `manage.py`:

    from drivenet.donkey import DrivenetPilot
    V.add(DrivenetPilot("model.onnx"), inputs=["cam/image_array"],
          outputs=["pilot/angle", "pilot/throttle"], run_condition="run_pilot")

The angle is drivenet's steering in [-1, 1] (negative = left), which is Donkey's convention too. The
throttle is the model's own, less its brake, for a model that works the pedals (`model.targets`),
else the constant `throttle` given here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from drivenet.model.checkpoint import load_model
from drivenet.model.steering_model import Controls


class DrivenetPilot:
    """Steers from each camera frame with a drivenet checkpoint (.npz) or a `drivenet export` file
    (.onnx, run by onnxruntime); a motion model keeps its own frame history."""

    def __init__(self, model: str | Path, throttle: float = 0.2) -> None:
        path = Path(model)
        if path.suffix.lower() == ".onnx":
            from drivenet.export.runtime import ExportedModel

            self.control: Callable[[np.ndarray], Controls] | None = ExportedModel(path).controller()
        else:
            self.control = load_model(path).controller()
        self.throttle = float(throttle)

    def run(self, image: np.ndarray | None) -> tuple[float, float]:
        """(angle, throttle) for one RGB camera frame uint8 (h, w, 3); (0, 0) while the camera has no
        frame yet (None) and after `shutdown`."""
        if image is None or self.control is None:
            return 0.0, 0.0
        controls = self.control(np.asarray(image))
        if controls.throttle is None:
            return controls.steering, self.throttle
        return controls.steering, controls.throttle - (controls.brake or 0.0)

    def shutdown(self) -> None:
        """Let go of the model and its frame history; the pilot answers (0, 0) from now on."""
        self.control = None
