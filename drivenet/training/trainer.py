"""Train a steering model: mini-batch gradient descent with validation, checkpoints, early stopping, resume.

Each epoch draws its shuffled, augmented batches from a generator seeded by (seed, epoch), so a run is
reproducible and a resumed run sees exactly the batches it would have seen. Per batch: forward pass,
loss L(outputs, encode(steering)), backward pass, optimizer step. After each epoch: validation loss and
metrics on the held-out blocks, a row of `metrics.csv`, `best.npz` when the validation loss improved,
and `last.npz` (weights, optimizer state, progress). Training stops after `train.epochs`, or after
`train.patience` epochs without a better validation loss (early stopping).

Ctrl-C is caught between batches: `last.npz` then records the exact batch reached and `--resume`
continues from it. A NaN or infinite loss stops the run, keeping the last good checkpoint.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from drivenet.config import Config, load_config, to_toml
from drivenet.data.cache import SteeringCache, load_or_build
from drivenet.data.dataset import SteeringDataset
from drivenet.data.split import block_split
from drivenet.data.transform import Preprocess
from drivenet.errors import DrivenetError
from drivenet.io import check_output_dir, prepare_output_dir, write_text
from drivenet.nn import SGD, Adam
from drivenet.training.checkpoint import SteeringModel, load_checkpoint
from drivenet.training.metrics import steering_metrics

METRIC_COLUMNS = (
    "epoch",
    "train_loss",
    "val_loss",
    "val_rmse",
    "val_mae",
    "val_direction_accuracy",
    "val_turn_sign_accuracy",
    "lr",
    "seconds",
)


# settings that may change when a run resumes: its schedule and its augmentation (a section name: all keys)
RESUMABLE = ("train.epochs", "train.patience", "train.lr", "train.lr_decay", "augment")


class TrainingDiverged(DrivenetError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


@dataclass
class TrainState:
    """Where a run stands; saved in `last.npz` so that `--resume` continues exactly."""

    epoch: int = 0  # epochs completed
    batch: int = 0  # batches completed in the epoch under way
    loss_sum: float = 0.0  # sum over those batches of loss x batch size
    seen: int = 0  # frames in those batches
    seconds: float = 0.0  # time spent on the epoch under way
    best_val_loss: float | None = None
    best_epoch: int = 0
    stale: int = 0  # epochs since the best validation loss

    @property
    def train_loss(self) -> float:
        """Mean training loss over the batches of the epoch so far."""
        return self.loss_sum / max(self.seen, 1)

    def add_batch(self, loss: float, size: int, seconds: float) -> None:
        self.batch += 1
        self.loss_sum += loss * size
        self.seen += size
        self.seconds = seconds

    def next_epoch(self, val_loss: float) -> tuple[TrainState, bool]:
        """The state after this epoch ends with `val_loss`, and whether that is the best so far."""
        improved = self.best_val_loss is None or val_loss < self.best_val_loss
        return (
            TrainState(
                epoch=self.epoch + 1,
                best_val_loss=val_loss if improved else self.best_val_loss,
                best_epoch=self.epoch + 1 if improved else self.best_epoch,
                stale=0 if improved else self.stale + 1,
            ),
            improved,
        )


@dataclass
class RunResult:
    """What `train_run` did: status is finished, early_stopped or interrupted."""

    out: Path
    status: str
    state: TrainState
    history: list[dict[str, float]] = field(default_factory=list)

    @property
    def best(self) -> Path:
        return self.out / "best.npz"

    @property
    def last(self) -> Path:
        return self.out / "last.npz"


def check_train_settings(train_cfg: dict[str, Any]) -> None:
    """Refuse `[train]` values that cannot train, naming the key."""
    rules = {
        "epochs": (train_cfg["epochs"] >= 1, "at least 1"),
        "batch_size": (train_cfg["batch_size"] >= 1, "at least 1"),
        "lr": (train_cfg["lr"] > 0, "positive"),
        "lr_decay": (train_cfg["lr_decay"] > 0, "positive"),
        "patience": (train_cfg["patience"] >= 1, "at least 1"),
        "val_fraction": (0 < train_cfg["val_fraction"] < 1, "between 0 and 1"),
        "split_block": (train_cfg["split_block"] >= 0, "0 or more"),
    }
    for key, (ok, wanted) in rules.items():
        if not ok:
            raise DrivenetError(f"train.{key} = {train_cfg[key]}: must be {wanted}")


def make_optimizer(params: list[Any], train_cfg: dict[str, Any]) -> Adam | SGD:
    """The optimizer named by `[train]`."""
    if train_cfg["optimizer"] == "adam":
        return Adam(params, lr=train_cfg["lr"], weight_decay=train_cfg["weight_decay"])
    if train_cfg["optimizer"] == "sgd":
        return SGD(
            params, lr=train_cfg["lr"], momentum=train_cfg["momentum"], weight_decay=train_cfg["weight_decay"]
        )
    raise DrivenetError(f"train.optimizer = {train_cfg['optimizer']!r}: expected adam or sgd")


def train_step(model: SteeringModel, optimizer: Adam | SGD, x: np.ndarray, steering: np.ndarray) -> float:
    """One gradient step on a batch; returns the batch loss (before the update)."""
    outputs = model.net.forward(x.astype(model.net.dtype, copy=False))
    loss, grad = model.encoding.loss(outputs, model.encoding.encode(steering))
    model.net.backward(grad)  # overwrites every .grad, so there is nothing to zero first
    optimizer.step()
    return float(loss)


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of one epoch's shuffling and augmentation, derived from the run seed."""
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])


