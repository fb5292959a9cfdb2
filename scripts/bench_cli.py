"""Time `drivenet --help` and `drivenet backprop` as whole processes, interpreter start included.

Each command runs `--runs` times, alternating with a bare `python -c pass` as the floor; the median wall
and CPU seconds (user + system of the child) are printed. CPU time depends less on what else the machine
runs than wall time. Last line is JSON: {"python_s": .., "help_s": .., "backprop_s": .., and the same
with _cpu_s}, medians in seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

SCRIPT = Path(sys.executable).with_name("drivenet")  # the console script a user runs
DRIVENET = [str(SCRIPT)] if SCRIPT.is_file() else [sys.executable, "-m", "drivenet"]
COMMANDS = {
    "python": [sys.executable, "-c", "pass"],
    "help": [*DRIVENET, "--help"],
    "backprop": [*DRIVENET, "backprop"],
}


def children_cpu() -> float:
    """CPU seconds used by this process's finished children."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run of `command`; exits if it fails."""
    wall, cpu = time.perf_counter(), children_cpu()
    done = subprocess.run(command, capture_output=True, cwd=Path(__file__).resolve().parents[1])
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed: {done.stderr.decode()}")
    return time.perf_counter() - wall, children_cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in COMMANDS}
    for command in COMMANDS.values():  # one warm-up each: the OS file cache, .pyc files
        timed(command)
    for _ in range(args.runs):
        for name, command in COMMANDS.items():
            times[name].append(timed(command))
    result = {}
    for name, runs in times.items():
        wall = statistics.median(w for w, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        print(f"{name:<9} median of {args.runs}: {wall:.3f} s wall, {cpu:.3f} s CPU")
        result[f"{name}_s"], result[f"{name}_cpu_s"] = round(wall, 3), round(cpu, 3)
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
