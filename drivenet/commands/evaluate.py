"""Command `evaluate`: a model's metrics on data, beside the predict-zero and predict-mean baselines."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from drivenet.commands import counted
from drivenet.commands.options import FollowLinksOpt, echo_json, model_data
from drivenet.config import SHARE, WINDOW
from drivenet.errors import DrivenetError, cli_errors


def evaluate(
    model: Annotated[Path, typer.Argument(help="A model checkpoint (best.npz or last.npz of a run).")],
    data: Annotated[
        list[Path],
        typer.Argument(
            help="Caches (.npz) or recording folders (read with the model's settings); for --split train, "
            "val or test, the ones the model was trained on.",
            show_default=False,
        ),
    ],
    json_: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Write predicted and true steering over time to this PNG.")
    ] = None,
    split: Annotated[
        str,
        typer.Option(
            "--split",
            help="all frames; or only the model's training, validation or test frames: train, val, test "
            "(the test frames never chose or stopped the model: report these).",
        ),
    ] = "all",
    straight_band: Annotated[
        float | None, typer.Option("--straight-band", help="|steering| at most this is straight.")
    ] = None,
    smooth_window: Annotated[
        int | None, typer.Option("--smooth-window", help="Frames averaged for the smoothed labels.")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing --plot file.")] = False,
    follow_links: FollowLinksOpt = False,
) -> None:
    """RMSE, MAE, direction and turn-sign accuracy and correlation, beside predict-zero and predict-mean."""
    from drivenet.data.cache import load_or_build
    from drivenet.data.split import split_frames
    from drivenet.io import check_output_file
    from drivenet.model.checkpoint import load_model
    from drivenet.training.evaluate import predict_cache, score_model
    from drivenet.training.plots import plot_steering
    from drivenet.training.run_folder import same_data

    if split not in ("all", "train", "val", "test"):
        raise DrivenetError(f"--split {split}: expected all, train, val or test")
    for option, value, (ok, wanted) in (
        ("--straight-band", straight_band, SHARE),
        ("--smooth-window", smooth_window, WINDOW),
    ):
        if value is not None and not ok(value):
            raise DrivenetError(f"{option} {value:g}: must be {wanted}")
    if plot is not None:
        check_output_file(plot, force)
    steering_model = load_model(model)
    run_cfg = steering_model.config
    band = run_cfg.evaluate.straight_band if straight_band is None else straight_band
    window = run_cfg.evaluate.smooth_window if smooth_window is None else smooth_window
    trained = run_cfg.train
    if split == "test" and not (trained.test_fraction > 0 or trained.test_recordings):
        raise DrivenetError(
            f"{model}: trained without a test split (train.test_fraction = 0, no train.test_recordings); "
            "retrain with e.g. --set train.test_fraction=0.2, or evaluate on recordings it never saw"
        )
    data_cfg = replace(model_data(run_cfg.data, follow_links), **steering_model.preprocess.to_dict())
    if split == "all":  # the other splits need the frames of training, side cameras included
        data_cfg = replace(data_cfg, cameras="center")
    cache = load_or_build(data, data_cfg)
    names = ", ".join(map(str, data))
    steering_model.check_images(cache.preprocess, names)
    indices = part = None
    if split != "all":
        if not same_data(steering_model.meta.get("data"), cache):
            raise DrivenetError(
                f"{names}: --split {split} needs the data the model was trained on; pass that (all of it, "
                "in the same order), or --split all"
            )
        data_split = split_frames(cache, trained)
        indices, part = data_split.rows(split), data_split.part
    predictions = predict_cache(steering_model, cache, indices, window, part)
    result = score_model(steering_model, predictions, band, window)
    if plot is not None:
        plot_steering(
            predictions.predicted, predictions.true, plot, f"{model} on {names}: RMSE {result['rmse']:.4f}"
        )
    if json_:
        echo_json(result)
    else:
        _print_evaluation(result)
    if plot is not None and not json_:
        typer.echo(f"wrote {plot}")


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{value:.4f}"


def _print_evaluation(result: dict[str, Any]) -> None:
    from drivenet.training.metrics import DIRECTIONS

    console = Console()
    settings = result["settings"]
    for name, part in (
        ("raw labels", result),
        (f"labels smoothed over {settings['smooth_window']} frames", result["smoothed"]),
    ):
        table = Table(title=f"{part['n']} frames, {name} (straight band {settings['straight_band']})")
        for column in ("metric", "model", "predict zero", f"predict mean ({settings['mean_steering']:+.3f})"):
            table.add_column(column, justify="right" if column != "metric" else "left")
        zero, mean = part["baselines"]["zero"], part["baselines"]["mean"]
        for key in ("rmse", "mae", "direction_accuracy", "turn_sign_accuracy", "correlation"):
            table.add_row(key.replace("_", " "), _fmt(part[key]), _fmt(zero[key]), _fmt(mean[key]))
        for d in DIRECTIONS:
            table.add_row(f"  {d} recall", *(_fmt(m["direction_recall"][d]) for m in (part, zero, mean)))
        if "within_2_units" in part:
            table.add_row("within 2 units", _fmt(part["within_2_units"]), "", "")
        console.print(table)
    if "pedals" in result:
        table = Table(title="pedals (frames with a logged value)")
        for column in ("target", "rmse", "mae", "predict mean rmse", "frames"):
            table.add_column(column, justify="right" if column != "target" else "left")
        for pedal, m in result["pedals"].items():
            table.add_row(pedal, _fmt(m["rmse"]), _fmt(m["mae"]), _fmt(m["mean_rmse"]), str(m["n"]))
        console.print(table)
    console.print(f"RMSE / predict-zero RMSE = {result['rmse'] / max(result['zero_rmse'], 1e-12):.3f}")
    ahead = result["smoothed"].get("lead", {})
    if ahead.get("frames") is not None:
        k = ahead["frames"]
        when = "now" if k == 0 else f"{counted(abs(k), 'frame')} {'later' if k > 0 else 'earlier'}"
        console.print(
            f"lead {k:+d}: the model steers as the driver does {when} (smoothed labels; there RMSE / "
            f"predict-zero {ahead['rmse'] / max(ahead['zero_rmse'], 1e-12):.3f}, turn sign "
            f"{_fmt(ahead['turn_sign_accuracy'])}, correlation {ahead['correlation']:.4f}); a copycat, "
            "continuing what the car already does, lags (lead < 0)"
        )


def register(app: typer.Typer) -> None:
    """Add `evaluate` to the CLI."""
    app.command()(cli_errors(evaluate))
