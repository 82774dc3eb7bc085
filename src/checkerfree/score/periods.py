"""Period discovery for ``periods="auto"``: which lattice periods are worth measuring exactly.

Measuring every period from 2 to a quarter of the shortest axis with the cropped lattice
method (:mod:`checkerfree.score.lattice`) would take one ``rfftn`` and ``s**d`` bins per
period. The search instead reads one spectrum of the whole signal per item:

1. ``P``: the power of the DFT of the periodic component (Moisan, no crop), summed over
   channels, on the half spectrum of a real signal (``P(-xi) = P(xi)``). Its ``rfftn`` is
   the fixed periods' own when they crop nothing (``cache``): the search then adds no FFT
   of the signal, only the border jumps' (one axis shorter);
2. whitened: ``R = P / F - 1``, with ``F`` the mean of ``P`` over a box around each bin that
   leaves out the bin and its immediate neighbours (where a frequency that falls between
   two bins leaks), spanning only the bin's non-zero axes, as the score's floor does. On
   broadband content ``R`` has mean 0 and spread 1 per bin; a periodic pattern is a
   large ``R`` at its harmonics;
3. for each period ``s`` in ``2 .. max_period``, the *harmonic sum*: ``R`` summed over the
   bins nearest the lattice frequencies ``k / s`` (``k`` not all zero; on each axis the
   nearest bin when ``k n / s`` is a whole number, both neighbours when it is not),
   divided by the square root of their number: a z-score. A multiple of the true period
   adds noise bins, so its z-score is lower and the fundamental ranks first. The bins on
   the lattices of the periods measured anyway (2, 4, 8) count for none: a strong period-8
   pattern would lift 16, 24, 32 into the candidates. One bin adds at most :data:`R_CAP`.
   All periods at once: per axis a matrix of (periods x bins) counts (sparse in 1-D), one
   product each.

The periods whose z-score exceeds :data:`CANDIDATE_Z` (at most ``count`` per item, best
first) are then measured exactly. ``max_period`` is a quarter of the shortest spatial axis,
capped so that the search reads at most :data:`SEARCH_BINS` bins (periods up to 232 for
images, 4095 for 1-D signals, 53 for volumes).

Look-elsewhere: a period picked from ``M`` searched ones is the largest of ``M`` chances,
so :func:`search_significance` raises the significance it needs from ``MIN_SIGNIFICANCE``
(calibrated on three fixed periods) to the z-score whose one-sided Gaussian tail is that of
``MIN_SIGNIFICANCE`` times ``3 / M`` (Bonferroni): the ``M`` searched periods together have
the false-alarm probability of the three calibrated ones.

A found period must also be a lattice, not a periodicity of the content near it
(:func:`found_significance`): its floor is raised to the mean of the bins next to each
lattice bin (:func:`leak_floor`; on a crop that is a multiple of ``s`` a lattice leaks
nowhere), and the line through zero that holds most of its excess is left out
(:func:`lattice_lines`; lines of text and ruled paper vary along one direction). Without it
``page`` (skimage) flagged at period 3, the 6th harmonic of its 18-row line pitch.

>>> import torch
>>> g = torch.Generator().manual_seed(0)
>>> i, j = torch.meshgrid(torch.arange(128), torch.arange(128), indexing="ij")
>>> noisy = 100 + 10 * torch.randn(128, 128, generator=g)
>>> find_periods(noisy + 4 * (-1.0) ** (i // 7 + j // 7), count=1)   # a period-14 checkerboard
[[14]]
"""

from __future__ import annotations

import functools
import itertools
import math
import warnings

import torch

from checkerfree.errors import InvalidArgumentError, InvalidTypeError
from checkerfree.score.lattice import PeriodicBins
from checkerfree.score.layout import as_batch

__all__ = ["find_periods", "search_periods", "max_search_period", "search_significance",
           "leak_floor", "lattice_lines", "found_significance", "CANDIDATE_Z", "SEARCH_BINS"]

#: A searched period becomes a candidate for the exact measurement above this z-score
#: (the largest of ~100 broadband z-scores is about 3).
CANDIDATE_Z = 4.0

#: Most spectrum bins the search reads per item, all periods together (``sum_s (2 s)**d``).
SEARCH_BINS = 1 << 24


# Floor box half-size by the number of free axes (as the score's floor), and the half-size
# of the block left out around the bin (a frequency between two bins leaks into both).
_RADIUS = {1: 16, 2: 3, 3: 2}
_GAP = 1

