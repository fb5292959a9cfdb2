"""`drivenet sweep`: every run of a SPEC (resuming the finished ones), the table, the winner chosen by the
select judge, shipped (its seeds' ensemble or its best seed) and measured once by the report judge.

OUT holds `sweep.json` (what decides the table), `trials/pNNN/seed-S/` (ordinary run folders, each with
the select judge's `select.json`), `summary.csv` and `summary.json`, `scores.png`, `winner.toml` (the
winner's config), `winner.npz` (the shipped model) and `report.json` (the report judge's figures, written
once: a sweep run again with the same winner does not measure it again).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from drivenet.config import to_toml
from drivenet.errors import DrivenetError
from drivenet.io import OUTPUT_MARKER, atomic_write, prepare_output_dir, write_json, write_text
from drivenet.model.ensemble import save_ensemble
from drivenet.sweep.judges import judge_model
from drivenet.sweep.plot import plot_scores
from drivenet.sweep.spec import SweepSpec, load_spec, point_name
from drivenet.sweep.study import study_records, work
from drivenet.sweep.table import Table, spread, write_summary
from drivenet.sweep.trials import finished, run_all, run_folder, train_and_judge

SPEC_FILE = "sweep.json"


def open_sweep(spec_path: Path, out: Path, force: bool) -> SweepSpec:
    """The SPEC, and OUT ready for it: new, or holding a sweep of the same SPEC (continued), or with
    `force` one drivenet made (started over). A sweep of another SPEC in OUT is refused."""
    spec = load_spec(spec_path)
    saved = _saved(out)
    if saved is not None and not force:
        if saved != spec.to_dict():
            raise DrivenetError(
                f"{out} holds a sweep of another SPEC (settings, seeds, data or judges differ); "
                "pass another --out, or --force to start over"
            )
        return spec
    try:
        prepare_output_dir(out, force, inputs=[spec_path, *spec.train])
    except DrivenetError:
        if _awaited(out) != spec.to_dict():  # not another worker that made it for the same SPEC just now
            raise
        return spec
    write_json(out / SPEC_FILE, spec.to_dict())
    return spec


def run_sweep(
    spec_path: Path,
    out: Path,
    jobs: int = 1,
    force: bool = False,
    storage: str | None = None,
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run (or finish) the sweep of `spec_path` in `out`; with a storage (`--storage` or the SPEC's),
    the runs finished by workers are taken from its study. Returns summary.json's content."""
    spec = open_sweep(spec_path, out, force)
    storage = storage or spec.storage
    records = {}
    if storage is not None:
        records, workers = study_records(spec, storage)
        say(f"{len(workers)} of {len(spec.points)} points finished by {len(set(workers.values()))} workers")
    keys = [(p, s) for p in range(len(spec.points)) for s in spec.seeds]
    here = {k: finished(run_folder(out, *k)) for k in keys if k not in records}
    records.update({k: record for k, record in here.items() if record is not None})
    todo = [k for k in keys if k not in records]
    done = len(keys) - len(todo)
    say(f"{len(spec.points)} points x {len(spec.seeds)} seeds: {done} runs done, {len(todo)} to do")
    records.update(run_all(spec, out, todo, jobs, say))
    table = Table(spec, records)
    report = report_winner(spec, out, table, say)
    write_summary(out, table, report)
    plot_scores(table, report, out / "scores.png")
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    say(
        f"winner {point_name(table.winner)}: {spec.select.describe()} = {_figure(table.spread(table.winner))}"
    )
    shipped = f"shipped {report['shipped']:.4g}"
    say(f"report (measured once): {spec.report.describe()} = {_figure(report)}, {shipped}")
    return summary


def run_worker(spec_path: Path, out: Path, storage: str | None, say: Callable[[str], None] = print) -> int:
    """One worker: take points of the SPEC's study (storage: `--storage`, the SPEC's, or OUT/study.journal)
    until none is left; returns how many it trained. `sweep` without --worker then writes the table."""
    spec = open_sweep(spec_path, out, force=False)
    return work(spec, out, storage or spec.storage or str(out / "study.journal"), say)


def report_winner(spec: SweepSpec, out: Path, table: Table, say: Callable[[str], None]) -> dict[str, Any]:
    """Ship the winner (`winner.npz`, `winner.toml`) and measure it with the report judge, once: each of
    its seeds' runs and the shipped model. Its runs are trained here if their folders are elsewhere."""
    winner = table.winner
    saved = out / "report.json"
    if saved.is_file():
        report = json.loads(saved.read_text(encoding="utf-8"))
        if report.get("winner") == point_name(winner):
            return report
    for seed in spec.seeds:
        train_and_judge(spec, winner, seed, out)  # a no-op for finished runs
    models = [run_folder(out, winner, seed) / "best.npz" for seed in spec.seeds]
    shipped = out / "winner.npz"
    if spec.ship == "ensemble" and len(models) > 1:
        save_ensemble(models, shipped)
    else:
        best = run_folder(out, winner, table.best_seed(winner)) / "best.npz"
        atomic_write(shipped, lambda tmp: shutil.copyfile(best, tmp))
    header = (
        f"# chosen by drivenet sweep {spec.source}: {point_name(winner)}, best {spec.select.describe()}\n"
        f"# trained with seeds {', '.join(map(str, spec.seeds))}; shipped as {shipped.name} ({spec.ship})\n"
    )
    write_text(out / "winner.toml", header + to_toml(spec.config(winner, spec.seeds[0])))
    say(f"reporting on {point_name(winner)}: {spec.report.describe()}")
    seeds = {
        str(seed): judge_model(spec.report, model) for seed, model in zip(spec.seeds, models, strict=True)
    }
    figures = spread(spec.report, [float(s["score"]) for s in seeds.values()])
    shipped_figures = judge_model(spec.report, shipped)
    report = {
        "winner": point_name(winner),
        "judge": spec.report.describe(),
        **figures,
        "shipped": shipped_figures["score"],
        "seeds": seeds,
        "shipped_figures": shipped_figures,
    }
    write_json(saved, report)
    return report


def _saved(out: Path) -> dict[str, Any] | None:
    try:
        return json.loads((out / SPEC_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _awaited(out: Path, seconds: float = 10.0) -> dict[str, Any] | None:
    """The SPEC saved in a folder drivenet made, waiting up to `seconds` for the process (another worker)
    that has just made it to save it."""
    deadline = time.monotonic() + seconds
    while (out / OUTPUT_MARKER).is_file() and _saved(out) is None and time.monotonic() < deadline:
        time.sleep(0.1)
    return _saved(out)


def _figure(spread: dict[str, Any]) -> str:
    return f"{spread['mean']:.4g} ± {spread['sd']:.4g} (worst seed {spread['worst']:.4g})"
