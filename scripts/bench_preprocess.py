"""Time `drivenet preprocess` on udacity-sample against a plain Pillow open-convert-resize loop.

Both run in this process on the same 8036 center frames (320x160 -> 32x30 gray, the default [data]
settings), alternating, best of `--rounds`; the command's time covers reading the log, decoding with
JPEG draft + worker pool (images written into shared memory), and writing the cache (not the
interpreter start). CPU time per image is printed too: unlike images/s it does not depend on what else
the machine runs, and the ratio of the two CPU times is the speedup one core gets. Last line is JSON:
{"images_per_s": x, "speedup_vs_plain_pillow": r}. Needs DRIVENET_DATASETS.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image
from typer.testing import CliRunner

from drivenet.cli import app
from drivenet.data import Preprocess, read_recordings


def plain_pillow(paths: list[str], preprocess: Preprocess) -> np.ndarray:
    """The straightforward loop: full decode, convert to gray, crop, resize, into one array."""
    out = np.empty((len(paths), *preprocess.shape), dtype=np.uint8)
    for i, path in enumerate(paths):
        image = Image.open(path).convert("L")
        w, h = image.size
        box = (0, round(h * preprocess.crop_top), w, h - round(h * preprocess.crop_bottom))
        out[i, :, :, 0] = np.asarray(image.crop(box).resize((preprocess.width, preprocess.height)))
    return out


def cpu_seconds() -> float:
    """CPU time used so far by this process and its finished children (the decoding workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one call."""
    wall, cpu = time.perf_counter(), cpu_seconds()
    fn()
    return time.perf_counter() - wall, cpu_seconds() - cpu


def run_command(recording: Path, cache: Path, workers: int) -> None:
    """One `drivenet preprocess` run, in this process."""
    args = ["preprocess", str(recording), "--out", str(cache), "--workers", str(workers), "--force"]
    result = CliRunner().invoke(app, args)
    if result.exit_code != 0:
        sys.exit(f"drivenet preprocess failed: {result.output}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    root = os.environ.get("DRIVENET_DATASETS")
    recording = Path(root or "", "udacity-sample")
    if not root or not recording.is_dir():
        sys.exit("set DRIVENET_DATASETS to the shared datasets folder (holding udacity-sample/)")
    paths = read_recordings([recording]).frames["path"].tolist()
    preprocess = Preprocess()
    n = len(paths)
    plain, ours = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            plain.append(timed(lambda: plain_pillow(paths, preprocess)))
            ours.append(timed(lambda: run_command(recording, Path(tmp, "bench.npz"), args.workers)))
            (wall_p, cpu_p), (wall_o, cpu_o) = plain[-1], ours[-1]
            print(
                f"round {r + 1}: plain Pillow {n / wall_p:,.0f}/s ({1e3 * cpu_p / n:.3f} CPU ms/image), "
                f"preprocess {n / wall_o:,.0f}/s ({1e3 * cpu_o / n:.3f} CPU ms/image)"
            )
    print(f"{n} frames, {args.workers} workers, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    cpu_ratio = min(c for _, c in plain) / min(c for _, c in ours)
    print(f"CPU time per image: plain Pillow / preprocess = {cpu_ratio:.2f}")
    best_plain, best_ours = min(t for t, _ in plain), min(t for t, _ in ours)
    result = {
        "images_per_s": round(n / best_ours),
        "speedup_vs_plain_pillow": round(best_plain / best_ours, 2),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
