"""Test-wide setup: `tests/` on sys.path, so every test folder imports the shared helpers as `support`.

The test folders mirror the package (tests/nn for drivenet/nn, ...). They are not packages (no __init__.py),
so test file names are unique across folders; the helpers live in tests/support/, never in test modules.
pytest's default import mode already puts this folder on sys.path when it loads this file; it is added here
too so that `support` does not depend on the import mode.
"""

from __future__ import annotations

import sys
from pathlib import Path

TESTS = str(Path(__file__).resolve().parent)
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)