#: Most one bin adds to a harmonic sum (``R`` is clipped there). Noise exceeds 25 in one bin
#: of ``e**26 = 2e11``; a strong peak (a tone of period 8) would otherwise lift every long
#: period with a harmonic next to it into the candidates.
R_CAP = 25.0


def max_search_period(spatial: tuple[int, ...]) -> int:
    """The longest period ``"auto"`` searches on a signal of this spatial shape.

    A quarter of the shortest axis (four periods, so the exact measurement's floor has
    bins between the lattice bins), capped by :data:`SEARCH_BINS`. Below 2: nothing to search.

    >>> max_search_period((512, 512)), max_search_period((480000,)), max_search_period((7, 64))
    (128, 4095, 1)
    """
    d = len(spatial)
    limit = min(spatial) // 4
    total, s = 0, 1
    while s < limit:
        total += (2 * (s + 1)) ** d
        if total > SEARCH_BINS:
            break
        s += 1
    return s


def search_significance(base: float, searched: int, family: int = 3) -> float:
    """The significance a period picked from ``searched`` periods needs (Bonferroni).

    ``base`` is calibrated for a ``family`` of fixed periods; the returned ``z`` has the
    one-sided Gaussian tail ``Q(z) = Q(base) * family / searched`` (``Q(z) = erfc(z/sqrt 2)/2``),
    so the searched periods together keep the calibrated family's false-alarm probability.
    Never below ``base``.

    >>> round(search_significance(5.0, 127), 2), search_significance(5.0, 2)
    (5.68, 5.0)
    """
    if isinstance(searched, bool) or not isinstance(searched, int) or searched < 1:
        raise InvalidArgumentError(f"searched must be a positive int, got {searched!r}")
    if searched <= family:
        return float(base)
    return _bonferroni(float(base), searched, family)


@functools.lru_cache(maxsize=256)
def _bonferroni(base: float, searched: int, family: int) -> float:
    """:func:`search_significance` past its checks, memoised (one bisection per geometry)."""
    target = math.log(_tail(base) * family / searched)
    low, high = base, base + 20.0
    for _ in range(100):  # bisection on log Q, which falls monotonically
        mid = (low + high) / 2
        if math.log(_tail(mid)) > target:
            low = mid
        else:
            high = mid
    return high


def _tail(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2))


def _whitened(xb: torch.Tensor, d: int, half: torch.Tensor) -> torch.Tensor:
    """``R = P / F - 1`` per item on the half spectrum ``(N, *n[:-1], n[-1] // 2 + 1)``
    (see the module doc; the other half is ``R(-xi) = R(xi)``), in ``xb``'s dtype or float64."""
    power = _search_power(xb, d, half)
    n = tuple(xb.shape[2:])
    tiny = torch.finfo(power.dtype).tiny
    white = None
    # All axes free first (it covers every bin), then the bins with some zero coordinates,
    # whose floor spans their non-zero axes only, written over it.
    for pattern in range((1 << d) - 1, 0, -1):
        free = [a for a in range(d) if pattern >> a & 1]
        part = power[(slice(None),) + tuple(slice(None) if a in free else 0 for a in range(d))]
        ring, count = _ring_sum(part, [n[a] for a in free], d - 1 in free)
        # E[1 / F] = M / (M - 1) / E[P] for the mean F of M exponential powers (Jensen): the
        # ratio is rescaled to mean 1 on noise, or the sum over the (2 s)^d bins of a long
        # period would drift by sqrt((2 s)^d) / M standard deviations (6 for s = 125): the
        # floor is the ring's sum over M - 1.
        ratio = ring.mul_(1 / max(count - 1, 1)).clamp_min_(tiny).reciprocal_().mul_(part)
        if white is None:
            white = ratio
        else:
            white[(slice(None),) + tuple(slice(1, None) if a in free else 0 for a in range(d))] \
                = ratio[(slice(None),) + (slice(1, None),) * len(free)]
    white.sub_(1)
    white.reshape(white.shape[0], -1)[:, 0] = 0  # the mean is no harmonic
    return white


