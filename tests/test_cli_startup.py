"""The CLI starts at once: light commands never load the heavy libraries (checked in a fresh interpreter)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("matplotlib", "pandas", "torch")

PROBE = """
import json, sys
from typer.testing import CliRunner
from drivenet.cli import app
runner = CliRunner()
codes = [runner.invoke(app, args).exit_code for args in {commands}]
heavy = sorted({{name.split(".")[0] for name in sys.modules}} & set({modules}))
print(json.dumps({{"codes": codes, "loaded": heavy}}))
"""


def loaded_after(commands: list[list[str]], modules: tuple[str, ...]) -> dict:
    """Run `commands` through the CLI in a new Python; which of `modules` were imported, and exit codes."""
    script = PROBE.format(commands=commands, modules=list(modules))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_backprop_and_gradcheck_load_neither_matplotlib_nor_pandas() -> None:
    result = loaded_after([["backprop"], ["backprop", "--json"], ["gradcheck"]], HEAVY)
    assert result["codes"] == [0, 0, 0]
    assert result["loaded"] == []


def test_help_loads_no_numpy_pil_pandas_or_matplotlib() -> None:
    names = [[], ["train"], ["preprocess"], ["drive"], ["demo"], ["replay"]]
    names += [["gym", "learn"], ["gym", "dagger"], ["gym", "drive"], ["gym", "record"]]
    names += [["explain"], ["export"], ["serve"], ["sweep"], ["ensemble"]]
    commands = [[*command, "--help"] for command in names]
    result = loaded_after(commands, ("numpy", "PIL", "onnx", "onnxruntime", "optuna", *HEAVY))
    assert result["codes"] == [0] * len(commands)
    assert result["loaded"] == []


def test_replay_loads_matplotlib_only_to_draw() -> None:
    """A replay without --gif or --plot draws nothing: its module leaves matplotlib unloaded."""
    script = "import sys, drivenet.drive.replay; print('matplotlib' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_the_probe_sees_a_heavy_import() -> None:
    """The check above can fail: a command that plots does load matplotlib."""
    script = "import sys, drivenet.training.plots; print('matplotlib' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "True"
