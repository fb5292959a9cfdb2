"""The whole chain on rendered roads, nothing downloaded: render, preprocess, train the ALVINN
configuration, plot, evaluate on fresh roads, predict with overlays, and drive the closed loop.

The test roads are rendered by a second process while the training roads are rendered, cached and
learnt, so a two-core machine runs the demo in about the time of its single-process parts.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from drivenet.config import RunConfig, load_config
from drivenet.data import Preprocess, build_cache, read_recordings
from drivenet.drive.film import DriveFilm
from drivenet.drive.rendered import ClosedLoop, drive_track, model_steering
from drivenet.errors import DrivenetError
from drivenet.io import prepare_output_dir, write_json
from drivenet.model.checkpoint import load_model
from drivenet.roads.renderer import Camera
from drivenet.roads.synth import write_recording
from drivenet.training.console import training_console
from drivenet.training.evaluate import evaluate_model
from drivenet.training.plots import plot_curves
from drivenet.training.predict import Sample, predict_samples
from drivenet.training.trainer import prepare_training

ALVINN_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "alvinn.toml"
SAMPLES = 6  # test frames shown with their predicted steering


@dataclass(frozen=True)
class DemoPlan:
    """How big a demo to run: training frames (a further quarter is rendered for validation), test
    frames, epochs, kilometres driven, seed and the camera's image size."""

    frames: int = 1200
    test_frames: int = 1000
    epochs: int = 40
    km: float = 5.0
    seed: int = 0
    camera: Camera = Camera()


def demo_config(path: Path, epochs: int) -> RunConfig:
    """The ALVINN configuration, validated on one held-out block of a fifth of the rendered frames."""
    if not path.is_file():
        raise DrivenetError(f"{path}: ALVINN config not found; pass --config with configs/alvinn.toml")
    return load_config(path, [f"train.epochs={epochs}", "train.split_block=0", "train.val_fraction=0.2"])


def run_demo(
    out: Path,
    plan: DemoPlan,
    config_path: Path = ALVINN_CONFIG,
    force: bool = False,
    progress: bool = True,
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run every step into `out`; returns the headline figures and where each output is."""
    config = demo_config(config_path, plan.epochs)
    out = prepare_output_dir(out, force, inputs=[config_path])
    clock, cpu = time.perf_counter(), time.process_time()

    def step(text: str) -> None:  # wall clock, and CPU time of this process (not the helper process)
        say(f"[{time.perf_counter() - clock:6.1f} s, CPU {time.process_time() - cpu:5.1f} s] {text}")

    train_frames = plan.frames + plan.frames // 4  # the validation block is a fifth of these
    step(f"rendering {train_frames} training frames and {plan.test_frames} test frames on new roads")
    train_dir, test_dir = out / "roads-train", out / "roads-test"
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context(method)) as pool:
        test_roads = pool.submit(write_recording, test_dir, plan.test_frames, plan.seed + 1, plan.camera)
        write_recording(train_dir, train_frames, plan.seed, plan.camera)

        preprocess = Preprocess.from_config(config.data)
        step(f"preprocessing into a cache: crop, {preprocess.color}, {preprocess.width}x{preprocess.height}")
        train_cache, _ = build_cache(read_recordings([train_dir]).frames, preprocess, progress=False)
        train_cache.save(out / "train-cache.npz")

        step(f"training the ALVINN network for up to {plan.epochs} epochs")
        training = prepare_training(out / "train-cache.npz", config, out / "run")
        with training_console(config.train.epochs, progress) as (display, stop):
            run = training.train(display, stop)
        curves = plot_curves([run.out], out / "curves.png")
        model = load_model(run.best)
        test_roads.result()

    step("evaluating on the freshly rendered test roads")
    test_cache, _ = build_cache(read_recordings([test_dir]).frames, model.preprocess, progress=False)
    band = config.evaluate.straight_band
    metrics = evaluate_model(model, test_cache, band, config.evaluate.smooth_window)
    write_json(out / "evaluate.json", metrics)

    picks = np.linspace(0, len(test_cache.steering) - 1, min(SAMPLES, len(test_cache.steering))).astype(int)
    samples = [Sample(Path(test_cache.frames["path"][i]), float(test_cache.steering[i])) for i in picks]
    predictions = list(predict_samples(model, samples, out / "predictions", band))
    write_json(out / "predictions.json", predictions)

    step(f"driving {plan.km:g} km of unseen road, steered by the network")
    loop = ClosedLoop(drive_track(plan.km, plan.seed + 2), plan.camera, plan.seed + 2, view=model.preprocess)
    film = DriveFilm(loop.track)
    report = loop.run(model_steering(model), plan.km, film)
    film.save(out / "drive.gif")
    write_json(out / "drive.json", report.to_dict())

    summary = {
        "within_2_units": metrics.get("within_2_units"),
        "test_rmse": metrics["rmse"],
        "autonomy": report.autonomy,
        "takeovers": report.takeovers,
        "km": report.km,
        "mean_offset": report.mean_offset,
        "worst_offset": report.worst_offset,
        "seconds": time.perf_counter() - clock,
        "outputs": {
            "training recording": str(train_dir),
            "test recording": str(test_dir),
            "cache": str(out / "train-cache.npz"),
            "model": str(run.best),
            "learning curves": str(curves),
            "evaluation": str(out / "evaluate.json"),
            "predictions": str(out / "predictions"),
            "drive": str(out / "drive.json"),
            "drive video": str(out / "drive.gif"),
        },
    }
    write_json(out / "summary.json", summary)
    step("done")
    return summary