def data_fingerprint(cache: SteeringCache) -> dict[str, Any]:
    """A cheap identity of the training data, to refuse resuming on other frames."""
    return {
        "frames": int(len(cache.steering)),
        "steering_sum": round(float(np.sum(cache.steering, dtype=np.float64)), 4),
    }


def resume_config(out: str | Path, overrides: list[str]) -> Config:
    """The config of an existing run folder, with `--set` overrides of RESUMABLE keys applied."""
    path = Path(out) / "config.toml"
    if not path.is_file():
        raise DrivenetError(
            f"{out}: no config.toml here, so there is no run to resume; start it without --resume"
        )
    for override in overrides:
        check_resumable(override.partition("=")[0].strip())
    return load_config(path, overrides)


def check_resumable(key: str) -> None:
    """Refuse to change `section.key` on resume unless it is in RESUMABLE."""
    section = key.partition(".")[0]
    if key not in RESUMABLE and section not in RESUMABLE:
        raise DrivenetError(
            f"{key} cannot change when a run resumes (only {', '.join(RESUMABLE)}); "
            "start a new run with --out for other settings"
        )


def check_same_run(config: Config, saved: Config) -> None:
    """Refuse a resume config that differs from the run's saved one outside RESUMABLE."""
    for section, values in saved.items():
        for key, value in values.items():
            if config.get(section, {}).get(key) != value:
                check_resumable(f"{section}.{key}")


@contextlib.contextmanager
def ctrl_c_between_batches() -> Iterator[Callable[[], bool]]:
    """While active, a first Ctrl-C only sets a flag that the loop checks between batches; a second one
    interrupts at once. Yields the flag's reader."""
    pressed: list[bool] = []
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return

    def handler(signum: int, frame: Any) -> None:
        if pressed:
            raise KeyboardInterrupt
        pressed.append(True)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield lambda: bool(pressed)
    finally:
        signal.signal(signal.SIGINT, previous)


def read_history(path: Path) -> list[dict[str, float]]:
    """The rows of a metrics.csv as floats; DrivenetError naming the row when a value is not a number."""
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    history = []
    for line, row in enumerate(rows, start=2):
        try:
            history.append({k: float(v) for k, v in row.items()})
        except (TypeError, ValueError):
            raise DrivenetError(
                f"{path}, row {line}: not a number in {row}; restore the file or start the run again"
            ) from None
    return history


