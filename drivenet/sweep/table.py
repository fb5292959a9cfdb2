"""The table of a sweep: every point with its select score per seed, mean ± sd and worst seed, and the
winner's report figures; written as `summary.csv` and `summary.json`.

The sd is the sample standard deviation over seeds (0 for one seed). The winner has the best mean (or,
with `by = "worst"`, the best worst seed); of equal scores the earlier point wins.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drivenet.drive.gym.rollout import mean_sd
from drivenet.io import write_json, write_text
from drivenet.sweep.spec import Judge, SweepSpec, point_name
from drivenet.sweep.trials import Records


def spread(judge: Judge, values: list[float]) -> dict[str, float]:
    """{"mean", "sd", "worst"} of several seeds' scores."""
    mean, sd = mean_sd(values)
    return {"mean": mean, "sd": sd, "worst": judge.worst(values)}


@dataclass(frozen=True)
class Table:
    """The select scores of every point and seed of a spec."""

    spec: SweepSpec
    records: Records

    def scores(self, point: int) -> list[float]:
        return [float(self.records[point, seed]["score"]) for seed in self.spec.seeds]

    def spread(self, point: int) -> dict[str, float]:
        return spread(self.spec.select, self.scores(point))

    @property
    def winner(self) -> int:
        """The point whose mean (or worst seed, `by`) select score is best; the earliest of equals."""
        judge = self.spec.select
        sign = 1.0 if judge.lower_is_better else -1.0
        return min(range(len(self.spec.points)), key=lambda p: (sign * self.spread(p)[judge.by], p))

    def best_seed(self, point: int) -> int:
        """The seed of `point` whose run scored best."""
        sign = 1.0 if self.spec.select.lower_is_better else -1.0
        scores = self.scores(point)
        return self.spec.seeds[min(range(len(scores)), key=lambda i: (sign * scores[i], i))]

    def rows(self, report: dict[str, Any] | None) -> list[dict[str, Any]]:
        """One row per point: its settings, select mean/sd/worst and each seed's score, and for the
        winner the report judge's mean/sd/worst over its seeds and the shipped model's figure."""
        spec, winner = self.spec, self.winner
        metric, report_metric = spec.select.metric, spec.report.metric
        rows = []
        for p, settings in enumerate(spec.points):
            row: dict[str, Any] = {"trial": point_name(p), **settings}
            row.update({f"select_{metric}_{k}": v for k, v in self.spread(p).items()})
            row.update(
                {f"select_{metric}_seed{s}": v for s, v in zip(spec.seeds, self.scores(p), strict=True)}
            )
            mine = report if p == winner and report is not None else None
            for k in ("mean", "sd", "worst", "shipped"):
                row[f"report_{report_metric}_{k}"] = None if mine is None else mine[k]
            row["winner"] = p == winner
            rows.append(row)
        return rows


def write_summary(out: Path, table: Table, report: dict[str, Any] | None) -> list[dict[str, Any]]:
    """summary.csv (one row per point; lists as JSON, empty where there is no figure) and summary.json
    (the rows, both judges, the winner and its shipped model)."""
    rows = table.rows(report)
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows([{k: _cell(v) for k, v in row.items()} for row in rows])
    write_text(out / "summary.csv", text.getvalue())
    spec = table.spec
    write_json(
        out / "summary.json",
        {
            "select": {**spec.select.__dict__, "describe": spec.select.describe()},
            "report": {**spec.report.__dict__, "describe": spec.report.describe()},
            "seeds": list(spec.seeds),
            "train": list(spec.train),
            "winner": point_name(table.winner),
            "ship": spec.ship,
            "rows": rows,
        },
    )
    return rows


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return repr(value)
    return value if isinstance(value, str) else json.dumps(value)
