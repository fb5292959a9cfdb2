"""Inference time per camera frame: an exported model in onnxruntime against drivenet's own numpy forward.

For each model kind (a shipped config, untrained: the time does not depend on the weights) one raw RGB
frame of its camera's size goes in and the controls come out, one frame at a time as on a car: drivenet
(`SteeringModel.controller`: Pillow preprocessing, the numpy network, decoding) and the graph of
`drivenet export` (all of it inside onnxruntime, `ExportedModel.controller`). Both get the same number of
threads and are timed in alternating rounds, each its best round. Needs the export extra.
Last line JSON: {"onnxruntime_vs_numpy": {"pilotnet": r, ...}}, r = numpy's time / onnxruntime's.

    python scripts/bench_export.py [--rounds 7] [--seconds 1] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

ARGS = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
ARGS.add_argument("--rounds", type=int, default=7, help="alternating timing rounds")
ARGS.add_argument("--seconds", type=float, default=1.0, help="about how long one engine's round lasts")
ARGS.add_argument("--threads", type=int, default=os.cpu_count(), help="threads for numpy and onnxruntime")
OPTIONS = ARGS.parse_args()
os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = str(OPTIONS.threads)

import numpy as np  # noqa: E402
from benchkit import best_rates, round_steps  # noqa: E402

from drivenet.config import load_config  # noqa: E402
from drivenet.data import Preprocess  # noqa: E402
from drivenet.errors import DrivenetError  # noqa: E402
from drivenet.model.steering_model import SteeringModel  # noqa: E402

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
UDACITY, CARRACING = (320, 160), (96, 96)
KINDS = {  # name: (config, overrides, camera frame size)
    "alvinn": ("alvinn.toml", [], UDACITY),  # MLP, sigmoid bump
    "udacity": ("udacity.toml", [], UDACITY),  # MLP regression on one frame
    "udacity_motion": ("udacity.toml", ["data.motion_gaps=[1, 3]"], UDACITY),  # and its change 1, 3 back
    "three_way": ("alvinn.toml", ["model.encoding=classes"], UDACITY),
    "pilotnet": ("pilotnet.toml", [], UDACITY),  # convolutions, mirror averaging
    "carracing": ("carracing.toml", [], CARRACING),  # convolutions, motion, steering + pedals
}


def engines(model: SteeringModel, size: tuple[int, int], folder: Path) -> dict:
    """One frame's controls by drivenet and by its export in onnxruntime, each a call without arguments."""
    from drivenet.export.onnx_graph import export_model, save_onnx
    from drivenet.export.runtime import ExportedModel

    path = save_onnx(export_model(model, "frame", size), folder / "model.onnx", force=True)
    frame = np.random.default_rng(0).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    numpy_control = model.controller()
    onnx_control = ExportedModel(path, threads=OPTIONS.threads).controller()
    ours, theirs = numpy_control(frame), onnx_control(frame)
    if abs(ours.steering - theirs.steering) > 1e-5:
        raise SystemExit(f"the export steers {theirs.steering}, drivenet {ours.steering}: not the same model")
    return {"numpy": lambda: numpy_control(frame), "onnxruntime": lambda: onnx_control(frame)}


def main() -> None:
    try:
        from drivenet.export import require

        require("onnxruntime", "bench_export.py")
    except DrivenetError as err:
        sys.exit(str(err))
    print(
        f"{platform.processor() or platform.machine()}, {OPTIONS.threads} threads; one frame at a time, "
        f"best of {OPTIONS.rounds} alternating rounds of about {OPTIONS.seconds} s"
    )
    print(f"{'model':<11}{'frame':>9}{'numpy ms':>10}{'onnxruntime ms':>16}{'ratio':>8}")
    ratios = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, (config_file, overrides, size) in KINDS.items():
            config = load_config(CONFIGS / config_file, overrides)
            model = SteeringModel.build(config, Preprocess.from_config(config.data))
            timed = engines(model, size, Path(folder))
            rates = best_rates(timed, OPTIONS.rounds, round_steps(timed, OPTIONS.seconds, warm_steps=5))
            ratios[name] = round(rates["onnxruntime"] / rates["numpy"], 2)
            ms = {engine: 1000 / rate for engine, rate in rates.items()}
            print(
                f"{name:<11}{size[0]:>5}x{size[1]:<3}{ms['numpy']:>10.3f}{ms['onnxruntime']:>16.3f}"
                f"{ratios[name]:>7.2f}x"
            )
    print(json.dumps({"onnxruntime_vs_numpy": ratios}))


if __name__ == "__main__":
    main()
