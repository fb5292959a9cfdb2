"""Score a model as a sweep's judge says: offline figures or replay on recordings, or a drive on seeds.

`judge_model` returns {"score": the judge's metric averaged over its recordings or seeds, "each": the
figures of every recording or seed}. Offline figures are `evaluate`'s (relative_rmse = rmse over
predict-zero's, smoothed_rmse against labels smoothed over evaluate.smooth_window frames); replay's and
the roads' are `replay`'s and `drive`'s (takeovers, autonomy, mean offset; replay's also the seconds and
metres masked where the recorded driver stood, reversed or paused); CarRacing's the env's reward, laps
and tile share per seed.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from drivenet.data.cache import load_or_build
from drivenet.drive.rendered import ClosedLoop, drive_track, model_steering
from drivenet.drive.replay import Replay, load_recorded_drive
from drivenet.errors import DrivenetError
from drivenet.model.checkpoint import load_model
from drivenet.model.steering_model import SteeringModel
from drivenet.roads.renderer import Camera
from drivenet.sweep.spec import Judge
from drivenet.training.evaluate import evaluate_model


def judge_model(judge: Judge, model_path: Path) -> dict[str, Any]:
    """The judge's figures of the model (a checkpoint or an ensemble file) at `model_path`."""
    if judge.kind == "gym":
        each = gym_figures(judge, model_path)
    else:
        model = load_model(model_path)
        scorer = {"offline": offline_figures, "replay": replay_figures, "roads": roads_figures}[judge.kind]
        items = judge.recordings if judge.kind in ("offline", "replay") else judge.seeds
        each = [{"on": item, **scorer(judge, model, item)} for item in items]
    undefined = [e["on"] for e in each if e[judge.metric] is None]
    if undefined:
        raise DrivenetError(
            f"{judge.metric} is undefined on {undefined[0]} (e.g. no turns in it); choose another metric"
        )
    return {"score": statistics.fmean(float(e[judge.metric]) for e in each), "each": each}


def offline_figures(judge: Judge, model: SteeringModel, recording: str) -> dict[str, Any]:
    """`evaluate`'s headline figures on every frame of one recording (or cache)."""
    config = model.config
    cache = load_or_build([recording], config.data)
    m = evaluate_model(model, cache, config.evaluate.straight_band, config.evaluate.smooth_window)
    return {
        "rmse": m["rmse"],
        "relative_rmse": m["rmse"] / m["zero_rmse"] if m["zero_rmse"] else None,
        "smoothed_rmse": m["smoothed"]["rmse"],
        "mae": m["mae"],
        "turn_sign_accuracy": m["turn_sign_accuracy"],
        "correlation": m["correlation"],
        "frames": m["n"],
    }


def replay_figures(judge: Judge, model: SteeringModel, recording: str) -> dict[str, Any]:
    """A closed-loop replay of one recording (`drivenet replay`, the judge's takeover limits and mask)."""
    config = model.config
    drive = load_recorded_drive(Path(recording), config.data, config.camera, judge.speed)
    report = Replay(drive, judge.max_offset, judge.max_heading, judge.mask).run(model.driver())
    figures = report.to_dict()
    return {**_drive_figures(figures), "masked_seconds": figures["masked_seconds"],
            "masked_metres": figures["masked_metres"]}  # fmt: skip


def roads_figures(judge: Judge, model: SteeringModel, seed: int) -> dict[str, Any]:
    """`judge.km` of rendered road of `seed` (`drivenet drive --seed`), seen at the model's frame size."""
    camera = Camera(*model.frame_size) if model.frame_size is not None else Camera()
    loop = ClosedLoop(drive_track(judge.km, seed), camera, seed, view=model.preprocess)
    return _drive_figures(loop.run(model_steering(model), judge.km).to_dict())


def gym_figures(judge: Judge, model_path: Path) -> list[dict[str, Any]]:
    """One CarRacing episode per seed (`drivenet gym drive`, no expert comparison); needs the gym extra."""
    from drivenet.drive.gym.rollout import drive

    report = drive(str(model_path), judge.seeds, env_id=judge.env, env_kwargs=judge.env_args, compare=False)
    return [
        {"on": e.seed, "reward": e.reward, "laps": e.laps, "tile_share": e.tile_share, "frames": e.steps}
        for e in report.episodes
    ]


def _drive_figures(report: dict[str, Any]) -> dict[str, Any]:
    keys = ("takeovers", "autonomy", "mean_offset", "worst_offset", "km")
    return {key: report[key] for key in keys}
