"""Checkpoints made to hurt: metadata and archive members are checked before anything is allocated or
read, non-finite weights are refused, and no command prints NaN as JSON (issue 22, item 5)."""

from __future__ import annotations

import json
import math
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from support.tiny import tiny_config

from drivenet.data import Preprocess
from drivenet.errors import DrivenetError
from drivenet.io import META_KEY, json_text, load_npz, save_npz
from drivenet.model.checkpoint import load_model, save_model
from drivenet.model.steering_model import SteeringModel

MB = 2**20


@pytest.fixture
def saved(tmp_path: Path) -> tuple[dict[str, np.ndarray], dict]:
    """(arrays, metadata) of a tiny model's checkpoint, to be spoilt by each test."""
    config = tiny_config()
    model = SteeringModel.build(config, Preprocess.from_config(config.data))
    model.meta["frame_size"] = [48, 36]
    return load_npz(save_model(model, tmp_path / "good.npz"))


def refused_within(path: Path, most_bytes: int, *fragments: str) -> str:
    """Load `path`, expecting a DrivenetError naming `fragments`, while Python and numpy allocate at most
    `most_bytes` at once."""
    tracemalloc.start()
    try:
        with pytest.raises(DrivenetError) as caught:
            load_model(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = str(caught.value)
    for fragment in [str(path), *fragments]:
        assert fragment in message, message
    assert "\n" not in message
    assert peak < most_bytes, f"{peak / MB:.0f} MB allocated before refusing"
    return message


def test_a_layer_declared_far_larger_than_its_stored_weights_is_refused_before_allocation(saved, tmp_path):
    arrays, meta = saved
    layers = meta["architecture"]["layers"]
    dense = next(layer for layer in layers if layer["kind"] == "dense")
    dense["n_out"] = 200_000  # 192 x 200000 float32: 150 MB, against a few KB stored
    path = tmp_path / "wide.npz"
    save_npz(path, arrays, meta)
    refused_within(path, 20 * MB, "dense0.weight")


def test_a_network_beyond_the_parameter_bound_is_refused_even_when_its_arrays_match(saved, tmp_path):
    arrays, meta = saved
    dense = next(layer for layer in meta["architecture"]["layers"] if layer["kind"] == "dense")
    dense["n_in"] = 3_000_000_000
    path = tmp_path / "huge.npz"
    save_npz(path, arrays, meta)
    refused_within(path, 20 * MB, "n_in")


def npy_header(shape: tuple[int, ...], dtype: str = "<f4") -> bytes:
    """A .npy header declaring `shape`, as numpy writes one."""
    import io

    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": dtype, "fortran_order": False, "shape": shape}
    )
    return buffer.getvalue()


def rewrite(path: Path, source: Path, replace: dict[str, bytes], compress: bool = False) -> None:
    """Copy the .npz `source` to `path`, with the members named in `replace` (file names without .npy)
    holding the given bytes instead (new names are added)."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(path, "w") as new:
        for info in old.infolist():
            name = info.filename.removesuffix(".npy")
            if name not in replace:
                new.writestr(info.filename, old.read(info))
        for name, data in replace.items():
            kind = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
            new.writestr(name + ".npy", data, compress_type=kind)


def test_a_member_whose_header_claims_terabytes_is_refused(saved, tmp_path):
    arrays, meta = saved
    good = save_npz(tmp_path / "good2.npz", arrays, meta)
    bad = tmp_path / "claims.npz"
    rewrite(bad, good, {"net/dense0.weight": npy_header((10**12,)) + b"\0" * 64})
    refused_within(bad, 20 * MB, "net/dense0.weight", "declares")


def test_a_zip_bomb_member_with_an_unknown_name_is_refused_before_reading(saved, tmp_path):
    arrays, meta = saved
    good = save_npz(tmp_path / "good2.npz", arrays, meta)
    bomb = npy_header((40 * MB,), "|u1") + bytes(40 * MB)
    bad = tmp_path / "bomb.npz"
    rewrite(bad, good, {"extra": bomb}, compress=True)
    assert bad.stat().st_size < 1 * MB
    refused_within(bad, 20 * MB, "extra")


def test_a_compressed_bomb_under_a_known_name_is_refused_too(saved, tmp_path):
    arrays, meta = saved
    good = save_npz(tmp_path / "good2.npz", arrays, meta)
    bad = tmp_path / "bomb.npz"
    rewrite(bad, good, {"optimizer/m.dense0.weight": npy_header((40 * MB,), "|u1") + bytes(40 * MB)}, True)
    refused_within(bad, 20 * MB, "optimizer/m.dense0.weight")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_weights_are_refused(saved, tmp_path, bad):
    arrays, meta = saved
    arrays["net/dense1.weight"].flat[3] = bad
    path = tmp_path / "nan.npz"
    save_npz(path, arrays, meta)
    refused_within(path, 20 * MB, "net/dense1.weight", "not finite")


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        ("frame_size", "big", "frame_size"),
        ("frame_size", [320, -5], "frame_size"),
        ("frame_size", [320.5, 160], "frame_size"),
        ("config", 5, "config"),
        ("config", {"train": {"lr": "fast"}}, "train.lr"),
        ("motion_gaps", [1, 10**9], "motion_gaps"),
        ("targets", "steering", "targets"),
        ("encoding", {"name": "bump", "units": 10**9}, "model.outputs"),
        ("architecture", {"input_shape": [12, 16, 1], "layers": "dense"}, "architecture"),
        ("optimizer", 5, "optimizer"),
    ],
)
def test_metadata_of_the_wrong_type_or_range_is_refused_at_load(saved, tmp_path, key, value, fragment):
    arrays, meta = saved
    meta[key] = value
    path = tmp_path / "meta.npz"
    save_npz(path, arrays, meta)
    refused_within(path, 20 * MB, fragment)


def test_a_good_checkpoint_still_loads(saved, tmp_path):
    arrays, meta = saved
    model = load_model(save_npz(tmp_path / "again.npz", arrays, meta))
    assert model.frame_size == (48, 36)
    assert META_KEY not in model.meta


def strict_json(text: str) -> object:
    """Parse JSON as a strict reader does: NaN and Infinity are not JSON."""

    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_json_text_writes_non_finite_numbers_as_null_and_counts_them():
    text, nulls = json_text({"rmse": math.nan, "rows": [1.5, math.inf, -math.inf], "n": 3})
    assert strict_json(text) == {"rmse": None, "rows": [1.5, None, None], "n": 3}
    assert nulls == 3
    assert json_text([0.25])[1] == 0


def test_predict_json_of_a_model_with_nan_weights_is_a_one_line_error_not_nan(saved, tmp_path):
    from PIL import Image
    from support.cli import one_line_error
    from typer.testing import CliRunner

    from drivenet.cli import app

    arrays, meta = saved
    arrays["net/dense0.weight"][:] = np.nan
    model = save_npz(tmp_path / "nan.npz", arrays, meta)
    frame = tmp_path / "frame.jpg"
    Image.new("RGB", (48, 36), (90, 90, 90)).save(frame)
    result = CliRunner().invoke(app, ["predict", str(model), str(frame), "--json"])
    one_line_error(result, "nan.npz", "not finite")  # one line: no JSON printed, no NaN in it
