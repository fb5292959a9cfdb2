"""Helpers shared by the tests: `import support` works once `tests/` is on sys.path (tests/conftest.py)."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]  # the repository root
CONFIGS = REPO / "configs"  # the shipped configs
