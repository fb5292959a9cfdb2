"""A recording that names its camera (`drivenet synth`'s camera.json) is warped with that camera."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from drivenet.config import DataConfig, load_config
from drivenet.data.marked import recorded_camera
from drivenet.errors import DrivenetError
from drivenet.geometry.camera import MARKER, PRESETS, from_render_camera
from drivenet.geometry.viewsynth import RecoveryViews
from drivenet.roads.renderer import Camera
from drivenet.roads.synth import write_recording
from drivenet.training import trainer
from drivenet.training.trainer import recovery_views, train_run

CAMERA = Camera(32, 16)


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("marked") / "syn"
    write_recording(out, 12, seed=2, camera=CAMERA)
    return out


def udacity_log(folder: Path, frames: int = 4) -> Path:
    """A small Udacity recording without a marker."""
    (folder / "IMG").mkdir(parents=True)
    rows = ["center,left,right,steering,throttle,brake,speed"]
    for k in range(frames):
        Image.new("RGB", (32, 16), (90, 100, 110 + k)).save(folder / f"IMG/c{k}.jpg")
        rows.append(f"IMG/c{k}.jpg,,,0.1,0,0,20")
    (folder / "driving_log.csv").write_text("\n".join(rows) + "\n")
    return folder


def test_synth_names_the_renderer_camera(synthetic: Path, tmp_path: Path) -> None:
    assert (synthetic / MARKER).is_file()
    assert recorded_camera([synthetic], DataConfig()) == from_render_camera(CAMERA)
    assert recorded_camera([synthetic / "driving_log.csv"], DataConfig()) == from_render_camera(CAMERA)
    assert recorded_camera([udacity_log(tmp_path / "u")], DataConfig()) is None


def test_recordings_of_different_cameras_are_refused(synthetic: Path, tmp_path: Path) -> None:
    with pytest.raises(DrivenetError, match="different cameras"):
        recorded_camera([synthetic, udacity_log(tmp_path / "u")], DataConfig())


def test_recovery_views_take_the_recorded_camera_unless_a_preset_is_set(synthetic: Path) -> None:
    config = load_config(None, ["augment.shift_m=0.5"])
    views = recovery_views(config.augment, config.data, config.camera, (32, 16), [synthetic])
    assert views is not None and views.camera == from_render_camera(CAMERA)
    chosen = load_config(None, ["augment.shift_m=0.5", "camera.preset=udacity"])
    views = recovery_views(chosen.augment, chosen.data, chosen.camera, (32, 16), [synthetic])
    assert views is not None and views.camera == PRESETS["udacity"]


def test_training_on_a_synth_recording_warps_with_its_camera(
    synthetic: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[RecoveryViews | None] = []
    original = trainer.recovery_views

    def spy(*args, **kwargs) -> RecoveryViews | None:
        made.append(original(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(trainer, "recovery_views", spy)
    settings = ["data.width=8", "data.height=4", "model.hidden=[4]", "train.epochs=1", "train.split_block=4"]
    settings.append("augment.shift_m=0.5")
    train_run(synthetic, load_config(None, settings), tmp_path / "run")
    assert len(made) == 1 and made[0] is not None
    assert made[0].camera == from_render_camera(CAMERA)
