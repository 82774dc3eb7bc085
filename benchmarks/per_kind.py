"""A per-kind decision value: the score's lattice excess summed per kind of bin, not over all.

The checkerboard score sums ``P_b - F_b`` over every lattice bin of a period
(:mod:`checkerfree.score.checkerboard`). The bins come in *kinds* by the axes their frequency
is non-zero on (2-D: stripes along axis 0 ``(k, 0)``, stripes along axis 1 ``(0, l)``,
checkerboard ``(k, l)``), and each kind's floor ``F_b`` is a different neighbourhood: a line of
radius 16 along its own axis for a stripe bin, a box of radius 3 for a checkerboard bin. On a
small picture (64 pixels a side) the period-4 stripe bins sit 16 bins from zero frequency, so
their line reaches the steep low frequencies of the content and ``F_b`` exceeds ``P_b``: the
stripe kind's excess is negative by the floor's bias, not by a pattern, and cancels a real
checkerboard peak in the sum (17 of 36 outputs of a random-init BasicUNet had a significant
period whose value was 0.00: ``benchmarks/decoder_spectra.py``). The library now stops the
floors of periods 4 and up short of zero frequency
(:func:`~checkerfree.score.lattice._floor_weights`), which removes that bias where it was
measured (the decoder table reads the same with and without this variant); period 2 on axes
shorter than 64 samples keeps its whole-axis line, and so its cancellation (32^3 volumes:
``tests/test_per_kind.py``, SegResNet).

Here a kind whose summed excess is negative counts as 0 instead of cancelling the others:
``value_s = 2 sqrt(sum_k max(E_{s,k}, 0))`` with ``E_{s,k} = sum_{b in k} (P_b - F_b)``, and the
decision value is the largest ``value_s`` among the periods whose significance (the library's
own, :attr:`~checkerfree.score.checkerboard.ScoreResult.significance`, over the whole
lattice) exceeds :data:`~checkerfree.score.checkerboard.MIN_SIGNIFICANCE` (0 when none). Where
every kind's excess is positive it is the library's value. It has no free parameter and keeps
the library's significance test, so the same items count as significant (a significance
per kind would not: a kind of one bin, each Nyquist bin of period 2, has a heavy chance tail).
It is a benchmark variant for ``benchmarks/calibration.py``, not the library's decision
(which ``flagged`` uses); the floors are the library's
(:func:`~checkerfree.score.lattice.lattice_excess`).

>>> import torch
>>> i, j = torch.meshgrid(torch.arange(64), torch.arange(64), indexing="ij")
>>> x = (torch.linspace(0, 200, 64)[None, :] + 3.0 * (-1.0) ** (i + j))[None, None]
>>> round(float(decision(x)[0]), 2)
6.0
"""

from __future__ import annotations

import torch

from checkerfree.errors import InvalidArgumentError
from checkerfree.score.checkerboard import FIXED_PERIODS, MIN_SIGNIFICANCE, checkerboard_score
from checkerfree.score.heatmap import amplitude
from checkerfree.score.lattice import lattice_excess, period_bins

__all__ = ["decision", "kind_name", "kind_values"]


def kind_name(free: tuple[bool, ...]) -> str:
    """A bin kind's name from the axes its frequency is non-zero on.

    >>> kind_name((True, False)), kind_name((True, True))
    ('axis 0', 'axes 0,1')
    """
    axes = [str(a) for a, f in enumerate(free) if f]
    if not axes:
        raise InvalidArgumentError(f"a lattice bin is non-zero on some axis, got {free!r}")
    return ("axis " if len(axes) == 1 else "axes ") + ",".join(axes)


def kind_values(x: torch.Tensor, periods=FIXED_PERIODS, spatial_dims: int = 2) -> dict:
    """``{s: {kind: E_{s,k} (N,)}}``: the summed lattice excess of each bin kind of ``x``.

    ``x`` is ``(N, C, *spatial)``; the kinds are :func:`kind_name` of the axes a bin's
    frequency is non-zero on; the excess and floors are
    :func:`~checkerfree.score.lattice.lattice_excess`'s, so the kinds of a period add up to
    the score's total (``checkerboard_score(...).periods[s]`` is ``2 sqrt`` of their sum).

    >>> i = torch.arange(16.0)
    >>> stripes = ((-1.0) ** i[:, None] * torch.ones(16))[None, None]   # +-1 along axis 0
    >>> {k: round(float(v[0]), 3) for k, v in kind_values(stripes, (2,))[2].items()}
    {'axis 1': 0.0, 'axis 0': 1.0, 'axes 0,1': 0.0}
    """
    periods = tuple(periods)
    if not periods:
        raise InvalidArgumentError("periods must name at least one period, got ()")
    if x.dim() != spatial_dims + 2:
        raise InvalidArgumentError(
            f"expected x of shape (N, C, *{spatial_dims} spatial axes), got {tuple(x.shape)}")
    shared: dict = {}
    out = {}
    for s in periods:
        excess, _, coords = lattice_excess(period_bins(x, s, spatial_dims, shared), s, periods,
                                           spatial_dims)
        free = coords != 0
        kinds = sorted({tuple(row) for row in free.tolist()}, key=lambda p: (sum(p), p))
        out[s] = {kind_name(k): excess[:, (free == torch.tensor(k)).all(-1)].sum(-1)
                  for k in kinds}
    return out


def decision(x: torch.Tensor, periods=FIXED_PERIODS, spatial_dims: int = 2) -> torch.Tensor:
    """The per-kind decision value ``(N,)``: the largest significant ``value_s``, else 0.

    >>> float(decision(torch.zeros(2, 1, 32, 32)).abs().max())
    0.0
    """
    periods = tuple(periods)
    result = checkerboard_score(x, periods=periods, spatial_dims=spatial_dims, hotspot=False)
    best = torch.zeros(x.shape[0], dtype=x.dtype)
    for s, kinds in kind_values(x, periods, spatial_dims).items():
        value = amplitude(sum(e.clamp_min(0) for e in kinds.values())).detach()
        keep = result.significance[s].detach() > MIN_SIGNIFICANCE
        best = torch.maximum(best, torch.where(keep, value, torch.zeros_like(best)))
    return best
