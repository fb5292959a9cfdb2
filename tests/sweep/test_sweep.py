"""`drivenet sweep`: a 2x2 grid x 2 seeds on synthetic roads, chosen on one recording, reported on another."""

from __future__ import annotations

import json
import shutil

import numpy as np
from support import needs_gym
from support.cli import one_line_error
from support.sweeps import REPORT, SELECT, invoke, table, write_spec

from drivenet.model.checkpoint import load_model
from drivenet.model.ensemble import EnsembleModel
from drivenet.sweep.judges import judge_model
from drivenet.sweep.spec import load_spec


def test_the_table_chooses_on_select_and_reports_the_winner_once(swept, roads):
    rows = table(swept)
    assert len(rows) == 4 and {r["model.hidden"] for r in rows} == {"[4]", "[8]"}
    seeds = np.array([[float(r["select_rmse_seed0"]), float(r["select_rmse_seed1"])] for r in rows])
    np.testing.assert_allclose([float(r["select_rmse_mean"]) for r in rows], seeds.mean(axis=1))
    np.testing.assert_allclose([float(r["select_rmse_sd"]) for r in rows], seeds.std(axis=1, ddof=1))
    np.testing.assert_allclose([float(r["select_rmse_worst"]) for r in rows], seeds.max(axis=1))
    winners = [r for r in rows if r["winner"] == "1"]
    assert len(winners) == 1 and float(winners[0]["select_rmse_mean"]) == seeds.mean(axis=1).min()
    assert all((r["report_rmse_mean"] == "") == (r["winner"] == "0") for r in rows)  # the winner only
    summary = json.loads((swept / "summary.json").read_text())
    assert summary["select"]["recordings"] == [str(roads / "val")]
    assert summary["report"]["recordings"] == [str(roads / "test")]
    # each trial is an ordinary run folder, and the winner ships as the ensemble of its seeds
    run = swept / "trials" / summary["winner"] / "seed-1"
    assert (
        (run / "best.npz").is_file() and (run / "metrics.csv").is_file() and (run / "config.toml").is_file()
    )
    shipped = load_model(swept / "winner.npz")
    assert isinstance(shipped, EnsembleModel) and len(shipped.members) == 2
    report = json.loads((swept / "report.json").read_text())
    spec = load_spec(roads / "spec.toml")
    assert report["shipped"] == judge_model(spec.report, swept / "winner.npz")["score"]
    assert float(winners[0]["report_rmse_shipped"]) == report["shipped"]
    assert "hidden = [" in (swept / "winner.toml").read_text() and (swept / "scores.png").stat().st_size > 0


def test_the_same_spec_gives_the_same_table_and_a_rerun_resumes(swept, roads):
    again = invoke("sweep", roads / "spec.toml", "--out", roads / "b", "--jobs", "2")
    assert again.exit_code == 0, again.output
    assert (roads / "b" / "summary.csv").read_bytes() == (swept / "summary.csv").read_bytes()
    # interrupted: one run lost its best model and verdict; the rerun trains that run only
    lost = roads / "b" / "trials" / "p002" / "seed-0"
    (lost / "select.json").unlink()
    (lost / "best.npz").unlink()
    runs = sorted((roads / "b" / "trials").glob("*/seed-*/best.npz"))
    before = {p: p.stat().st_mtime_ns for p in runs}
    report = (roads / "b" / "report.json").stat().st_mtime_ns
    resumed = invoke("sweep", roads / "spec.toml", "--out", roads / "b")
    assert resumed.exit_code == 0, resumed.output
    assert "7 runs done, 1 to do" in resumed.output
    assert {p: p.stat().st_mtime_ns for p in runs} == before
    assert (lost / "best.npz").is_file()
    assert (roads / "b" / "summary.csv").read_bytes() == (swept / "summary.csv").read_bytes()
    assert (roads / "b" / "report.json").stat().st_mtime_ns == report  # measured once
    shutil.rmtree(roads / "b")


def test_judges_that_share_data_are_refused_in_one_line(roads, tmp_path):
    for folder in ("train", "val", "test"):
        shutil.copytree(roads / folder, tmp_path / folder, ignore=lambda *_: ["IMG"])
    spec = write_spec(tmp_path, SELECT, 'judge = "replay"\nrecordings = ["val"]')
    one_line_error(invoke("sweep", spec, "--out", tmp_path / "o"), "share the recording", "val")
    spec = write_spec(tmp_path, SELECT, 'judge = "offline"\nrecordings = ["."]')  # a folder holding val
    one_line_error(invoke("sweep", spec, "--out", tmp_path / "o"), "[select] and report share")
    spec = write_spec(tmp_path, 'judge = "offline"\nrecordings = ["train"]', REPORT)
    one_line_error(invoke("sweep", spec, "--out", tmp_path / "o"), "[select] and train share")
    spec = write_spec(tmp_path, 'judge = "roads"\nseeds = [5, 6]', 'judge = "roads"\nseeds = [6, 7]')
    one_line_error(invoke("sweep", spec, "--out", tmp_path / "o"), "seed 6")
    assert not (tmp_path / "o").exists()


