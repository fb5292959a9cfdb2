"""Decode many image files into one preallocated uint8 array, with a pool of worker processes.

Memory stays flat in the number of frames. Only file names travel to the workers; forked workers
write their images straight into the result array, which lives in memory shared with the parent (an
anonymous shared mapping made before the fork), so no image is pickled on the way back. Where
processes are spawned instead (no fork), each chunk of images is sent back and copied in.
"""

from __future__ import annotations

import mmap
import multiprocessing
import signal
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from drivenet.data.images import DECODE_ERRORS, ImageRefused
from drivenet.data.transform import Preprocess

CHUNK = 64  # images per task handed to a worker: small, so both workers finish together
Failure = tuple[int, str]  # (position in the path list, why the image could not be used)
Task = tuple[int, Sequence[str], Preprocess]

_shared: np.ndarray | None = None  # in a forked worker: the parent's result array


def decode_one(path: str, preprocess: Preprocess, warned: Counter[str]) -> np.ndarray | str:
    """The preprocessed image, or the reason it could not be read; decoder warnings counted in `warned`."""
    try:
        return preprocess.apply_file(path, warned)
    except FileNotFoundError:
        return "file not found"
    except ImageRefused as err:
        return str(err)
    except DECODE_ERRORS as err:
        return f"corrupt or truncated image ({err})"


def decode_into(out: np.ndarray, task: Task) -> tuple[list[Failure], Counter[str]]:
    """Decode one chunk into `out` (its rows of the result); failed images are left zero. Returns the
    failures and the decoders' warnings counted by message."""
    start, paths, preprocess = task
    failures: list[Failure] = []
    warned: Counter[str] = Counter()
    for i, path in enumerate(paths):
        image = decode_one(path, preprocess, warned)
        if isinstance(image, str):
            failures.append((start + i, image))
            out[i] = 0
        else:
            out[i] = image
    return failures, warned


def decode_chunk(task: Task) -> tuple[int, int, np.ndarray | None, list[Failure], Counter[str]]:
    """A worker's task: (start, count, the images or None when written to shared memory, failures,
    warnings)."""
    start, paths, preprocess = task
    if _shared is not None:
        return start, len(paths), None, *decode_into(_shared[start : start + len(paths)], task)
    out = np.zeros((len(paths), *preprocess.shape), dtype=np.uint8)
    return start, len(paths), out, *decode_into(out, task)


def start_worker(shared: np.ndarray | None) -> None:
    """Pool initializer: ignore Ctrl-C (the parent stops the pool) and keep the shared result array."""
    global _shared
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _shared = shared


def decode_all(
    paths: Sequence[str],
    preprocess: Preprocess,
    workers: int = 2,
    on_progress: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, list[Failure], Counter[str]]:
    """Decode every path into uint8 (N, H, W, C); failed images stay zero and are listed by position,
    the decoders' warnings counted by message."""
    shape = (len(paths), *preprocess.shape)
    tasks = [(s, list(paths[s : s + CHUNK]), preprocess) for s in range(0, len(paths), CHUNK)]
    workers = max(1, min(workers, len(tasks)))
    failures: list[Failure] = []
    warned: Counter[str] = Counter()
    if workers == 1:
        images = np.empty(shape, dtype=np.uint8)
        for task in tasks:
            bad, notes = decode_into(images[task[0] : task[0] + len(task[1])], task)
            failures += bad
            warned += notes
            if on_progress is not None:
                on_progress(len(task[1]))
        return images, sorted(failures), warned
    forked = "fork" in multiprocessing.get_all_start_methods()
    if forked:  # MAP_SHARED | MAP_ANONYMOUS: the forked workers write into the same pages
        size = int(np.prod(shape))
        images = np.frombuffer(mmap.mmap(-1, max(size, 1)), dtype=np.uint8, count=size).reshape(shape)
    else:
        images = np.empty(shape, dtype=np.uint8)
    context = multiprocessing.get_context("fork" if forked else "spawn")
    pool = context.Pool(workers, start_worker, (images if forked else None,))
    try:
        for start, count, chunk, bad, notes in pool.imap_unordered(decode_chunk, tasks):
            if chunk is not None:
                images[start : start + count] = chunk
            failures += bad
            warned += notes
            if on_progress is not None:
                on_progress(count)
    finally:
        pool.terminate()
    return images, sorted(failures), warned


@contextmanager
def progress_bar(total: int, description: str, enabled: bool = True) -> Iterator[Callable[[int], None]]:
    """A rich progress bar; yields `advance(n)`. Disabled, it yields a no-op."""
    if not enabled:
        yield lambda n: None
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, transient=False) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)
