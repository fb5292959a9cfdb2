"""Without the export extra, `drivenet export` and an .onnx pilot say in one line what to install."""

from __future__ import annotations

import sys

import pytest
from support.cli import one_line_error
from support.exported import model_of
from typer.testing import CliRunner

from drivenet.cli import app
from drivenet.donkey import DrivenetPilot
from drivenet.errors import DrivenetError
from drivenet.model.checkpoint import save_model

INSTALL = 'pip install -e ".[export]"'


@pytest.fixture
def no_extra(monkeypatch):
    """onnx and onnxruntime missing, as without the extra (a None in sys.modules fails the import)."""
    for name in ("onnx", "onnxruntime"):
        monkeypatch.setitem(sys.modules, name, None)


def test_export_without_the_extra_says_what_to_install(tmp_path, no_extra):
    path = save_model(model_of("mlp three-way"), tmp_path / "best.npz")
    result = CliRunner().invoke(app, ["export", str(path), "--out", str(tmp_path / "m.onnx")])
    one_line_error(result, "drivenet export needs the onnx package", INSTALL)
    assert not (tmp_path / "m.onnx").exists()


def test_an_onnx_pilot_without_the_extra_says_what_to_install(tmp_path, no_extra):
    with pytest.raises(DrivenetError, match="needs the onnxruntime package") as caught:
        DrivenetPilot(tmp_path / "model.onnx")
    assert INSTALL in str(caught.value) and "\n" not in str(caught.value)
