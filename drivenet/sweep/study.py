"""Sweep workers on several processes or machines, coordinated by an Optuna study in a shared storage.

Each Optuna trial is one point of the SPEC's search (Optuna's GridSampler hands out the point numbers,
so the points, drawn from the SPEC alone, and the table do not depend on how many workers there are):
the worker trains and judges the point's runs (`trials.train_and_judge`, skipping finished ones) and
stores their select records in the trial, so that a machine without the run folders can still write the
table. Two workers handed the same point in a race: the later trial is pruned before it trains.

The storage is a journal file (one machine, or a disk every machine mounts) or an SQL database URL
(`postgresql://...`, `mysql+pymysql://...`, `sqlite:///file.db`). Optuna is the optional `sweep` extra.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from drivenet.errors import DrivenetError
from drivenet.sweep.spec import SweepSpec, point_name
from drivenet.sweep.table import spread
from drivenet.sweep.trials import Records, train_and_judge

PARAM = "point"


def optuna_module() -> Any:
    """Optuna, or a one-line error saying how to install it."""
    try:
        import optuna
    except ImportError:
        raise DrivenetError('sweep workers need Optuna: pip install -e ".[sweep]"') from None
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # a failed run is told by drivenet, in one line
    return optuna


def study_name(spec: SweepSpec) -> str:
    """The SPEC's `[workers] study`, else one named by a digest of what decides the sweep's table."""
    digest = hashlib.sha256(json.dumps(spec.to_dict(), sort_keys=True).encode()).hexdigest()[:12]
    return spec.study or f"drivenet-sweep-{digest}"


def open_study(spec: SweepSpec, storage: str) -> Any:
    """The SPEC's study in `storage` (made by the first worker, joined by the others)."""
    optuna = optuna_module()
    if "://" in storage:
        where: Any = storage
    else:
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        Path(storage).parent.mkdir(parents=True, exist_ok=True)
        where = JournalStorage(JournalFileBackend(storage))
    sampler = optuna.samplers.GridSampler({PARAM: list(range(len(spec.points)))})
    direction = "minimize" if spec.select.lower_is_better else "maximize"
    try:
        return optuna.create_study(
            storage=where,
            study_name=study_name(spec),
            direction=direction,
            sampler=sampler,
            load_if_exists=True,
        )
    except (ImportError, ValueError, RuntimeError) as err:  # a driver not installed, a bad URL
        raise DrivenetError(f"storage {storage}: {err}") from None


def work(spec: SweepSpec, out: Path, storage: str, say: Callable[[str], None]) -> int:
    """Take points from the study and train them until every point is taken; returns how many this
    worker trained."""
    optuna = optuna_module()
    study = open_study(spec, storage)
    worker = f"{socket.gethostname()}:{os.getpid()}"
    done = 0

    def objective(trial: Any) -> float:
        nonlocal done
        point = trial.suggest_categorical(PARAM, list(range(len(spec.points))))
        taken = [
            t.number
            for t in study.get_trials(deepcopy=False)
            if t.params.get(PARAM) == point
            and t.number < trial.number
            and t.state.name in ("RUNNING", "COMPLETE")
        ]
        if taken:  # another worker has it
            raise optuna.TrialPruned()
        runs = [train_and_judge(spec, point, seed, out) for seed in spec.seeds]
        trial.set_user_attr("runs", runs)
        trial.set_user_attr("worker", worker)
        done += 1
        say(f"{worker}: {point_name(point)} done")
        return spread(spec.select, [float(r["score"]) for r in runs])[spec.select.by]

    study.optimize(objective)
    return done


def study_records(spec: SweepSpec, storage: str) -> tuple[Records, dict[str, str]]:
    """The select records of every point finished in the study, and which worker did each point."""
    study = open_study(spec, storage)
    records: Records = {}
    workers: dict[str, str] = {}
    for trial in study.get_trials(deepcopy=False, states=(optuna_module().trial.TrialState.COMPLETE,)):
        point = int(trial.params[PARAM])
        for run in trial.user_attrs.get("runs", []):
            records[point, int(run["seed"])] = run
        workers[point_name(point)] = trial.user_attrs.get("worker", "")
    return records, workers
