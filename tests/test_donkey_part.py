"""`drivenet.donkey.DrivenetPilot` in a loop that calls its parts as Donkey Car's vehicle loop does."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pytest
from support.exported import asymmetric_frame, model_of, needs_export

from drivenet.donkey import DrivenetPilot
from drivenet.errors import DrivenetError
from drivenet.model.checkpoint import save_model

SIZE = (160, 120)  # Donkey's default camera


class Vehicle:
    """Donkey's vehicle loop in small: each loop runs the parts in the order added, a part whose
    `run_condition` is false in memory is skipped, `run` gets the memory's values of its inputs and its
    results are stored under its outputs; every part is shut down at the end."""

    def __init__(self) -> None:
        self.memory: dict[str, Any] = {}
        self.parts: list[tuple[Any, list[str], list[str], str | None]] = []

    def add(self, part: Any, inputs: Sequence[str] = (), outputs: Sequence[str] = (), run_condition=None):
        self.parts.append((part, list(inputs), list(outputs), run_condition))

    def start(self, loops: int) -> None:
        try:
            for _ in range(loops):
                for part, inputs, outputs, condition in self.parts:
                    if condition is not None and not self.memory.get(condition):
                        continue
                    result = part.run(*[self.memory.get(key) for key in inputs])
                    if outputs:
                        self.memory.update(
                            zip(outputs, result if len(outputs) > 1 else [result], strict=True)
                        )
        finally:
            for part, *_ in self.parts:
                if hasattr(part, "shutdown"):
                    part.shutdown()


class Camera:
    """No frame on the first loop (a camera warming up), then the frames in turn."""

    def __init__(self, frames: Sequence[np.ndarray]) -> None:
        self.frames: Iterator[np.ndarray | None] = iter([None, *frames])

    def run(self) -> np.ndarray | None:
        return next(self.frames)


class Mode:
    """The user's switch: the pilot drives on the loops listed in `on`."""

    def __init__(self, on: Sequence[bool]) -> None:
        self.on = iter(on)

    def run(self) -> bool:
        return next(self.on)


class Log:
    """What the pilot answered each loop (None where it did not run)."""

    def __init__(self) -> None:
        self.seen: list[tuple[float, float] | None] = []

    def run(self, ran: bool, angle: float | None, throttle: float | None) -> None:
        self.seen.append((angle, throttle) if ran else None)


def frames(n: int = 6) -> list[np.ndarray]:
    """Consecutive frames of Donkey's camera size: the asymmetric road sliding sideways."""
    road = asymmetric_frame(*SIZE)
    return [np.roll(road, 9 * i, axis=1) for i in range(n)]


def drive(pilot: DrivenetPilot, shots: list[np.ndarray], on: Sequence[bool]) -> list:
    """The pilot's answers in the vehicle loop, as `manage.py` adds it; the loop ends with a shutdown."""
    vehicle, log = Vehicle(), Log()
    vehicle.add(Camera(shots), outputs=["cam/image_array"])
    vehicle.add(Mode([True, *on]), outputs=["run_pilot"])
    vehicle.add(
        pilot,
        inputs=["cam/image_array"],
        outputs=["pilot/angle", "pilot/throttle"],
        run_condition="run_pilot",
    )
    vehicle.add(log, inputs=["run_pilot", "pilot/angle", "pilot/throttle"])
    vehicle.start(len(shots) + 1)
    return log.seen


def test_a_checkpoint_pilot_steers_each_frame_as_the_model_does_keeping_its_history(tmp_path):
    model = model_of("mlp motion")
    path = save_model(model, tmp_path / "best.npz")
    shots = frames()
    on = [True, True, False, True, True, True]  # the user takes over on loop 3: the pilot sees 5 frames
    seen = drive(DrivenetPilot(path, throttle=0.25), shots, on)
    assert seen[0] == (0.0, 0.0)  # no camera frame yet
    control = model.controller()
    want = [control(shot).steering for shot, driving in zip(shots, on, strict=True) if driving]
    answered = [answer for answer in seen[1:] if answer is not None]
    assert [throttle for _, throttle in answered] == [0.25] * 5
    np.testing.assert_allclose([angle for angle, _ in answered], want, rtol=0, atol=1e-6)
    assert seen[3] is None and len(set(want)) == 5


def test_a_shut_down_pilot_answers_zero(tmp_path):
    pilot = DrivenetPilot(save_model(model_of("conv yuv"), tmp_path / "best.npz"))
    assert pilot.run(frames(1)[0]) != (0.0, 0.0)
    pilot.shutdown()
    assert pilot.run(frames(1)[0]) == (0.0, 0.0)


@needs_export
@pytest.mark.parametrize("kind", ["conv motion", "mlp several outputs"])
def test_an_onnx_pilot_drives_as_the_checkpoint_pilot(tmp_path, kind):
    from drivenet.export.onnx_graph import export_model, save_onnx

    model = model_of(kind)
    checkpoint = save_model(model, tmp_path / "best.npz")
    exported = save_onnx(export_model(model, "frame", SIZE), tmp_path / "car.onnx", force=False)
    shots, on = frames(), [True, True, False, True, True, True]
    by_onnx, by_checkpoint = (
        drive(DrivenetPilot(exported), shots, on),
        drive(DrivenetPilot(checkpoint), shots, on),
    )
    assert [a is None for a in by_onnx] == [a is None for a in by_checkpoint]
    np.testing.assert_allclose(
        [a for a in by_onnx if a is not None], [a for a in by_checkpoint if a is not None], rtol=0, atol=1e-5
    )
    if model.pedals:  # its own pedals: throttle less brake
        controls = model.controller()(shots[0])
        assert by_onnx[1][1] == pytest.approx(controls.throttle - controls.brake, abs=1e-5)


@needs_export
def test_an_onnx_pilot_refuses_another_camera_size_and_other_files_in_one_line(tmp_path):
    from drivenet.export.onnx_graph import export_model, save_onnx

    exported = save_onnx(
        export_model(model_of("conv yuv"), "frame", SIZE), tmp_path / "car.onnx", force=False
    )
    pilot = DrivenetPilot(exported)
    with pytest.raises(DrivenetError, match=r"\[120, 160, 3\].*--size 320x160") as caught:
        pilot.run(asymmetric_frame(320, 160))
    assert "\n" not in str(caught.value)
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(DrivenetError, match="junk.onnx: onnxruntime cannot load it"):
        DrivenetPilot(tmp_path / "junk.onnx")
    preprocessed = save_onnx(export_model(model_of("conv yuv"), "preprocessed"), tmp_path / "pre.onnx", False)
    with pytest.raises(DrivenetError, match="pre.onnx reads preprocessed images; export with --input frame"):
        DrivenetPilot(preprocessed)
