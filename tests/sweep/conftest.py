"""Fixtures of the sweep tests: three small synthetic road recordings and the sweep run on them once."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="package")
def roads(tmp_path_factory):
    """Recordings train, val and test of synthetic roads, and the SPEC (support.sweeps) beside them."""
    from support.sweeps import write_spec

    from drivenet.roads.renderer import Camera
    from drivenet.roads.synth import write_recording

    folder = tmp_path_factory.mktemp("roads")
    for name, frames, seed in (("train", 240, 1), ("val", 120, 2), ("test", 120, 3)):
        write_recording(folder / name, frames, seed, Camera(64, 32))
    write_spec(folder)
    return folder


@pytest.fixture(scope="package")
def swept(roads):
    """The sweep of the SPEC, run once with 2 jobs, in roads/a."""
    from support.sweeps import invoke

    result = invoke("sweep", roads / "spec.toml", "--out", roads / "a", "--jobs", "2")
    assert result.exit_code == 0, result.output
    return roads / "a"
