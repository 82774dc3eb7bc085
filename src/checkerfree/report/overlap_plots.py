"""The article's overlap views: 1D stacked bars, 2D heat maps, and stacked-layer maps.

Each function returns ``(fig, ax)`` (``ax`` an array of axes when there are several) and
needs matplotlib (``pip install 'checkerfree[plot]'``). Figures use the Agg backend, so they
work without a screen; save them with ``fig.savefig(path)``.

>>> fig, ax = plot_overlap_2d([(3, 2)])
>>> ax.get_title()
'k=3 s=2: max:min 4:1, period 2x2'
"""

from __future__ import annotations

import sys

import numpy as np

from checkerfree.errors import InvalidArgumentError, LimitError, require
from checkerfree.overlap import OverlapResult, overlap, ratio_text
from checkerfree.spec import coerce_layers

#: Rows (layers) one figure draws: each row is a panel, and the figure grows with them.
MAX_PANELS = 12
#: Bars :func:`plot_overlap_1d` may draw (one per input position and output position).
MAX_BARS = 20000


def _check_panels(n: int) -> None:
    if n > MAX_PANELS:
        raise LimitError(
            f"a figure draws at most {MAX_PANELS} layers (checkerfree.report.overlap_plots."
            f"MAX_PANELS), got {n}"
        )

__all__ = ["plot_overlap_1d", "plot_overlap_2d", "plot_overlap_stack"]


def _pyplot():
    mpl = require("matplotlib", "plot")
    if "matplotlib.pyplot" not in sys.modules:
        # No screen is assumed; a user who already imported pyplot keeps their backend.
        mpl.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _title(result: OverlapResult) -> str:
    layers = " + ".join(s.describe() for s in result.layers)
    shape = "x".join(map(str, result.period))
    if result.ratio is None:
        return f"{layers}: holes, period {shape}"
    return f"{layers}: max:min {ratio_text(result.max, result.min)}, period {shape}"


def plot_overlap_1d(layers, size: int = 6):
    """Stacked bars, one row per layer: how each input position's window piles up.

    Row ``l`` shows the output of layer ``l`` for an all-ones input of ``size`` positions:
    each input position of that layer paints its ``k`` taps (``stride`` apart between
    positions) with a height equal to its own count, in its own colour; bar heights are the
    exact contribution counts.

    >>> fig, axes = plot_overlap_1d([(3, 2), (3, 2)], size=4)
    >>> len(axes)
    2
    """
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator
    specs, _ = coerce_layers(layers, dims=1)
    if not isinstance(size, int) or size < 1:
        raise InvalidArgumentError(f"size must be a positive integer, got {size!r}")
    _check_panels(len(specs))
    bars, length = 0, size
    for index, spec in enumerate(specs, 1):
        out = spec.output_size(length)[0]
        if out < 1:
            break  # the loop below draws an empty row, as PyTorch would refuse the layer
        bars, length = bars + length * out, out
        if bars > MAX_BARS:
            raise LimitError(
                f"the figure would draw more than {MAX_BARS} bars by layer {index} "
                f"(checkerfree.report.overlap_plots.MAX_BARS); use a smaller size, got {size}"
            )
    fig, axes = plt.subplots(len(specs), 1, figsize=(8, 1.9 * len(specs) + 0.4), squeeze=False)
    axes = axes[:, 0]
    cmap = plt.get_cmap("tab10")
    counts = np.ones(size, dtype=np.int64)
    for index, (spec, ax) in enumerate(zip(specs, axes), 1):
        k, s, p, op, d = spec.axis(0)
        out = (counts.shape[0] - 1) * s - 2 * p + d * (k - 1) + op + 1
        bottom = np.zeros(max(out, 0))
        for i, c in enumerate(counts):
            heights = np.zeros_like(bottom)
            for j in range(k):
                o = i * s + j * d - p
                if 0 <= o < out:
                    heights[o] += c
            ax.bar(np.arange(out), heights, bottom=bottom, width=0.9,
                   color=cmap(i % 10), edgecolor="white", linewidth=0.5)
            bottom += heights
        counts = bottom.astype(np.int64)
        ax.set_xlim(-0.6, out - 0.4)
        # Positions and counts are integers: no 2.5 or 0.5 ticks.
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("count")
        ax.set_title(f"after layer {index} ({spec.describe()})", fontsize=10)
    axes[-1].set_xlabel("output position (colour = input position that painted it)")
    fig.tight_layout()
    return fig, axes


