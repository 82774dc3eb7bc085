"""Terminal rendering of contribution maps with shade characters.

Counts are mapped linearly from the map's minimum (lightest) to its maximum (darkest), and
the legend gives the range of counts each shade stands for on the map shown. 2D
cells are two characters wide so that squares look square in a terminal; a 3D map is shown
one depth slice after another.

>>> print(render_map([[1, 2], [2, 4]]))
░░▒▒
▒▒██
>>> print(render_map([2, 1, 2, 1], legend=True))
█░█░
░ = 1  █ = 2
>>> print(render_map([1, 3, 0, 4, 6, 9, 25], legend=True))
░░ ░▒▒█
(blank) = 0  ░ = 1..4  ▒ = 6..9  █ = 25
"""

from __future__ import annotations

import numpy as np

from checkerfree.errors import ShapeError

__all__ = ["render_map", "SHADES"]

SHADES = "░▒▓█"


def _shade_index(a: np.ndarray) -> np.ndarray:
    a = a.astype(float)
    lo, hi = a.min(), a.max()
    if hi == lo:
        return np.full(a.shape, len(SHADES) - 1, dtype=int)
    return np.rint((a - lo) / (hi - lo) * (len(SHADES) - 1)).astype(int)


def _rows(idx: np.ndarray, zero: np.ndarray, width: int) -> list[str]:
    return [
        "".join((" " if z else SHADES[i]) * width for i, z in zip(row, zrow))
        for row, zrow in zip(idx, zero)
    ]


def _legend(a: np.ndarray, idx: np.ndarray, zero: np.ndarray) -> str:
    """Each shade with the range of counts it stands for on this map (blank = 0)."""
    entries = ["(blank) = 0"] if zero.any() else []
    for i, ch in enumerate(SHADES):
        values = a[(idx == i) & ~zero]
        if values.size:
            lo, hi = int(values.min()), int(values.max())
            entries.append(f"{ch} = {lo}" if lo == hi else f"{ch} = {lo}..{hi}")
    return "  ".join(entries)


def render_map(counts, *, legend: bool = False) -> str:
    """Render a 1D, 2D or 3D array of counts as shade characters (zeros as blanks)."""
    a = np.asarray(counts)
    if a.ndim not in (1, 2, 3):
        raise ShapeError(f"expected a 1D, 2D or 3D map, got shape {a.shape}")
    idx, zero = _shade_index(a), a == 0
    if a.ndim == 1:
        lines = _rows(idx[None], zero[None], 1)
    elif a.ndim == 2:
        lines = _rows(idx, zero, 2)
    else:
        lines = []
        for z in range(a.shape[0]):
            lines.append(f"depth {z}:")
            lines.extend(_rows(idx[z], zero[z], 2))
    if legend:
        lines.append(_legend(a, idx, zero))
    return "\n".join(lines)
