"""Where a periodic pattern is: a scan of sub-box coherence at each period's lattice.

A periodic pattern repeats the same tile everywhere it is, so its Fourier coefficient at a
lattice frequency has the same phase in every part of a box; texture, edges and noise near
that frequency do not. For each period ``s`` and each place, a box of ``side`` samples per
axis is cut into ``J = q**d`` sub-boxes (``q = round(64**(1/d))``: 8x8 for images, 64
segments for signals, 4x4x4 for volumes) and, per lattice bin ``b`` (every non-zero bin of
the period-``s`` lattice), the coherence

    R_b = |sum_j c_bj|^2 / (sum_j |c_bj|^2 + G_b * 0.03)

is formed, ``c_bj`` sub-box ``j``'s coefficient ``sum_z y(z) exp(-2 pi i b . z / s)``.
Incoherent content gives ``R_b ~ 1`` whatever its power (each bin is normalised by its own
local power, so a textured place is no likelier than a calm one); a coherent tile gives up
to ``J``. ``G_b`` is the image's mean of the denominator's sum over places: 3 % of it keeps
an exactly calm patch (a synthetic gradient, saturated sky), whose leakage is as coherent as
a pattern, from ruling the scan. ``T = sum_b R_b`` is about chi-square with ``K = s**d - 1``
degrees of freedom (a complex bin equals its conjugate's: ``2 R_b ~ chi2_2``; a real bin
``R_b ~ chi2_1``); its Wilson-Hilferty cube root ``z`` is about ``N(0, 1)`` for every ``K``,
so the periods compare on equal tails (on white noise and a grass texture the largest ``z``
of 65 000 places is 2 to 4 at periods 2, 4 and 8). The hotspot is the box centre of the
largest ``z`` over places and periods.

``y`` is the input's channel mean after a discrete Laplacian: photographs have most of their
power at low frequencies, and the Laplacian's gain ``|2 pi f|^2`` flattens it, so that the
sub-boxes' spectral leakage does not bring it onto the lattice. The coefficients are the
DFT of each sub-box at the bins of the lattice (periods whose sub-boxes coincide share it:
the default 2, 4 and 8 are one transform), boxes one sub-box apart (box sums of the sub-box
grid by cumulative sums): one pass over the input, then work on the sub-box grid only.

The box holds ``(4 window)**2`` samples in any dimension (``side = (4 window)**(2/d)``):
64x64 for images at the default window of 16, 4096 samples for signals, 16**3 for volumes:
the same number of samples, the same statistical power. A period whose box does not fit the
input is left out; when none fits, :func:`lattice_hotspot` returns ``None``.

>>> import torch
>>> g = torch.Generator().manual_seed(0)
>>> x = 100 + 10 * torch.randn(1, 1, 192, 192, generator=g)
>>> x[..., 96:160, 32:96] += 2.0 * (-1.0) ** torch.arange(64.0)   # stripes, 4 levels p-p
>>> lattice_hotspot(x, (2, 4, 8), 2)[0].tolist()            # the window's centre: 128, 64
[[128, 64]]
"""

from __future__ import annotations

import math

import torch

__all__ = ["box_geometry", "coherence_scan", "lattice_hotspot"]

# Sub-boxes per box, in any dimension: enough for a coherent tile to stand far above 1
# (up to J), few enough that each holds a period or more. 16 and 256 did worse on
# scripts/heatmap_hotspot.py (72% and 63% at 2 grey levels, against 73%).
_SUBBOXES = 64
# The calm-patch regulariser, a fraction of the image's mean bin power (the module doc):
# on scripts/heatmap_hotspot.py's trials 0.01 gave 71% at 2 grey levels, 0.03 73%.
_REGULAR = 0.03


def box_geometry(s: int, d: int, window: float) -> tuple[int, int]:
    """``(q, k)``: sub-boxes per axis and periods per sub-box, for period ``s`` and ``window``.

    The box side is ``(4 window)**(2/d)`` samples, cut into ``q = round(64**(1/d))``
    sub-boxes of ``k`` periods each (at least one period: long periods get larger boxes).

    >>> box_geometry(2, 2, 16.0), box_geometry(8, 2, 16.0), box_geometry(4, 1, 16.0)
    ((8, 4), (8, 1), (64, 16))
    """
    q = max(2, round(_SUBBOXES ** (1 / d)))
    side = (4 * window) ** (2 / d)
    return q, max(1, round(side / (q * s)))


def _laplacian(x: torch.Tensor, d: int) -> torch.Tensor:
    """The discrete Laplacian ``2 d x - sum of the 2 d neighbours`` on the valid interior."""
    inner = tuple(slice(1, -1) for _ in range(d))
    out = 2 * d * x[(Ellipsis, *inner)]
    for a in range(d):
        n = x.shape[x.ndim - d + a]
        for start in (0, 2):
            index = list(inner)
            index[a] = slice(start, n - 2 + start)
            out = out - x[(Ellipsis, *index)]
    return out


def _box_sum(t: torch.Tensor, k: int, axes: tuple[int, ...]) -> torch.Tensor:
    """Sums of ``k`` consecutive entries along each of ``axes`` (valid part), by cumsum."""
    for ax in axes:
        c = torch.cumsum(t, ax)
        m = c.shape[ax] - k + 1
        t = c.narrow(ax, k - 1, m).clone()
        t.narrow(ax, 1, m - 1).sub_(c.narrow(ax, 0, m - 1))
    return t




