"""Tune the privileged expert (drivenet/drive/gym/expert.py) on Gymnasium's CarRacing-v3.

`--set lookahead_gain=0.1` overrides an Expert field (tune on seeds 1000-1019; report on 0-99). One
episode per seed, seeds FIRST..FIRST+SEEDS-1, over JOBS processes (drivenet/drive/gym/rollout.py); one
line per episode as it finishes, then mean ± sd, min and max, and a last JSON line. Without --set,
`drivenet gym drive expert --episodes 100 --jobs 2` scores the expert the same way.

    python scripts/gym_expert.py --seeds 20 --first 1000 --jobs 2 --set a_lat=120
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import time

from drivenet.drive.gym.expert import Expert
from drivenet.drive.gym.rollout import EXPERT, PolicySpec, Summary, Task, run_tasks
from drivenet.errors import DrivenetError


def parse_sets(items: list[str]) -> dict[str, float]:
    fields = {f.name for f in dataclasses.fields(Expert)}
    params = {}
    for item in items:
        name, _, value = item.partition("=")
        if name not in fields:
            raise SystemExit(f"error: --set {item}: Expert has no field {name!r} (fields: {sorted(fields)})")
        try:
            params[name] = float(value)
        except ValueError:
            raise SystemExit(f"error: --set {item}: {value!r} is not a number") from None
    return params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=100, help="how many seeds")
    parser.add_argument("--first", type=int, default=0, help="the first seed")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE")
    parser.add_argument("--quiet", action="store_true", help="no per-episode lines")
    args = parser.parse_args()
    params = parse_sets(args.set)
    spec = PolicySpec(EXPERT, expert=tuple(params.items()))
    tasks = [Task(spec, seed, "CarRacing-v3", {}) for seed in range(args.first, args.first + args.seeds)]
    start = time.perf_counter()
    episodes = []
    for e in run_tasks(tasks, args.jobs):
        episodes.append(e)
        if not args.quiet:
            print(
                f"seed {e.seed:5d}  reward {e.reward:7.1f}  frames {e.steps:4d}  tiles {e.tile_share:.3f}  "
                f"off-track {e.off_track:4d}  {e.end}",
                flush=True,
            )
    wall = time.perf_counter() - start
    s = Summary.of(episodes)
    print(
        f"seeds {args.first}..{args.first + args.seeds - 1}: mean {s.mean:.1f} ± {s.sd:.1f}  "
        f"min {s.min:.1f}  max {s.max:.1f}  laps {s.laps}/{s.episodes}  wall {wall:.1f} s  jobs {args.jobs}  "
        f"({platform.processor() or platform.machine()})"
    )
    print(
        json.dumps(
            {
                "first": args.first,
                "seeds": args.seeds,
                "mean": round(s.mean, 2),
                "sd": round(s.sd, 2),
                "min": round(s.min, 2),
                "max": round(s.max, 2),
                "laps": s.laps,
                "wall_s": round(wall, 1),
                "jobs": args.jobs,
                "params": params,
            }
        )
    )


if __name__ == "__main__":
    try:
        main()
    except DrivenetError as err:  # e.g. no gym extra
        raise SystemExit(f"error: {err}") from None
