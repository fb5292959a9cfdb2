"""train_run: run folder contents, reproducibility, early stopping, interrupt + exact resume, divergence."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from support.tiny import make_recording, tiny_config

from drivenet.data import load_or_build
from drivenet.errors import DrivenetError
from drivenet.io import OUTPUT_MARKER
from drivenet.model.checkpoint import load_model
from drivenet.training import trainer
from drivenet.training.run_folder import METRIC_COLUMNS, RunFolder
from drivenet.training.trainer import TrainingDiverged, train_run

COMPARED = [c for c in METRIC_COLUMNS if c != "seconds"]


@pytest.fixture(scope="module")
def cache_path(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    config = tiny_config()
    cache = load_or_build(make_recording(folder / "rec"), config.data)
    return cache.save(folder / "cache.npz")


def metrics(run) -> list[dict[str, str]]:
    with open(run / "metrics.csv", newline="") as fh:
        return [{k: row[k] for k in COMPARED} for row in csv.DictReader(fh)]


def test_a_run_writes_its_folder_and_learns(cache_path, tmp_path):
    config = tiny_config("train.epochs=6")
    result = train_run(cache_path, config, tmp_path / "run")
    assert result.status == "finished" and result.state.epoch == 6
    assert {p.name for p in (tmp_path / "run").iterdir()} == {
        "config.toml",
        "metrics.csv",
        "best.npz",
        "last.npz",
        OUTPUT_MARKER,
    }
    with open(tmp_path / "run" / "metrics.csv", newline="") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
    assert tuple(reader.fieldnames) == METRIC_COLUMNS and len(rows) == 6
    assert float(rows[-1]["train_loss"]) < float(rows[0]["train_loss"])
    assert "epochs = 6" in (tmp_path / "run" / "config.toml").read_text()
    best_epoch = load_model(result.best).meta["epoch"]
    assert best_epoch == result.state.best_epoch
    assert min(float(r["val_loss"]) for r in rows) == pytest.approx(float(rows[best_epoch - 1]["val_loss"]))


def test_the_same_seed_gives_the_same_metrics(cache_path, tmp_path):
    runs = [tmp_path / name for name in ("a", "b", "c")]
    for run, seed in zip(runs, (0, 0, 1), strict=True):
        train_run(cache_path, tiny_config(f"train.seed={seed}", "augment.flip=true"), run)
    assert metrics(runs[0]) == metrics(runs[1])
    assert metrics(runs[0]) != metrics(runs[2])


def test_an_existing_run_needs_force(cache_path, tmp_path):
    train_run(cache_path, tiny_config("train.epochs=1"), tmp_path / "run")
    with pytest.raises(DrivenetError, match="--force"):
        train_run(cache_path, tiny_config("train.epochs=1"), tmp_path / "run")
    train_run(cache_path, tiny_config("train.epochs=2"), tmp_path / "run", force=True)
    assert len(metrics(tmp_path / "run")) == 2


def test_interrupt_then_resume_matches_an_uninterrupted_run(cache_path, tmp_path, monkeypatch):
    config = tiny_config("augment.flip=true", "augment.brightness=0.2", "model.dropout=0.3")
    train_run(cache_path, config, tmp_path / "whole")

    real_step, calls = trainer.train_step, []

    def step_then_ctrl_c(*args):
        calls.append(1)
        if len(calls) == 7:  # in the middle of epoch 2
            raise KeyboardInterrupt
        return real_step(*args)

    monkeypatch.setattr(trainer, "train_step", step_then_ctrl_c)
    result = train_run(cache_path, config, tmp_path / "cut")
    assert result.status == "interrupted"
    assert load_model(tmp_path / "cut" / "last.npz").meta["train_state"]["batch"] > 0
    monkeypatch.setattr(trainer, "train_step", real_step)

    resumed = train_run(cache_path, config, tmp_path / "cut", resume=True)
    assert resumed.status == "finished"
    assert metrics(tmp_path / "cut") == metrics(tmp_path / "whole")
    whole, cut = (load_model(tmp_path / run / "last.npz").net.state_dict() for run in ("whole", "cut"))
    for name in whole:
        np.testing.assert_array_equal(whole[name], cut[name])


def test_resume_can_extend_a_finished_run(cache_path, tmp_path):
    train_run(cache_path, tiny_config("train.epochs=2"), tmp_path / "run")
    result = train_run(cache_path, tiny_config("train.epochs=3"), tmp_path / "run", resume=True)
    assert result.state.epoch == 3 and len(metrics(tmp_path / "run")) == 3


def test_early_stopping_after_patience_epochs(cache_path, tmp_path):
    result = train_run(
        cache_path,
        tiny_config("train.epochs=50", "train.patience=1", "train.lr=0.5"),
        tmp_path / "r",
    )
    assert result.status == "early_stopped"
    assert result.state.epoch == result.state.best_epoch + 1 < 50


def test_a_diverging_run_stops_and_keeps_the_last_good_checkpoint(cache_path, tmp_path, monkeypatch):
    real_step, calls = trainer.train_step, []

    def step(*args):
        calls.append(1)
        return float("nan") if len(calls) > 8 else real_step(*args)  # epoch 1 has 5 batches

    monkeypatch.setattr(trainer, "train_step", step)
    with pytest.raises(TrainingDiverged, match="diverged.*epoch 2.*keep the last good"):
        train_run(cache_path, tiny_config(), tmp_path / "run")
    last = load_model(tmp_path / "run" / "last.npz")
    assert last.meta["epoch"] == 1
    assert all(np.isfinite(v).all() for v in last.net.state_dict().values())


def test_a_cache_made_with_other_settings_is_refused(cache_path, tmp_path):
    with pytest.raises(DrivenetError, match="preprocess"):
        train_run(cache_path, tiny_config("data.width=20"), tmp_path / "run")


def test_resume_from_a_copy_of_best_is_a_clear_error(cache_path, tmp_path):
    train_run(cache_path, tiny_config("train.epochs=1"), tmp_path / "run")
    (tmp_path / "run" / "last.npz").write_bytes((tmp_path / "run" / "best.npz").read_bytes())
    with pytest.raises(DrivenetError, match="last.npz.*training state"):
        train_run(cache_path, tiny_config("train.epochs=2"), tmp_path / "run", resume=True)


def test_resume_with_a_garbled_metrics_file_is_a_clear_error(cache_path, tmp_path):
    train_run(cache_path, tiny_config("train.epochs=1"), tmp_path / "run")
    path = tmp_path / "run" / "metrics.csv"
    header, row = path.read_text().splitlines()
    path.write_text(f"{header}\n{row.replace(row.split(',')[1], 'oops', 1)}\n")
    with pytest.raises(DrivenetError, match="metrics.csv.*row 2"):
        train_run(cache_path, tiny_config("train.epochs=2"), tmp_path / "run", resume=True)


@pytest.mark.parametrize("change", ["model.hidden=[4]", "train.val_fraction=0.5", "data.motion_gaps=[2]"])
def test_resume_refuses_settings_that_would_change_the_run(cache_path, tmp_path, change):
    train_run(cache_path, tiny_config("train.epochs=1"), tmp_path / "run")
    with pytest.raises(DrivenetError, match=change.split("=")[0].replace(".", r"\.")):
        train_run(cache_path, tiny_config(change), tmp_path / "run", resume=True)
    with pytest.raises(DrivenetError, match=change.split("=")[0].replace(".", r"\.")):
        RunFolder(tmp_path / "run").resume_config([change])


def test_resume_accepts_schedule_and_augmentation_changes(cache_path, tmp_path):
    train_run(cache_path, tiny_config("train.epochs=1"), tmp_path / "run")
    allowed = [
        "train.epochs=2",
        "train.lr=0.005",
        "train.lr_decay=0.9",
        "train.patience=3",
        "augment.flip=true",
    ]
    config = RunFolder(tmp_path / "run").resume_config(allowed)
    assert train_run(cache_path, config, tmp_path / "run", resume=True).state.epoch == 2


def test_a_run_remembers_the_raw_frame_size(cache_path, tmp_path):
    train_run(cache_path, tiny_config("train.epochs=1"), tmp_path / "run")
    assert load_model(tmp_path / "run" / "best.npz").frame_size == (48, 36)


def test_the_run_folder_can_never_be_the_data(tmp_path):
    recording = make_recording(tmp_path / "rec", frames=40)
    for out in (recording, tmp_path):
        with pytest.raises(DrivenetError, match="choose another output folder"):
            train_run(recording, tiny_config(), out, force=True)
    assert len(list((recording / "IMG").iterdir())) == 40


def test_recovery_views_reach_training(cache_path, tmp_path, monkeypatch):
    """augment.shift_m / yaw_deg make the trainer hand the dataset its view-synthesis settings."""
    seen = []
    original = trainer.SteeringDataset

    def spy(*args, **kwargs):
        seen.append(kwargs.get("views"))
        return original(*args, **kwargs)

    monkeypatch.setattr(trainer, "SteeringDataset", spy)
    train_run(cache_path, tiny_config("train.epochs=1"), tmp_path / "plain")
    views = ("augment.shift_m=0.5", "augment.yaw_deg=2.0", 'camera.preset="udacity"')
    config = tiny_config("train.epochs=1", *views)
    train_run(cache_path, config, tmp_path / "views")
    assert seen[0] is None
    assert seen[1] is not None and seen[1].shift_m == 0.5 and seen[1].yaw_deg == 2.0
