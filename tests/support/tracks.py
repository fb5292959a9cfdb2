"""Roads of known shape for the geometry and renderer tests."""

from __future__ import annotations

import numpy as np

from drivenet.geometry.track import Track


def bend(curvature: float, length: float = 200.0) -> Track:
    """A road that runs straight for 10 m and then bends with constant curvature."""
    kappa = np.where(np.arange(int(length / 0.25) + 1) * 0.25 < 10.0, 0.0, curvature)
    return Track.from_curvature(kappa)
