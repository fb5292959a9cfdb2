"""A steering model outside drivenet: an ONNX graph of the whole model (`onnx_graph`), Pillow's
preprocessing as exact integer maps inside it (`pillow_maps`), and onnxruntime running it (`runtime`).

Importing this package loads neither onnx nor onnxruntime: `require` imports them where needed, or says
in one line what to install.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from drivenet.errors import DrivenetError

INSTALL = 'pip install -e ".[export]" (onnx and onnxruntime)'


def require(module: str, purpose: str) -> ModuleType:
    """Import `module` (onnx or onnxruntime), or raise DrivenetError naming what to install."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise DrivenetError(f"{purpose} needs the {module} package: {INSTALL}") from None
