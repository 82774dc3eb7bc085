"""Small figure helpers shared by the experiments (matplotlib, imported when called).

>>> fig, axes = image_grid([[np.zeros((8, 8))]], ["a"], ["row"])
>>> len(axes)
1
"""

from __future__ import annotations

import numpy as np

__all__ = ["image_grid", "line_plot", "pyplot", "to_display"]


def pyplot():
    """matplotlib's pyplot on the non-interactive Agg backend (no display needed)."""
    from checkerfree.errors import require

    matplotlib = require("matplotlib", "plot")
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def to_display(x) -> np.ndarray:
    """A ``(C, H, W)`` tensor/array in ``[0, 1]`` as an ``(H, W[, 3])`` array for imshow."""
    a = x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)
    if a.ndim == 3:
        a = a[0] if a.shape[0] == 1 else a.transpose(1, 2, 0)
    return np.clip(a, 0.0, 1.0)


def image_grid(rows, col_titles, row_titles, cmap=None, size: float = 2.2, heat=()):
    """A grid of images: ``rows[r][c]`` is a ``(C, H, W)`` or ``(H, W)`` image in ``[0, 1]``.

    Columns whose index is in ``heat`` are drawn with a heat-map colour scale (no clipping).
    """
    plt = pyplot()
    nr, nc = len(rows), len(rows[0])
    fig, axes = plt.subplots(nr, nc, figsize=(size * nc, size * nr), squeeze=False)
    for r, row in enumerate(rows):
        for c, img in enumerate(row):
            ax = axes[r][c]
            if c in heat:
                a = img.detach().cpu().numpy() if hasattr(img, "detach") else np.asarray(img)
                ax.imshow(a, cmap="inferno", vmin=0, interpolation="nearest")
            else:
                a = to_display(img)
                ax.imshow(a, cmap=cmap or ("gray" if a.ndim == 2 else None), vmin=0, vmax=1,
                          interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0 and c < len(col_titles):
                ax.set_title(col_titles[c], fontsize=9)
            if c == 0 and r < len(row_titles):
                ax.set_ylabel(row_titles[r], fontsize=9)
    fig.tight_layout()
    return fig, [a for row in axes for a in row]


def line_plot(x, series: dict, xlabel: str, ylabel: str, title: str, logy: bool = False,
              errors: dict | None = None, xticks=None):
    """One line per series (``{label: ys}``), optional error bars (``{label: spreads}``)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.2, 3.4))
    for label, ys in series.items():
        err = None if errors is None else errors.get(label)
        ax.errorbar(x, ys, yerr=err, marker="o", ms=4, capsize=3, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    if logy:
        ax.set_yscale("symlog", linthresh=0.1)
    if xticks is not None:
        ax.set_xticks(list(range(len(xticks))) if isinstance(x[0], (int, np.integer)) and False
                      else x)
        ax.set_xticklabels(xticks, rotation=20, fontsize=8)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig, ax
