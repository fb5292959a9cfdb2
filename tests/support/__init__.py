"""Helpers shared by the tests: `import support` works once `tests/` is on sys.path (tests/conftest.py)."""

import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]  # the repository root
CONFIGS = REPO / "configs"  # the shipped configs

# CarRacing runs only where the `gym` extra is installed (.ci/run installs it); elsewhere its tests skip
GYM_MISSING = importlib.util.find_spec("gymnasium") is None or importlib.util.find_spec("Box2D") is None
needs_gym = pytest.mark.skipif(GYM_MISSING, reason='needs the gym extra: pip install -e ".[gym]"')
