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
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from drivenet.config import Config, load_config, to_toml
from drivenet.data.augment import AugmentSettings
from drivenet.data.cache import SteeringCache, load_or_build
from drivenet.data.dataset import SteeringDataset, clip_batches
from drivenet.data.marked import recorded_camera
from drivenet.data.split import TEST, TRAIN, VAL, SplitSettings, split_parts
from drivenet.data.transform import Preprocess
from drivenet.errors import DrivenetError
from drivenet.geometry.viewsynth import RecoveryViews
from drivenet.io import check_output_dir, prepare_output_dir, write_text
from drivenet.model.checkpoint import load_checkpoint, save_model
from drivenet.model.steering_model import SteeringModel
from drivenet.nn import SGD, Adam
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


@dataclass(frozen=True)
class TrainSettings:
    """The `[train]` section, resolved once; its values were checked against `config.RANGES` when the
    config was loaded (see configs/default.toml for each key)."""

    epochs: int
    batch_size: int
    optimizer: str
    lr: float
    lr_decay: float
    momentum: float
    weight_decay: float
    patience: int
    seed: int
    split: SplitSettings

    @classmethod
    def from_config(cls, train_cfg: Mapping[str, Any]) -> TrainSettings:
        """From a resolved `[train]` section (its split keys go to `split`)."""
        names = [f.name for f in fields(cls) if f.name != "split"]
        return cls(**{name: train_cfg[name] for name in names}, split=SplitSettings.from_config(train_cfg))


def make_optimizer(params: list[Any], settings: TrainSettings) -> Adam | SGD:
    """The optimizer named by `train.optimizer`."""
    if settings.optimizer == "adam":
        return Adam(params, lr=settings.lr, weight_decay=settings.weight_decay)
    return SGD(params, lr=settings.lr, momentum=settings.momentum, weight_decay=settings.weight_decay)


def train_step(model: SteeringModel, optimizer: Adam | SGD, x: np.ndarray, steering: np.ndarray) -> float:
    """One gradient step on a batch of flat inputs (`Preprocess.to_inputs`), in training mode (dropout on);
    returns the batch loss (before the update)."""
    outputs = model.net.train().forward(model.arrange(x.astype(model.net.dtype, copy=False)))
    loss, grad = model.encoding.loss(outputs, model.encoding.encode(steering))
    model.net.backward(grad)  # overwrites every .grad, so there is nothing to zero first
    optimizer.step()
    return float(loss)


def epoch_seed(seed: int, epoch: int, batch: int | None = None) -> int:
    """The seed of one epoch's shuffling and augmentation, derived from the run seed; with `batch`, the
    seed of that batch's dropout masks (so a resumed run draws the masks it would have drawn)."""
    keys = [seed, epoch] if batch is None else [seed, epoch, batch]
    return int(np.random.SeedSequence(keys).generate_state(1)[0])


def data_fingerprint(cache: SteeringCache) -> dict[str, Any]:
    """A cheap identity of the training data, to refuse resuming (or scoring a split) on other frames:
    the frame count, the steering sum, and the recordings in the order they come (the split depends on it)."""
    return {
        "frames": int(len(cache.steering)),
        "steering_sum": round(float(np.sum(cache.steering, dtype=np.float64)), 4),
        "recordings": [str(name) for name in cache.frames["recording"].unique()],
    }


def same_data(saved: dict[str, Any] | None, cache: SteeringCache) -> bool:
    """Whether `cache` matches a model's saved fingerprint (on the keys it has: older models lack some)."""
    current = data_fingerprint(cache)
    return saved is not None and all(current.get(key) == value for key, value in saved.items())


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
    model: SteeringModel, val_clips: Iterable[np.ndarray], val_y: np.ndarray, band: float
) -> dict[str, float]:
    """Validation loss and metrics, each batch of clips turned into inputs as it comes (in eval mode)."""
    outputs = np.concatenate(
        [model.net.predict(model.arrange(model.preprocess.to_inputs(clips))) for clips in val_clips]
    )
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


@dataclass(frozen=True)
class DataSplit:
    """The split of a cache: `part` (TRAIN, VAL or TEST for every row), the training rows (all cameras),
    and the validation and test rows (centre camera only, when there is one)."""

    part: np.ndarray
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray

    def rows(self, name: str) -> np.ndarray:
        """The rows of the part called `name`: train, val or test."""
        return {"train": self.train, "val": self.val, "test": self.test}[name]


def split_frames(cache: SteeringCache, settings: SplitSettings) -> DataSplit:
    """Training, validation and test rows of a cache, as `drivenet.data.split.split_parts` draws them."""
    part = split_parts(cache.frames, settings)
    train = np.flatnonzero(part == TRAIN)
    val, test = (cache.centre_rows(np.flatnonzero(part == which)) for which in (VAL, TEST))
    wants_test = settings.test_fraction > 0 or settings.test_recordings
    if len(train) == 0 or len(val) == 0 or (wants_test and len(test) == 0):
        raise DrivenetError(
            f"{len(cache.steering)} frames split into {len(train)} training, {len(val)} validation and "
            f"{len(test)} test frames; record more frames or change train.val_fraction, "
            "train.test_fraction or train.split_block"
        )
    return DataSplit(part, train, val, test)


