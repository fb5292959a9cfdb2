"""Train a steering model: mini-batch gradient descent with validation, checkpoints, early stopping, resume.

Each epoch draws its shuffled, augmented batches from a generator seeded by (seed, epoch), so a run is
reproducible and a resumed run sees exactly the batches it would have seen. Per batch: forward pass,
loss L (the steering encoding's loss plus each pedal target's weighted squared error,
`drivenet.model.targets`), backward pass, optimizer step. After each epoch: validation loss and
metrics on the held-out blocks, a row of `metrics.csv`, `best.npz` when the validation loss improved,
and `last.npz` (weights, optimizer state, progress): see `run_folder`. Training stops after
`train.epochs`, or after `train.patience` epochs without a better validation loss (early stopping).

`prepare_training` loads the data and the model; `Training.train` runs the loop, told by the caller of a
progress display and a Ctrl-C flag (`console`): the flag is read between batches, and `last.npz` then
records the exact batch reached, from which `--resume` continues. A NaN or infinite
loss stops the run, keeping the last good checkpoint.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from drivenet.config import AugmentConfig, CameraConfig, DataConfig, RunConfig, TrainConfig
from drivenet.data.cache import SteeringCache, load_or_build
from drivenet.data.dataset import SteeringDataset, clip_batches, target_labels
from drivenet.data.marked import recorded_camera
from drivenet.data.split import DataSplit, split_frames
from drivenet.data.transform import Preprocess
from drivenet.errors import DrivenetError
from drivenet.geometry.camera import camera_for_frames
from drivenet.geometry.viewsynth import RecoveryViews
from drivenet.model.steering_model import SteeringModel
from drivenet.nn import SGD, Adam
from drivenet.training.console import Silent, TrainDisplay
from drivenet.training.metrics import rmse, steering_metrics
from drivenet.training.run_folder import RunFolder, TrainState, data_fingerprint, same_data


class TrainingDiverged(DrivenetError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


@dataclass
class RunResult:
    """What `Training.train` did: status is finished, early_stopped or interrupted."""

    run: RunFolder
    status: str
    state: TrainState
    history: list[dict[str, float]] = field(default_factory=list)

    @property
    def out(self) -> Path:
        return self.run.out

    @property
    def best(self) -> Path:
        return self.run.best

    @property
    def last(self) -> Path:
        return self.run.last


def never() -> bool:
    """A Ctrl-C flag that is never set."""
    return False


@dataclass
class Training:
    """A run ready to train (`prepare_training`): its data, split, model, optimizer and progress."""

    run: RunFolder
    config: RunConfig
    cache: SteeringCache
    split: DataSplit
    model: SteeringModel
    optimizer: Adam | SGD
    state: TrainState
    history: list[dict[str, float]]
    dataset: SteeringDataset
    val_labels: np.ndarray  # of split.val: steering (N,), or steering and pedals (N, T) (`target_labels`)

    def train(
        self, display: TrainDisplay | None = None, stop_requested: Callable[[], bool] = never
    ) -> RunResult:
        """Train until `train.epochs`, early stopping, or `stop_requested()` (read between batches) or
        Ctrl-C: then `last.npz` is saved and the status is interrupted. `display` is told of every batch
        and epoch."""
        run, config, cache, split, model, optimizer = (
            self.run,
            self.config,
            self.cache,
            self.split,
            self.model,
            self.optimizer,
        )
        settings, state, history, display = config.train, self.state, self.history, display or Silent()
        try:
            while state.epoch < settings.epochs and state.stale < settings.patience:
                epoch = state.epoch + 1
                optimizer.lr = settings.lr * settings.lr_decay ** (epoch - 1)
                started = time.perf_counter() - state.seconds
                train_epoch(
                    model, optimizer, self.dataset, state, epoch, settings, display, stop_requested, run,
                    config.model.target_weights,
                )  # fmt: skip
                if state.batch == 0:
                    raise DrivenetError(_no_batches(epoch, len(split.train), config.augment))
                val_clips = clip_batches(cache, split.val, self.dataset.earlier)  # within the splits' runs
                row = {"epoch": epoch, "train_loss": state.train_loss}
                row.update(
                    validate(
                        model,
                        val_clips,
                        self.val_labels,
                        config.evaluate.straight_band,
                        config.model.target_weights,
                    )
                )
                if not math.isfinite(row["val_loss"]):
                    raise TrainingDiverged(_diverged(run, epoch, state.batch, row["val_loss"], optimizer.lr))
                row.update(lr=optimizer.lr, seconds=time.perf_counter() - started)
                batches = state.batch
                state, improved = state.next_epoch(row["val_loss"])
                self.state = state
                history.append(row)
                if improved:
                    run.save_best(model, row)
                run.write_history(history, model.pedals)
                run.save_last(model, optimizer.state_dict(), state)
                display.end_epoch(batches, row, improved)
        except KeyboardInterrupt:
            run.save_last(model, optimizer.state_dict(), state)
            return RunResult(run, "interrupted", state, history)
        status = "finished" if state.epoch >= settings.epochs else "early_stopped"
        return RunResult(run, status, state, history)


def prepare_training(
    source: str | Path | Sequence[str | Path],
    config: RunConfig,
    out: str | Path,
    force: bool = False,
    resume: bool = False,
    progress: bool = False,
) -> Training:
    """Load caches or recording folders `source` (one, or several stacked; a progress bar while they are
    read if `progress`) and a fresh model in the new run folder `out`, or the run's last checkpoint.

    The validation rows choose the best epoch and stop training early; the test rows are never read.
    Nothing is written before the data is loaded and found to have every target of the model, so a
    Ctrl-C until then, or a pedal target missing in the training frames, leaves no run folder.
    """
    sources = [Path(source)] if isinstance(source, (str, Path)) else [Path(s) for s in source]
    run = RunFolder(out)
    cache, model, optimizer_state, state = _start(sources, config, run, force, resume, progress)
    split = split_frames(cache, config.train)
    views = None
    if config.augment.views:
        views = recovery_views(config.augment, config.data, config.camera, cache.frame_size, sources)
    dataset = SteeringDataset(
        cache, split.train, config.augment, motion_gaps=model.motion_gaps, part=split.part, views=views,
        pedals=model.pedals,
    )  # fmt: skip
    val_labels = target_labels(cache, model.targets, split.val)
    if not resume:  # the data fits the model's targets: start the run folder
        run.create(force, sources)
    model.meta["train_mean_steering"] = float(np.mean(cache.steering[split.train]))
    for j, pedal in enumerate(model.pedals):
        model.meta[f"train_mean_{pedal}"] = float(np.mean(dataset.pedals[split.train, j]))
    optimizer = make_optimizer(model.net.parameters(), config.train)
    if optimizer_state is not None:
        try:
            optimizer.load_state_dict(optimizer_state)
        except ValueError as err:
            raise DrivenetError(f"{run.last}: {err}") from None
    history = run.history(state.epoch) if resume else []
    run.write_config(config)
    run.write_history(history, model.pedals)
    return Training(run, config, cache, split, model, optimizer, state, history, dataset, val_labels)


def train_run(
    source: str | Path | Sequence[str | Path],
    config: RunConfig,
    out: str | Path,
    force: bool = False,
    resume: bool = False,
    display: TrainDisplay | None = None,
    stop_requested: Callable[[], bool] = never,
) -> RunResult:
    """`prepare_training` then `Training.train`, in one call (no loading progress bar)."""
    return prepare_training(source, config, out, force, resume).train(display, stop_requested)


def train_epoch(
    model: SteeringModel,
    optimizer: Adam | SGD,
    dataset: SteeringDataset,
    state: TrainState,
    epoch: int,
    settings: TrainConfig,
    display: TrainDisplay,
    stop_requested: Callable[[], bool],
    run: RunFolder,
    weights: Mapping[str, float],
) -> None:
    """The batches of one epoch (after those `state` has already done, when resuming), each a `train_step`
    with the pedal `weights` recorded in `state`; KeyboardInterrupt when `stop_requested()` between two
    batches."""
    dataset.reseed(epoch_seed(settings.seed, epoch))
    display.start_epoch(epoch, dataset.batches_per_epoch(settings.batch_size), state.batch)
    batches = dataset.batches(settings.batch_size)
    for _ in range(state.batch):  # a resumed epoch: replay the batches already trained on
        next(batches)
    started = time.perf_counter() - state.seconds
    for x, y in batches:
        if stop_requested():
            raise KeyboardInterrupt
        model.net.seed_dropout(epoch_seed(settings.seed, epoch, state.batch))
        loss = train_step(model, optimizer, x, y, weights)
        if not math.isfinite(loss):
            raise TrainingDiverged(_diverged(run, epoch, state.batch + 1, loss, optimizer.lr))
        state.add_batch(loss, len(y), time.perf_counter() - started)
        display.batch(state.batch, state.train_loss)


def make_optimizer(params: list[Any], settings: TrainConfig) -> Adam | SGD:
    """The optimizer named by `train.optimizer`."""
    if settings.optimizer == "adam":
        return Adam(params, lr=settings.lr, weight_decay=settings.weight_decay)
    return SGD(params, lr=settings.lr, momentum=settings.momentum, weight_decay=settings.weight_decay)


def train_step(
    model: SteeringModel,
    optimizer: Adam | SGD,
    x: np.ndarray,
    labels: np.ndarray,
    weights: Mapping[str, float] | None = None,
) -> float:
    """One gradient step on a batch of flat inputs (`Preprocess.to_inputs`), in training mode (dropout on),
    with `labels` steering (B,) or steering and pedals (B, T) and the pedal `weights` of the loss
    (`TargetHeads.loss`, 1 each when not given); returns the batch loss (before the update)."""
    outputs = model.net.train().forward(model.arrange(x.astype(model.net.dtype, copy=False)))
    loss, grad = model.heads.loss(outputs, labels, weights)
    model.net.backward(grad)  # overwrites every .grad, so there is nothing to zero first
    optimizer.step()
    return float(loss)


def epoch_seed(seed: int, epoch: int, batch: int | None = None) -> int:
    """The seed of one epoch's shuffling and augmentation, derived from the run seed; with `batch`, the
    seed of that batch's dropout masks (so a resumed run draws the masks it would have drawn)."""
    keys = [seed, epoch] if batch is None else [seed, epoch, batch]
    return int(np.random.SeedSequence(keys).generate_state(1)[0])


