"""Plot an average spectrum with the period-s lattice marked (matplotlib, extra ``plot``).

Lattice frequencies of period ``s`` are ``k / s`` cycles per pixel (``k = 0 .. s-1``, folded
into ``[-1/2, 1/2)``), every non-zero combination over the two axes: where checkerboard
artifacts put their energy. Uses the Agg backend unless pyplot was already imported.

>>> import torch
>>> from checkerfree.score.spectrum import average_spectrum
>>> fig, ax = plot_spectrum(average_spectrum(torch.rand(2, 1, 32, 32)), periods=(2, 4))
>>> len(ax.collections) >= 2
True
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterable

import torch

from checkerfree.errors import InvalidArgumentError, ShapeError, require
from checkerfree.score.spectrum import spectrum_frequencies

__all__ = ["plot_spectrum", "lattice_frequencies"]

_COLOURS = ("tab:red", "tab:orange", "tab:cyan", "tab:green", "tab:purple")


def _pyplot():
    mpl = require("matplotlib", "plot")
    if "matplotlib.pyplot" not in sys.modules:
        mpl.use("Agg")  # no screen assumed; a user's own backend choice is kept
    import matplotlib.pyplot as plt

    return plt


def lattice_frequencies(s: int) -> list[tuple[float, float]]:
    """Non-zero 2-D lattice frequencies ``(f_row, f_col)`` of period ``s`` in ``[-1/2, 1/2)``.

    >>> lattice_frequencies(2)
    [(-0.5, -0.5), (-0.5, 0.0), (0.0, -0.5)]
    """
    fold = [((k / s + 0.5) % 1.0) - 0.5 for k in range(s)]
    return sorted(
        (a, b) for a, b in itertools.product(fold, repeat=2) if (a, b) != (0.0, 0.0)
    )


def plot_spectrum(
    spectrum: torch.Tensor, periods: Iterable[int] = (2, 4, 8), *, ax=None, title: str | None = None
):
    """Show a 2-D ``fftshift``-ed spectrum (e.g. :func:`average_spectrum`) with lattice marks.

    Axes are in cycles per pixel; each period's lattice frequencies are ringed in its own
    colour. Returns ``(fig, ax)``.

    >>> import torch
    >>> fig, ax = plot_spectrum(torch.zeros(16, 16), periods=(2,))
    >>> ax.get_xlabel()
    'horizontal frequency (cycles / pixel)'
    """
    if not isinstance(spectrum, torch.Tensor) or spectrum.ndim != 2:
        shape = tuple(spectrum.shape) if isinstance(spectrum, torch.Tensor) else type(spectrum)
        raise ShapeError(f"plot_spectrum expects a 2-D (H, W) spectrum tensor, got {shape}")
    periods = tuple(periods)
    for s in periods:
        if isinstance(s, bool) or not isinstance(s, int) or s < 2:
            raise InvalidArgumentError(f"periods must be ints >= 2, got {s!r}")
    plt = _pyplot()
    if ax is None:
        fig, ax = plt.subplots(figsize=(5, 4.5))
    else:
        fig = ax.figure
    h, w = spectrum.shape
    rows, cols = spectrum_frequencies(h), spectrum_frequencies(w)
    half_r, half_c = 0.5 / h, 0.5 / w
    extent = (
        float(cols[0]) - half_c, float(cols[-1]) + half_c,
        float(rows[-1]) + half_r, float(rows[0]) - half_r,
    )
    image = ax.imshow(spectrum.detach().cpu().float().numpy(), cmap="magma", extent=extent)
    fig.colorbar(image, ax=ax, label="power (dB)")
    for i, s in enumerate(periods):
        points = lattice_frequencies(s)
        ax.scatter(
            [b for _, b in points], [a for a, _ in points], s=80, facecolors="none",
            edgecolors=_COLOURS[i % len(_COLOURS)], linewidths=1.2, label=f"period {s}",
        )
    ax.set_xlabel("horizontal frequency (cycles / pixel)")
    ax.set_ylabel("vertical frequency (cycles / pixel)")
    ax.legend(loc="upper right", fontsize="small")
    if title:
        ax.set_title(title)
    return fig, ax
