"""What a command gives the training loop: a progress display and a Ctrl-C flag read between batches."""

from __future__ import annotations

import contextlib
import math
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


class TrainDisplay(Protocol):
    """Told where training stands: an epoch starting, each batch done, each epoch's metrics."""

    def start_epoch(self, epoch: int, batches: int, done: int) -> None: ...

    def batch(self, done: int, loss: float) -> None: ...

    def end_epoch(self, batches: int, row: dict[str, float], improved: bool) -> None: ...


class Silent:
    """No display (`--quiet`, tests)."""

    def start_epoch(self, epoch: int, batches: int, done: int) -> None:
        pass

    def batch(self, done: int, loss: float) -> None:
        pass

    def end_epoch(self, batches: int, row: dict[str, float], improved: bool) -> None:
        pass


class ProgressBar:
    """A live bar of the epoch's batches with the running loss, and a line of metrics per epoch; use it
    as a context manager around the training."""

    def __init__(self, epochs: int) -> None:
        self.bar = Progress(
            TextColumn("epoch {task.fields[epoch]}/" + str(epochs)),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("batches  loss {task.fields[loss]:.4f}"),
            TimeElapsedColumn(),
        )
        self.task = self.bar.add_task("train", total=None, epoch=1, loss=math.nan)

    def __enter__(self) -> ProgressBar:
        self.bar.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.bar.__exit__(*exc)

    def start_epoch(self, epoch: int, batches: int, done: int) -> None:
        self.bar.reset(self.task, total=batches, completed=done, epoch=epoch, loss=math.nan)

    def batch(self, done: int, loss: float) -> None:
        self.bar.update(self.task, completed=done, loss=loss)

    def end_epoch(self, batches: int, row: dict[str, float], improved: bool) -> None:
        self.bar.update(self.task, total=batches)  # the estimate made exact
        self.bar.console.print(epoch_line(row, improved), soft_wrap=True)


def epoch_line(row: dict[str, float], improved: bool) -> str:
    """One epoch's metrics in a line (with each pedal's RMSE for a model that predicts pedals), marked
    `*best` when its validation loss is the lowest so far."""
    pedals = "".join(
        f"  {key.removeprefix('val_').removesuffix('_rmse')} {value:.4f}"
        for key, value in row.items()
        if key.startswith("val_") and key.endswith("_rmse") and key != "val_rmse"
    )
    return (
        f"epoch {int(row['epoch']):3d}  train {row['train_loss']:.4f}  val {row['val_loss']:.4f}  "
        f"rmse {row['val_rmse']:.4f}  dir {row['val_direction_accuracy']:.3f}  "
        f"turn sign {row['val_turn_sign_accuracy']:.3f}{pedals}  {row['seconds']:.2f}s"
        + ("  *best" if improved else "")
    )


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


@contextlib.contextmanager
def training_console(epochs: int, show: bool) -> Iterator[tuple[TrainDisplay, Callable[[], bool]]]:
    """What a command gives `Training.train`: a progress bar (or, unless `show`, no display) and the flag
    that Ctrl-C sets."""
    with ctrl_c_between_batches() as stop_requested:
        if not show:
            yield Silent(), stop_requested
            return
        with ProgressBar(epochs) as bar:
            yield bar, stop_requested
