"""A run folder: `config.toml`, `metrics.csv` (one row per epoch), `best.npz` and `last.npz`.

`metrics.csv` has the METRIC_COLUMNS, then `val_<pedal>_rmse` for each pedal the model predicts.

`best.npz` holds the weights of the epoch with the lowest validation loss, `last.npz` the latest weights
with the optimizer state and the `TrainState`, so that `--resume` continues exactly. A run resumes only
with the config it was started with (but for `RESUMABLE` keys) and on the same data (`data_fingerprint`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from drivenet.config import RunConfig, load_config, to_toml
from drivenet.data.cache import SteeringCache
from drivenet.errors import DrivenetError
from drivenet.io import check_output_dir, prepare_output_dir, write_text
from drivenet.model.checkpoint import load_checkpoint, save_model
from drivenet.model.steering_model import SteeringModel

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


def metric_columns(pedals: Sequence[str] = ()) -> tuple[str, ...]:
    """The columns of metrics.csv for a model that also predicts `pedals` (throttle, brake)."""
    return (*METRIC_COLUMNS, *(f"val_{pedal}_rmse" for pedal in pedals))


# settings that may change when a run resumes: its schedule and its augmentation (a section name: all keys)
RESUMABLE = ("train.epochs", "train.patience", "train.lr", "train.lr_decay", "augment", "data.follow_links")


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


class RunFolder:
    """The files of one training run in the folder `out`."""

    def __init__(self, out: str | Path) -> None:
        self.out = Path(out)

    @property
    def best(self) -> Path:
        return self.out / "best.npz"

    @property
    def last(self) -> Path:
        return self.out / "last.npz"

    @property
    def metrics(self) -> Path:
        return self.out / "metrics.csv"

    def resume_config(self, overrides: list[str]) -> RunConfig:
        """The run's saved config, with `--set` overrides of RESUMABLE keys applied."""
        path = self.out / "config.toml"
        if not path.is_file():
            raise DrivenetError(
                f"{self.out}: no config.toml here, so there is no run to resume; start it without --resume"
            )
        for override in overrides:
            check_resumable(override.partition("=")[0].strip())
        return load_config(path, overrides)

    def check_new(self, force: bool, inputs: Sequence[Path]) -> None:
        """Refuse to start over a run (unless `force`), before the slow part: loading the data."""
        check_output_dir(self.out, force, inputs=inputs)

    def create(self, force: bool, inputs: Sequence[Path]) -> None:
        """An empty run folder (an existing one deleted with `force`)."""
        prepare_output_dir(self.out, force, inputs=inputs)

    def load_last(self, config: RunConfig) -> tuple[SteeringModel, dict[str, Any], TrainState]:
        """(model, optimizer state, training state) of `last.npz`, refused when it holds no training state
        or was trained with another config than `config` outside RESUMABLE."""
        if not self.last.is_file():
            raise DrivenetError(f"{self.out}: no last.npz to resume from; start the run without --resume")
        model, optimizer_state = load_checkpoint(self.last)
        if "train_state" not in model.meta or optimizer_state is None:
            raise DrivenetError(
                f"{self.last}: no training state (is it a copy of best.npz?); "
                "restore the last.npz that training wrote, or start the run again"
            )
        check_same_run(config, model.config)
        return model, optimizer_state, TrainState(**model.meta["train_state"])

    def history(self, epochs: int) -> list[dict[str, float]]:
        """The metrics rows of the first `epochs` epochs (none in a new run)."""
        past = read_history(self.metrics) if self.metrics.is_file() else []
        return [row for row in past if row["epoch"] <= epochs]

    def write_config(self, config: RunConfig) -> None:
        write_text(self.out / "config.toml", to_toml(config))

    def write_history(self, history: list[dict[str, float]], pedals: Sequence[str] = ()) -> None:
        write_history(self.metrics, history, pedals)

    def save_best(self, model: SteeringModel, row: dict[str, float]) -> None:
        save_model(model, self.best, epoch=int(row["epoch"]), val=row)

    def save_last(self, model: SteeringModel, optimizer_state: dict[str, Any], state: TrainState) -> None:
        save_model(model, self.last, optimizer_state, epoch=state.epoch, train_state=asdict(state))


def check_resumable(key: str) -> None:
    """Refuse to change `section.key` on resume unless it is in RESUMABLE."""
    section = key.partition(".")[0]
    if key not in RESUMABLE and section not in RESUMABLE:
        raise DrivenetError(
            f"{key} cannot change when a run resumes (only {', '.join(RESUMABLE)}); "
            "start a new run with --out for other settings"
        )


def check_same_run(config: RunConfig, saved: RunConfig) -> None:
    """Refuse a resume config that differs from the run's saved one outside RESUMABLE."""
    wanted = config.to_dict()
    for section, values in saved.to_dict().items():
        for key, value in values.items():
            if wanted[section][key] != value:
                check_resumable(f"{section}.{key}")


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


def write_history(path: Path, history: list[dict[str, float]], pedals: Sequence[str] = ()) -> None:
    """The rows as metrics.csv, its columns `metric_columns(pedals)`."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=metric_columns(pedals), lineterminator="\n")
    writer.writeheader()
    for row in history:
        writer.writerow({k: (int(v) if k == "epoch" else f"{v:.6g}") for k, v in row.items()})
    write_text(path, buf.getvalue())
