"""Score the privileged expert (drivenet/drive/gym/expert.py) on Gymnasium's CarRacing-v3.

One episode per seed, seeds FIRST..FIRST+SEEDS-1, spread over JOBS processes (each its own env). Prints
one line per episode (reward, frames, share of tiles visited), then mean ± sd, min and max, and a last
JSON line. `--set lookahead_gain=0.1` overrides an Expert field (tune on seeds 1000-1019; report on 0-99).

    python scripts/gym_expert.py --seeds 100 --first 0 --jobs 2
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import platform
import statistics
import time

from drivenet.drive.gym import Expert, make_env


def episode(job: tuple[int, dict[str, float]]) -> dict[str, float]:
    """Drive one seed to its end; reward, frames and the share of tiles visited."""
    seed, params = job
    env = make_env()
    expert = Expert(**params)
    env.reset(seed=seed)
    total, frames, done = 0.0, 0, False
    while not done:
        _, reward, terminated, truncated, _ = env.step(expert.run(env.unwrapped))
        total += float(reward)
        frames += 1
        done = terminated or truncated
    tiles = env.unwrapped.tile_visited_count / len(env.unwrapped.track)
    env.close()
    return {"seed": seed, "reward": total, "frames": frames, "tiles": tiles}


def parse_sets(items: list[str]) -> dict[str, float]:
    fields = {f.name for f in dataclasses.fields(Expert)}
    params = {}
    for item in items:
        name, _, value = item.partition("=")
        if name not in fields:
            raise SystemExit(f"error: --set {item}: Expert has no field {name!r} (fields: {sorted(fields)})")
        params[name] = float(value)
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
    jobs = [(seed, params) for seed in range(args.first, args.first + args.seeds)]
    start = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(args.jobs) as pool:
        results = []
        for r in pool.imap(episode, jobs):
            results.append(r)
            if not args.quiet:
                print(f"seed {r['seed']:5d}  reward {r['reward']:7.1f}  frames {r['frames']:4d}  "
                      f"tiles {r['tiles']:.3f}", flush=True)
    wall = time.perf_counter() - start
    rewards = [r["reward"] for r in results]
    mean = statistics.fmean(rewards)
    sd = statistics.stdev(rewards) if len(rewards) > 1 else 0.0
    print(f"seeds {args.first}..{args.first + args.seeds - 1}: mean {mean:.1f} ± {sd:.1f}  "
          f"min {min(rewards):.1f}  max {max(rewards):.1f}  wall {wall:.1f} s  jobs {args.jobs}  "
          f"({platform.processor() or platform.machine()})")
    print(json.dumps({"first": args.first, "seeds": args.seeds, "mean": round(mean, 2), "sd": round(sd, 2),
                      "min": round(min(rewards), 2), "max": round(max(rewards), 2),
                      "wall_s": round(wall, 1), "jobs": args.jobs, "params": params}))


if __name__ == "__main__":
    main()