def write_history(path: Path, history: list[dict[str, float]]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=METRIC_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in history:
        writer.writerow({k: (int(v) if k == "epoch" else f"{v:.6g}") for k, v in row.items()})
    write_text(path, buf.getvalue())


def _validation_row(
    model: SteeringModel, val_x: np.ndarray, val_y: np.ndarray, band: float
) -> dict[str, float]:
    outputs = model.net.predict(val_x)
    loss = float(model.encoding.loss(outputs, model.encoding.encode(val_y))[0])
    m = steering_metrics(model.encoding.decode(outputs), val_y, band)
    turn = m["turn_sign_accuracy"]
    return {
        "val_loss": loss,
        "val_rmse": m["rmse"],
        "val_mae": m["mae"],
        "val_direction_accuracy": m["direction_accuracy"],
        "val_turn_sign_accuracy": math.nan if turn is None else turn,
    }


def expected_batches(labels: np.ndarray, augment_cfg: dict[str, Any], batch_size: int) -> int:
    """Batches in an epoch on average: near-zero frames are dropped with probability drop_zero_share."""
    near_zero = np.sum(np.abs(labels) < augment_cfg["zero_threshold"])
    return max(1, math.ceil((len(labels) - augment_cfg["drop_zero_share"] * near_zero) / batch_size))


def split_frames(cache: SteeringCache, train_cfg: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Train and validation indices: contiguous blocks (`train.split_block` moments, 0 for a single block of
    `train.val_fraction`); validation uses the centre camera only (when there is one)."""
    block = train_cfg["split_block"]
    if block == 0:  # one contiguous block of val_fraction of each recording
        longest = int(cache.frames.groupby("recording")["frame"].nunique().max())
        block = max(1, math.ceil(train_cfg["val_fraction"] * longest))
    train_idx, val_idx = block_split(cache.frames, train_cfg["val_fraction"], block, train_cfg["split_seed"])
    val_idx = cache.centre_rows(val_idx)
    if len(train_idx) == 0 or len(val_idx) == 0:
        raise DrivenetError(
            f"{len(cache.steering)} frames split into {len(train_idx)} training and {len(val_idx)} "
            "validation frames; record more frames or change train.val_fraction / train.split_block"
        )
    return np.asarray(train_idx), np.asarray(val_idx)


def _start(
    source: Path, config: Config, out: Path, force: bool, resume: bool, progress: bool
) -> tuple[SteeringCache, SteeringModel, dict[str, Any] | None, TrainState]:
    """Load the data and either a fresh model in an empty run folder or the run's last checkpoint."""
    check_train_settings(config["train"])
    if resume and force:
        raise DrivenetError("--resume continues the run in place and --force deletes it: pass only one")
    if resume:
        if not (out / "last.npz").is_file():
            raise DrivenetError(f"{out}: no last.npz to resume from; start the run without --resume")
        model, optimizer_state = load_checkpoint(out / "last.npz")
        if "train_state" not in model.meta or optimizer_state is None:
            raise DrivenetError(
                f"{out / 'last.npz'}: no training state (is it a copy of best.npz?); "
                "restore the last.npz that training wrote, or start the run again"
            )
        check_same_run(config, model.config)
    else:
        check_output_dir(out, force, inputs=[source])  # before the slow part: loading the data
    cache = load_or_build(source, config["data"], progress=progress)
    if resume:
        model.check_images(cache.preprocess, source)
        if model.meta.get("data") != data_fingerprint(cache):
            raise DrivenetError(
                f"{source}: not the data this run was trained on; resume it with the same cache"
            )
        model.meta["config"] = config
        return cache, model, optimizer_state, TrainState(**model.meta["train_state"])
    wanted = Preprocess.from_config(config["data"])
    if cache.preprocess != wanted:
        raise DrivenetError(
            f"{source}: cache made with preprocessing {cache.preprocess.to_dict()}, but the config asks "
            f"for {wanted.to_dict()}; re-run `drivenet preprocess` with this config or train on the recording"
        )
    model = SteeringModel.build(config, cache.preprocess)
    prepare_output_dir(out, force, inputs=[source])
    model.meta["data"] = data_fingerprint(cache)
    model.meta["frame_size"] = cache.frame_size
    return cache, model, None, TrainState()


def train_run(
    source: str | Path,
    config: Config,
    out: str | Path,
    force: bool = False,
    resume: bool = False,
    progress: bool = True,
) -> RunResult:
    """Train on a cache or recording `source`; write config.toml, metrics.csv, best.npz, last.npz to `out`."""
    source, out = Path(source), Path(out)
    cache, model, optimizer_state, state = _start(source, config, out, force, resume, progress)
    train_cfg = config["train"]
    train_idx, val_idx = split_frames(cache, train_cfg)
    model.meta["train_mean_steering"] = float(np.mean(cache.steering[train_idx]))
    val_x = model.preprocess.to_inputs(model.cache_clips(cache, val_idx)).astype(model.net.dtype, copy=False)
    val_y = cache.steering[val_idx]
    optimizer = make_optimizer(model.net.parameters(), train_cfg)
    if optimizer_state is not None:
        optimizer.load_state_dict(optimizer_state)
    past = read_history(out / "metrics.csv") if resume and (out / "metrics.csv").is_file() else []
    history = [row for row in past if row["epoch"] <= state.epoch]
    write_text(out / "config.toml", to_toml(config))
    write_history(out / "metrics.csv", history)

    def save_last() -> None:
        model.save(out / "last.npz", optimizer.state_dict(), epoch=state.epoch, train_state=asdict(state))

    band = config["evaluate"]["straight_band"]
    batch_size = train_cfg["batch_size"]
    columns = (
        TextColumn("epoch {task.fields[epoch]}/" + str(train_cfg["epochs"])),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("batches  loss {task.fields[loss]:.4f}"),
        TimeElapsedColumn(),
    )
    dataset = SteeringDataset(cache, train_idx, config["augment"], motion_gaps=model.motion_gaps)
    status = "finished"
    with ctrl_c_between_batches() as stop_requested, Progress(*columns, disable=not progress) as bar:
        task = bar.add_task("train", total=None, epoch=state.epoch + 1, loss=math.nan)
        try:
            while state.epoch < train_cfg["epochs"]:
                if state.stale >= train_cfg["patience"]:
                    status = "early_stopped"
                    break
                epoch = state.epoch + 1
                optimizer.lr = train_cfg["lr"] * train_cfg["lr_decay"] ** (epoch - 1)
                dataset.reseed(epoch_seed(train_cfg["seed"], epoch))
                n_batches = expected_batches(dataset.labels[train_idx], config["augment"], batch_size)
                bar.reset(task, total=n_batches, completed=state.batch, epoch=epoch, loss=math.nan)
                batches = dataset.batches(batch_size)
                for _ in range(state.batch):  # a resumed epoch: replay the batches already trained on
                    next(batches)
                started = time.perf_counter() - state.seconds
                for x, y in batches:
                    if stop_requested():
                        raise KeyboardInterrupt
                    loss = train_step(model, optimizer, x, y)
                    if not math.isfinite(loss):
                        raise TrainingDiverged(_diverged(out, epoch, state.batch + 1, loss, optimizer.lr))
                    state.add_batch(loss, len(y), time.perf_counter() - started)
                    bar.update(task, completed=state.batch, loss=state.train_loss)
                bar.update(task, total=state.batch)  # the estimate made exact
                row = {"epoch": epoch, "train_loss": state.train_loss}
                row.update(_validation_row(model, val_x, val_y, band))
                if not math.isfinite(row["val_loss"]):
                    raise TrainingDiverged(_diverged(out, epoch, state.batch, row["val_loss"], optimizer.lr))
                row.update(lr=optimizer.lr, seconds=time.perf_counter() - started)
                state, improved = state.next_epoch(row["val_loss"])
                history.append(row)
                if improved:
                    model.save(out / "best.npz", epoch=epoch, val=row)
                write_history(out / "metrics.csv", history)
                save_last()
                if progress:
                    bar.console.print(_epoch_line(row, improved), soft_wrap=True)
        except KeyboardInterrupt:
            save_last()
            status = "interrupted"
    return RunResult(out, status, state, history)


def _diverged(out: Path, epoch: int, batch: int, loss: float, lr: float) -> str:
    kept = (
        "last.npz and best.npz keep the last good weights"
        if (out / "last.npz").is_file()
        else "no checkpoint was written yet"
    )
    return (
        f"training diverged: the loss became {loss} at epoch {epoch}, batch {batch}; {kept}; "
        f"lower train.lr (now {lr:g}), e.g. --set train.lr={lr / 10:g}"
    )


def _epoch_line(row: dict[str, float], improved: bool) -> str:
    return (
        f"epoch {int(row['epoch']):3d}  train {row['train_loss']:.4f}  val {row['val_loss']:.4f}  "
        f"rmse {row['val_rmse']:.4f}  dir {row['val_direction_accuracy']:.3f}  "
        f"turn sign {row['val_turn_sign_accuracy']:.3f}  {row['seconds']:.2f}s"
        + ("  *best" if improved else "")
    )
