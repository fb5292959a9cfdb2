"""Timing shared by the benchmark scripts: engines timed in alternating rounds within one process."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

Step = Callable[[], None]


def drivenet_step(net: Any, optimizer: Any, x: Any, target: Any) -> Step:
    """One training step of a drivenet network in training mode: forward, MSE loss, backward, update."""
    from drivenet.nn import MSELoss

    loss = MSELoss()
    net.train()

    def step() -> None:
        _, grad = loss(net.forward(x), target)
        net.backward(grad)
        optimizer.step()

    return step


def torch_step(model: Any, optimizer: Any, x: Any, target: Any) -> Step:
    """The same step of a torch model on tensors `x` and `target`."""
    import torch

    loss = torch.nn.MSELoss()

    def step() -> None:
        optimizer.zero_grad()
        loss(model(x), target).backward()
        optimizer.step()

    return step


def steps_per_second(step: Step, steps: int) -> float:
    """Run `step` `steps` times; steps per wall-clock second."""
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return steps / (time.perf_counter() - start)


def round_steps(engines: Mapping[str, Step], seconds: float, warm_steps: int) -> int:
    """Steps per round so that the slowest engine's round lasts about `seconds` (the warm-up also fills
    buffers and pools)."""
    warm = min(steps_per_second(step, warm_steps) for step in engines.values())
    return max(warm_steps, round(warm * seconds))


def best_rates(engines: Mapping[str, Step], rounds: int, steps: int) -> dict[str, float]:
    """Each engine's best steps/s over `rounds` rounds, the order reversed every other round, so that a
    change in the machine's load falls on every engine alike."""
    rates: dict[str, list[float]] = {name: [] for name in engines}
    for i in range(rounds):
        for name in list(engines) if i % 2 == 0 else list(reversed(engines)):
            rates[name].append(steps_per_second(engines[name], steps))
    return {name: max(values) for name, values in rates.items()}
