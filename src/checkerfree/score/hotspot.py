"""Where a periodic pattern is: a likelihood-ratio scan for one tile at each period's lattice.

A periodic pattern repeats the same tile everywhere it is, so its Fourier coefficient at a
lattice frequency is the same in every part of a box; texture, edges and noise near that
frequency are not. For each period ``s`` and each place, a box of ``side`` samples per axis
is cut into ``J = q**d`` sub-boxes (``q = round(64**(1/d))``: 8x8 for images, 64 segments
for signals, 4x4x4 for volumes) and, per lattice bin ``b`` (every non-zero bin of the
period-``s`` lattice), the generalised likelihood ratio of one unknown tile in the box,

    R_b = |sum_j c'_bj / v_bj|^2 / sum_j 1 / v_bj,

is formed: under independent Gaussian noise of variance ``v_bj`` in each sub-box and bin, the
tile's best estimate is the noise-weighted mean of the ``c'_bj`` and ``R_b`` its energy over
its variance, ``~ Exp(1)`` without a pattern. ``c_bj`` is sub-box ``j``'s coefficient
``sum_z y(z) exp(-2 pi i b . z / s)``; ``c'_bj = c_bj - a_j g_b`` is it less the image-wide
lattice: ``g_b`` the median of ``c_bj`` over the input's sub-boxes (real and imaginary parts
apart; an odd number of them, every stride-th per axis, at least 256; a JPEG block grid or a
pattern everywhere is one shape of the coefficients in most sub-boxes, and a local pattern,
in under half of them, hardly moves the median), ``a_j`` the real multiple of ``g`` closest
to sub-box ``j``'s coefficients over the bins of the periods' common lattice (period 8's for
the default 2, 4, 8), held to ``[-2, 2]`` (so a strong local pattern loses at most twice the
shape). The noise ``v_bj`` is the sample variance of ``c'_b`` over the ``3**d`` sub-boxes
around ``j`` (a pattern is one coefficient in all of them and adds nothing to it; at the
border, the nearest whole neighbourhood's), plus a tenth of ``|c'_bj|^2`` (an edge or a speck
in sub-box ``j`` alone then weighs little), plus 3 % of its mean over the input's sub-boxes
(an exactly calm patch, a synthetic gradient or saturated sky, whose leakage is as coherent
as a pattern, does not rule the scan). Texture, edges and noise give ``R_b`` about 1 whatever
their power (each sub-box and bin is whitened by its own neighbourhood's noise, so a busy
place is no likelier than a calm one), a tile ``1 + |t_b|^2 sum_j 1 / v_bj``. ``T = sum_b
R_b`` is about chi-square with ``K = s**d - 1`` degrees of freedom (a complex bin equals its
conjugate's: ``2 R_b ~ chi2_2``; a real bin ``R_b ~ chi2_1``); its Wilson-Hilferty cube root
``z`` is about ``N(0, 1)`` for every ``K``, so the periods compare on equal tails. The
hotspot is the box centre of the largest ``z`` over places and periods.

Signals (``d = 1``) keep the weighted coherence of the scan before, ``R_b = |sum_j w_j
c'_bj|^2 / (sum_j w_j^2 |c'_bj|^2 + 0.03 G_b)``, ``w_j = (P_j + 0.03 mean_j P_j)**(-1/2)``,
``P_j`` segment ``j``'s mean power over every non-zero bin of its own DFT, ``G_b`` the input's
mean of the denominator's sum over places (``R_b`` about 1 for incoherent content, up to
``J`` for a tile): on calibration's audio windows (a development version) the likelihood
ratio lost 6 and 7 of 48 at the two weakest amplitudes (3e-4, 1e-3 full scale) for 5 and 3
gained at the two strongest.

``y`` is the input's channel mean after a discrete Laplacian: photographs have most of their
power at low frequencies, and the Laplacian's gain ``|2 pi f|^2`` flattens it, so that the
sub-boxes' spectral leakage does not bring it onto the lattice. The coefficients are the
DFT of each sub-box at the bins of the lattice (periods whose sub-boxes coincide share it:
the default 2, 4 and 8 are one transform), neighbourhoods and boxes one sub-box apart (box
sums of the sub-box grid by cumulative sums): one pass over the input, then work on the sub-box grid only.

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
# Sub-boxes per axis of the neighbourhood whose spread is a sub-box's noise (images and
# volumes; the module doc). On benchmarks/hotspot_variants.py (171 trials per amplitude):
# 3 gives 86.0 / 97.1 / 98.2 % inside at 2/4/8 grey levels, 5 gave 81.9 / 96.5 / 98.2.
_NEIGHBOURS = 3
# The fraction of a sub-box's own bin power added to its noise (the module doc): on
# benchmarks/hotspot_variants.py 0 gave 84.2 / 97.1 / 98.2 %, 0.05 85.4 / 97.7 / 98.2,
# 0.1 86.0 / 97.1 / 98.2, 0.3 85.4 / 95.9 / 98.2, 1 78.9 / 93.6 / 97.1.
_OWN = 0.1
# How many times the image-wide lattice shape a sub-box may lose (the module doc): on a
# development version (a projection per period, the median over every sub-box) 2 gave
# 78.4 / 94.2 / 98.2 %, 4 gave 79.5 / 94.2 / 98.8 (2 or 1 trials of 171 apart), 2 a little
# better on audio and volumes (calibration's run_audio, run_volumes).
_PROJECT_LIMIT = 2.0
# The least number of sub-boxes the image-wide lattice's median is taken over (every
# stride-th per axis): 441 of a 512x512 image's 3969 (every 3rd). On the development
# version, the median of 4x4 regions' means instead: 77.8 / 92.4 / 96.5 % (78.4 / 94.2 /
# 98.2 for every sub-box, at 3.5 times the scan's cost).
_SAMPLED = 256


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
    """Sums of ``k`` consecutive entries along each of ``axes`` (valid part), by cumsum.

    A short run (``k`` up to 4, the noise's neighbourhoods) is summed directly: ``k - 1``
    additions beat a cumulative sum and its difference.
    """
    if k <= 4:
        for ax in axes:
            m = t.shape[ax] - k + 1
            out = t.narrow(ax, 0, m) + t.narrow(ax, 1, m) if k > 1 else t.clone()
            for i in range(2, k):
                out += t.narrow(ax, i, m)
            t = out
        return t
    for ax in axes:
        c = torch.cumsum(t, ax)
        m = c.shape[ax] - k + 1
        t = c.narrow(ax, k - 1, m).clone()
        t.narrow(ax, 1, m - 1).sub_(c.narrow(ax, 0, m - 1))
    return t




def _edge_pad(t: torch.Tensor, d: int, pad: int) -> torch.Tensor:
    """``t`` ``(N, *U, *B)``, its ``d`` grid axes padded by ``pad`` with their edge values."""
    n, grid, bins = t.shape[0], t.shape[1 : 1 + d], t.shape[1 + d :]
    flat = t.reshape(n, *grid, -1).movedim(-1, 1)
    flat = torch.nn.functional.pad(flat, (pad,) * (2 * d), mode="replicate")
    return flat.movedim(1, -1).reshape(n, *flat.shape[2:], *bins)


def _likelihood_ratio(kept: torch.Tensor, d: int, q: int) -> torch.Tensor:
    """Per box and bin, ``R_b = |sum_j c_bj / v_bj|^2 / sum_j 1 / v_bj`` (the module doc).

    ``kept`` is ``(N, *U, *B)``: the sub-boxes' coefficients less the image-wide lattice.
    """
    grid = tuple(range(1, 1 + d))
    ones = [1] * d
    tiny = torch.finfo(kept.real.dtype).tiny
    # Each sub-box's noise, bin by bin: the variance of its coefficient over the 3**d
    # sub-boxes around it (a pattern is one coefficient in all of them, so it adds nothing;
    # at the input's border, the nearest whole neighbourhood's).
    power = kept.real.square() + kept.imag.square()
    spread = _NEIGHBOURS**d
    near = _box_sum(kept, _NEIGHBOURS, grid)
    noise = (_box_sum(power, _NEIGHBOURS, grid)
             - (near.real.square() + near.imag.square()) / spread) / (spread - 1)
    # A tenth of the sub-box's own power on top: an edge or a speck in one sub-box, which the
    # spread of its neighbours does not see, then weighs little. And a fraction of the mean
    # over sub-boxes, so that an exactly calm patch does not rule the scan.
    noise = _edge_pad(noise, d, _NEIGHBOURS // 2) + _OWN * power
    typical = noise.flatten(1, d).mean(1)
    noise = noise + _REGULAR * typical.reshape(typical.shape[0], *ones, *typical.shape[1:])
    precision = 1 / noise.clamp_min(tiny)
    # The noise-weighted mean's energy over its variance, about Exp(1) per bin without a
    # pattern.
    coherent = _box_sum(kept * precision, q, grid)
    coherent = coherent.real.square() + coherent.imag.square()
    return coherent / _box_sum(precision, q, grid).clamp_min(tiny)


def _coherence(kept: torch.Tensor, y: torch.Tensor, d: int, q: int) -> torch.Tensor:
    """Per box and bin, signals' ``R_b = |sum_j w_j c_bj|^2 / (sum_j w_j^2 |c_bj|^2 + 0.03
    G_b)`` (the module doc); ``y`` ``(N, *U, *step)``, the sub-boxes' samples."""
    grid = tuple(range(1, 1 + d))
    ones = [1] * d
    tiny = torch.finfo(y.dtype).tiny
    # Sub-box weights 1/sqrt(mean power over its non-zero bins + the regulariser), by
    # Parseval from the samples: a segment of strong content adds its phase more than its
    # power to the coherent sum.
    n = math.prod(y.shape[1 + d :])
    flat = y.flatten(1 + d)
    mean_power = (n * flat.square().sum(-1) - flat.sum(-1).square()) / (n - 1)
    typical_power = mean_power.flatten(1).mean(1).reshape(-1, *ones)
    weight = (mean_power + _REGULAR * typical_power).clamp_min(tiny) ** -0.5
    weight = weight / weight.flatten(1).mean(1).reshape(-1, *ones)
    kept = kept * weight.reshape(*weight.shape, *ones)
    coherent = _box_sum(kept, q, grid)
    coherent = coherent.real.square() + coherent.imag.square()
    total = _box_sum(kept.real.square() + kept.imag.square(), q, grid)
    # The input's mean bin power over places (per item and bin): where a local pattern sits
    # it raises this mean a little, and calm patches stay far below it.
    typical = total.flatten(1, d).mean(1)
    total = total + _REGULAR * typical.reshape(typical.shape[0], *ones, *typical.shape[1:])
    return coherent / total.clamp_min(tiny)


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


