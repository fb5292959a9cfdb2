"""Pillow's 8-bit colour conversion and bilinear resize written as integer arithmetic, so that an exported
graph reproduces `Preprocess.apply_array` byte for byte.

Colour. Each output channel o is a sum of per-channel tables, shifted:
    out_o = floor((T_oR[r] + T_oG[g] + T_oB[b] + bias_o) / 2^shift_o) + offset_o.
Gray ("L") is ITU-R 601 luma in 16-bit fixed point: T = (19595, 38470, 7471) * v, bias 2^15, shift 16.
YCbCr is JPEG's conversion in 6-bit fixed point: T_c[v] = round(64 c v), plus 1 for v > 0 where c < 0,
chroma offset 128. Both were found equal to Pillow's for all 2^24 colours (tests/export).

Resize (BILINEAR) is separable: one pass along the width, one along the height, each a matrix of
fixed-point weights K (out, in) with 22 fraction bits, rounded after the pass:
    y = clip(floor((K x + 2^21) / 2^22), 0, 255).
Output pixel o of a pass from n_in to n_out pixels, scale s = n_in / n_out and f = max(s, 1), is
centred at c = (o + 1/2) s and weighs input x by the triangle t(u) = max(0, 1 - |u|) at
u = (x - c + 1/2) / f over the inputs within f of c, normalised to sum 1, then scaled to 2^22 and
rounded half away from zero. A side left unchanged has no pass. Pillow runs the width pass first,
except that from Pillow 13 on the height pass runs first when the height shrinks by more than twice as
many pixels as the width does: H < h and h - H > 2 (w - W), (w, h) -> (W, H) (Pillow's pull request
9549; the threshold measured against Pillow 13.0, the fixed order against 12.3, on random sizes). An
export checks the graph against the installed Pillow on a probe frame (`onnx_graph.check_preprocessing`).
"""

from __future__ import annotations

import numpy as np
from PIL import __version__ as PILLOW_VERSION

PILLOW_MAJOR = int(PILLOW_VERSION.split(".")[0])
FRACTION_BITS = 22  # Pillow's fixed-point precision for 8-bit resampling
LUMA = (19595, 38470, 7471)  # 0.299, 0.587, 0.114 in 16-bit fixed point
YCBCR = ((0.299, 0.587, 0.114), (-0.16874, -0.33126, 0.5), (0.5, -0.41869, -0.08131))


class ColourMap:
    """One colour conversion as tables: `tables` float64 (3, 256, C_out) (input channel, value, output
    channel), and per output channel `bias`, `shift` and `offset` (see the module docstring). Gray's
    tables are linear, T_c[v] = w_c v: `weights` (3, C_out) holds the w_c then, else it is None."""

    def __init__(self, color: str) -> None:
        values = np.arange(256, dtype=np.float64)
        if color == "gray":
            self.tables = np.stack([weight * values for weight in LUMA])[:, :, None]
            self.bias, self.shift, self.offset = 2.0**15, 16, np.zeros(1)
            self.weights: np.ndarray | None = np.array(LUMA, dtype=np.float64)[:, None]
        elif color == "yuv":
            rows = [[np.round(64 * c * values) + ((c < 0) & (values > 0)) for c in row] for row in YCBCR]
            self.tables = np.stack([np.stack(row, axis=-1) for row in zip(*rows, strict=True)])
            self.bias, self.shift, self.offset = 0.0, 6, np.array([0.0, 128.0, 128.0])
            self.weights = None
        else:
            raise ValueError(f"no table conversion from RGB to {color!r}")


def resize_weights(n_in: int, n_out: int) -> np.ndarray:
    """The fixed-point weights K float64 (n_out, n_in) of one bilinear pass (module docstring)."""
    scale = n_in / n_out
    support = max(scale, 1.0)
    weights = np.zeros((n_out, n_in))
    for o in range(n_out):
        centre = (o + 0.5) * scale
        first = max(int(centre - support + 0.5), 0)
        last = min(int(centre + support + 0.5), n_in)
        u = (np.arange(first, last) - centre + 0.5) * (1.0 / support)
        triangle = np.maximum(0.0, 1.0 - np.abs(u))
        scaled = triangle / np.cumsum(triangle)[-1] * 2.0**FRACTION_BITS  # summed in order, as Pillow
        weights[o, first:last] = np.trunc(scaled + np.copysign(0.5, scaled))
    return weights


def height_first(size: tuple[int, int], out: tuple[int, int], pillow_major: int = PILLOW_MAJOR) -> bool:
    """Whether Pillow (of major version `pillow_major`) resizes (w, h) `size` to (W, H) `out` with the
    height pass first (module docstring)."""
    (w, h), (width, height) = size, out
    return pillow_major >= 13 and height < h and h - height > 2 * (w - width)


def resize_passes(size: tuple[int, int], out: tuple[int, int]) -> list[tuple[int, np.ndarray]]:
    """The passes that resize (width, height) `size` to `out`, in Pillow's order: (axis of an NHWC
    batch, 2 for the width or 1 for the height, weights K); none for an unchanged side."""
    (w, h), (width, height) = size, out
    passes = {2: (w, width), 1: (h, height)}
    order = (1, 2) if height_first(size, out) else (2, 1)
    return [(axis, resize_weights(*passes[axis])) for axis in order if passes[axis][0] != passes[axis][1]]