def validate(
    model: SteeringModel,
    val_clips: Iterable[np.ndarray],
    val_labels: np.ndarray,
    band: float,
    weights: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """Validation loss (the training loss, with the pedal `weights`) and metrics: steering's, and the RMSE
    of each pedal the model predicts (`val_<pedal>_rmse`). `val_labels` are steering (N,), or steering
    and pedals (N, T); each batch of clips is turned into inputs as it comes (in eval mode)."""
    outputs = np.concatenate(
        [model.net.predict(model.arrange(model.preprocess.to_inputs(clips))) for clips in val_clips]
    )
    heads = model.heads
    loss = heads.loss(outputs, val_labels, weights)[0]
    predicted = heads.decode(outputs)
    labels = np.asarray(val_labels).reshape(len(outputs), -1)
    m = steering_metrics(predicted["steering"], labels[:, 0], band)
    turn = m["turn_sign_accuracy"]
    row = {
        "val_loss": loss,
        "val_rmse": m["rmse"],
        "val_mae": m["mae"],
        "val_direction_accuracy": m["direction_accuracy"],
        "val_turn_sign_accuracy": math.nan if turn is None else turn,
    }
    row.update(
        {f"val_{name}_rmse": rmse(predicted[name], labels[:, 1 + j]) for j, name in enumerate(heads.pedals)}
    )
    return row


def _start(
    sources: list[Path], config: RunConfig, run: RunFolder, force: bool, resume: bool, progress: bool
) -> tuple[SteeringCache, SteeringModel, dict[str, Any] | None, TrainState]:
    """Load the data and either a fresh model (its run folder checked, not yet made) or the run's last
    checkpoint."""
    source = ", ".join(map(str, sources))  # for messages
    if resume and force:
        raise DrivenetError("--resume continues the run in place and --force deletes it: pass only one")
    if resume:
        model, optimizer_state, state = run.load_last(config)
    else:
        run.check_new(force, sources)
    cache = load_or_build(sources, config.data, progress=progress)
    if resume:
        model.check_images(cache.preprocess, source)
        if not same_data(model.meta.get("data"), cache):
            raise DrivenetError(
                f"{source}: not the data this run was trained on; resume it with the same cache"
            )
        model.meta["config"] = config.to_dict()
        return cache, model, optimizer_state, state
    wanted = Preprocess.from_config(config.data)
    if cache.preprocess != wanted:
        raise DrivenetError(
            f"{source}: cache made with preprocessing {cache.preprocess.to_dict()}, but the config asks "
            f"for {wanted.to_dict()}; re-run `drivenet preprocess` with this config or train on the recording"
        )
    model = SteeringModel.build(config, cache.preprocess)
    model.meta["data"] = data_fingerprint(cache)
    model.meta["frame_size"] = cache.frame_size
    return cache, model, None, TrainState()


def recovery_views(
    augment: AugmentConfig,
    data: DataConfig,
    camera: CameraConfig,
    frame_size: tuple[int, int] | None,
    sources: list[Path],
) -> RecoveryViews:
    """View synthesis as `[augment]` sets it, with the camera of the recordings (`data.format`, `[camera]`,
    or the camera they name themselves)."""
    recorded = recorded_camera(sources, data)
    model = camera_for_frames(data.format, camera, frame_size, recorded)
    return RecoveryViews(
        model, augment.shift_m, augment.yaw_deg, augment.recovery_seconds, augment.recovery_speed
    )


def _no_batches(epoch: int, frames: int, settings: AugmentConfig) -> str:
    return (
        f"epoch {epoch} had no training batch: all {frames} training frames were left out "
        f"(augment.drop_zero_share = {settings.drop_zero_share} drops frames with |steering| below "
        f"augment.zero_threshold = {settings.zero_threshold}); lower augment.drop_zero_share"
    )


def _diverged(run: RunFolder, epoch: int, batch: int, loss: float, lr: float) -> str:
    kept = (
        "last.npz and best.npz keep the last good weights"
        if run.last.is_file()
        else "no checkpoint was written yet"
    )
    return (
        f"training diverged: the loss became {loss} at epoch {epoch}, batch {batch}; {kept}; "
        f"lower train.lr (now {lr:g}), e.g. --set train.lr={lr / 10:g}"
    )
