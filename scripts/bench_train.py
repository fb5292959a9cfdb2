"""Training-step speed of drivenet's numpy MLP against the identical PyTorch model.

A step is forward, MSE loss, backward and an optimizer update on a batch of 256, in float32. Both
engines start from the same weights and use the same number of threads; their timings alternate,
round by round, so that a drift in machine load hits both alike, and each engine's speed is its best
round (as with timeit: other programs only ever slow a round down). Prints a table of steps/s,
the ceiling set by the first layer's two matrix products alone (numpy can go no faster) and,
as its last line, JSON: {"speedup_vs_pytorch": {"960-64-30": r1, "13200-100-50-10-1": r2}}.

    python scripts/bench_train.py [--rounds 9] [--seconds 0.3] [--threads N] [--optimizer sgd|adam]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

ARGS = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
ARGS.add_argument("--rounds", type=int, default=9, help="alternating timing rounds per network")
ARGS.add_argument("--seconds", type=float, default=0.3, help="about how long one engine's round lasts")
ARGS.add_argument("--batch", type=int, default=256)
ARGS.add_argument("--threads", type=int, default=os.cpu_count(), help="threads for numpy and torch")
ARGS.add_argument("--optimizer", choices=("sgd", "adam"), default="sgd")
OPTIONS = ARGS.parse_args()
# numpy's OpenBLAS reads its thread count when numpy is first imported
os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = str(OPTIONS.threads)

import numpy as np  # noqa: E402
from benchkit import best_rates, drivenet_step, round_steps, steps_per_second, torch_step  # noqa: E402

from drivenet.nn import MLP, SGD, Adam  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # torch twin: tests/support
from support.torch_reference import torch_copy  # noqa: E402

try:
    import torch
except ImportError:  # pragma: no cover
    sys.exit("bench_train.py compares against PyTorch: pip install -e '.[ref]'")

NETWORKS = {"960-64-30": ([960, 64, 30], "sigmoid"), "13200-100-50-10-1": ([13200, 100, 50, 10, 1], None)}
LR, MOMENTUM = 0.01, 0.9


def optimizers(net: MLP, model: torch.nn.Module) -> tuple[SGD | Adam, torch.optim.Optimizer]:
    """drivenet's and torch's optimizer of --optimizer, for `net` and its torch copy `model`."""
    if OPTIONS.optimizer == "sgd":
        return SGD(net.parameters(), LR, MOMENTUM), torch.optim.SGD(model.parameters(), LR, MOMENTUM)
    return Adam(net.parameters()), torch.optim.Adam(model.parameters())


def first_layer_matmuls(net: MLP, x: np.ndarray) -> Callable[[], None]:
    """Only the first layer's two products, x W and x^T g: a floor under any numpy step's time."""
    dense = net.dense_layers[0]
    y = np.empty((len(x), dense.n_out), np.float32)
    grad_w = np.empty_like(dense.weight.value)

    def step() -> None:
        np.matmul(x, dense.weight.value, out=y)
        np.matmul(x.T, y, out=grad_w)

    return step


def main() -> None:
    torch.set_num_threads(OPTIONS.threads)
    rng = np.random.default_rng(0)
    print(f"batch {OPTIONS.batch}, float32, {OPTIONS.optimizer}, {OPTIONS.threads} threads, "
          f"best of {OPTIONS.rounds} alternating rounds of about {OPTIONS.seconds} s")
    print(f"{'network':<20}{'drivenet steps/s':>18}{'pytorch steps/s':>18}{'speedup':>10}")
    speedups = {}
    for name, (sizes, output) in NETWORKS.items():
        net = MLP.build(sizes, "sigmoid", output, seed=0)
        x = rng.normal(size=(OPTIONS.batch, sizes[0])).astype(np.float32)
        target = rng.uniform(size=(OPTIONS.batch, sizes[-1])).astype(np.float32)
        model = torch_copy(net)  # the same layers in torch.nn, with drivenet's initial weights
        optimizer, torch_optimizer = optimizers(net, model)
        engines = {
            "drivenet": drivenet_step(net, optimizer, x, target),
            "pytorch": torch_step(model, torch_optimizer, torch.from_numpy(x), torch.from_numpy(target)),
        }
        steps = round_steps(engines, OPTIONS.seconds, warm_steps=3)
        rates = best_rates(engines, OPTIONS.rounds, steps)
        ours, theirs = rates["drivenet"], rates["pytorch"]
        speedups[name] = round(ours / theirs, 3)
        print(f"{name:<20}{ours:>18.1f}{theirs:>18.1f}{speedups[name]:>9.2f}x")
        matmuls = first_layer_matmuls(net, x)
        floor = max(steps_per_second(matmuls, steps) for _ in range(OPTIONS.rounds))
        print(f"{'':<20}(first-layer matmuls alone: {floor:.1f}/s, so at most {floor / theirs:.2f}x)")
    print(json.dumps({"speedup_vs_pytorch": speedups}))


if __name__ == "__main__":
    main()