def _search_power(xb: torch.Tensor, d: int, half: torch.Tensor) -> torch.Tensor:
    """Power of the periodic component's DFT (Moisan), channels summed, on the half spectrum.

    ``half`` is ``rfftn(xb)`` over the spatial axes (the fixed periods' own when their crop
    is the whole signal: one FFT serves both). The smooth component's spectrum
    ``S = sum_a J_a (1 - exp(2 pi i xi_a / n_a)) / sum_a (2 cos(2 pi xi_a / n_a) - 2)``,
    ``J_a`` the DFT over the other axes of the border jump ``x[last] - x[first]`` along axis
    ``a``, comes from FFTs of the jumps only (in 2-D one matrix product of rank 4: each term
    is an outer product); ``P = sum_c |half - S|^2``, the mean bin set to 0 (the input's
    mean is no pattern). Real and imaginary parts are interleaved reals (torch's complex
    kernels are several times slower). A float32 power that overflows (or underflows,
    inputs near ``1e-19``) is recomputed in float64; ``R`` is a ratio, so the scale does not
    matter. Returns ``(N, *n[:-1], n[-1] // 2 + 1)``.

    >>> import torch
    >>> from checkerfree.score.lattice import periodic_spectrum
    >>> x = torch.rand(2, 3, 12, 9, dtype=torch.float64) * 255
    >>> full = periodic_spectrum(x, 2).abs().pow(2).sum(1)[..., :5]
    >>> full[:, 0, 0] = 0
    >>> fast = _search_power(x, 2, torch.fft.rfftn(x, dim=(2, 3)))
    >>> bool(torch.allclose(fast, full, rtol=1e-9))
    True
    """
    x = xb.detach()
    n = tuple(x.shape[2:])
    sizes = n[:-1] + (n[-1] // 2 + 1,)
    factors, turned, inverse = _moisan_geometry(n, x.dtype, x.device)
    jumps = []
    for a in range(d):
        jump = x.narrow(2 + a, n[a] - 1, 1) - x.narrow(2 + a, 0, 1)
        others = tuple(2 + b for b in range(d) if b != a)
        if a < d - 1:
            jumps.append(torch.view_as_real(torch.fft.rfftn(jump, dim=others)))
        elif others:
            jumps.append(torch.view_as_real(torch.fft.fftn(jump, dim=others)))
        else:
            jumps.append(torch.stack([jump, torch.zeros_like(jump)], -1))
    # (Jr + i Ji)(fr + i fi) as interleaved reals: Jr (fr, fi) + Ji (-fi, fr), "turned".
    if d == 2:
        # b[i, j] = f_0[i] J_0[j] + J_1[i] f_1[j]: rows (f_0r, f_0i, J_1r, J_1i) times
        # columns (J_0, J_0 turned, f_1, f_1 turned), the parts interleaved along columns.
        j0, j1 = jumps[0][:, :, 0], jumps[1][..., 0, :]
        lead = tuple(x.shape[:2])
        left = torch.cat([factors[0].reshape(n[0], 2).expand(*lead, n[0], 2), j1], -1)
        j0_turned = torch.stack([-j0[..., 1], j0[..., 0]], -1)
        right = torch.stack([j0, j0_turned, factors[1].reshape(-1, 2).expand_as(j0),
                             turned[1].reshape(-1, 2).expand_as(j0)], 2)
        border = (left @ right.reshape(*lead, 4, -1)).reshape(*lead, *sizes, 2)
    else:
        border = sum(j[..., :1] * f + j[..., 1:] * t for j, f, t in zip(jumps, factors, turned))
    # S - U, squared (the sign does not matter), in place: border is a new tensor.
    power = border.mul_(inverse).sub_(torch.view_as_real(half)).square_().sum(1)
    power = power[..., 0] + power[..., 1]
    power.reshape(power.shape[0], -1)[:, 0] = 0
    total = float(power.sum())
    if x.dtype != torch.float64 and not (1e-30 < total < 1e37 or total == 0):
        return _search_power(x.double(), d, half.to(torch.complex128))
    return power


@functools.lru_cache(maxsize=64)
def _moisan_geometry(n: tuple[int, ...], dtype: torch.dtype, device: torch.device):
    """For the half spectrum of shape ``n``: per axis ``a`` the factor ``1 - exp(2 pi i xi / n_a)``
    as interleaved reals shaped to broadcast along ``a``, the same turned (times ``i``), and
    ``1 / sum_a (2 cos - 2)`` (0 at the mean) expanded to ``(*sizes, 2)``. Shared: never
    written."""
    d = len(n)
    sizes = n[:-1] + (n[-1] // 2 + 1,)
    factors, turned, denominator = [], [], torch.zeros(sizes, dtype=torch.float64)
    for a, m in enumerate(n):
        angle = 2 * math.pi * torch.arange(sizes[a], dtype=torch.float64) / m
        shape = [1] * d + [2]
        shape[a] = sizes[a]
        factor = torch.stack([1 - torch.cos(angle), -torch.sin(angle)], -1)
        factors.append(factor.reshape(shape).to(dtype=dtype, device=device))
        turned.append(torch.stack([-factor[:, 1], factor[:, 0]], -1).reshape(shape)
                      .to(dtype=dtype, device=device))
        denominator = denominator + (2 * torch.cos(angle) - 2).reshape(shape[:-1])
    zero = denominator == 0
    inverse = torch.where(zero, 0.0, 1 / torch.where(zero, 1.0, denominator))
    inverse = inverse[..., None].expand(*sizes, 2).contiguous()
    return factors, turned, inverse.to(dtype=dtype, device=device)


def _ring_sum(part: torch.Tensor, n: list[int], half: bool) -> tuple[torch.Tensor, int]:
    """Sum of ``part`` over a circular box around each bin on its last ``len(n)`` axes, the
    block of half-size :data:`_GAP` around the bin left out, and the number of bins summed.

    The box's half-size is ``_RADIUS[len(n)]``, capped at a third of an axis (at least
    ``_GAP + 1``); ``n`` are the full axis lengths, the last axis holds the half spectrum
    when ``half`` (bins past it are ``P(-xi) = P(xi)``). Separable and free of subtraction
    (float32 keeps its precision beside a strong peak): the ring is the union, over the axis
    ``a`` that is the first beyond the gap, of (gap on the axes before ``a``) x (ring on
    ``a``) x (box on the axes after ``a``), built from the last axis to the first.
    """
    k = len(n)
    box = inner = None
    count_box = count_gap = 1
    for i in reversed(range(k)):
        axis = part.ndim - k + i
        size = part.shape[axis]
        r = max(_GAP + 1, min(_RADIUS[k], (n[i] - 1) // 3))
        count_box *= 2 * r + 1
        count_gap *= 2 * _GAP + 1
        # Windows of the extended axis: the ring's two sides, then the gap.
        spans = [(0, r - _GAP), (r + _GAP + 1, r - _GAP), (r - _GAP, 2 * _GAP + 1)]
        if box is None:  # the last axis: part itself
            left, right, gap = _windows(_extended(part, axis, r, n[i], half and i == k - 1, k),
                                        axis, spans, size)
            inner = left + right
            box = inner + gap
            continue
        sums = _windows(_extended(box, axis, r, n[i], False, k), axis, spans[: 3 if i else 2],
                        size)
        ring = sums[0] + sums[1]
        gap = _windows(_extended(inner, axis, _GAP, n[i], False, k), axis,
                       [(0, 2 * _GAP + 1)], size)[0]
        if i:
            box = ring + sums[2]
        inner = ring.add_(gap)
    return inner, count_box - count_gap


def _extended(x: torch.Tensor, axis: int, r: int, m: int, half: bool, k: int) -> torch.Tensor:
    """``x`` with ``r`` bins added on both ends of ``axis`` (length ``m`` in full): entry ``i``
    is bin ``i - r``, wrapped, or on a half spectrum (``half``) mirrored, ``P(-xi)``: the bins
    past either end are columns ``1 .. r`` read with the other ``k - 1`` free axes (the
    ones before ``axis``) negated."""
    size = x.shape[axis]
    if not half:
        return torch.cat([x.narrow(axis, m - r, r), x, x.narrow(axis, 0, r)], axis)
    device = x.device
    left = torch.arange(r, 0, -1, device=device)                      # bins -r .. -1
    right = m - torch.arange(size, size + r, device=device)           # bins size .. size+r-1
    ends = x.index_select(axis, torch.cat([left, right]))
    for b in range(axis - k + 1, axis):
        mb = x.shape[b]
        ends = ends.index_select(b, (-torch.arange(mb, device=device)) % mb)
    return torch.cat([ends.narrow(axis, 0, r), x, ends.narrow(axis, r, r)], axis)


def _windows(x: torch.Tensor, axis: int, spans: list[tuple[int, int]],
             size: int) -> list[torch.Tensor]:
    """Running sums along ``axis``, one per ``(start, width)`` of ``spans``: entry ``o`` of
    each sums ``x[start + o .. start + o + width - 1]``, ``size`` entries. From sums of
    ``2**j`` consecutive entries, built once (``log2(width)`` additions each).

    >>> import torch
    >>> [w.tolist() for w in _windows(torch.arange(10.0)[None], 1, [(2, 3), (0, 1)], 4)]
    [[[9.0, 12.0, 15.0, 18.0]], [[0.0, 1.0, 2.0, 3.0]]]
    """
    runs = [x]
    while 1 << len(runs) <= max(width for _, width in spans):
        step = 1 << (len(runs) - 1)
        length = runs[-1].shape[axis] - step
        runs.append(runs[-1].narrow(axis, 0, length) + runs[-1].narrow(axis, step, length))
    out = []
    for start, width in spans:
        total, offset = None, start
        for j, run in enumerate(runs):
            if width >> j & 1:
                piece = run.narrow(axis, offset, size)
                total = piece if total is None else total + piece
                offset += 1 << j
        out.append(total)
    return out


def search_periods(x: torch.Tensor, spatial_dims: int | None = None,
                   exclude: tuple[int, ...] = (), cache: dict | None = None,
                   ) -> tuple[list[int], torch.Tensor]:
    """Harmonic z-score of every period ``2 .. max_search_period`` for each item.

    Returns ``(periods, z)``: the searched periods and ``z`` ``(N, len(periods))`` (the
    module doc; float32 for float32 inputs). Layout as
    :func:`~checkerfree.score.checkerboard.checkerboard_score`. The bins on the lattices
    of the ``exclude`` periods (measured anyway) count for no period. ``cache``: the
    score's dict of ``rfftn`` per crop shape (:func:`~checkerfree.score.lattice.period_bins`):
    the whole signal's is read from it or put in it, so the fixed periods and the search
    share one FFT.

    >>> import torch
    >>> t = torch.arange(400.0)
    >>> periods, z = search_periods((t % 5 == 0).float()[None, None], spatial_dims=1)
    >>> periods[int(z[0].argmax())]
    5
    """
    xb, d = as_batch(x, spatial_dims)
    n = tuple(xb.shape[2:])
    top = max_search_period(n)
    periods = list(range(2, top + 1))
    if not periods:
        return periods, torch.zeros(xb.shape[0], 0, dtype=xb.dtype, device=xb.device)
    white = _whitened(xb, d, _whole_spectrum(xb, d, cache)).clamp_max_(R_CAP)
    total = _harmonic_sums(white, n, top)
    target, source, sign, scale = (t.to(total.device) for t in
                                   _exclusion(n, top, tuple(sorted(set(exclude)))))
    total = total.index_add(1, target, total[:, source] * sign.to(total.dtype))
    return periods, total / scale.to(total.dtype)


def _whole_spectrum(xb: torch.Tensor, d: int, cache: dict | None) -> torch.Tensor:
    """``rfftn(xb)`` over the spatial axes, from ``cache`` or into it (keyed by the spatial
    shape, as :func:`~checkerfree.score.lattice.period_bins` keys a crop), detached."""
    key = ("half", tuple(xb.shape[2:]))
    half = None if cache is None else cache.get(key)
    if half is None:
        half = torch.fft.rfftn(xb, dim=tuple(range(2, 2 + d)))
        if cache is not None:
            cache[key] = half
    return half.detach()


def _harmonic_sums(white: torch.Tensor, n: tuple[int, ...], top: int) -> torch.Tensor:
    """``sum_b R_b`` over each period's harmonic bins (:func:`_harmonic_bins`), ``(N, P)``.

    On the half spectrum: a bin past it is the mirror of one in it, with the same ``R``, and
    each period's bins are symmetric (``k -> s - k``), so a column of the half that has a
    mirror counts twice. In 1-D a sparse matrix of (periods x bins) counts: a signal's axis
    is long (480000 samples in 10 s of audio) and a dense one would take gigabytes. In 2-D
    and 3-D the chosen bins are a product of one set per axis, so their sum is separable,
    ``sum_{i in A_0, j in A_1} R[i, j] = u_0' R u_1``, for every period at once: one matrix
    product for the half axis, then a weighted sum per axis (``R = 0`` at the zero bin, the
    one product that is no harmonic). As ``u_a`` is symmetric too, the other axes are
    folded first (``R[i] + R[-i]``), which halves the product.
    """
    if len(n) == 1:
        return torch.sparse.mm(_harmonic_matrix(n[0], top, white.dtype, white.device),
                               white.T).T
    for a, m in enumerate(n[:-1]):
        mirrored = (m - 1) // 2                                  # rows 1 .. (m - 1) // 2
        folded = white.narrow(1 + a, 0, m // 2 + 1).clone()
        folded.narrow(1 + a, 1, mirrored).add_(white.narrow(1 + a, m - mirrored, mirrored)
                                               .flip(1 + a))
        white = folded
    total = white @ _harmonic_vectors(n[-1], top, True, white.dtype, white.device).T
    for a in reversed(range(len(n) - 1)):
        # total (N, *n[:a + 1] folded, P): contract axis a, the last spatial one left, with u_a.
        u = _harmonic_vectors(n[a], top, False, white.dtype, white.device)[:, : n[a] // 2 + 1]
        total = (total * u.T).sum(-2)
    return total


@functools.lru_cache(maxsize=64)
def _exclusion(n: tuple[int, ...], top: int, exclude: tuple[int, ...]):
    """``(target, source, sign, scale)``: the harmonic sum of period ``target[e] + 2`` takes
    ``sign[e]`` times that of ``source[e] + 2``, which sums it off the lattices of the
    ``exclude`` periods; ``scale`` ``(P,)`` is the square root of the number of bins left,
    less one.

    The lattice of ``s`` holds that of ``g = gcd(s, e)``: without this a strong period-8
    pattern (measured anyway) would lift 16, 24 and 32 into the candidates' places. The
    union of the lattices ``g_i`` is taken out by inclusion-exclusion (two lattices meet in
    the lattice of the gcd); ``g = 1`` is the zero bin (``R = 0``, one bin). Shared: never
    written.
    """
    periods = range(2, top + 1)
    # Per axis, s harmonics, and a second bin for each k m / s that is not whole: 2 s - gcd.
    sizes = [math.prod(2 * s - math.gcd(m, s) for m in n) for s in periods]
    count = list(map(float, sizes))
    target, source, sign = [], [], []
    for i, s in enumerate(periods):
        parts = sorted({math.gcd(s, e) for e in exclude if math.gcd(s, e) >= 2})
        for size in range(1, len(parts) + 1):
            for subset in itertools.combinations(parts, size):
                g = math.gcd(*subset)
                weight = -1.0 if size % 2 else 1.0
                if g >= 2:
                    target.append(i)
                    source.append(g - 2)
                    sign.append(weight)
                    count[i] += weight * sizes[g - 2]
                else:  # the zero bin alone
                    count[i] += weight
    scale = torch.sqrt((torch.tensor(count, dtype=torch.float64) - 1).clamp_min(1))
    return (torch.tensor(target, dtype=torch.long), torch.tensor(source, dtype=torch.long),
            torch.tensor(sign, dtype=torch.float64), scale)


@functools.lru_cache(maxsize=64)
def _harmonic_bins(m: int, top: int) -> tuple[torch.Tensor, torch.Tensor]:
    """For each period ``2 .. top``, the bins of an axis of ``m`` nearest its harmonics
    ``k m / s`` (both neighbours between bins): ``(index, owner)``, the bins of all periods
    one after the other and the row (period - 2) each belongs to. Shared: never written."""
    period = torch.arange(2, top + 1, dtype=torch.long)
    owner = torch.repeat_interleave(period - 2, period)          # row of each (s, k) pair
    start = torch.cumsum(period, 0) - period
    k = torch.arange(len(owner), dtype=torch.long) - start[owner]
    position = k.to(torch.float64) * m / period[owner].to(torch.float64)
    low = torch.floor(position + 1e-9)
    between = (position - low).abs() >= 1e-9
    low = low.long()
    index = torch.cat([low, low[between] + 1]) % m
    return index, torch.cat([owner, owner[between]])


def _folded(index: torch.Tensor, m: int) -> torch.Tensor:
    """Bins of an axis of ``m`` as columns of its half spectrum: ``xi`` or its mirror."""
    return torch.minimum(index, (m - index) % m)


@functools.lru_cache(maxsize=64)
def _harmonic_vectors(m: int, top: int, half: bool, dtype: torch.dtype,
                      device: torch.device) -> torch.Tensor:
    """``(top - 1, m)``: :func:`_harmonic_bins` as one row of counts per period (a bin that
    two harmonics share counts twice); with ``half`` ``(top - 1, m // 2 + 1)``, each bin
    counted in the column of the half spectrum that holds it or its mirror. Shared: never
    written."""
    index, owner = _harmonic_bins(m, top)
    if half:
        index = _folded(index, m)
    u = torch.zeros(top - 1, m // 2 + 1 if half else m, dtype=torch.float64)
    u.index_put_((owner, index), torch.ones(len(index), dtype=torch.float64), accumulate=True)
    return u.to(dtype=dtype, device=device)


@functools.lru_cache(maxsize=8)
def _harmonic_matrix(m: int, top: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """:func:`_harmonic_vectors` with ``half`` as a sparse CSR matrix, for 1-D signals (the
    dense one would not fit). Built from the harmonics ``k <= s / 2`` (``s - k`` is the
    mirror of ``k``: they count twice, but ``k = 0`` and ``k = s / 2``, their own mirrors,
    once). Shared: never written."""
    h = m // 2 + 1
    period = torch.arange(2, top + 1, dtype=torch.long)
    per = period // 2 + 1
    owner = torch.repeat_interleave(period - 2, per)               # rows, in order
    k = torch.arange(len(owner), dtype=torch.long) - (torch.cumsum(per, 0) - per)[owner]
    s = period[owner]
    value = torch.where((k == 0) | (2 * k == s), 1.0, 2.0).to(torch.float64)
    position = k.to(torch.float64) * m / s.to(torch.float64)       # as _harmonic_bins
    low = torch.floor(position + 1e-9)
    keep = torch.stack([torch.ones_like(low, dtype=torch.bool),
                        (position - low).abs() >= 1e-9], 1)       # both neighbours between
    low = low.long()
    cols = _folded(torch.stack([low, low + 1], 1)[keep] % m, m)
    rows = torch.stack([owner, owner], 1)[keep]
    # Within a row the columns rise, but for the two neighbours of the middle, which fold
    # onto one column: merged, so each (row, column) is stored once.
    key, inverse = torch.unique_consecutive(rows * h + cols, return_inverse=True)
    values = torch.zeros(len(key), dtype=torch.float64).index_add_(
        0, inverse, torch.stack([value, value], 1)[keep])
    crow = torch.zeros(top, dtype=torch.long)
    crow[1:] = torch.cumsum(torch.bincount(key // h, minlength=top - 1), 0)
    with warnings.catch_warnings():  # "sparse CSR support is in beta": used as documented
        warnings.simplefilter("ignore", UserWarning)
        matrix = torch.sparse_csr_tensor(crow, key % h, values.to(dtype), (top - 1, h))
        return matrix.to(device)


def find_periods(
    x: torch.Tensor, spatial_dims: int | None = None, *, count: int = 3,
    skip: tuple[int, ...] = (), cache: dict | None = None,
) -> list[list[int]]:
    """The periods worth measuring in each item, best first (see the module doc).

    At most ``count`` periods per item whose harmonic z-score (:func:`search_periods`)
    exceeds :data:`CANDIDATE_Z`, leaving out those in ``skip`` (periods measured anyway).
    ``cache`` as in :func:`search_periods`.

    >>> import torch
    >>> g = torch.Generator().manual_seed(1)    # seeded: about 1 noise item in 13 has a candidate
    >>> find_periods(torch.rand(2, 1, 64, 64, generator=g), count=2)   # (measured, not flagged)
    [[], []]
    """
    if isinstance(count, bool) or not isinstance(count, int):
        raise InvalidTypeError(f"count must be an int >= 1, got {count!r}")
    if count < 1:
        raise InvalidArgumentError(f"count must be an int >= 1, got {count}")
    periods, z = search_periods(x, spatial_dims, exclude=tuple(skip), cache=cache)
    found = []
    for row in z.tolist():
        ranked = sorted((-v, s) for s, v in zip(periods, row) if v > CANDIDATE_Z and s not in skip)
        found.append([s for _, s in ranked[:count]])
    return found


def leak_floor(bins: PeriodicBins, s: int, coords: torch.Tensor) -> torch.Tensor:
    """Mean power of the ``3**d - 1`` bins next to each lattice bin, ``(N, K)``.

    On a crop that is a multiple of ``s`` a period-``s`` pattern puts all its energy on its
    lattice bins and none next to them; a periodicity of the content near, not at, a lattice
    frequency (the harmonics of a text page's line pitch, tilted or curved lines) spreads
    over its neighbours. A found period's significance takes this as the floor where it
    exceeds the floor of :func:`~checkerfree.score.lattice.lattice_excess` (see
    ``docs/score.md``): only a peak sharp to the bin counts. ``coords`` ``(K, d)`` are the
    lattice coordinates of :func:`~checkerfree.score.lattice.lattice_coords`; ``bins``
    the :func:`~checkerfree.score.lattice.period_bins` of period ``s``. Never a lattice bin:
    the lattice spacing is at least 4 bins (four periods fit).

    >>> import torch
    >>> from checkerfree.score.lattice import lattice_coords, period_bins
    >>> i = torch.arange(64.0)
    >>> x = 100 + 2 * (-1.0) ** (i // 3)[None, None]          # period 6, exact: no leak
    >>> k = lattice_coords(6, (6,), 1)
    >>> float(leak_floor(period_bins(x, 6, 1), 6, k).max()) < 1e-9
    True
    >>> y = 100 + 2 * torch.cos(2 * torch.pi * i / 6.2)[None, None]   # near 6: it leaks
    >>> float(leak_floor(period_bins(y, 6, 1), 6, k).max()) > 0.01
    True
    """
    n = bins.n
    d = len(n)
    offsets = torch.tensor([o for o in itertools.product((-1, 0, 1), repeat=d) if any(o)],
                           dtype=torch.long, device=coords.device)
    lattice = coords * torch.tensor([m // s for m in n], device=coords.device)
    values = bins.gather(lattice[:, None, :] + offsets[None])
    return (values.real**2 + values.imag**2).mean(1).mean(-1)


def lattice_lines(coords: torch.Tensor, s: int) -> torch.Tensor:
    """Which line through the zero frequency each lattice bin lies on, ``(K,)`` ids.

    Bin ``k`` (coordinates taken in ``(-s/2, s/2]``) is the frequency ``k / s``; the
    harmonics ``c k / s`` of one frequency lie on one line, the direction ``k / gcd(k)`` up
    to sign. A structure that varies along one direction only (lines of text, ruled paper,
    one set of stripes) puts its energy on one line; a lattice of period ``s`` in two or
    three dimensions (a checkerboard, a patch grid, an upsampler's sub-kernels) on several.

    >>> import torch
    >>> ids = lattice_lines(torch.tensor([[1, 0], [2, 0], [0, 1], [1, 1], [5, 5]]), 6).tolist()
    >>> ids[0] == ids[1], ids[3] == ids[4], len(set(ids))
    (True, True, 3)
    """
    signed = torch.where(coords > s // 2, coords - s, coords)
    g = signed[:, 0].abs()
    for a in range(1, signed.shape[1]):
        g = torch.gcd(g, signed[:, a])
    direction = signed // g.clamp_min(1)[:, None]
    # One sign per line: the first non-zero coordinate positive.
    first = direction.gather(1, (direction != 0).long().argmax(1, keepdim=True))
    direction = direction * torch.where(first < 0, -1, 1)
    return torch.unique(direction, dim=0, return_inverse=True)[1]


def found_significance(power: torch.Tensor, floor: torch.Tensor, near: torch.Tensor,
                       lines: torch.Tensor) -> torch.Tensor:
    """The significance ``(N,)`` a found period flags with (see ``docs/score.md``).

    ``power``, ``floor`` ``(N, K)``: the lattice bins' power and floor
    (:func:`~checkerfree.score.lattice.lattice_excess`), ``near`` their
    :func:`leak_floor`, ``lines`` their :func:`lattice_lines`. Each bin's floor is raised
    to ``max(F_b, near_b)`` (only a peak sharp to the bin counts), and the line through zero
    that holds the most excess is left out: what remains must be significant on its own, as
    the score's significance (the larger of the plain and the whitened z). A one-directional
    structure (lines of text) is then no lattice; a 2-D or 3-D lattice keeps its other
    lines. In 1-D every bin is on the one line, and none is left out.

    >>> import torch
    >>> lines = torch.tensor([0, 0, 1, 1])
    >>> floor = torch.ones(1, 4)
    >>> one_line = torch.tensor([[50.0, 50.0, 1.0, 1.0]])
    >>> round(float(found_significance(one_line, floor, floor, lines)), 3)
    0.0
    >>> bool(found_significance(torch.full((1, 4), 50.0), floor, floor, lines) > 20)
    True
    >>> bool(found_significance(one_line, floor, floor, torch.zeros(4, dtype=torch.long)) > 20)
    True
    """
    raised = torch.maximum(floor, near)
    excess = power - raised
    groups = int(lines.max()) + 1 if lines.numel() else 0
    per_line = torch.zeros(excess.shape[0], groups, dtype=excess.dtype, device=excess.device)
    per_line.index_add_(1, lines, excess)
    best = per_line.argmax(-1)
    keep = (lines[None, :] != best[:, None]).to(excess.dtype)
    if groups < 2:
        keep = torch.ones_like(keep)
    tiny = torch.finfo(raised.dtype).tiny
    count = keep.sum(-1)
    plain = (excess * keep).sum(-1) / torch.sqrt(2 * (keep * raised**2).sum(-1)).clamp_min(tiny)
    whitened = (keep * excess / raised.clamp_min(tiny)).sum(-1) / torch.sqrt(2 * count).clamp_min(1)
    z = torch.maximum(plain, whitened)
    return torch.where(count > 0, z, torch.zeros_like(z))
