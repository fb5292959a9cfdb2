"""Reports on a recording for people: text summary, steering histogram and a grid of sample frames."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from drivenet.data.cache import NEAR_ZERO
from drivenet.data.frames import Problem
from drivenet.data.images import read_rgb, warnings_line
from drivenet.errors import printable
from drivenet.io import save_figure, write_text

BAR = 40  # characters of the longest histogram bar


def histogram_lines(summary: dict[str, Any]) -> list[str]:
    """The steering histogram as text bars, one line per bin, labelled by the bin's centre."""
    edges, counts = summary["histogram"]["edges"], summary["histogram"]["counts"]
    top = max(max(counts), 1)
    centres = [(lo + hi) / 2 for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
    return [
        f"  {x:+.1f} {'#' * round(BAR * c / top):<{BAR}} {c}" for x, c in zip(centres, counts, strict=True)
    ]


def summary_lines(summary: dict[str, Any], problems: Sequence[Problem], limit: int = 20) -> list[str]:
    """Frames kept, skipped by kind (the first `limit` problems named), the decoders' warnings in one line,
    steering histogram, straight share."""
    recordings = ", ".join(f"{name} {n}" for name, n in summary["recordings"].items())
    cameras = ", ".join(f"{name} {n}" for name, n in summary["cameras"].items())
    lines = [f"frames kept: {summary['frames']} ({recordings or 'none'}; cameras: {cameras or 'none'})"]
    skipped = ", ".join(f"{n} {kind}" for kind, n in summary["skipped"].items())
    lines.append(f"frames skipped: {sum(summary['skipped'].values())}" + (f" ({skipped})" if skipped else ""))
    lines += [f"  {printable(str(p))}" for p in problems[:limit]]
    if len(problems) > limit:
        lines.append(f"  ... and {len(problems) - limit} more")
    warned = warnings_line(Counter(summary.get("decoder_warnings", {})))
    lines += [printable(warned)] if warned else []
    lines.append("steering histogram (negative = left):")
    lines += histogram_lines(summary)
    share = 100 * summary["near_zero_share"]
    lines.append(f"near-zero steering (|s| < {NEAR_ZERO}): {share:.1f}% of frames")
    return lines


def plot_histogram(steering: np.ndarray, path: Path, near_zero: float = NEAR_ZERO) -> Path:
    """Histogram of steering values with the share of near-zero frames in the title."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 3.5))
    axes = figure.add_subplot()
    axes.hist(steering, bins=np.linspace(-1.025, 1.025, 42), color="tab:blue")  # a bin centred on 0
    share = 100 * float(np.mean(np.abs(steering) < near_zero)) if len(steering) else 0.0
    axes.set_title(f"{len(steering)} frames, {share:.1f}% with |steering| < {near_zero}")
    axes.set_xlabel("steering (negative = left)")
    axes.set_ylabel("frames")
    figure.tight_layout()
    return save_figure(figure, path)


def sample_rows(frames: pd.DataFrame, count: int) -> np.ndarray:
    """Row positions of `count` frames spread over the steering range, hardest left to hardest right."""
    order = np.argsort(frames["steering"].to_numpy(), kind="stable")
    picks = np.linspace(0, len(order) - 1, min(count, len(order))).round().astype(int)
    return order[np.unique(picks)]


def plot_samples(frames: pd.DataFrame, path: Path, count: int = 16) -> Path:
    """A grid of raw frames spread over the steering range, each titled with its steering and camera (frames
    the cache decoded: their warnings were counted there)."""
    from matplotlib.figure import Figure

    rows = sample_rows(frames, count)
    cols = 4
    figure = Figure(figsize=(3 * cols, 2.2 * max(1, -(-len(rows) // cols))))
    for k, i in enumerate(rows):
        axes = figure.add_subplot(-(-len(rows) // cols), cols, k + 1)
        axes.imshow(read_rgb(frames["path"].iloc[i], warned=Counter()))
        axes.set_title(f"{frames['steering'].iloc[i]:+.3f} ({frames['camera'].iloc[i]})", fontsize=9)
        axes.axis("off")
    figure.tight_layout()
    return save_figure(figure, path)


def write_problems(problems: Sequence[Problem], path: Path) -> Path:
    """Every problem, one a line."""
    return write_text(path, "".join(f"{p}\n" for p in problems))
