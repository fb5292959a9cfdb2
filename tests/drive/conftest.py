"""Fixtures of the drive tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Tiny single-frame and motion models and simulator-sized frames, made once per test module."""
    # Imported here, not at the top: a helper that fails to import then fails only the tests that use it,
    # not the collection of every test in tests/drive/.
    from support.simulator import serve_models

    return serve_models(tmp_path_factory.mktemp("serve"))