def test_a_cache_made_from_a_judged_recording_counts_as_that_recording(roads, tmp_path):
    """Training on `val.npz`, preprocessed from the recording that selects, is judging on training data."""
    shutil.copytree(roads / "val", tmp_path / "val")
    shutil.copytree(roads / "test", tmp_path / "test", ignore=lambda *_: ["IMG"])
    assert invoke("preprocess", tmp_path / "val", "--out", tmp_path / "val.npz").exit_code == 0
    spec = write_spec(tmp_path)
    spec.write_text(spec.read_text().replace('train = ["train"]', 'train = ["val.npz"]'))
    one_line_error(invoke("sweep", spec, "--out", tmp_path / "o"), "[select] and train share", "val")


def test_another_spec_in_the_same_folder_is_refused(swept, roads, tmp_path):
    for folder in ("train", "val", "test"):
        (tmp_path / folder).symlink_to(roads / folder)
    spec = write_spec(tmp_path, SELECT, REPORT, extra='ship = "best-seed"')
    one_line_error(invoke("sweep", spec, "--out", swept), "another SPEC", "--force")


def test_closed_loop_judges_score_by_their_metric(swept, roads):
    """The roads and replay judges drive the winner; its score is their figure, mean over seeds."""
    from drivenet.sweep.spec import Judge

    model = swept / "winner.npz"
    roads_judge = Judge("roads", seeds=(5, 6), metric="mean_offset", km=0.1)
    verdict = judge_model(roads_judge, model)
    assert [e["on"] for e in verdict["each"]] == [5, 6]
    assert verdict["score"] == np.mean([e["mean_offset"] for e in verdict["each"]]) > 0
    replay = judge_model(Judge("replay", recordings=(str(roads / "val"),), metric="takeovers"), model)
    assert replay["score"] == replay["each"][0]["takeovers"] and replay["each"][0]["km"] > 0


def test_a_sampled_search_draws_the_same_points_from_its_seed(roads, tmp_path):
    text = (roads / "spec.toml").read_text()
    grid = '[grid]\n"train.lr" = [0.003, 0.03]\n"model.hidden" = [[4], [8]]\n'
    sample = '[sample]\ntrials = 5\nseed = 4\n"train.lr" = {low = 0.001, high = 0.1, log = true}\n'
    sample += (
        '"model.hidden" = {choices = [[4], [8]]}\n"train.batch_size" = {low = 8, high = 64, int = true}\n'
    )
    (tmp_path / "s.toml").write_text(
        text.replace('train = ["train"]', f'train = ["{roads / "train"}"]')
        .replace('["val"]', f'["{roads / "val"}"]')
        .replace('["test"]', f'["{roads / "test"}"]')
        .replace(grid, sample)
    )
    points = load_spec(tmp_path / "s.toml").points
    assert points == load_spec(tmp_path / "s.toml").points and len(points) == 5
    assert all(0.001 <= p["train.lr"] <= 0.1 and p["model.hidden"] in ([4], [8]) for p in points)
    assert all(isinstance(p["train.batch_size"], int) and 8 <= p["train.batch_size"] <= 64 for p in points)
    assert len({p["train.lr"] for p in points}) == 5


def test_the_shipped_sweep_spec_loads_with_judges_apart(tmp_path):
    """configs/sweeps/synthetic.toml, with the folders it names made (empty) where it expects them."""
    from support import CONFIGS

    (tmp_path / "configs" / "sweeps").mkdir(parents=True)
    shutil.copy(CONFIGS / "alvinn.toml", tmp_path / "configs")
    shutil.copy(CONFIGS / "sweeps" / "synthetic.toml", tmp_path / "configs" / "sweeps")
    for name in ("roads-train", "roads-val"):
        (tmp_path / "data" / name).mkdir(parents=True)
    spec = load_spec(tmp_path / "configs" / "sweeps" / "synthetic.toml")
    assert len(spec.points) == 4 and spec.seeds == (0, 1)
    assert spec.select.kind == "offline" and spec.report.kind == "roads"
    assert spec.config(3, 1).train.seed == 1 and spec.config(3, 1).model.hidden == (29,)


@needs_gym
def test_the_carracing_judge_scores_the_envs_reward(swept):
    from drivenet.sweep.spec import Judge

    judge = Judge("gym", seeds=(1000,), metric="reward", env_args={"max_episode_steps": 40})
    verdict = judge_model(judge, swept / "winner.npz")
    episode = verdict["each"][0]
    assert verdict["score"] == episode["reward"] and episode["on"] == 1000
    assert episode["frames"] == 40 and episode["laps"] == 0  # it ended at the env's max_episode_steps
