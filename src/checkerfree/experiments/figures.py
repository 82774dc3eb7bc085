"""Small figure helpers shared by the experiments (matplotlib, imported when called).

Heat maps in one figure share one colour scale, from 0 grey levels, with a colour bar: a
panel drawn on its own scale would show its noise as strongly as another's artifact. Text is
sized for the report's page width (about 1100 px) and checked for collisions
(:func:`overlapping_texts`, used by the tests).

>>> fig, axes = image_grid([[np.zeros((8, 8)), np.ones((8, 8))]], ["a", "b"], ["row"], heat=(1,))
>>> len(axes), overlapping_texts(fig)
(2, [])
"""

from __future__ import annotations

import textwrap

import numpy as np

__all__ = ["FONT", "image_grid", "line_plot", "overlapping_texts", "pyplot", "shared_range",
           "to_display"]

#: Font size of titles and labels (points); ticks and legends one point smaller.
FONT = 11


def pyplot():
    """matplotlib's pyplot on the non-interactive Agg backend (no display needed)."""
    from checkerfree.errors import require

    matplotlib = require("matplotlib", "plot")
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def to_display(x) -> np.ndarray:
    """A ``(C, H, W)`` tensor/array in ``[0, 1]`` as an ``(H, W[, 3])`` array for imshow."""
    a = _array(x)
    if a.ndim == 3:
        a = a[0] if a.shape[0] == 1 else a.transpose(1, 2, 0)
    return np.clip(a, 0.0, 1.0)


def _array(x) -> np.ndarray:
    return x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)


def shared_range(maps, floor: float = 1.0) -> float:
    """The top of one colour scale for several heat maps: their largest value, at least
    ``floor`` (so maps with no artifact at all stay dark instead of showing their noise).

    >>> shared_range([np.zeros((2, 2)), np.full((2, 2), 3.0)]), shared_range([np.zeros(2)])
    (3.0, 1.0)
    """
    top = max(float(np.max(_array(m))) for m in maps)
    return max(top, floor)


def image_grid(rows, col_titles, row_titles, cmap=None, size: float = 2.2, heat=(),
               heat_rows=(), heat_max: float | None = None, heat_label: str = "grey levels",
               heat_min: float = 0.0, heat_cmap: str = "inferno"):
    """A grid of images: ``rows[r][c]`` is a ``(C, H, W)`` or ``(H, W)`` image in ``[0, 1]``.

    Panels in a column of ``heat`` or a row of ``heat_rows`` are heat maps (values in
    ``heat_label``, not clipped to [0, 1]): all drawn on one scale from ``heat_min`` to
    ``heat_max`` (default :func:`shared_range` of them) in ``heat_cmap``, with one colour
    bar. Titles are wrapped to the panel's width.
    """
    plt = pyplot()
    nr, nc = len(rows), len(rows[0])
    fig, axes = plt.subplots(nr, nc, figsize=(size * nc + 0.6 * bool(heat or heat_rows),
                                              size * nr + 0.5),
                             squeeze=False, layout="constrained")
    is_heat = [[c in heat or r in heat_rows for c in range(nc)] for r in range(nr)]
    heats = [img for r, row in enumerate(rows) for c, img in enumerate(row) if is_heat[r][c]]
    top = heat_max if heat_max is not None else (shared_range(heats) if heats else 1.0)
    chars = max(8, int(size * 72 / (0.6 * FONT)))  # characters that fit across a panel
    mappable, heat_axes = None, []
    for r, row in enumerate(rows):
        for c, img in enumerate(row):
            ax = axes[r][c]
            if is_heat[r][c]:
                mappable = ax.imshow(_array(img), cmap=heat_cmap, vmin=heat_min, vmax=top,
                                     interpolation="nearest")
                heat_axes.append(ax)
            else:
                a = to_display(img)
                ax.imshow(a, cmap=cmap or ("gray" if a.ndim == 2 else None), vmin=0, vmax=1,
                          interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0 and c < len(col_titles):
                ax.set_title(_wrap(col_titles[c], chars), fontsize=FONT)
            if c == 0 and r < len(row_titles):
                ax.set_ylabel(_wrap(row_titles[r], chars), fontsize=FONT)
    if mappable is not None:
        bar = fig.colorbar(mappable, ax=heat_axes, shrink=0.9, pad=0.02)
        bar.set_label(heat_label, fontsize=FONT - 1)
        bar.ax.tick_params(labelsize=FONT - 2)
    return fig, [a for row in axes for a in row]


def _wrap(text: str, chars: int) -> str:
    # Each given line wrapped on its own: a caller's line break is kept.
    return "\n".join(textwrap.fill(line, chars) for line in str(text).split("\n"))


def line_plot(x, series: dict, xlabel: str, ylabel: str, title: str, logy: bool = False,
              errors: dict | None = None, xticks=None):
    """One line per series (``{label: ys}``), optional error bars (``{label: spreads}``)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.0), layout="constrained")
    for label, ys in series.items():
        err = None if errors is None else errors.get(label)
        ax.errorbar(x, ys, yerr=err, marker="o", ms=5, capsize=3, label=label)
    ax.set_xlabel(xlabel, fontsize=FONT)
    ax.set_ylabel(ylabel, fontsize=FONT)
    ax.set_title(title, fontsize=FONT + 1)
    ax.tick_params(labelsize=FONT - 1)
    if logy:
        ax.set_yscale("symlog", linthresh=0.1)
    if xticks is not None:
        ax.set_xticks(x)
        ax.set_xticklabels(xticks, rotation=20, fontsize=FONT - 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=FONT - 1)
    return fig, ax


def overlapping_texts(fig, pad: float = 1.0) -> list[tuple[str, str]]:
    """Pairs of visible, non-empty texts of ``fig`` whose drawn boxes overlap (by more than
    ``pad`` pixels each way): titles, labels, tick labels, legend entries, annotations,
    colour-bar labels. An empty list means no text collides.

    >>> plt = pyplot()
    >>> fig, ax = plt.subplots()
    >>> _ = ax.text(0.5, 0.5, "one"); _ = ax.text(0.5, 0.5, "two")
    >>> overlapping_texts(fig)
    [('one', 'two')]
    """
    from matplotlib.text import Text

    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    hidden = _undrawn_tick_labels(fig)
    boxes = []
    for t in fig.findobj(Text):
        if not t.get_visible() or not t.get_text().strip() or id(t) in hidden:
            continue
        bb = t.get_window_extent(renderer)
        if bb.width > 0 and bb.height > 0:
            boxes.append((t.get_text(), bb))
    out = []
    for i, (a, ba) in enumerate(boxes):
        for b, bb in boxes[i + 1:]:
            dx = min(ba.x1, bb.x1) - max(ba.x0, bb.x0)
            dy = min(ba.y1, bb.y1) - max(ba.y0, bb.y0)
            if dx > pad and dy > pad:
                out.append((a, b))
    return out


def _undrawn_tick_labels(fig) -> set[int]:
    """Tick labels outside their axis's view: matplotlib keeps them visible but does not
    draw them, so their boxes are stale."""
    out = set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            lo, hi = sorted(axis.get_view_interval())
            span = (hi - lo) * 1e-9
            for tick in [*axis.get_major_ticks(), *axis.get_minor_ticks()]:
                loc = tick.get_loc()
                if loc is None or not lo - span <= loc <= hi + span:
                    out.update(id(t) for t in (tick.label1, tick.label2))
    return out