def coherence_scan(x: torch.Tensor, s: int, d: int, window: float = 16.0):
    """The coherence z-map of period ``s`` (module doc), its box side, first centre and step.

    ``x`` is ``(N, C, *S)``; returns ``(z, side, origin, step)`` with ``z`` ``(N, *M)`` on the
    grid of places, one sub-box apart: place ``i`` is the box whose centre is at
    ``origin + step i`` per axis. ``None`` when the box does not fit.

    >>> import torch
    >>> z, side, origin, step = coherence_scan(torch.rand(1, 1, 80, 80), 2, 2)
    >>> tuple(z.shape), side, origin, step
    ((1, 2, 2), 64, 32.5, 8)
    """
    q, k = box_geometry(s, d, window)
    z = _scan(_laplacian(x.mean(1), d), (s,), d, q, k * s)
    if z is None:
        return None
    side = q * k * s
    return z[s], side, 1 + side / 2 - 0.5, k * s


def _scan(y: torch.Tensor, periods: tuple[int, ...], d: int, q: int, step: int):
    """``{s: z}`` for periods that all divide the sub-box side ``step`` (one transform for all).

    Each sub-box's ``step**d``-point DFT holds, at the bins ``b step / s``, the lattice
    coefficients of every period ``s`` dividing ``step``: one ``rfftn`` and one set of box
    sums serve them all. ``y`` is the whitened ``(N, *S)``; ``None`` when ``q`` sub-boxes do
    not fit along some axis.
    """
    cells = [m // step for m in y.shape[1:]]
    if min(cells) < q:
        return None
    y = y[(slice(None), *[slice(0, c * step) for c in cells])]
    shape = [y.shape[0]]
    for c in cells:
        shape += [c, step]
    # (N, U0, step, U1, step, ...) -> (N, U0, U1, ..., step, step, ...): sub-boxes, then samples.
    perm = [0] + [1 + 2 * a for a in range(d)] + [2 + 2 * a for a in range(d)]
    y = y.reshape(shape).permute(perm)
    grid = tuple(range(1, 1 + d))
    phases = tuple(range(1 + d, 1 + 2 * d))
    # Half the spectrum (the last axis to step // 2): the other half holds the conjugates.
    coef = torch.fft.rfftn(y, dim=phases)
    lcm = math.lcm(*periods)
    r = step // lcm  # only the bins of the periods' common lattice
    coef = coef[(Ellipsis, *([slice(None, None, r)] * d))]
    power = coef.real.square() + coef.imag.square()
    coherent = _box_sum(coef, q, grid)
    coherent = coherent.real.square() + coherent.imag.square()
    total = _box_sum(power, q, grid)
    # The image's mean bin power over places (per item and bin): where a local pattern sits
    # it raises this mean a little, and calm patches stay far below it.
    typical = total.flatten(1, d).mean(1)
    total = total + _REGULAR * typical.reshape(typical.shape[0], *([1] * d), *typical.shape[1:])
    ratio = coherent / total.clamp_min(torch.finfo(total.dtype).tiny)
    # Each half-spectrum bin stands for itself and its conjugate, except the last axis's
    # columns 0 and step/2, whose conjugates are in the half; the zero bin (the box mean) is out.
    column = torch.arange(ratio.shape[-1], device=ratio.device) * r
    count = torch.where((column == 0) | (2 * column == step), 1.0, 2.0).to(ratio.dtype)
    ratio = ratio * count
    ratio[(Ellipsis, *([0] * d))] = 0
    out = {}
    for s in periods:
        # sum_b R_b is about chi-square with K = s**d - 1 degrees of freedom (a complex bin
        # and its conjugate are equal: 2 R_b ~ chi2_2; a real bin R_b ~ chi2_1); the
        # Wilson-Hilferty cube root makes it about N(0, 1) for every K, so periods compare
        # on equal tails.
        t = lcm // s
        K = s**d - 1
        total_ratio = ratio[(Ellipsis, *([slice(None, None, t)] * d))].sum(phases)
        out[s] = (((total_ratio / K).clamp_min(0) ** (1 / 3) - (1 - 2 / (9 * K)))
                  / math.sqrt(2 / (9 * K)))
    return out


def lattice_hotspot(x: torch.Tensor, periods: tuple[int, ...], d: int, window: float = 16.0):
    """Indices ``(N, d)`` of the most coherent lattice pattern over ``periods``, and its ``z``.

    The largest :func:`coherence_scan` value over places and periods; the index is that box's
    centre (layout order, inside the input). ``None`` when no period's box fits ``x``.

    >>> import torch
    >>> x = torch.full((1, 1, 128, 128), 50.0)
    >>> x[..., 16:80, 48:112] += 3 * (-1.0) ** torch.arange(64.0)
    >>> (row, col), = lattice_hotspot(x, (2,), 2)[0].tolist()
    >>> 16 <= row < 80 and 48 <= col < 112
    True
    """
    best_z, best_at = None, None
    sizes = torch.tensor(x.shape[2:], device=x.device)
    whitened = _laplacian(x.mean(1), d)
    groups: dict[tuple[int, int], list[int]] = {}
    for s in periods:  # periods with the same sub-box share one transform
        q, k = box_geometry(s, d, window)
        groups.setdefault((q, k * s), []).append(s)
    for (q, step), group in groups.items():
        scans = _scan(whitened, tuple(group), d, q, step)
        if scans is None:
            continue
        side = q * step
        for s in group:
            z = scans[s]
            value, flat = z.reshape(z.shape[0], -1).max(-1)
            place = torch.stack(torch.unravel_index(flat, z.shape[1:]), -1)
            at = torch.minimum(torch.floor(1 + side / 2 - 0.5 + step * place).long(), sizes - 1)
            if best_z is None:
                best_z, best_at = value, at
            else:
                better = value > best_z
                best_z = torch.where(better, value, best_z)
                best_at = torch.where(better[:, None], at, best_at)
    if best_z is None:
        return None
    return best_at, best_z