def _conjugate_count(n: int, r: int, step: int, dtype, device) -> torch.Tensor:
    """How many bins each of ``n`` half-spectrum columns (bins ``0, r, 2r, ...``) stands for.

    Column 0 and column ``step / 2`` are their own conjugates (1), the others stand for a
    conjugate too (2).
    """
    column = torch.arange(n, device=device) * r
    return torch.where((column == 0) | (2 * column == step), 1.0, 2.0).to(dtype)


def _median_stride(cells: list[int], d: int) -> int:
    """Every how many sub-boxes per axis the lattice shape's median reads (``_SAMPLED``).

    >>> _median_stride([64, 64], 2), _median_stride([250], 1), _median_stride([16] * 3, 3)
    (4, 1, 2)
    """
    return max(1, math.floor((math.prod(cells) / _SAMPLED) ** (1 / d)))


def _sub_boxes(y: torch.Tensor, d: int, q: int, step: int):
    """``y`` ``(N, *S)`` cut into sub-boxes of side ``step``: ``(N, U0, U1, .., step, step, ..)``
    (sub-boxes, then samples; the tail that fills no sub-box dropped) and the sub-box counts
    ``[U0, U1, ..]``; ``None`` when ``q`` sub-boxes do not fit along some axis.

    >>> boxes, cells = _sub_boxes(torch.arange(40.0).view(1, 5, 8), 2, 1, 2)
    >>> tuple(boxes.shape), cells, boxes[0, 1, 2].tolist()
    ((1, 2, 4, 2, 2), [2, 4], [[20.0, 21.0], [28.0, 29.0]])
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
    return y.reshape(shape).permute(perm), cells


def _scan(y: torch.Tensor, periods: tuple[int, ...], d: int, q: int, step: int):
    """``{s: z}`` for periods that all divide the sub-box side ``step`` (one transform for all).

    Each sub-box's ``step**d``-point DFT holds, at the bins ``b step / s``, the lattice
    coefficients of every period ``s`` dividing ``step``: one ``rfftn``, one projection
    and one set of box sums serve them all. The image-wide lattice projected out is that of
    the periods' common lattice (period ``lcm(periods)``; the default 2, 4, 8: period 8's),
    so a period's ``z`` scanned with others can differ a little from its ``z`` alone (its own
    lattice's projection; on the sub-box-weighted scan before the per-bin noise, computing
    both per period cost 28% more, 9.2 against 7.2 ms per 512x512 RGB image, and was no
    better: 79.5 / 93.6 / 98.2 % on benchmarks/hotspot_variants.py against 80.1 / 94.2 /
    98.2). Images and volumes take :func:`_likelihood_ratio`, signals :func:`_coherence`.
    ``y`` is the whitened ``(N, *S)``; ``None`` when ``q`` sub-boxes do not fit along some
    axis.
    """
    cut = _sub_boxes(y, d, q, step)
    if cut is None:
        return None
    y, cells = cut
    phases = tuple(range(1 + d, 1 + 2 * d))
    ones = [1] * d
    zero = (Ellipsis, *([0] * d))
    tiny = torch.finfo(y.dtype).tiny
    # Half the spectrum (the last axis to step // 2): the other half holds the conjugates.
    coef = torch.fft.rfftn(y, dim=phases)
    count = _conjugate_count(coef.shape[-1], 1, step, y.dtype, y.device)
    lcm = math.lcm(*periods)
    coef = coef[(Ellipsis, *([slice(None, None, step // lcm)] * d))]  # the common lattice
    count = count[:: step // lcm]
    # An image-wide lattice (a JPEG block grid, a pattern everywhere) is one shape of the
    # lattice coefficients in most sub-boxes: their median, bin by bin (a local pattern, in
    # under half of them, hardly moves it), over every stride-th sub-box per axis (at least
    # _SAMPLED of them: the median is the costly part), an odd number of them (the last
    # dropped if need be) so that the middle value of a bin's conjugate is the conjugate of
    # its middle value. Sub-boxes last, so that the median runs over contiguous memory.
    stride = _median_stride(cells, d)
    sampled = coef[(slice(None), *([slice(None, None, stride)] * d))].flatten(1, d)
    sampled = sampled[:, : sampled.shape[1] - 1 + sampled.shape[1] % 2]
    flat = torch.view_as_real(sampled).movedim(1, -1).contiguous()
    middle = flat.median(-1).values
    common_shape = torch.view_as_complex(middle.contiguous())
    common_shape = common_shape.reshape(common_shape.shape[0], *ones, *common_shape.shape[1:])
    common_shape[zero] = 0
    # Each sub-box loses its projection on the shape, a real multiple held to [-A, A]
    # (A = _PROJECT_LIMIT): a strong local pattern, far larger than the shape, loses at most
    # A times the shape.
    dot = ((coef * common_shape.conj()).real * count).sum(phases, keepdim=True)
    norm = ((common_shape.real.square() + common_shape.imag.square()) * count).sum(
        phases, keepdim=True)
    alpha = (dot / norm.clamp_min(tiny)).clamp(-_PROJECT_LIMIT, _PROJECT_LIMIT)
    kept = coef - alpha * common_shape
    if d == 1:
        ratio = _coherence(kept, y, d, q)
    else:
        ratio = _likelihood_ratio(kept, d, q)
    # Each half-spectrum bin stands for itself and its conjugate, except the last axis's
    # columns 0 and step/2, whose conjugates are in the half; the zero bin (the box mean) is out.
    ratio = ratio * count
    ratio[zero] = 0
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
