"""Training-step speed of drivenet's convolutional network against the identical PyTorch model on the CPU.

A step is forward, MSE loss, backward and an Adam update on a batch of 64 images, in float32, of the
network of configs/pilotnet.toml (its dropout active in both). Both engines start from the same
weights, use the same number of threads and are timed in alternating rounds, each engine's speed its best
round. Also prints what bounds drivenet: its convolutions' matrix products alone (the forward product, dW
and dX of each layer, the first layer without dX as in training), timed in the same rounds.
Last line JSON: {"speedup_vs_pytorch": {"pilotnet": r}}.

    python scripts/bench_conv.py [--config configs/pilotnet.toml] [--set data.width=200 ...]
                                 [--rounds 7] [--seconds 1] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

ARGS = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
ARGS.add_argument("--config", default=Path(__file__).parents[1] / "configs" / "pilotnet.toml")
ARGS.add_argument("--set", action="append", default=[], help="config override, as for drivenet train")
ARGS.add_argument("--rounds", type=int, default=7, help="alternating timing rounds")
ARGS.add_argument("--seconds", type=float, default=1.0, help="about how long one engine's round lasts")
ARGS.add_argument("--batch", type=int, default=64)
ARGS.add_argument("--threads", type=int, default=os.cpu_count(), help="threads for numpy and torch")
OPTIONS = ARGS.parse_args()
# numpy's OpenBLAS reads its thread count when numpy is first imported
os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = str(OPTIONS.threads)

import numpy as np  # noqa: E402
from benchkit import best_rates, drivenet_step, round_steps, torch_step  # noqa: E402

from drivenet.config import load_config  # noqa: E402
from drivenet.nn import Adam, Network  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # torch twin: tests/support
from support.torch_reference import torch_copy  # noqa: E402

try:
    import torch
except ImportError:  # pragma: no cover
    sys.exit("bench_conv.py compares against PyTorch: pip install -e '.[ref]'")


def architecture() -> dict:
    """Network.build's arguments for the [data] and [model] sections of --config (scalar steering output)."""
    config = load_config(OPTIONS.config, OPTIONS.set)
    data, model = config.data, config.model
    channels = (1 if data.color == "gray" else 3) * (1 + len(data.motion_gaps))
    return {
        "input_shape": (data.height, data.width, channels),
        "conv": [asdict(layer) for layer in model.conv],
        "hidden": model.hidden,
        "activation": model.activation,
        "output_activation": "tanh" if model.scalar_output == "tanh" else None,
        "init": model.init,
        "dropout": model.dropout,
    }


def torch_engine(net: Network, x: np.ndarray, target: np.ndarray) -> Callable[[], None]:
    """The same network in torch (NCHW input), from drivenet's initial weights, with its own Adam."""
    model = torch_copy(net).train()
    x_t, target_t = torch.from_numpy(x.transpose(0, 3, 1, 2).copy()), torch.from_numpy(target)
    return torch_step(model, torch.optim.Adam(model.parameters()), x_t, target_t)


def conv_matmuls(net: Network) -> Callable[[], None]:
    """Only the convolutions' matrix products of a training step, on their own patch matrices."""
    products = []
    for k, conv in enumerate(net.conv_layers):
        cols, weight = conv._cols, conv.weight.value.reshape(-1, conv.filters)
        y = np.empty((len(cols), conv.filters), np.float32)
        products.append((cols, weight, y, np.empty_like(weight), np.empty_like(cols) if k else None))

    def step() -> None:
        for cols, weight, y, grad_weight, grad_cols in products:
            np.matmul(cols, weight, out=y)
            np.matmul(cols.T, y, out=grad_weight)
            if grad_cols is not None:
                np.matmul(y, weight.T, out=grad_cols)

    return step


def main() -> None:
    torch.set_num_threads(OPTIONS.threads)
    net = Network.build(seed=0, outputs=1, **architecture())
    n_params = sum(p.value.size for p in net.parameters())
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(OPTIONS.batch, *net.input_shape)).astype(np.float32)
    target = rng.uniform(-1, 1, size=(OPTIONS.batch, 1)).astype(np.float32)
    engines = {
        "drivenet": drivenet_step(net, Adam(net.parameters()), x, target),
        "pytorch": torch_engine(net, x, target),
    }
    print(
        f"{Path(OPTIONS.config).name}: {'x'.join(map(str, net.input_shape))} input, "
        f"{len(net.conv_layers)} convolutions, "
        f"{n_params} parameters; batch {OPTIONS.batch}, float32, adam, {OPTIONS.threads} threads, "
        f"best of {OPTIONS.rounds} alternating rounds of about {OPTIONS.seconds} s"
    )
    steps = round_steps(engines, OPTIONS.seconds, warm_steps=2)
    engines["matmuls"] = conv_matmuls(net)  # timed in the same rounds, so under the same load
    rates = best_rates(engines, OPTIONS.rounds, steps)
    ours, theirs, floor = (rates[engine] for engine in ("drivenet", "pytorch", "matmuls"))
    speedup = round(ours / theirs, 3)
    print(f"{'network':<12}{'drivenet steps/s':>18}{'pytorch steps/s':>18}{'speedup':>10}")
    print(f"{'pilotnet':<12}{ours:>18.2f}{theirs:>18.2f}{speedup:>9.2f}x")
    flops = sum(
        2 * conv._cols.size * conv.filters * (3 if k else 2) for k, conv in enumerate(net.conv_layers)
    )
    print(
        f"{'':<12}(its convolutions' matmuls alone: {floor:.2f}/s at {flops * floor / 1e9:.0f} GFLOP/s, "
        f"{ours / floor:.0%} of drivenet's step time; so at most {floor / theirs:.2f}x)"
    )
    print(json.dumps({"speedup_vs_pytorch": {"pilotnet": speedup}}))


if __name__ == "__main__":
    main()
