"""Period discovery for ``periods="auto"``: which lattice periods are worth measuring exactly.

Measuring every period from 2 to a quarter of the shortest axis with the cropped lattice
method (:mod:`checkerfree.score.lattice`) would take one ``rfftn`` and ``s**d`` bins per
period. The search instead reads one spectrum of the whole signal per item:

1. ``P``: the power of the DFT of the periodic component (Moisan, no crop), averaged over
   channels;
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
    target = math.log(_tail(base) * family / searched)
    low, high = float(base), float(base) + 20.0
    for _ in range(100):  # bisection on log Q, which falls monotonically
        mid = (low + high) / 2
        if math.log(_tail(mid)) > target:
            low = mid
        else:
            high = mid
    return high


def _tail(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2))


def _whitened(xb: torch.Tensor, d: int) -> torch.Tensor:
    """``R = P / F - 1`` per item ``(N, *n)`` (see the module doc), float64."""
    power = _search_power(xb, d)
    floor = torch.empty_like(power)
    for pattern in range(1, 1 << d):
        free = [bool(pattern >> a & 1) for a in range(d)]
        # The bins whose zero coordinates are exactly the non-free axes.
        index = tuple(slice(1, None) if f else 0 for f in free)
        part = power[(slice(None),) + tuple(slice(None) if f else 0 for f in free)]
        mean, count = _box_mean(part, sum(free), _RADIUS[sum(free)])
        # E[1 / F] = M / (M - 1) / E[P] for the mean F of M exponential powers (Jensen): the
        # ratio is rescaled to mean 1 on noise, or the sum over the (2 s)^d bins of a long
        # period would drift by sqrt((2 s)^d) / M standard deviations (6 for s = 125).
        floor[(slice(None),) + index] = mean[
            (slice(None),) + tuple(slice(1, None) for _ in range(sum(free)))] * (
                count / max(count - 1, 1))
    tiny = torch.finfo(floor.dtype).tiny
    white = power / floor.clamp_min(tiny) - 1
    white.reshape(white.shape[0], -1)[:, 0] = 0  # the mean is no harmonic
    return white


def _search_power(xb: torch.Tensor, d: int) -> torch.Tensor:
    """Power of the periodic component's DFT (Moisan), channels averaged, ``(N, *n)`` float64.

    As :func:`~checkerfree.score.lattice.periodic_spectrum` (``block = 1``), up to a constant
    factor (``R`` is a ratio, so the scale does not matter) and float32 rounding, at a fifth
    of its cost: each item is centred and scaled to unit peak (float32 cannot overflow), two
    real half-spectrum FFTs (the signal and its border image ``v``, whose spectrum is
    ``V``), ``P = |U - V / sum_a (2 cos(2 pi xi_a / n_a) - 2)|^2`` on the half spectrum, the
    other half by the symmetry ``P(-xi) = P(xi)`` of a real signal's power.

    >>> import torch
    >>> from checkerfree.score.lattice import periodic_spectrum
    >>> x = torch.rand(2, 3, 12, 9, dtype=torch.float64) * 255
    >>> full = periodic_spectrum(x, 2).abs().pow(2).mean(1)
    >>> fast = _search_power(x, 2)
    >>> ratio = fast / full
    >>> bool(torch.allclose(ratio[:, 1:], ratio[:, 1:2, :1].expand_as(ratio[:, 1:]), rtol=1e-4))
    True
    """
    x = xb.detach().to(torch.float32)
    axes = tuple(range(2, 2 + d))
    x = x - x.mean(axes, keepdim=True)
    peak = x.abs().amax(tuple(range(1, x.ndim)), keepdim=True)
    x = x / torch.where(peak > 0, peak, torch.ones_like(peak))
    n = tuple(x.shape[2:])
    border = torch.zeros_like(x)
    for axis in axes:
        m = x.shape[axis]
        jump = x.narrow(axis, m - 1, 1) - x.narrow(axis, 0, 1)
        border.narrow(axis, 0, 1).add_(jump)
        border.narrow(axis, m - 1, 1).sub_(jump)
    spectrum = torch.fft.rfftn(x, dim=axes)
    v = torch.fft.rfftn(border, dim=axes)
    denominator = torch.zeros(spectrum.shape[2:], dtype=torch.float32, device=x.device)
    for a, m in enumerate(n):
        size = spectrum.shape[2 + a]
        angle = 2 * math.pi * torch.arange(size, dtype=torch.float64, device=x.device).float() / m
        shape = [1] * d
        shape[a] = size
        denominator = denominator + (2 * torch.cos(angle) - 2).reshape(shape)
    inverse = torch.where(denominator == 0, torch.zeros_like(denominator),
                          1 / torch.where(denominator == 0, torch.ones_like(denominator),
                                          denominator))
    periodic = spectrum - v * inverse
    half = (periodic.real**2 + periodic.imag**2).mean(1).to(torch.float64)
    # The bins past the half: P(xi) = P(-xi), xi_last from n//2 + 1 up to n - 1.
    last = n[-1]
    others = tuple(range(1, d))
    negated = torch.roll(torch.flip(half, others), (1,) * len(others), others) if others else half
    tail = torch.flip(negated[..., 1 : last - last // 2], (-1,))
    return torch.cat([half, tail], -1)


def _box_mean(power: torch.Tensor, k: int, radius: int) -> tuple[torch.Tensor, int]:
    """Mean over a circular box of half-size ``radius`` on the last ``k`` axes, the block of
    half-size :data:`_GAP` around the centre left out (radius capped at a third of an axis),
    and the number of bins it averages."""
    out_sum = power
    in_sum = power
    count_out = count_in = 1
    for a in range(power.ndim - k, power.ndim):
        m = power.shape[a]
        r = max(_GAP + 1, min(radius, (m - 1) // 3))
        out_sum = _window_sum(out_sum, a, r)
        in_sum = _window_sum(in_sum, a, _GAP)
        count_out *= 2 * r + 1
        count_in *= 2 * _GAP + 1
    return (out_sum - in_sum) / (count_out - count_in), count_out - count_in


def _window_sum(x: torch.Tensor, axis: int, r: int) -> torch.Tensor:
    """Circular running sum of ``2 r + 1`` values along ``axis`` (a cumulative sum): entry
    ``i`` sums ``x[i - r .. i + r]`` (indices wrapped).

    >>> import torch
    >>> _window_sum(torch.arange(10.0)[None], 1, 1)[0, :3].tolist()   # 9+0+1, 0+1+2, 1+2+3
    [10.0, 3.0, 6.0]
    """
    m = x.shape[axis]
    if 2 * r + 1 >= m:  # the whole axis, then wrap the excess: sum each offset instead
        return sum(torch.roll(x, o, axis) for o in range(-r, r + 1))
    padded = torch.cat([x.narrow(axis, m - r, r), x, x.narrow(axis, 0, r)], axis)
    c = padded.cumsum(axis)
    # sum padded[i .. i + 2r] = c[i + 2r] - c[i - 1] (c[-1] = 0)
    return c.narrow(axis, 2 * r, m) - torch.cat(
        [torch.zeros_like(c.narrow(axis, 0, 1)), c.narrow(axis, 0, m - 1)], axis)


def search_periods(x: torch.Tensor, spatial_dims: int | None = None,
                   exclude: tuple[int, ...] = ()) -> tuple[list[int], torch.Tensor]:
    """Harmonic z-score of every period ``2 .. max_search_period`` for each item.

    Returns ``(periods, z)``: the searched periods and ``z`` ``(N, len(periods))`` float64
    (the module doc). Layout as :func:`~checkerfree.score.checkerboard.checkerboard_score`.
    The bins on the lattices of the ``exclude`` periods (measured anyway) count for no
    period.

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
        return periods, torch.zeros(xb.shape[0], 0, dtype=torch.float64, device=xb.device)
    white = _whitened(xb, d).clamp_max(R_CAP)
    if d == 1:
        # A signal's axis is long (480000 samples in 10 s of audio): a dense (periods, m)
        # matrix would take gigabytes, while the harmonics of all periods are ~top^2 bins.
        index, owner = _harmonic_bins(n[0], top)
        total = torch.zeros(white.shape[0], len(periods), dtype=white.dtype, device=white.device)
        total.index_add_(1, owner.to(white.device), white[:, index.to(white.device)])
        sizes = torch.bincount(owner, minlength=len(periods)).to(torch.float64)
        return periods, _excluded_z(total, sizes.to(total.device), periods, exclude)
    # The chosen bins are a product of one set per axis, so their sum is separable:
    # sum_{i in A_0, j in A_1} R[i, j] = u_0' R u_1, for every period at once (R = 0 at the
    # zero bin, the one product that is no harmonic).
    vectors, sizes = [], torch.ones(len(periods), dtype=torch.float64)
    for m in n:
        u = _harmonic_vectors(m, top)
        sizes = sizes * u.sum(-1)
        vectors.append(u.to(white.device))
    total = white
    for a, u in enumerate(vectors):
        # Contract spatial axis a (now at position 1 + a of total, after N and the periods
        # already contracted) with u; the periods axis is carried along.
        if a == 0:
            total = torch.einsum("pm,nm...->np...", u, total)
        else:
            total = torch.einsum("pm,npm...->np...", u, total)
    return periods, _excluded_z(total, sizes.to(total.device), periods, exclude)


