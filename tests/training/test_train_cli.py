"""The train, evaluate, predict and plot commands through Typer's test runner, on a recording made here."""

from __future__ import annotations

import json

import pytest
from PIL import Image
from support.tiny import TINY, make_recording, tiny_config
from typer.testing import CliRunner

from drivenet.cli import app
from drivenet.data import load_or_build
from drivenet.io import OUTPUT_MARKER, load_npz, save_npz
from drivenet.training import trainer

runner = CliRunner()
SETS = [arg for item in TINY for arg in ("--set", item)]


def invoke(*args: object):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A recording and a bump-encoded model trained on it by `drivenet train`."""
    folder = tmp_path_factory.mktemp("cli")
    recording = make_recording(folder / "rec")
    bump = [
        'model.encoding="bump"',
        "model.hidden=[16]",
        "train.lr=0.03",
        "train.epochs=8",
        "train.test_fraction=0.2",
    ]
    sets = [arg for item in bump for arg in ("--set", item)]
    result = invoke("train", recording, "--out", folder / "run", *SETS, *sets, "--quiet")
    assert result.exit_code == 0, result.output
    load_or_build(recording, tiny_config().data).save(folder / "cache.npz")
    return folder


def png_size(path) -> tuple[int, int]:
    with Image.open(path) as image:
        assert image.format == "PNG"
        return image.size


def test_train_writes_the_run_and_refuses_to_overwrite(run):
    files = {"config.toml", "metrics.csv", "best.npz", "last.npz", OUTPUT_MARKER}
    assert {p.name for p in (run / "run").iterdir()} == files
    again = invoke("train", run / "rec", "--out", run / "run", *SETS)
    assert again.exit_code == 1 and "--force" in again.output


def test_train_shows_progress_and_takes_overrides(run, tmp_path):
    result = invoke(
        "train",
        run / "rec",
        "--out",
        tmp_path / "r",
        *SETS,
        "--set",
        "train.epochs=2",
        "--set",
        "train.lr=0.05",
    )
    assert result.exit_code == 0, result.output
    assert "epoch   2" in result.output and "best epoch" in result.output
    assert "lr = 0.05" in (tmp_path / "r" / "config.toml").read_text()


def test_ctrl_c_saves_last_and_resume_finishes(run, tmp_path, monkeypatch):
    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(trainer, "train_step", interrupted)
    result = invoke("train", run / "rec", "--out", tmp_path / "r", *SETS, "--quiet")
    assert result.exit_code == 130 and "--resume" in result.output
    assert (tmp_path / "r" / "last.npz").is_file()
    monkeypatch.undo()
    result = invoke("train", run / "rec", "--out", tmp_path / "r", "--resume", "--quiet")
    assert result.exit_code == 0, result.output
    assert len((tmp_path / "r" / "metrics.csv").read_text().splitlines()) == 1 + 4


def test_ctrl_c_while_the_data_loads_saves_nothing_and_installs_no_handler(run, tmp_path, monkeypatch):
    """Until the data is loaded, Ctrl-C is a plain KeyboardInterrupt: no run folder, exit 130."""
    import signal

    handlers = []

    def interrupted(*args, **kwargs):
        handlers.append(signal.getsignal(signal.SIGINT))
        raise KeyboardInterrupt

    monkeypatch.setattr(trainer, "load_or_build", interrupted)
    before = signal.getsignal(signal.SIGINT)
    result = invoke("train", run / "rec", "--out", tmp_path / "r", *SETS)
    assert result.exit_code == 130 and "nothing was saved" in result.output
    assert not (tmp_path / "r").exists()
    assert handlers == [before]  # not the handler that defers Ctrl-C to the end of a batch


def test_evaluate_json_has_the_documented_keys_and_beats_zero_on_the_test_split(run, tmp_path):
    model, plot = run / "run" / "best.npz", tmp_path / "s.png"
    result = invoke("evaluate", model, run / "rec", "--split", "test", "--json", "--plot", plot)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    keys = {
        "rmse",
        "mae",
        "direction_accuracy",
        "turn_sign_accuracy",
        "correlation",
        "zero_rmse",
        "n",
        "lead",
    }
    assert keys <= set(report) and keys <= set(report["smoothed"])
    at_lead = report["smoothed"]["lead"]  # 40 frames: the 20 with every lag of +-10 are scored
    assert set(at_lead) == {"frames", "correlation", "rmse", "zero_rmse", "turn_sign_accuracy"}
    assert at_lead["correlation"] > 0.9 and at_lead["rmse"] < 0.4 * at_lead["zero_rmse"]
    assert report["n"] == 40 and 0 <= report["within_2_units"] <= 1  # one block of 40 frames never trained on
    assert report["rmse"] < 0.4 * report["zero_rmse"] and report["correlation"] > 0.9  # measured 0.13, 0.99
    width, height = png_size(tmp_path / "s.png")
    assert width >= 400 and height >= 200


def test_evaluate_table_on_the_validation_blocks(run):
    result = invoke("evaluate", run / "run" / "best.npz", run / "rec", "--split", "val")
    assert result.exit_code == 0, result.output
    assert "predict zero" in result.output and "turn sign accuracy" in result.output
    as_json = invoke("evaluate", run / "run" / "best.npz", run / "rec", "--split", "val", "--json")
    report = json.loads(as_json.output)
    k = report["smoothed"]["lead"]["frames"]
    assert f"lead {k:+d}: the model steers as the driver does" in result.output
    assert "40 frames" in result.output  # one block of train.split_block = 40 frames


def test_predict_json_and_overlays(run, tmp_path):
    images = sorted((run / "rec" / "IMG").iterdir())[:3]
    result = invoke("predict", run / "run" / "best.npz", *images, "--json", "--overlay", tmp_path / "ov")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [r["path"] for r in rows] == [str(p) for p in images]
    assert all(r["direction"] in ("left", "straight", "right") and len(r["activations"]) == 45 for r in rows)
    assert png_size(tmp_path / "ov" / f"{images[0].stem}.png")[0] >= 320


def test_predict_on_a_recording_folder_knows_the_true_steering(run):
    result = invoke("predict", run / "run" / "best.npz", run / "rec")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 200 and "(true " in lines[0]


def test_plot_curves_and_weights(run, tmp_path):
    result = invoke("plot", run / "run", run / "run", "--out", tmp_path / "c.png")
    assert result.exit_code == 0, result.output
    assert png_size(tmp_path / "c.png")[0] >= 600
    result = invoke("plot", "weights", run / "run" / "best.npz", "--out", tmp_path / "w.png")
    assert result.exit_code == 0, result.output
    assert min(png_size(tmp_path / "w.png")) >= 100


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "train.nope=1"], "unknown key train.nope"),
        (["--set", "train.lr=fast"], "train.lr"),
        (["--set", "data.width=20"], "preprocess"),
        (["--set", "train.batch_size=0"], "train.batch_size = 0"),
        (["--set", 'model.dtype="float16"'], "model.dtype"),
        (["--set", 'model.encoding="bump"', "--set", "model.outputs=2"], "model.outputs = 2"),
    ],
)
def test_bad_training_settings_are_one_line_errors(run, tmp_path, args, message):
    result = invoke("train", run / "cache.npz", "--out", tmp_path / "r", *SETS, *args)
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output


def test_bad_models_and_images_are_one_line_errors(run, tmp_path):
    arrays, meta = load_npz(run / "run" / "best.npz")
    save_npz(tmp_path / "old.npz", arrays, {**meta, "version": 0})
    result = invoke("evaluate", tmp_path / "old.npz", run / "rec")
    assert result.exit_code == 1 and "version 0" in result.output

    other = load_or_build(run / "rec", tiny_config("data.width=20").data).save(tmp_path / "other.npz")
    result = invoke("evaluate", run / "run" / "best.npz", other)
    assert result.exit_code == 1 and "preprocess" in result.output and "Traceback" not in result.output

    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    result = invoke("predict", run / "run" / "best.npz", tmp_path / "broken.jpg")
    assert result.exit_code == 1 and "broken.jpg" in result.output and "Traceback" not in result.output

    result = invoke("plot", tmp_path, "--out", tmp_path / "c.png")
    assert result.exit_code == 1 and "metrics.csv" in result.output


def test_pictures_never_overwrite_a_file_without_force(run, tmp_path):
    mine = tmp_path / "notes.txt"
    model = run / "run" / "best.npz"
    for args in (
        ["plot", run / "run", "--out", mine],
        ["plot", "weights", model, "--out", mine],
        ["evaluate", model, run / "cache.npz", "--plot", mine],
    ):
        mine.write_text("mine")
        result = invoke(*args)
        assert result.exit_code == 1 and "--force" in result.output, result.output
        assert mine.read_text() == "mine"
        result = invoke(*args, "--force")
        assert result.exit_code == 0, result.output
        assert png_size(mine)[0] > 100


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--straight-band", "-1"], "--straight-band"), (["--smooth-window", "-3"], "--smooth-window")],
)
def test_evaluate_refuses_meaningless_settings(run, args, message):
    result = invoke("evaluate", run / "run" / "best.npz", run / "cache.npz", *args)
    assert result.exit_code != 0 and message in result.output and "Traceback" not in result.output


def test_predict_skips_and_counts_corrupt_frames_of_a_recording(run, tmp_path):
    recording = make_recording(tmp_path / "rec", frames=6)
    (recording / "IMG" / "center_00002.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    result = invoke("predict", run / "run" / "best.npz", recording)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert sum("(true " in line for line in lines) == 5
    assert any("skipped 1" in line for line in lines)


def test_predict_never_writes_overlays_over_its_inputs(run, tmp_path):
    images = tmp_path / "imgs"
    images.mkdir()
    for p in sorted((run / "rec" / "IMG").iterdir())[:2]:
        (images / p.name).write_bytes(p.read_bytes())
    result = invoke("predict", run / "run" / "best.npz", images, "--overlay", images, "--force")
    assert result.exit_code == 1 and "choose another output folder" in result.output
    assert len(list(images.iterdir())) == 2