def _start(
    sources: list[Path], config: Config, out: Path, force: bool, resume: bool, progress: bool
) -> tuple[SteeringCache, SteeringModel, dict[str, Any] | None, TrainState]:
    """Load the data and either a fresh model in an empty run folder or the run's last checkpoint."""
    source = ", ".join(map(str, sources))  # for messages
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
        check_output_dir(out, force, inputs=sources)  # before the slow part: loading the data
    cache = load_or_build(sources, config["data"], progress=progress)
    if resume:
        model.check_images(cache.preprocess, source)
        if not same_data(model.meta.get("data"), cache):
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
    prepare_output_dir(out, force, inputs=sources)
    model.meta["data"] = data_fingerprint(cache)
    model.meta["frame_size"] = cache.frame_size
    return cache, model, None, TrainState()


def train_run(
    source: str | Path | Sequence[str | Path],
    config: Config,
    out: str | Path,
    force: bool = False,
    resume: bool = False,
    progress: bool = True,
) -> RunResult:
    """Train on caches or recording folders `source` (one, or several stacked); write config.toml,
    metrics.csv, best.npz, last.npz to `out`.

    The validation rows choose the best epoch and stop training early; the test rows are never read.
    """
    sources = [Path(source)] if isinstance(source, (str, Path)) else [Path(s) for s in source]
    settings = TrainSettings.from_config(config["train"])
    augment_settings = AugmentSettings.from_config(config["augment"])
    out = Path(out)
    cache, model, optimizer_state, state = _start(sources, config, out, force, resume, progress)
    split = split_frames(cache, settings.split)
    train_idx = split.train
    model.meta["train_mean_steering"] = float(np.mean(cache.steering[train_idx]))
    val_y = cache.steering[split.val]
    optimizer = make_optimizer(model.net.parameters(), settings)
    if optimizer_state is not None:
        optimizer.load_state_dict(optimizer_state)
    past = read_history(out / "metrics.csv") if resume and (out / "metrics.csv").is_file() else []
    history = [row for row in past if row["epoch"] <= state.epoch]
    write_text(out / "config.toml", to_toml(config))
    write_history(out / "metrics.csv", history)

    def save_last() -> None:
        state_dict = optimizer.state_dict()
        save_model(model, out / "last.npz", state_dict, epoch=state.epoch, train_state=asdict(state))

    band = config["evaluate"]["straight_band"]
    batch_size = settings.batch_size
    columns = (
        TextColumn("epoch {task.fields[epoch]}/" + str(settings.epochs)),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("batches  loss {task.fields[loss]:.4f}"),
        TimeElapsedColumn(),
    )
    dataset = SteeringDataset(
        cache,
        train_idx,
        augment_settings,
        motion_gaps=model.motion_gaps,
        part=split.part,
        views=RecoveryViews.from_config(
            config, cache.frame_size, lambda: recorded_camera(sources, config["data"])
        ),
    )
    status = "finished"
    with ctrl_c_between_batches() as stop_requested, Progress(*columns, disable=not progress) as bar:
        task = bar.add_task("train", total=None, epoch=state.epoch + 1, loss=math.nan)
        try:
            while state.epoch < settings.epochs:
                if state.stale >= settings.patience:
                    status = "early_stopped"
                    break
                epoch = state.epoch + 1
                optimizer.lr = settings.lr * settings.lr_decay ** (epoch - 1)
                dataset.reseed(epoch_seed(settings.seed, epoch))
                n_batches = dataset.batches_per_epoch(batch_size)
                bar.reset(task, total=n_batches, completed=state.batch, epoch=epoch, loss=math.nan)
                batches = dataset.batches(batch_size)
                for _ in range(state.batch):  # a resumed epoch: replay the batches already trained on
                    next(batches)
                started = time.perf_counter() - state.seconds
                for x, y in batches:
                    if stop_requested():
                        raise KeyboardInterrupt
                    model.net.seed_dropout(epoch_seed(settings.seed, epoch, state.batch))
                    loss = train_step(model, optimizer, x, y)
                    if not math.isfinite(loss):
                        raise TrainingDiverged(_diverged(out, epoch, state.batch + 1, loss, optimizer.lr))
                    state.add_batch(loss, len(y), time.perf_counter() - started)
                    bar.update(task, completed=state.batch, loss=state.train_loss)
                if state.batch == 0:
                    raise DrivenetError(_no_batches(epoch, len(train_idx), augment_settings))
                bar.update(task, total=state.batch)  # the estimate made exact
                row = {"epoch": epoch, "train_loss": state.train_loss}
                val_clips = clip_batches(cache, split.val, dataset.earlier)  # within the splits' runs
                row.update(_validation_row(model, val_clips, val_y, band))
                if not math.isfinite(row["val_loss"]):
                    raise TrainingDiverged(_diverged(out, epoch, state.batch, row["val_loss"], optimizer.lr))
                row.update(lr=optimizer.lr, seconds=time.perf_counter() - started)
                state, improved = state.next_epoch(row["val_loss"])
                history.append(row)
                if improved:
                    save_model(model, out / "best.npz", epoch=epoch, val=row)
                write_history(out / "metrics.csv", history)
                save_last()
                if progress:
                    bar.console.print(_epoch_line(row, improved), soft_wrap=True)
        except KeyboardInterrupt:
            save_last()
            status = "interrupted"
    return RunResult(out, status, state, history)


def _no_batches(epoch: int, frames: int, settings: AugmentSettings) -> str:
    return (
        f"epoch {epoch} had no training batch: all {frames} training frames were left out "
        f"(augment.drop_zero_share = {settings.drop_zero_share} drops frames with |steering| below "
        f"augment.zero_threshold = {settings.zero_threshold}); lower augment.drop_zero_share"
    )


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
