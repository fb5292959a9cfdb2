"""Decoding with worker processes: images written into shared memory equal decoding one by one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from support.recordings import udacity

from drivenet.data import Preprocess, read_recordings
from drivenet.data import decode as decode_module
from drivenet.data.decode import decode_all


@pytest.mark.parametrize("preprocess", [Preprocess(), Preprocess(color="yuv", width=20, height=9)])
def test_workers_write_exactly_the_images_of_apply_file(tmp_path: Path, monkeypatch, preprocess) -> None:
    """The cache's pixels are those of `Preprocess.apply_file`, equal to the grey level, however many
    workers decode them and however the chunks fall; a missing file stays zero and is reported."""
    monkeypatch.setattr(decode_module, "CHUNK", 3)
    frames = read_recordings([udacity(tmp_path / "rec", np.linspace(-1, 1, 11), sides=False)]).frames
    paths = frames["path"].tolist()
    Path(paths[4]).unlink()
    progress: list[int] = []
    images, failures, warned = decode_all(paths, preprocess, workers=2, on_progress=progress.append)
    assert images.shape == (11, *preprocess.shape) and images.dtype == np.uint8
    assert failures == [(4, "file not found")] and sum(progress) == 11 and not warned
    assert not images[4].any()
    for i, path in enumerate(paths):
        if i != 4:
            np.testing.assert_array_equal(images[i], preprocess.apply_file(path))
    one, _, _ = decode_all(paths, preprocess, workers=1)
    np.testing.assert_array_equal(one, images)
