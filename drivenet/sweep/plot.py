"""The scores of a sweep: each point's select score per seed, its mean ± sd, the winner marked, and the
winner's report figure beside it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from drivenet.io import save_figure
from drivenet.sweep.spec import point_name
from drivenet.sweep.table import Table


def plot_scores(table: Table, report: dict[str, Any] | None, out: Path) -> Path:
    """Write the scores' plot to `out` (PNG)."""
    spec, winner = table.spec, table.winner
    select = spec.select
    fig = Figure(figsize=(max(6.0, 0.45 * len(spec.points) + 3), 4.5), layout="constrained")
    ax = fig.subplots()
    for p in range(len(spec.points)):
        spread = table.spread(p)
        colour = "C3" if p == winner else "C0"
        ax.plot([p] * len(spec.seeds), table.scores(p), ".", color=colour, alpha=0.5)
        ax.errorbar([p], [spread["mean"]], yerr=[spread["sd"]], fmt="o", color=colour, capsize=3)
    labels = [" ".join([point_name(p), *map(json.dumps, s.values())]) for p, s in enumerate(spec.points)]
    ax.set_xticks(range(len(spec.points)), labels, rotation=90, fontsize=8)
    ax.set_xlabel(", ".join(spec.keys))
    better = "lower" if select.lower_is_better else "higher"
    ax.set_ylabel(f"select: {select.kind} {select.metric} ({better} is better)")
    title = f"mean ± sd of {len(spec.seeds)} seeds (dots: each seed); chosen by the {select.by}: "
    title += f"{point_name(winner)}, in red"
    if report is not None:
        title += f"\nreport, winner only: {spec.report.kind} {spec.report.metric} {report['mean']:.4g}"
        title += f" ± {report['sd']:.4g}, shipped model {report['shipped']:.4g}"
    ax.set_title(title, fontsize=9)
    return save_figure(fig, out)