def _excluded_z(total: torch.Tensor, sizes: torch.Tensor, periods: list[int],
                exclude: tuple[int, ...]) -> torch.Tensor:
    """z-scores over each period's harmonics off the lattices of the ``exclude`` periods.

    The lattice of ``s`` holds that of ``g = gcd(s, e)``: without this a strong period-8
    pattern (measured anyway) would lift 16, 24 and 32 into the candidates' places. The
    union of the lattices ``g_i`` is taken out by inclusion-exclusion (two lattices meet
    in the lattice of the gcd); ``g = 1`` is the zero bin (``R = 0``, one bin).
    """
    row = {p: i for i, p in enumerate(periods)}
    new, count = total.clone(), sizes.clone()
    for i, s in enumerate(periods):
        parts = sorted({math.gcd(s, e) for e in exclude if math.gcd(s, e) >= 2})
        for size in range(1, len(parts) + 1):
            for subset in itertools.combinations(parts, size):
                g = math.gcd(*subset)
                sign = 1.0 if size % 2 else -1.0
                if g >= 2:
                    new[:, i] -= sign * total[:, row[g]]
                    count[i] -= sign * sizes[row[g]]
                else:  # the zero bin alone
                    count[i] -= sign
    return new / torch.sqrt((count - 1).clamp_min(1))


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


