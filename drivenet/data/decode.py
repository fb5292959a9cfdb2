"""Decode many image files into one preallocated uint8 array, with a pool of worker processes.

Memory stays flat in the number of frames: only file names travel to the workers and only
preprocessed chunks (a few hundred small images) travel back into the result array.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np
from PIL import Image
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from drivenet.data.transform import Preprocess

CHUNK = 256  # images per task handed to a worker
Failure = tuple[int, str]  # (position in the path list, why the image could not be used)
DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError)


def decode_one(path: str, preprocess: Preprocess) -> np.ndarray | str:
    """The preprocessed image, or the reason it could not be read."""
    try:
        return preprocess.apply_file(path)
    except FileNotFoundError:
        return "file not found"
    except Image.UnidentifiedImageError:
        if os.path.getsize(path) == 0:
            return "empty file (0 bytes)"
        return "not an image Pillow can read (corrupt or wrong format)"
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:  # see decode_chunk
        return f"refused: too many pixels for a camera frame ({err})"
    except DECODE_ERRORS as err:
        return f"corrupt or truncated image ({err})"


def decode_chunk(task: tuple[int, Sequence[str], Preprocess]) -> tuple[int, np.ndarray, list[Failure]]:
    """Decode one chunk: (its start, images (n, H, W, C) with zeros where decoding failed, failures)."""
    start, paths, preprocess = task
    out = np.zeros((len(paths), *preprocess.shape), dtype=np.uint8)
    failures: list[Failure] = []
    with warnings.catch_warnings():  # over Pillow's bomb limit (~89 Mpixel): refused, never decoded
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        for i, path in enumerate(paths):
            image = decode_one(path, preprocess)
            if isinstance(image, str):
                failures.append((start + i, image))
            else:
                out[i] = image
    return start, out, failures


def decode_all(
    paths: Sequence[str],
    preprocess: Preprocess,
    workers: int = 2,
    on_progress: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, list[Failure]]:
    """Decode every path into uint8 (N, H, W, C); failed images stay zero and are listed by position."""
    images = np.empty((len(paths), *preprocess.shape), dtype=np.uint8)
    failures: list[Failure] = []
    tasks = [(s, list(paths[s : s + CHUNK]), preprocess) for s in range(0, len(paths), CHUNK)]
    workers = max(1, min(workers, len(tasks)))
    if workers == 1:
        results: Iterator = map(decode_chunk, tasks)
        pool = None
    else:
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        quiet = (signal.SIGINT, signal.SIG_IGN)  # workers ignore Ctrl-C; the parent stops them
        pool = multiprocessing.get_context(method).Pool(workers, signal.signal, quiet)
        results = pool.imap_unordered(decode_chunk, tasks)
    try:
        for start, chunk, bad in results:
            images[start : start + len(chunk)] = chunk
            failures += bad
            if on_progress is not None:
                on_progress(len(chunk))
    finally:
        if pool is not None:
            pool.terminate()
    return images, sorted(failures)


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