def plot_overlap_2d(layers, dims: int = 2, *, size=None, tiles: int = 4, ax=None,
                    annotate: bool | None = None):
    """Heat map of the contribution map: the interior tiled ``tiles`` times, or the finite map.

    >>> fig, ax = plot_overlap_2d([(4, 2, 1)], size=5)
    >>> ax.get_images()[0].get_array().shape
    (10, 10)
    """
    plt = _pyplot()
    result = layers if isinstance(layers, OverlapResult) else overlap(layers, dims=dims, size=size)
    if result.dims != 2:
        raise InvalidArgumentError(f"plot_overlap_2d needs a 2D analysis, got dims={result.dims}")
    data = result.finite if result.size is not None else result.tile(tiles)
    if ax is None:
        fig, ax = plt.subplots(figsize=(4.8, 4.0))
    else:
        fig = ax.figure
    image = ax.imshow(data, cmap="magma", vmin=0, interpolation="nearest")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="contributions")
    if annotate is None:
        annotate = data.size <= 256
    if annotate:
        for (r, c), v in np.ndenumerate(data):
            ax.text(c, r, str(int(v)), ha="center", va="center", fontsize=7,
                    color="white" if v < 0.6 * data.max() else "black")
    ax.set_title(_title(result), fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
    return fig, ax


def plot_overlap_stack(layers, dims: int = 2, tiles: int = 2):
    """One heat map per prefix of the stack: how artifacts compound layer after layer.

    Each map is divided by its smallest count (so it reads as max:min, the unevenness), and
    all share one colour scale from 0 with one colour bar: the growing contrast from panel
    to panel is the compounding. A map with holes (minimum 0) is shown in raw counts.

    >>> fig, axes = plot_overlap_stack([(3, 2)] * 3)
    >>> [a.get_title().split(":")[0] for a in axes]
    ['after 1', 'after 2', 'after 3']
    """
    plt = _pyplot()
    specs, dims = coerce_layers(layers, dims)
    if dims != 2:
        raise InvalidArgumentError(f"plot_overlap_stack draws 2D maps, got dims={dims}")
    _check_panels(len(specs))
    fig, axes = plt.subplots(1, len(specs), figsize=(3.4 * len(specs) + 0.8, 3.6),
                             squeeze=False, layout="constrained")
    axes = axes[0]
    maps, titles = [], []
    for n in range(1, len(specs) + 1):
        r = overlap(specs[:n], dims=2)
        if np.prod(r.period) <= 4096:
            data = r.tile(tiles).astype(np.float64)
        else:  # a 64x64 corner of one period, from the per-axis vectors
            data = np.multiply.outer(*(v[:64] for v in r.axis_interior)).astype(np.float64)
        low = data.min()
        maps.append(data / low if low > 0 else data)
        ratio = "holes" if r.ratio is None else ratio_text(r.max, r.min)
        titles.append(f"after {n}: {ratio}, period {r.period[0]}")
    top = max(float(m.max()) for m in maps)
    for ax, data, title in zip(axes, maps, titles):
        image = ax.imshow(data, cmap="magma", vmin=0, vmax=top, interpolation="nearest")
        ax.set_title(title, fontsize=11)
        ax.set_xticks([])
        ax.set_yticks([])
    bar = fig.colorbar(image, ax=list(axes), shrink=0.9)
    bar.set_label("contributions / fewest contributions", fontsize=10)
    return fig, axes