@functools.lru_cache(maxsize=64)
def _harmonic_vectors(m: int, top: int) -> torch.Tensor:
    """``(top - 1, m)``: :func:`_harmonic_bins` as one row of counts per period (a bin that
    two harmonics share counts twice). Shared: never written."""
    index, owner = _harmonic_bins(m, top)
    u = torch.zeros(top - 1, m, dtype=torch.float64)
    u.index_put_((owner, index), torch.ones(len(index), dtype=torch.float64), accumulate=True)
    return u


def find_periods(
    x: torch.Tensor, spatial_dims: int | None = None, *, count: int = 3,
    skip: tuple[int, ...] = (),
) -> list[list[int]]:
    """The periods worth measuring in each item, best first (see the module doc).

    At most ``count`` periods per item whose harmonic z-score (:func:`search_periods`)
    exceeds :data:`CANDIDATE_Z`, leaving out those in ``skip`` (periods measured anyway).

    >>> import torch
    >>> g = torch.Generator().manual_seed(1)    # seeded: about 1 noise item in 13 has a candidate
    >>> find_periods(torch.rand(2, 1, 64, 64, generator=g), count=2)   # (measured, not flagged)
    [[], []]
    """
    if isinstance(count, bool) or not isinstance(count, int):
        raise InvalidTypeError(f"count must be an int >= 1, got {count!r}")
    if count < 1:
        raise InvalidArgumentError(f"count must be an int >= 1, got {count}")
    periods, z = search_periods(x, spatial_dims, exclude=tuple(skip))
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
