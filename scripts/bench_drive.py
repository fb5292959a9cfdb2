"""Closed-loop steps per second: full camera frames preprocessed for the model, against rendering only
the model's view (`ClosedLoop(view=...)`, what `drivenet drive` and `demo` use).

Both drive the same road with the same model in this process, alternating, best of `--rounds`; CPU
time per step is printed too (it depends less on what else the machine runs). The model is an
untrained ALVINN network unless `--model` names a checkpoint: the speed does not depend on how well
it drives. Last line is JSON: {"drive_steps_per_s": x, "speedup_vs_full_frame": r}.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from drivenet.config import load_config
from drivenet.data import Preprocess
from drivenet.drive.rendered import ClosedLoop, drive_track, model_steering
from drivenet.model.checkpoint import load_model as read_model
from drivenet.model.steering_model import SteeringModel
from drivenet.roads.renderer import Camera

ALVINN = Path(__file__).resolve().parents[1] / "configs" / "alvinn.toml"


def bench_model(path: str | None) -> SteeringModel:
    if path is not None:
        return read_model(path)
    config = load_config(ALVINN)
    return SteeringModel.build(config, Preprocess.from_config(config.data))


def drive(model: SteeringModel, km: float, view: bool) -> tuple[int, float, float]:
    """(steps, wall seconds, CPU seconds) of one drive, full frames or the model's view."""
    loop = ClosedLoop(drive_track(km, 3), Camera(), 3, view=model.preprocess if view else None)
    steer = model_steering(model) if view else model.driver()
    wall, cpu = time.perf_counter(), time.process_time()
    report = loop.run(steer, km)
    return report.steps, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="A checkpoint to drive with (default: an untrained ALVINN network).")
    parser.add_argument("--km", type=float, default=0.5, help="Kilometres per drive.")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    model = bench_model(args.model)
    best = {"full frame": 0.0, "model view": 0.0}
    for r in range(args.rounds):
        line = []
        for name, view in (("full frame", False), ("model view", True)):
            steps, wall, cpu = drive(model, args.km, view)
            best[name] = max(best[name], steps / wall)
            line.append(f"{name} {steps / wall:,.0f} steps/s ({1e3 * cpu / steps:.2f} CPU ms/step)")
        print(f"round {r + 1}: " + ", ".join(line))
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    result = {
        "drive_steps_per_s": round(best["model view"]),
        "speedup_vs_full_frame": round(best["model view"] / best["full frame"], 2),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
