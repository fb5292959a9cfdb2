"""Time view synthesis against the work it rides on, in one process, best of `--rounds`.

- Training: `RecoveryViews.apply` on a batch of 64 cache images (the default [data] settings: 32x30 gray,
  rows 35%-85%) against one training step of the default model on the same batch (inputs, forward,
  backward, Adam update).
- Replay: `warp` of one full 320x160 RGB frame against decoding that frame from its JPEG (a udacity-sample
  frame when DRIVENET_DATASETS is set, else a rendered road).

Prints per-call milliseconds and their ratios; the last line is JSON
{"train_batch_ratio": r1, "full_frame_ratio": r2, ...}: view synthesis time / the other's.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from drivenet.config import load_config
from drivenet.data.transform import Preprocess
from drivenet.geometry.camera import PRESETS
from drivenet.geometry.viewsynth import RecoveryViews, warp
from drivenet.model.steering_model import SteeringModel
from drivenet.training.trainer import make_optimizer, train_step


def best_ms(fn: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * min(times)


def frame_jpeg() -> bytes:
    """One 320x160 camera frame as JPEG bytes."""
    folder = Path(os.environ.get("DRIVENET_DATASETS", "")) / "udacity-sample" / "IMG"
    first = next(iter(sorted(folder.glob("center_*.jpg"))), None) if folder.is_dir() else None
    if first is not None:
        return first.read_bytes()
    from drivenet.roads import render_set

    frames, _ = render_set(1, seed=0)
    buffer = io.BytesIO()
    Image.fromarray(frames[0]).save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    config = load_config()
    preprocess = Preprocess.from_config(config.data)
    camera = PRESETS["udacity"]
    rows = (preprocess.crop_top, 1.0 - preprocess.crop_bottom)

    images = rng.integers(0, 256, (64, *preprocess.shape), dtype=np.uint8)
    steering = rng.uniform(-0.5, 0.5, 64).astype(np.float32)
    augment = config.augment
    views = RecoveryViews(camera, 0.5, 2.0, augment.recovery_seconds, augment.recovery_speed)
    model = SteeringModel.build(config, preprocess)
    optimizer = make_optimizer(model.net.parameters(), config.train)
    x = preprocess.to_inputs(images)
    synth_ms = best_ms(lambda: views.apply(images.copy(), steering.copy(), rng, rows), args.rounds)
    step_ms = best_ms(
        lambda: train_step(model, optimizer, preprocess.to_inputs(images).astype(x.dtype), steering),
        args.rounds,
    )

    data = frame_jpeg()
    frame = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    warp_ms = best_ms(lambda: warp(frame, camera, 0.4, 2.0), args.rounds)
    decode_ms = best_ms(lambda: np.asarray(Image.open(io.BytesIO(data)).convert("RGB")), args.rounds)

    print(
        f"training batch of 64 {preprocess.width}x{preprocess.height}: view synthesis {synth_ms:.2f} ms, "
        f"training step {step_ms:.2f} ms"
    )
    print(
        f"full {frame.shape[1]}x{frame.shape[0]} frame: warp {warp_ms:.2f} ms, JPEG decode {decode_ms:.2f} ms"
    )
    result = {
        "train_batch_ratio": round(synth_ms / step_ms, 2),
        "full_frame_ratio": round(warp_ms / decode_ms, 2),
        "view_synthesis_ms": round(synth_ms, 2),
        "warp_full_frame_ms": round(warp_ms, 2),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
