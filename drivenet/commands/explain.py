"""Command `explain`: saliency maps, which pixels of each frame move the model's steering."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from drivenet.commands.options import FollowLinksOpt, echo_unread, model_data
from drivenet.errors import cli_errors

METHOD_HELP = "grad | smoothgrad | gradxinput | occlusion | vbp (convolutional models)."


def explain(
    model: Annotated[Path, typer.Argument(help="A model checkpoint (best.npz or last.npz of a run).")],
    frames: Annotated[list[Path], typer.Argument(help="Image files, image folders or recording folders.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the pictures, maps and summary.")],
    method: Annotated[str, typer.Option("--method", help=METHOD_HELP)] = "grad",
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of smoothgrad's noise (0 or more).")] = 0,
    force: Annotated[bool, typer.Option("--force", help="Overwrite a non-empty --out folder.")] = False,
    follow_links: FollowLinksOpt = False,
) -> None:
    """For each frame: a picture of the saliency map over the frame with the predicted steering, the raw
    map (`.npy`, over the model's input pixels) and a line of `summary.json`; a motion model also gets
    the map of its motion channels (`_motion.npy`, and a second panel)."""
    from drivenet.io import prepare_output_dir, write_json
    from drivenet.model.checkpoint import load_model
    from drivenet.model.saliency import check_method
    from drivenet.training.predict import collect_samples, predict_samples

    steering_model = load_model(model)
    check_method(steering_model, method)
    samples = collect_samples(frames, model_data(steering_model.config.data, follow_links))
    prepare_output_dir(out, force, inputs=[model, *frames])
    skipped: list[tuple[Path, str]] = []
    band = steering_model.config.evaluate.straight_band
    results = list(predict_samples(steering_model, samples, out, band, skipped, method, seed))
    summary = write_json(out / "summary.json", {"model": str(model), "method": method, "frames": results})
    for r in results:
        typer.echo(f"{r['path']}  {r['steering']:+.4f}  {r['direction']}  -> {r['overlay']}")
    echo_unread(skipped)
    typer.echo(f"{len(results)} maps ({method}) in {out}; summary: {summary}")


def register(app: typer.Typer) -> None:
    """Add `explain` to the CLI."""
    app.command()(cli_errors(explain))
