"""A sweep's runs: one ordinary run folder per point and seed, trained, then scored by the select judge.

A run is finished once its `select.json` (written after training and judging) and `best.npz` are there:
a sweep run again skips finished runs and starts unfinished ones afresh, so an interrupted sweep resumes.
Runs go to `jobs` local processes, each training and judging whole runs.
"""

from __future__ import annotations

import json
import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from drivenet.errors import DrivenetError
from drivenet.io import write_json
from drivenet.sweep.judges import judge_model
from drivenet.sweep.spec import SweepSpec, point_name
from drivenet.training.trainer import prepare_training

SELECT_FILE = "select.json"
RunKey = tuple[int, int]  # (point, seed)
Records = dict[RunKey, dict[str, Any]]  # the select judge's record of each run


def run_folder(out: Path, point: int, seed: int) -> Path:
    """Where the run of `point` with `seed` trains: OUT/trials/p003/seed-1."""
    return out / "trials" / point_name(point) / f"seed-{seed}"


def finished(folder: Path) -> dict[str, Any] | None:
    """The select judge's record of a finished run, None for a run not (or not completely) done."""
    done = folder / SELECT_FILE
    if not (done.is_file() and (folder / "best.npz").is_file()):
        return None
    try:
        return json.loads(done.read_text(encoding="utf-8"))
    except ValueError:  # a file someone else wrote: run it again
        return None


def train_and_judge(spec: SweepSpec, point: int, seed: int, out: Path) -> dict[str, Any]:
    """Train one run (unless finished) and score its best.npz with the select judge; its record:
    {"point", "seed", "epochs", "score", "each"} (`judge_model`)."""
    folder = run_folder(out, point, seed)
    done = finished(folder)
    if done is not None:
        return done
    config = spec.config(point, seed)
    result = prepare_training(list(spec.train), config, folder, force=folder.exists()).train()
    record = {"point": point_name(point), "seed": seed, "epochs": result.state.epoch}
    record.update(judge_model(spec.select, result.best))
    write_json(folder / SELECT_FILE, record)
    return record


def _run(job: tuple[SweepSpec, int, int, Path]) -> dict[str, Any]:
    return train_and_judge(*job)


def run_all(
    spec: SweepSpec, out: Path, keys: Sequence[RunKey], jobs: int, say: Callable[[str], None]
) -> Records:
    """Every run of `keys`, over `jobs` processes (here when 1), each told to `say` as it finishes."""
    if jobs < 1:
        raise DrivenetError(f"--jobs {jobs}: must be at least 1")
    records: Records = {}

    def told(key: RunKey, record: dict[str, Any]) -> None:
        records[key] = record
        say(f"{point_name(key[0])} seed {key[1]}: {spec.select.metric} {record['score']:.4g}")

    if jobs == 1 or len(keys) <= 1:
        for key in keys:
            told(key, train_and_judge(spec, *key, out))
        return records
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    with ProcessPoolExecutor(min(jobs, len(keys)), mp_context=multiprocessing.get_context(method)) as pool:
        futures = {pool.submit(_run, (spec, *key, out)): key for key in keys}
        try:
            for future in as_completed(futures):
                told(futures[future], future.result())
        except BaseException:  # a run failed, or Ctrl-C: start no more (the finished ones are kept)
            for future in futures:
                future.cancel()
            raise
    return records
