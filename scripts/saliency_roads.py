"""Saliency of a saved model on fresh rendered roads: the share of each method's map on the road (the
renderer's mask, at least half road paint, dilated by one input pixel) over the road's share of the image,
and the rank correlation with the trained map after randomising the layers from the top (Adebayo et al.).

    python scripts/saliency_roads.py runs/demo/run/best.npz --frames 200 --seed 7

The model must read single frames (no motion gaps): the roads are rendered one pose at a time, straight at
the model's input size. Last line is JSON: {"area": .., "methods": {method: {"road_ratio": ..,
"cascade": [..]}}}.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from drivenet.model.checkpoint import load_model
from drivenet.model.saliency import METHODS, explain_clips
from drivenet.model.saliency_checks import mask_mass_ratio, randomisation_cascade
from drivenet.roads.mask import masked_views
from drivenet.roads.renderer import Camera


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--frames", type=int, default=200, help="Test roads rendered (default 200).")
    parser.add_argument("--seed", type=int, default=7, help="Seed of the roads (default 7).")
    parser.add_argument("--cascade-frames", type=int, default=20, help="Frames of the randomisation test.")
    args = parser.parse_args()
    model = load_model(args.model)
    if model.motion_gaps:
        parser.error("the model reads motion clips; give a single-frame model")
    camera = Camera(*model.frame_size) if model.frame_size else Camera()
    views = list(masked_views(args.frames, args.seed, model.preprocess, camera))
    images, masks = np.stack([v[0] for v in views]), np.stack([v[2] for v in views])
    steering = np.array([v[1] for v in views])
    rmse = float(np.sqrt(np.mean((model.read(images)[1] - steering) ** 2)))
    print(f"{args.model}: {len(images)} roads, steering RMSE {rmse:.3f}, road area share {masks.mean():.3f}")
    found = {}
    for method in METHODS:
        if method == "vbp" and not model.net.conv_layers:
            continue
        ratio = mask_mass_ratio(explain_clips(model, images, method).frame, masks)
        cascade = randomisation_cascade(model, images[: args.cascade_frames], method)
        found[method] = {"road_ratio": round(ratio, 3), "cascade": [round(c, 3) for c in cascade]}
        steps = " ".join(f"{c:+.2f}" for c in cascade)
        print(f"  {method:<11} road {ratio:.2f} x its area share; rank correlation, top layer down: {steps}")
    print(json.dumps({"area": round(float(masks.mean()), 3), "rmse": round(rmse, 4), "methods": found}))


if __name__ == "__main__":
    main()
