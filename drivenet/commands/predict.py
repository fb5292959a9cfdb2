"""Command `predict`: steering and direction (and the pedals of a model that predicts them) for each raw
camera image, optionally drawn on the frames."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any

import typer

from drivenet.commands.options import FollowLinksOpt, echo_json, echo_unread, model_data
from drivenet.config import PEDALS
from drivenet.errors import DrivenetError, cli_errors

SPARK = " ▁▂▃▄▅▆▇█"


def predict(
    model: Annotated[Path, typer.Argument(help="A model checkpoint (best.npz or last.npz of a run).")],
    images: Annotated[list[Path], typer.Argument(help="Image files, image folders or recording folders.")],
    overlay: Annotated[
        Path | None, typer.Option("--overlay", help="Folder for each frame with its steering drawn on it.")
    ] = None,
    saliency: Annotated[
        str | None,
        typer.Option(
            "--saliency",
            help="With --overlay: a saliency map beside each frame (grad | smoothgrad | gradxinput | "
            "occlusion | vbp), its raw maps saved as .npy.",
        ),
    ] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print one JSON list of results.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite a non-empty --overlay folder.")] = False,
    follow_links: FollowLinksOpt = False,
) -> None:
    """Steering and direction for each raw camera image (the model's own preprocessing is applied)."""
    from drivenet.io import prepare_output_dir
    from drivenet.model.checkpoint import load_model
    from drivenet.training.predict import collect_samples, predict_samples

    steering_model = load_model(model)
    if saliency is not None:
        from drivenet.model.saliency import check_method

        if overlay is None:
            raise DrivenetError("--saliency draws on the overlays: give --overlay FOLDER too")
        check_method(steering_model, saliency)
    run_cfg = steering_model.config
    samples = collect_samples(images, model_data(run_cfg.data, follow_links))
    if overlay is not None:
        prepare_output_dir(overlay, force, inputs=[model, *images])
    skipped: list[tuple[Path, str]] = []
    band = run_cfg.evaluate.straight_band
    results = predict_samples(steering_model, samples, overlay, band, skipped, saliency)
    if json_:
        echo_json(list(results))
    else:
        _print_predictions(results)
    echo_unread(skipped)
    if overlay is not None and not json_:
        typer.echo(f"overlays in {overlay}")


def _print_predictions(results: Iterable[dict[str, Any]]) -> None:
    for r in results:
        line = f"{r['path']}  {r['steering']:+.4f}  {r['direction']}"
        line += "".join(f"  {pedal} {r[pedal]:.4f}" for pedal in PEDALS if pedal in r)
        if "true" in r:
            line += f"  (true {r['true']:+.4f})"
        if "activations" in r:
            line += "  " + "".join(
                SPARK[min(int(a * (len(SPARK) - 1) + 0.5), len(SPARK) - 1)] for a in r["activations"]
            )
        typer.echo(line)


def register(app: typer.Typer) -> None:
    """Add `predict` to the CLI."""
    app.command()(cli_errors(predict))
