"""Commands `train`, `evaluate`, `predict` and `plot` (learning curves, or `plot weights`)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from drivenet.commands import counted
from drivenet.config import load_config
from drivenet.errors import DrivenetError, cli_errors

EXIT_INTERRUPTED = 130  # the shell's code for a run stopped by Ctrl-C
SPARK = " ▁▂▃▄▅▆▇█"


def train(
    sources: Annotated[
        list[Path],
        typer.Argument(
            help="Caches (.npz from `drivenet preprocess`) or recording folders; several are trained on "
            "together.",
            show_default=False,
        ),
    ],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Run folder for config.toml, metrics.csv, best/last.npz.")
    ],
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="TOML config, e.g. configs/udacity.toml.")
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a config value: section.key=value (repeatable)."),
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the run in OUT exactly where it stopped.")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Delete an existing run folder OUT first.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or per-epoch lines.")] = False,
) -> None:
    """Train a steering model, with a live progress bar; Ctrl-C saves last.npz for --resume."""
    from drivenet.training.trainer import resume_config, train_run

    if resume and config is not None:
        raise DrivenetError(
            "--resume uses the run's own config.toml; drop --config (use --set, e.g. train.epochs=50)"
        )
    overrides = set_ or []
    cfg = resume_config(out, overrides) if resume else load_config(config, overrides)
    try:
        result = train_run(sources, cfg, out, force=force, resume=resume, progress=not quiet)
    except KeyboardInterrupt:  # while the data was loading: nothing trained yet
        typer.echo("interrupted before training started; nothing was saved", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    state = result.state
    if result.status == "interrupted":
        typer.echo(
            f"interrupted in epoch {state.epoch + 1} after {state.batch} batches; saved {result.last}\n"
            f"continue with: drivenet train {' '.join(map(str, sources))} --out {out} --resume",
            err=True,
        )
        raise typer.Exit(EXIT_INTERRUPTED)
    how = (
        "stopped early (no better validation loss for train.patience epochs)"
        if result.status == "early_stopped"
        else "done"
    )
    summary = f"{how}: {state.epoch} epochs, best epoch {state.best_epoch}"
    best = {int(row["epoch"]): row for row in result.history}.get(state.best_epoch)
    if best is not None:
        summary += (
            f" (val loss {best['val_loss']:.4f}, rmse {best['val_rmse']:.4f}, "
            f"direction accuracy {best['val_direction_accuracy']:.3f})"
        )
    typer.echo(summary)
    typer.echo(f"run folder {out}: config.toml, metrics.csv, best.npz, last.npz")
    if cfg["train"]["test_fraction"] > 0 or cfg["train"]["test_recordings"]:
        data = " ".join(map(str, sources))
        typer.echo(f"figures to report: drivenet evaluate {out / 'best.npz'} {data} --split test")


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
) -> None:
    """RMSE, MAE, direction and turn-sign accuracy and correlation, beside predict-zero and predict-mean."""
    from drivenet.data.augment import check_window
    from drivenet.data.cache import load_or_build
    from drivenet.data.split import SplitSettings
    from drivenet.io import check_output_file
    from drivenet.model.checkpoint import load_model
    from drivenet.training.evaluate import predict_cache, score_model
    from drivenet.training.plots import plot_steering
    from drivenet.training.trainer import same_data, split_frames

    if split not in ("all", "train", "val", "test"):
        raise DrivenetError(f"--split {split}: expected all, train, val or test")
    if straight_band is not None and straight_band < 0:
        raise DrivenetError(f"--straight-band {straight_band}: must be 0 or more")
    if smooth_window is not None and smooth_window < 0:
        raise DrivenetError(f"--smooth-window {smooth_window}: must be 0 or more (0 or 1: no smoothing)")
    if plot is not None:
        check_output_file(plot, force)
    steering_model = load_model(model)
    run_cfg = steering_model.config
    band = run_cfg["evaluate"]["straight_band"] if straight_band is None else straight_band
    window = run_cfg["evaluate"]["smooth_window"] if smooth_window is None else smooth_window
    check_window(window, "evaluate.smooth_window" if smooth_window is None else "--smooth-window")
    split_settings = SplitSettings.from_config(run_cfg["train"])
    if split == "test" and not (split_settings.test_fraction > 0 or split_settings.test_recordings):
        raise DrivenetError(
            f"{model}: trained without a test split (train.test_fraction = 0, no train.test_recordings); "
            "retrain with e.g. --set train.test_fraction=0.2, or evaluate on recordings it never saw"
        )
    data_cfg = {**run_cfg["data"], **steering_model.preprocess.to_dict()}
    if split == "all":  # the other splits need the frames of training, side cameras included
        data_cfg["cameras"] = "center"
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
        data_split = split_frames(cache, split_settings)
        indices, part = data_split.rows(split), data_split.part
    predictions = predict_cache(steering_model, cache, indices, window, part)
    result = score_model(steering_model, predictions, band, window)
    if plot is not None:
        plot_steering(
            predictions.predicted, predictions.true, plot, f"{model} on {names}: RMSE {result['rmse']:.4f}"
        )
    if json_:
        typer.echo(json.dumps(result, indent=2))
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


def predict(
    model: Annotated[Path, typer.Argument(help="A model checkpoint (best.npz or last.npz of a run).")],
    images: Annotated[list[Path], typer.Argument(help="Image files, image folders or recording folders.")],
    overlay: Annotated[
        Path | None, typer.Option("--overlay", help="Folder for each frame with its steering drawn on it.")
    ] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print one JSON list of results.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite a non-empty --overlay folder.")] = False,
) -> None:
    """Steering and direction for each raw camera image (the model's own preprocessing is applied)."""
    from drivenet.io import prepare_output_dir
    from drivenet.model.checkpoint import load_model
    from drivenet.training.predict import collect_samples, predict_samples

    steering_model = load_model(model)
    run_cfg = steering_model.config
    samples = collect_samples(images, run_cfg["data"])
    if overlay is not None:
        prepare_output_dir(overlay, force, inputs=[model, *images])
    skipped: list[tuple[Path, str]] = []
    results = predict_samples(steering_model, samples, overlay, run_cfg["evaluate"]["straight_band"], skipped)
    if json_:
        typer.echo(json.dumps(list(results), indent=2))
    else:
        _print_predictions(results)
    if skipped:
        path, reason = skipped[0]
        typer.echo(f"skipped {len(skipped)} unreadable image(s); first: {path}: {reason}", err=True)
    if overlay is not None and not json_:
        typer.echo(f"overlays in {overlay}")


def _print_predictions(results: Iterable[dict[str, Any]]) -> None:
    for r in results:
        line = f"{r['path']}  {r['steering']:+.4f}  {r['direction']}"
        if "true" in r:
            line += f"  (true {r['true']:+.4f})"
        if "activations" in r:
            line += "  " + "".join(
                SPARK[min(int(a * (len(SPARK) - 1) + 0.5), len(SPARK) - 1)] for a in r["activations"]
            )
        typer.echo(line)


def plot(
    runs: Annotated[
        list[str],
        typer.Argument(
            help="Run folders to compare, or `weights MODEL` to draw a model's hidden-unit weights."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="PNG file to write.")],
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing OUT file.")] = False,
) -> None:
    """Learning curves of runs side by side, or `plot weights MODEL`: each hidden unit's input weights."""
    from drivenet.io import check_output_file
    from drivenet.model.checkpoint import load_model
    from drivenet.training.plots import plot_curves, plot_weights

    check_output_file(out, force)
    if runs[0] == "weights" and not Path("weights").is_dir():  # `plot weights MODEL`
        if len(runs) != 2:
            raise DrivenetError("plot weights takes one model: drivenet plot weights MODEL --out w.png")
        plot_weights(load_model(runs[1]), out)
    else:
        plot_curves([Path(r) for r in runs], out)
    typer.echo(f"wrote {out}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the CLI."""
    for command in (train, evaluate, predict, plot):
        app.command()(cli_errors(command))
