"""Pictures of training and steering: learning curves, steering over time, hidden-unit weights and kernels.

Figures are drawn with matplotlib's object API (no pyplot, no display needed) and written atomically.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from drivenet.errors import DrivenetError
from drivenet.io import save_figure
from drivenet.model.steering_model import SteeringModel
from drivenet.training.run_folder import read_history

MAX_UNITS = 100  # hidden units (or first-layer filters) drawn by plot_weights
# the linear part of RGB -> YCbCr (JPEG, Pillow): yuv = RGB_TO_YUV @ rgb, up to an offset
RGB_TO_YUV = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])


def read_metrics(run: str | Path) -> dict[str, np.ndarray]:
    """The columns of a run folder's metrics.csv as float arrays."""
    path = Path(run) / "metrics.csv"
    if not path.is_file():
        raise DrivenetError(f"{run}: no metrics.csv; pass a run folder written by `drivenet train`")
    rows = read_history(path)
    if not rows:
        raise DrivenetError(f"{path}: no epoch finished yet; train longer or resume the run")
    return {key: np.array([row[key] for row in rows]) for key in rows[0]}


def plot_curves(runs: list[Path], out: str | Path) -> Path:
    """Training and validation loss, validation RMSE and direction accuracy per epoch, runs overlaid."""
    panels = (
        ("loss", ("train_loss", "val_loss")),
        ("validation RMSE", ("val_rmse",)),
        ("validation direction accuracy", ("val_direction_accuracy",)),
    )
    fig = Figure(figsize=(13, 4), layout="constrained")
    axes = fig.subplots(1, len(panels))
    for k, run in enumerate(runs):
        metrics = read_metrics(run)
        colour = f"C{k % 10}"
        for ax, (title, keys) in zip(axes, panels, strict=True):
            for key in keys:
                style = "--" if key == "train_loss" else "-"
                label = f"{Path(run).name} {key.replace('_', ' ')}" if len(keys) > 1 else Path(run).name
                ax.plot(metrics["epoch"], metrics[key], style, color=colour, marker=".", label=label)
            ax.set_title(title)
            ax.set_xlabel("epoch")
    axes[0].set_yscale("log")
    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    return save_figure(fig, out)


def plot_steering(pred: np.ndarray, true: np.ndarray, out: str | Path, title: str = "") -> Path:
    """Predicted and true steering over the frames, in order."""
    fig = Figure(figsize=(13, 4), layout="constrained")
    ax = fig.subplots()
    frames = np.arange(len(true))
    ax.plot(frames, true, color="0.5", lw=0.8, label="true")
    ax.plot(frames, pred, color="C3", lw=0.9, label="predicted")
    ax.axhline(0, color="0.8", lw=0.5)
    ax.set_xlabel("frame")
    ax.set_ylabel("steering (negative = left)")
    ax.set_title(title)
    ax.legend()
    return save_figure(fig, out)


def plot_weights(model: SteeringModel, out: str | Path) -> Path:
    """Each hidden unit's input weights drawn as an image (red positive, blue negative), as in ALVINN's
    papers; with several outputs, the unit's weights to them as a strip beneath. For a convolutional
    network, the first convolution's kernels (`plot_kernels`)."""
    if model.net.conv_layers:
        return plot_kernels(model, out)
    dense = model.net.dense_layers
    if len(dense) < 2:
        raise DrivenetError("the model has no hidden layer, so there are no hidden-unit weights to draw")
    height, width, channels = model.preprocess.shape
    clip = 1 + len(model.motion_gaps)  # the frame, then its motion from each earlier frame, side by side
    w_in = dense[0].weight.value.astype(np.float64)  # (inputs, hidden)
    w_out = dense[1].weight.value.astype(np.float64)  # (hidden, next layer)
    n = min(w_in.shape[1], MAX_UNITS)
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    strip = w_out.shape[1] > 1
    fig = Figure(
        figsize=(1.6 * cols * max(1.0, clip * channels * width / height / 1.2), 1.7 * rows),
        layout="constrained",
    )
    grid = fig.add_gridspec(rows * (2 if strip else 1), cols, height_ratios=[5, 1] * rows if strip else None)
    for unit in range(n):
        r, c = divmod(unit, cols)
        image = (
            w_in[:, unit]
            .reshape(clip, height, width, channels)
            .transpose(1, 0, 3, 2)
            .reshape(height, clip * channels * width)
        )
        limit = np.abs(image).max() or 1.0
        ax = fig.add_subplot(grid[r * (2 if strip else 1), c])
        ax.imshow(image, cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
        ax.set_title(f"unit {unit}" + ("" if strip else f" -> {w_out[unit, 0]:+.2f}"), fontsize=8)
        ax.set_axis_off()
        if strip:
            ax = fig.add_subplot(grid[r * 2 + 1, c])
            out_limit = np.abs(w_out[unit]).max() or 1.0
            ax.imshow(w_out[unit][None, :], cmap="RdBu_r", vmin=-out_limit, vmax=out_limit, aspect="auto")
            ax.set_axis_off()
    shown = f"first {n} of {w_in.shape[1]}" if n < w_in.shape[1] else f"{n}"
    fig.suptitle(
        f"input weights of {shown} hidden units" + (" (channels side by side)" if channels > 1 else "")
    )
    return save_figure(fig, out)


def kernel_picture(kernel: np.ndarray, color: str) -> np.ndarray:
    """One filter's weights (k, k, C) as a picture in [0, 1]: mid-grey is 0, each filter scaled to its own
    largest |weight|. Three colour channels give an RGB picture of the colour pattern the filter answers
    most strongly (yuv weights w shown as RGB_TO_YUV^T w, since w . yuv = (RGB_TO_YUV^T w) . rgb)."""
    if color == "yuv":
        kernel = kernel @ RGB_TO_YUV
    limit = np.abs(kernel).max() or 1.0
    return 0.5 + 0.5 * kernel / limit


def plot_kernels(model: SteeringModel, out: str | Path) -> Path:
    """The first convolution's filters as small pictures in a grid, one per filter: in colour for rgb and
    yuv inputs, in gray otherwise; with motion inputs, the kernel on the frame and on each motion image
    side by side."""
    weight = model.net.conv_layers[0].weight.value.astype(np.float64)  # (k, k, channels, filters)
    k, _, _, filters = weight.shape
    channels, clip = model.preprocess.channels, 1 + len(model.motion_gaps)
    n = min(filters, MAX_UNITS)
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(1.2 * cols * clip + 0.5, 1.3 * rows + 0.6), layout="constrained")
    for f in range(n):
        parts = np.split(weight[:, :, :, f], clip, axis=2)  # the frame, then each motion image
        picture = np.concatenate([kernel_picture(part, model.preprocess.color) for part in parts], axis=1)
        ax = fig.add_subplot(rows, cols, f + 1)
        if channels == 3:
            ax.imshow(np.clip(picture, 0, 1), interpolation="nearest")
        else:
            ax.imshow(picture[:, :, 0], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(f"filter {f}", fontsize=7)
        ax.set_axis_off()
    shown = f"first {n} of {filters}" if n < filters else f"{n}"
    side = " (frame, then motion, side by side)" if clip > 1 else ""
    fig.suptitle(f"{shown} {k}x{k} kernels of the first convolution, {model.preprocess.color} input{side}")
    return save_figure(fig, out)
