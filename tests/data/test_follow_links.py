"""A recording whose IMG folder (or log) is a link to another disk: refused by default with a one-line
hint, read everywhere with `--follow-links` or `data.follow_links` (issue 22, item 11)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from PIL import Image
from support.cli import one_line_error
from support.tiny import make_recording, tiny_config
from typer.testing import CliRunner

from drivenet.cli import app
from drivenet.config import DataConfig
from drivenet.data import Preprocess
from drivenet.data.readers import read_recordings
from drivenet.model.checkpoint import save_model
from drivenet.model.steering_model import SteeringModel

FRAMES = 60


@pytest.fixture(scope="module")
def linked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A recording whose IMG/ is a link to a folder elsewhere (the big data kept on another disk)."""
    root = tmp_path_factory.mktemp("links")
    rec = make_recording(root / "rec", frames=FRAMES)
    lines = (rec / "driving_log.csv").read_text().splitlines()
    (rec / "driving_log.csv").write_text("\n".join([lines[0], *(f"{line}, 20" for line in lines[1:])]) + "\n")
    shutil.move(rec / "IMG", root / "disk2-IMG")
    os.symlink(root / "disk2-IMG", rec / "IMG")
    return rec


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    config = tiny_config()
    path = tmp_path_factory.mktemp("model") / "m.npz"
    return save_model(SteeringModel.build(config, Preprocess.from_config(config.data)), path)


def run(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_a_linked_image_folder_is_refused_by_default_with_the_way_to_allow_it(linked):
    read = read_recordings([linked], DataConfig())
    assert len(read.frames) == 0 and len(read.problems) == FRAMES
    assert "--follow-links" in read.problems[0].reason


def test_follow_links_reads_every_frame(linked):
    read = read_recordings([linked], DataConfig(follow_links=True))
    assert len(read.frames) == FRAMES and read.problems == []


@pytest.mark.parametrize("allow", [["--follow-links"], ["--set", "data.follow_links=true"]])
def test_preprocess_refuses_in_one_line_and_follows_when_told(linked, tmp_path, allow):
    out = tmp_path / "c.npz"
    one_line_error(run("preprocess", linked, "--out", out), "no usable frames", "--follow-links")
    result = run("preprocess", linked, "--out", out, *allow)
    assert result.exit_code == 0, result.output
    assert out.is_file()


def test_inspect_follows_links_when_told(linked, tmp_path):
    one_line_error(run("inspect", linked, "--out", tmp_path / "r0"), "--follow-links")
    result = run("inspect", linked, "--out", tmp_path / "r1", "--follow-links")
    assert result.exit_code == 0, result.output


def test_train_follows_links_when_told(linked, tmp_path):
    tiny = ["--set", "train.epochs=1", "--set", "train.split_block=10", "--set", "data.width=16"]
    one_line_error(run("train", linked, "--out", tmp_path / "r0", *tiny), "--follow-links")
    result = run("train", linked, "--out", tmp_path / "r1", *tiny, "--follow-links")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "r1" / "best.npz").is_file()


def test_evaluate_and_predict_follow_links_when_told(linked, model):
    one_line_error(run("evaluate", model, linked), "--follow-links")
    assert run("evaluate", model, linked, "--follow-links", "--json").exit_code == 0
    refused = run("predict", model, linked, "--json")
    assert refused.exit_code != 0 or '"path"' not in refused.output
    result = run("predict", model, linked, "--json", "--follow-links")
    assert result.exit_code == 0, result.output
    assert result.output.count('"path"') == FRAMES


def test_predict_on_a_linked_folder_of_frames(tmp_path, model):
    disk = tmp_path / "disk2"
    disk.mkdir()
    Image.new("RGB", (48, 36), (90, 90, 90)).save(disk / "0.jpg")
    (tmp_path / "frames").mkdir()
    os.symlink(disk / "0.jpg", tmp_path / "frames" / "0.jpg")
    one_line_error(run("predict", model, tmp_path / "frames"), "--follow-links")
    result = run("predict", model, tmp_path / "frames", "--follow-links", "--json")
    assert result.exit_code == 0 and '"path"' in result.output, result.output


def test_replay_follows_links_when_told(linked, model):
    one_line_error(run("replay", model, linked), "--follow-links")
    result = run("replay", model, linked, "--follow-links", "--json")
    assert result.exit_code == 0, result.output


def test_a_linked_log_is_refused_with_the_hint_and_read_when_told(tmp_path):
    rec = make_recording(tmp_path / "rec", frames=10)
    shutil.move(rec / "driving_log.csv", tmp_path / "elsewhere.csv")
    os.symlink(tmp_path / "elsewhere.csv", rec / "driving_log.csv")
    one_line_error(run("inspect", rec, "--out", tmp_path / "r0"), "driving_log.csv", "--follow-links")
    assert len(read_recordings([rec], DataConfig(follow_links=True)).frames) == 10


def test_a_path_written_out_of_the_folder_stays_refused_with_follow_links(tmp_path):
    rec = make_recording(tmp_path / "rec", frames=4)
    outside = tmp_path / "outside.jpg"
    shutil.copy(rec / "IMG" / "center_00000.jpg", outside)
    log = rec / "driving_log.csv"
    log.write_text(log.read_text().replace("IMG/center_00000.jpg", "../outside.jpg", 1))
    read = read_recordings([rec], DataConfig(follow_links=True))
    assert str(outside) not in set(read.frames["path"])
