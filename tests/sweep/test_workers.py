"""Two `drivenet sweep --worker` processes share one Optuna journal: each point is trained once, and the
table is the one a single process makes."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections import Counter

import pytest
from support.cli import one_line_error
from support.sweeps import invoke

needs_optuna = pytest.mark.skipif(
    importlib.util.find_spec("optuna") is None, reason='needs the sweep extra: pip install -e ".[sweep]"'
)


@needs_optuna
def test_two_workers_sharing_a_journal_make_the_table_of_one_process(swept, roads):
    journal, out = roads / "study.journal", roads / "w"
    command = [sys.executable, "-m", "drivenet", "sweep", roads / "spec.toml", "--out", out, "--worker"]
    command = [str(c) for c in [*command, "--storage", journal]]
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    workers = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    ]
    workers.append(
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    )
    said = [w.communicate(timeout=300)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], said

    import optuna

    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(journal)))
    study = optuna.load_study(study_name=optuna.get_all_study_names(storage)[0], storage=storage)
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert Counter(t.params["point"] for t in complete) == {0: 1, 1: 1, 2: 1, 3: 1}  # each point once
    assert all(len(t.user_attrs["runs"]) == 2 for t in complete)
    trained = sum(int(text.split("worker done: ")[1].split()[0]) for text in said)
    assert trained == 4

    result = invoke("sweep", roads / "spec.toml", "--out", out, "--storage", journal)
    assert result.exit_code == 0, result.output
    assert "8 runs done, 0 to do" in result.output
    assert (out / "summary.csv").read_bytes() == (swept / "summary.csv").read_bytes()


def test_without_optuna_a_worker_says_what_to_install(roads, monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)  # as if the extra were not installed
    result = invoke("sweep", roads / "spec.toml", "--out", roads / "x", "--worker")
    one_line_error(result, "pip install", "sweep")
