"""An exported model in onnxruntime: the car's side of `drivenet export`.

`ExportedModel` loads a file written by `drivenet export` and runs it; `controller` steers a live camera
one raw frame at a time. For a motion model it keeps the preprocessed images of the last max(g) frames
(the graph's "image" output) and feeds the frames g_1..g_m back as "earlier": frame t reads frame
max(t - g, 0) of the stream, the first frame standing in for those before it, as `ClipStream` does.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from drivenet.errors import DrivenetError
from drivenet.export import require
from drivenet.model.steering_model import Controls


class ExportedModel:
    """A `drivenet export` file in an onnxruntime session, with its "drivenet.*" metadata in `meta`;
    `threads` caps onnxruntime's threads (0: its default, one per core)."""

    def __init__(self, path: str | Path, threads: int = 0) -> None:
        self.path = Path(path)
        ort = require("onnxruntime", f"running {self.path.name}")
        if not self.path.is_file():
            raise DrivenetError(f"{self.path}: no such model file; pass an .onnx file from drivenet export")
        try:
            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime raises its own exception types for a bad file
            reason = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise DrivenetError(
                f"{self.path}: onnxruntime cannot load it ({reason}); export the model again"
            ) from None
        found = self.session.get_modelmeta().custom_metadata_map
        try:
            self.meta: dict[str, Any] = {
                key.removeprefix("drivenet."): json.loads(value)
                for key, value in found.items()
                if key.startswith("drivenet.")
            }
        except json.JSONDecodeError:
            self.meta = {}
        if "input" not in self.meta or "motion_gaps" not in self.meta:
            raise DrivenetError(f"{self.path}: no drivenet metadata; export the model with drivenet export")
        self.outputs = [output.name for output in self.session.get_outputs()]

    @property
    def motion_gaps(self) -> tuple[int, ...]:
        return tuple(int(gap) for gap in self.meta["motion_gaps"])

    def run(self, **feeds: np.ndarray) -> dict[str, np.ndarray]:
        """Every output by name, for the inputs by name (frame, earlier, or images)."""
        return dict(zip(self.outputs, self.session.run(None, feeds), strict=True))

    def controller(self) -> Callable[[np.ndarray], Controls]:
        """A function from one raw RGB frame uint8 (h, w, 3) to the model's `Controls`, keeping the frame
        history a motion model reads (module docstring)."""
        if self.meta["input"] != "frame":
            raise DrivenetError(
                f"{self.path} reads preprocessed images; export with --input frame for a camera"
            )
        inputs = self.session.get_inputs()
        shape = tuple(inputs[0].shape[1:])
        gaps = self.motion_gaps
        blank = np.zeros((1, *inputs[-1].shape[1:]), np.uint8)  # "earlier" before the first frame's image
        recent: list[np.ndarray] = []  # the preprocessed images of the last max(gaps) frames

        def control(frame: np.ndarray) -> Controls:
            frame = np.asarray(frame)
            if frame.dtype != np.uint8 or frame.shape != shape:
                size = f"{frame.shape[1]}x{frame.shape[0]}" if frame.ndim == 3 else "WIDTHxHEIGHT"
                raise DrivenetError(
                    f"{self.path} takes uint8 RGB frames of shape {list(shape)}, got {frame.dtype} "
                    f"{list(frame.shape)}; export the model again with --size {size}"
                )
            feeds = {"frame": frame[None]}
            if gaps:  # frame t reads frame max(t - g, 0); the first frame's image comes from a first run
                stream = recent or [self.run(frame=frame[None], earlier=blank)["image"][0]]
                t = len(recent)
                feeds["earlier"] = np.concatenate([stream[max(t - g, 0)] for g in gaps], axis=-1)[None]
            found = {name: value[0] for name, value in self.run(**feeds).items()}
            if gaps:
                recent.append(found["image"])
                del recent[: max(len(recent) - max(gaps), 0)]
            pedals = {name: float(found[name]) if name in found else None for name in ("throttle", "brake")}
            return Controls(float(found["steering"]), pedals["throttle"], pedals["brake"])

        return control
