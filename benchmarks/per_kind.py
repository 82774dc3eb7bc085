"""A per-kind decision value: the score's lattice excess summed per kind of bin, not over all.

The checkerboard score sums ``P_b - F_b`` over every lattice bin of a period
(:mod:`checkerfree.score.checkerboard`). The bins come in *kinds* by the axes their frequency
is non-zero on (2-D: stripes along axis 0 ``(k, 0)``, stripes along axis 1 ``(0, l)``,
checkerboard ``(k, l)``), and each kind's floor ``F_b`` is a different neighbourhood: a line of
radius 16 along its own axis for a stripe bin, a box of radius 3 for a checkerboard bin. On a
small picture (64 pixels a side) the period-4 stripe bins sit 16 bins from zero frequency, so
their line reaches the steep low frequencies of the content and ``F_b`` exceeds ``P_b``: the
stripe kind's excess is negative by the floor's bias, not by a pattern, and cancels a real
checkerboard peak in the sum (a random-init BasicUNet output: checkerboard bins 20x their
floor, significance 17.7, value 0.00). The same cancellation is measured on 32^3 and 64^3
volumes (docs/score.md, Volumes).

Here each kind is summed on its own: ``value_{s,k} = 2 sqrt(max(sum_{b in k} (P_b - F_b), 0))``,
its significance the score's two z-scores on that kind's bins alone (the plain sum over
``sqrt(2 sum F_b^2)`` and the whitened sum of ``P_b / F_b - 1`` over ``sqrt(2 K)``, the larger
kept), and the decision value is the largest ``value_{s,k}`` whose significance exceeds
:data:`~checkerfree.score.checkerboard.MIN_SIGNIFICANCE` (0 when none). It has no free
parameter. It is a benchmark variant for ``benchmarks/calibration.py``, not the library's
decision (which ``flagged`` uses); the floors are the library's own
(:func:`~checkerfree.score.lattice.lattice_excess`).

>>> import torch
>>> i, j = torch.meshgrid(torch.arange(64), torch.arange(64), indexing="ij")
>>> x = (torch.linspace(0, 200, 64)[None, :] + 3.0 * (-1.0) ** (i + j))[None, None]
>>> round(float(decision(x)[0]), 2)
6.0
"""

from __future__ import annotations

import math

import torch

from checkerfree.errors import InvalidArgumentError
from checkerfree.score.checkerboard import FIXED_PERIODS, MIN_SIGNIFICANCE
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
    """``{s: {kind: (value (N,), significance (N,))}}`` of ``x`` ``(N, C, *spatial)``.

    Per period ``s`` and bin kind (:func:`kind_name`), the value and significance of the
    module doc, from the library's excess and floor. The kinds' summed excesses add up to
    the score's total (``checkerboard_score(...).periods[s]`` is the amplitude of their sum).

    >>> v = kind_values(torch.zeros(1, 1, 16, 16), (2,))
    >>> sorted(v[2])
    ['axes 0,1', 'axis 0', 'axis 1']
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
        excess, floor, coords = lattice_excess(period_bins(x, s, spatial_dims, shared), s,
                                               periods, spatial_dims)
        free = coords != 0
        out[s] = {}
        tiny = torch.finfo(floor.dtype).tiny
        for pattern in sorted({tuple(row) for row in free.tolist()}, key=lambda p: (sum(p), p)):
            mask = (free == torch.tensor(pattern)).all(-1)
            e, f = excess[:, mask], floor[:, mask]
            total = e.sum(-1)
            plain = total / torch.sqrt(2 * (f**2).sum(-1)).clamp_min(tiny)
            whitened = (e / f.clamp_min(tiny)).sum(-1) / math.sqrt(2 * e.shape[-1])
            out[s][kind_name(pattern)] = (amplitude(total), torch.maximum(plain, whitened))
    return out


def decision(x: torch.Tensor, periods=FIXED_PERIODS, spatial_dims: int = 2) -> torch.Tensor:
    """The per-kind decision value ``(N,)``: the largest significant ``value_{s,k}``, else 0.

    >>> float(decision(torch.zeros(2, 1, 32, 32)).abs().max())
    0.0
    """
    best = torch.zeros(x.shape[0], dtype=x.dtype)
    for kinds in kind_values(x, periods, spatial_dims).values():
        for value, significance in kinds.values():
            keep = significance.detach() > MIN_SIGNIFICANCE
            best = torch.maximum(best, torch.where(keep, value.detach(), torch.zeros_like(best)))
    return best
