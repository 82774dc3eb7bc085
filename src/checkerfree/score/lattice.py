"""The period-s lattice of a DFT, and the spectrum of an image's periodic component.

A pattern that repeats every ``s`` samples along each axis of a signal of length ``n``
(``n`` a multiple of ``s``) has its energy only at the DFT bins ``k * n / s``,
``k = 0 .. s-1`` per axis: the *period-s lattice*. Its non-zero bins (``s**d - 1`` of them)
hold the pattern's AC part exactly, by Parseval.

Before transforming, the image is split into a periodic and a smooth component (Moisan,
"Periodic plus smooth image decomposition", J. Math. Imaging Vis. 39, 2011): the smooth part
carries the jumps across the borders that a DFT would otherwise see as a bright cross along
the frequency axes, right on top of the stripe lattice bins ``(k n/s, 0)``. A pattern that is
periodic on the crop has no border jumps, so it stays whole in the periodic component.

>>> import torch
>>> lattice_coords(2, (2,), 2).tolist()
[[0, 1], [1, 0], [1, 1]]
"""

from __future__ import annotations

import itertools
import math
from collections import OrderedDict
from collections.abc import Iterable

import torch

from checkerfree.errors import InvalidArgumentError, InvalidTypeError, LimitError, ShapeError

__all__ = [
    "lattice_coords",
    "periodic_spectrum",
    "crop_to_period",
    "period_spectrum",
    "PeriodicBins",
    "period_bins",
    "lattice_excess",
    "check_lattice_size",
    "MAX_LATTICE_BINS",
]

#: Most lattice bins one period may have (``s**d``): periods up to 1024 for images, 101 for
#: volumes. Beyond it the bin list alone (built in Python) takes seconds and its floor
#: neighbourhoods gigabytes, so it is refused with a LimitError before any work.
MAX_LATTICE_BINS = 1 << 20

# Half-size, in bins, of the floor neighbourhood by the number of axes it spans.
_RADIUS = {1: 16, 2: 3, 3: 2}


def _check_geometry(s, d, x: torch.Tensor | None = None, low: int = 2,
                    name: str = "the period s") -> None:
    """Typed errors for a period ``s`` (an int ``>= low``), ``d`` spatial axes (1 to 3) and,
    when given, a tensor ``x`` with at least ``d`` axes, each at least ``s`` long.

    These functions are the score's building blocks; the score checks its own arguments
    (:mod:`checkerfree.score.layout`), and this keeps a direct call from failing deep in torch.
    """
    if isinstance(d, bool) or not isinstance(d, int):
        raise InvalidTypeError(f"d (the number of spatial axes) must be 1, 2 or 3, got {d!r}")
    if d not in (1, 2, 3):
        raise InvalidArgumentError(f"d (the number of spatial axes) must be 1, 2 or 3, got {d}")
    if isinstance(s, bool) or not isinstance(s, int):
        raise InvalidTypeError(f"{name} must be an int >= {low}, got {s!r}")
    if s < low:
        raise InvalidArgumentError(f"{name} must be an int >= {low}, got {s}")
    if x is None:
        return
    if not isinstance(x, torch.Tensor):
        raise InvalidTypeError(f"expected a torch.Tensor, got {type(x).__name__}")
    if x.ndim < d or min(x.shape[-d:]) < s:
        raise ShapeError(
            f"expected a tensor whose last {d} axes are at least {name}={s} long, "
            f"got shape {tuple(x.shape)}"
        )


def check_lattice_size(s: int, d: int) -> None:
    """Raise :class:`~checkerfree.errors.LimitError` when period ``s`` in ``d`` axes has more
    than :data:`MAX_LATTICE_BINS` lattice bins.

    >>> check_lattice_size(2048, 2)
    Traceback (most recent call last):
    ...
    checkerfree.errors.LimitError: period 2048 has 2048**2 = 4194304 lattice bins in 2-D; the limit is 1048576 (MAX_LATTICE_BINS), so periods up to 1024
    """
    if s**d > MAX_LATTICE_BINS:
        largest = math.floor(MAX_LATTICE_BINS ** (1 / d) + 1e-9)
        raise LimitError(
            f"period {s} has {s}**{d} = {s**d} lattice bins in {d}-D; the limit is "
            f"{MAX_LATTICE_BINS} (MAX_LATTICE_BINS), so periods up to {largest}"
        )


def crop_to_period(x: torch.Tensor, s: int, d: int) -> torch.Tensor:
    """Crop the last ``d`` axes of ``x`` to the largest multiple of ``s`` (top-left corner kept).

    Cropping keeps the lattice exact: on a multiple of ``s`` every lattice frequency is a DFT
    bin, so a periodic pattern leaks nowhere (windowing and interpolating would smear it).

    >>> import torch
    >>> crop_to_period(torch.zeros(1, 1, 9, 10), 4, 2).shape
    torch.Size([1, 1, 8, 8])
    """
    _check_geometry(s, d, x, low=1)
    index = (Ellipsis,) + tuple(slice(0, n - n % s) for n in x.shape[-d:])
    return x[index]


def lattice_coords(s: int, periods: tuple[int, ...], d: int) -> torch.Tensor:
    """Lattice coordinates ``k`` (bins ``k * n / s``) that belong to period ``s`` alone.

    The zero bin is left out, and so are bins already on the lattice of a smaller period
    ``p`` of ``periods`` that divides ``s`` (``k`` a multiple of ``s / p`` on every axis): each
    bin is counted for one period only, so the per-period values are orthogonal parts of the
    signal and their squares add up.

    >>> lattice_coords(4, (2, 4), 1).tolist()
    [[1], [3]]
    """
    _check_geometry(s, d)
    check_lattice_size(s, d)
    try:
        periods = tuple(periods)
    except TypeError:
        raise InvalidTypeError(f"periods must be a sequence of ints, got {periods!r}") from None
    if not all(isinstance(p, int) and not isinstance(p, bool) and p >= 1 for p in periods):
        raise InvalidArgumentError(f"periods must be positive ints, got {periods!r}")
    divisors = [p for p in periods if p < s and s % p == 0]
    keep = []
    for k in itertools.product(range(s), repeat=d):
        if not any(k):
            continue
        if any(all(c % (s // p) == 0 for c in k) for p in divisors):
            continue
        keep.append(k)
    return torch.tensor(keep, dtype=torch.long).reshape(-1, d)


def periodic_spectrum(x: torch.Tensor, d: int, block: int = 1) -> torch.Tensor:
    """DFT over the last ``d`` axes of the periodic component of ``x`` (Moisan 2011).

    With ``b_a`` the border jump of axis ``a``, the smooth
    component has spectrum ``S = V / sum_a (2 cos(2 pi xi_a / n_a) - 2)`` (``S(0) = 0``) where
    ``V = sum_a DFT(b_a) (1 - exp(2 pi i xi_a / n_a))`` is the DFT of the border image;
    the periodic component is ``U - S``. Differentiable, batched over leading axes.

    Moisan takes ``b_a = u[last] - u[first]``; a period-2 pattern has a jump there too, and a
    share of it would go to the smooth part. With ``block = s`` the jump is the mean
    difference between the last and the first ``s`` samples, which is zero for any pattern of
    period ``s`` on a crop that is a multiple of ``s``; rescaled by ``(n - 1) / (n - s)`` it is
    still the border jump of smooth content (``block = 1`` is Moisan's original).

    >>> import torch
    >>> ramp = torch.arange(32.0).repeat(32, 1)     # a ramp: a big jump at the border
    >>> cross = lambda spectrum: spectrum[0, 1:].abs().sum()
    >>> bool(cross(periodic_spectrum(ramp, 2)) < cross(torch.fft.fft2(ramp)) / 10)
    True
    """
    _check_geometry(block, d, x, low=1, name="block")
    if not x.is_floating_point():
        raise InvalidTypeError(f"expected a real floating tensor, got dtype {x.dtype}")
    axes = tuple(range(x.ndim - d, x.ndim))
    spectrum = torch.fft.fftn(x, dim=axes)
    border = torch.zeros_like(spectrum)
    denominator = torch.zeros(x.shape[-d:], dtype=x.dtype, device=x.device)
    for i, axis in enumerate(axes):
        n = x.shape[axis]
        # Blocks n - block apart; rescaled to the n - 1 of Moisan's jump (exact for ramps).
        jump = (x.narrow(axis, n - block, block) - x.narrow(axis, 0, block)).mean(
            axis, keepdim=True
        ) * ((n - 1) / (n - block) if n > block else 0.0)
        others = tuple(a for a in axes if a != axis)
        jump_hat = torch.fft.fftn(jump, dim=others) if others else jump.to(spectrum.dtype)
        xi = torch.arange(n, device=x.device, dtype=x.dtype)
        angle = 2 * math.pi * xi / n
        factor = torch.complex(1 - torch.cos(angle), -torch.sin(angle))
        shape = [1] * x.ndim
        shape[axis] = n
        border = border + jump_hat * factor.reshape(shape)
        denominator = denominator + (2 * torch.cos(angle) - 2).reshape(shape[-d:])
    # S(0) = 0: the mean belongs to the periodic part; avoid 0/0 without a data-dependent branch.
    zero = denominator == 0
    smooth = border / torch.where(zero, torch.ones_like(denominator), denominator)
    smooth = torch.where(zero, torch.zeros_like(smooth), smooth)
    return spectrum - smooth


def period_spectrum(x: torch.Tensor, s: int, d: int) -> torch.Tensor:
    """Normalised DFT of the periodic component of ``x`` cropped to a multiple of ``s``.

    Divided by the number of samples, so ``a exp(2 pi i f . y)`` has coefficient ``a`` at
    ``f`` and ``sum |X|^2`` over all bins is the mean square (Parseval).

    >>> import torch
    >>> i = torch.arange(10.0)
    >>> spec = period_spectrum((-1.0) ** i[None, None], 2, 1)
    >>> round(spec[0, 0, 5].real.item(), 6)
    1.0
    """
    _check_geometry(s, d, x)
    crop = crop_to_period(x, s, d)
    return periodic_spectrum(crop, d, block=s) / math.prod(crop.shape[-d:])


class PeriodicBins:
    """Bins of :func:`period_spectrum`, evaluated only where they are asked for.

    Holds the crop and the one-dimensional DFTs of its border jumps; :meth:`gather` returns
    the periodic component's normalised DFT at any integer bin coordinates,
    ``period_spectrum(x, s, d)[..., k]`` up to rounding, without ever building a full-size
    complex tensor per period: the smooth component's spectrum
    ``S = V / sum_a (2 cos(2 pi xi_a / n_a) - 2)`` is evaluated at the requested bins from the
    jumps' DFTs; the plain spectrum comes from the folded bins (``fold``, 2-D: the lattice of
    period ``fold`` and its floor neighbourhoods, :func:`_folded_table`) where they hold
    every bin asked for, else from the real-input half spectrum (``rfftn``, made when first
    needed; the other half by conjugate symmetry). Periods whose crops coincide share both
    through :func:`period_bins`' ``cache``. Differentiable.

    >>> import torch
    >>> x = torch.rand(2, 3, 12, 10, dtype=torch.float64)
    >>> full = period_spectrum(x, 4, 2)
    >>> k = torch.tensor([[0, 0], [3, 7], [11, 9], [-1, 4]])
    >>> part = period_bins(x, 4, 2).gather(k)
    >>> bool(torch.allclose(part, full[..., k[:, 0] % 12, k[:, 1] % 8]))
    True
    """

    def __init__(self, crop: torch.Tensor, d: int, block: int, fold: int | None = None):
        self.d = d
        self.n = tuple(crop.shape[-d:])
        # Integers (8-bit images) are converted where they are read (as_batch's float32).
        self.real_dtype = crop.dtype if crop.is_floating_point() else torch.float32
        self.device = crop.device
        self._crop = crop
        self._half: torch.Tensor | None = None
        self._table: torch.Tensor | None = None
        self._shared: dict | None = None
        # Folded bins (_folded_table): computed on the first gather that they cover.
        self._fold = fold if fold is not None and _folds(self.n, fold) else None
        self._folded: torch.Tensor | None = None
        complex_dtype = torch.promote_types(self.real_dtype, torch.complex64)
        axes = tuple(range(crop.ndim - d, crop.ndim))
        self.jumps = []
        for axis in axes:
            n = crop.shape[axis]
            last, first = (crop.narrow(axis, start, block).to(self.real_dtype)
                           for start in (n - block, 0))
            jump = (last - first).mean(axis, keepdim=True) * (
                (n - 1) / (n - block) if n > block else 0.0)
            others = tuple(a for a in axes if a != axis)
            jump_hat = torch.fft.fftn(jump, dim=others) if others else jump.to(complex_dtype)
            self.jumps.append(jump_hat.reshape(*crop.shape[:-d], -1))

    @property
    def half(self) -> torch.Tensor:
        """The real-input half spectrum (``rfftn``) of the crop, computed when first asked
        for (a gather that the folded bins cover needs none), shared through ``cache``."""
        if self._half is None:
            shared = self._shared.get(("half", self.n)) if self._shared is not None else None
            if shared is None:
                axes = tuple(range(self._crop.ndim - self.d, self._crop.ndim))
                shared = torch.fft.rfftn(self._crop.to(self.real_dtype), dim=axes)
                if self._shared is not None:
                    self._shared[("half", self.n)] = shared
            self._half = shared
        return self._half

    def table(self) -> torch.Tensor:
        """``(N, C, 2 L)``: the flattened half spectrum, then its conjugate (see :meth:`plan`).

        Built once and shared by the periods whose crops coincide (see :func:`period_bins`).
        """
        if self._table is None:
            tables = self._shared.setdefault("tables", {}) if self._shared is not None else {}
            table = tables.get(id(self.half))
            if table is None or table[0] is not self.half:
                flat = self.half.reshape(*self.half.shape[: -self.d], -1)
                table = (self.half, torch.cat([flat, flat.conj()], -1))
                tables[id(self.half)] = table
            self._table = table[1]
        return self._table

    def plan(self, coords: torch.Tensor, scale: torch.Tensor | float = 1.0):
        """Data-independent indices and weights for :meth:`apply` on a grid of bins.

        ``coords`` ``(K, *M, d)``: ``K`` grids, each a centre plus offsets that vary along one
        axis of ``M`` per spatial axis (``coords[k, i, j] = centre_k + (nu_i, nu_j)``), so a
        border jump's DFT, a function of the other axes only, is read on ``(K, M_b)`` and
        broadcast. ``scale`` (broadcast to ``(K, *M)``, complex or real) multiplies the
        result: folding a window's gain in costs nothing. Depends on the shape of the
        spectrum only, not on its values: cache it for repeated calls.
        """
        d = self.d
        k, m = coords.shape[0], tuple(coords.shape[1:-1])
        flat, flip, _, factors, inverse = _bin_geometry(coords, self.n, self.real_dtype)
        half_size = math.prod(self.half.shape[-d:])
        index = (flat + flip.long() * half_size).reshape(k, *m)
        complex_dtype = self.half.dtype
        scale = torch.as_tensor(scale, device=index.device).expand(k, *m)
        scale = (scale / math.prod(self.n)).to(complex_dtype)
        terms = []
        for a in range(d):
            # The jump of axis a depends on the other axes' coordinates: read it on the
            # grid's first row along axis a, broadcast along a.
            edge = coords.narrow(1 + a, 0, 1)
            j = torch.zeros(edge.shape[:-1], dtype=torch.long, device=index.device)
            for b, nb in enumerate(self.n):
                if b != a:
                    j = j * nb + edge[..., b] % nb
            w = -(factors[a] * inverse).reshape(k, *m).to(complex_dtype) * scale
            terms.append((j, w))
        return index, scale, terms

    def apply(self, plan) -> torch.Tensor:
        """Values ``(N, C, K, *M)`` of a :meth:`plan`."""
        index, weight, terms = plan
        values = self.table()[..., index] * weight
        for jump, (j, w) in zip(self.jumps, terms):
            values = values + jump[..., j] * w
        return values

    def _folded_bins(self) -> torch.Tensor:
        """The crop's plain DFT at the bins :func:`_folded_index` maps to (shared by the
        periods of one crop through ``cache``)."""
        if self._folded is None:
            key = ("folded", self.n, self._fold)
            shared = self._shared.get(key) if self._shared is not None else None
            if shared is None:
                shared = _folded_table(self._crop, self._fold)
                if self._shared is not None:
                    self._shared[key] = shared
            self._folded = shared
        return self._folded

    def gather(self, coords: torch.Tensor) -> torch.Tensor:
        """Normalised periodic spectrum at integer bins ``coords`` ``(..., d)`` (wrapped).

        Returns ``(N, C, ...)`` complex: ``coords``' leading shape after the batch and channels.
        """
        geometry = _bin_geometry(coords, self.n, self.real_dtype)
        flat, flip, jump_index, factors, inverse = geometry
        lead = self._crop.shape[:-self.d]
        index = None if self._fold is None else _folded_index(coords, self.n, self._fold)
        # index_select, not [..., index]: on the last axis several times faster.
        if index is not None:
            plain = self._folded_bins().index_select(-1, index)
        else:
            plain = self.half.reshape(*lead, -1).index_select(-1, flat)
            plain = torch.where(flip, plain.conj(), plain)
        border = None
        for jump, index, factor in zip(self.jumps, jump_index, factors):
            term = jump.index_select(-1, index) * factor
            border = term if border is None else border + term
        values = plain - border * inverse
        return values.reshape(*lead, *coords.shape[:-1]) / math.prod(self.n)


#: Offsets kept per axis around each multiple of ``n / fold`` by :func:`_folded_table`: the
#: widest 2-D box floor (:data:`_RADIUS`), so every lattice bin and box neighbour is there.
_FOLD_RADIUS = 3


def _folds(n: tuple[int, ...], fold: int) -> bool:
    """Whether :func:`_folded_table` covers ``n`` with ``fold`` and beats a full ``rfftn``:
    2-D, each side a multiple of ``fold``, the ``fold * (2 r + 1)`` bins kept per axis at
    most a quarter of it (its first contraction costs ``2 r + 1 = 7`` multiply-adds per
    sample, an ``rfftn`` about ``2.5 log2(H W)`` flops: 45 at 512²)."""
    return (len(n) == 2 and fold >= 2
            and all(m % fold == 0 and 4 * fold * (2 * _FOLD_RADIUS + 1) <= m for m in n))


_FOLD_MATRICES: dict = {}


def _cos_sin(q: int, dtype: torch.dtype, device) -> torch.Tensor:
    """``(2 r + 1, q)``: ``cos(2 pi o j / q)`` for ``o = 0..r``, then ``sin`` for ``o = 1..r``
    (:data:`_FOLD_RADIUS`), built in float64: the bins at ``-o`` are conjugate combinations
    of the same sums, so ``2 r + 1`` real rows give all ``2 r + 1`` complex ones."""
    o = torch.arange(_FOLD_RADIUS + 1, dtype=torch.float64)
    angle = 2 * math.pi * o[:, None] * torch.arange(q, dtype=torch.float64) / q
    return torch.cat([torch.cos(angle), torch.sin(angle[1:])]).to(dtype=dtype, device=device)


def _fold_matrices(n: tuple[int, int], fold: int, dtype: torch.dtype, device):
    """``(e1, e2, g1, g2)`` of :func:`_folded_table`, built in float64, cached per geometry.

    ``g_a`` ``((2r + 1) f, (2r + 1) f)`` maps the products with the cosine and sine rows of
    axis ``a`` at each phase ``r_a`` to the bins ``(o, k)``: the row of ``|o|`` (the cosine)
    and ``-i sign(o)`` times that of the sine (``e^{-i t} = cos t - i sin t``), the twiddle
    ``e^{-2 pi i o r_a / n_a}`` and the ``f``-point DFT over ``r_a``."""
    key = (n, fold, dtype, str(device))
    hit = _FOLD_MATRICES.get(key)
    if hit is None:
        r, m = _FOLD_RADIUS, 2 * _FOLD_RADIUS + 1
        o = torch.arange(-r, r + 1)
        rows = torch.zeros(m, m, dtype=torch.complex128)  # (o, cos 0..r then sin 1..r)
        rows[torch.arange(m), o.abs()] = 1
        rows[(o != 0).nonzero()[:, 0], r + o.abs()[o != 0]] = -1j * torch.sign(o[o != 0]).double()
        phases = torch.arange(fold, dtype=torch.float64)
        dft = torch.exp(-2j * math.pi * phases[:, None] * phases / fold)  # (k, r_a)
        gs = []
        for size in n:
            twiddle = torch.exp(-2j * math.pi * o[:, None].double() * phases / size)  # (o, r_a)
            g = rows[:, None, :, None] * (twiddle[:, None, None, :] * dft[None, :, None, :])
            gs.append(g.reshape(m * fold, m * fold).to(
                dtype=torch.promote_types(dtype, torch.complex64), device=device))
        hit = (_cos_sin(n[0] // fold, dtype, device), _cos_sin(n[1] // fold, dtype, device),
               gs[0], gs[1].T.contiguous())
        if len(_FOLD_MATRICES) > 64:
            _FOLD_MATRICES.clear()
        _FOLD_MATRICES[key] = hit
    return hit


def _folded_table(x: torch.Tensor, fold: int) -> torch.Tensor:
    """Plain DFT of ``x`` ``(..., H, W)`` at the bins ``(k H/f + o1, l W/f + o2)``,
    ``|o| <= r``, then the column ``(u, 0)`` and the row ``(0, v)``: ``(..., B + H + W)``.

    A bin ``u = k Q + o`` (``Q = H / f``) of sample ``y = f q + r`` has phase
    ``k r / f + o q / Q + o r / H`` (turns), so ``X[kQ + o] = sum_r e^{-2 pi i k r / f}
    e^{-2 pi i o r / H} sum_q x[f q + r] e^{-2 pi i o q / Q}``: one real matrix product of
    ``2 r + 1`` cosine and sine rows over ``q`` (contiguous memory: ``x`` viewed
    ``(Q, f W)``; about 7 multiply-adds per sample where an ``rfftn`` does about 45 flops at
    512²), the same on the other axis (``2 r + 1`` times smaller), then per channel one
    ``(2r + 1) f``-square matrix on each side (:func:`_fold_matrices`: the complex bins
    from the cosines and sines, the twiddles, the ``f``-point DFTs). The column and the row
    are the 1-D DFTs of the sums along ``W`` and ``H`` (the floors of stripe bins reach 16
    bins along their axis, beyond ``r``). Exact: the DFT itself.

    >>> x = torch.rand(2, 64, 56, dtype=torch.float64)
    >>> table, full = _folded_table(x, 2), torch.fft.fft2(x)
    >>> index = _folded_index(torch.tensor([[35, 1], [2, 30], [0, 9], [63, 0]]), (64, 56), 2)
    >>> bool(torch.allclose(table[:, index], full[:, [35, 2, 0, 63], [1, 30, 9, 0]]))
    True
    """
    *lead, h, w = x.shape
    count, r = math.prod(lead), _FOLD_RADIUS
    m = 2 * r + 1
    dtype = x.dtype if x.is_floating_point() else torch.float32
    e1, e2, g1, g2 = _fold_matrices((h, w), fold, dtype, x.device)
    x = x.contiguous()  # a crop or channels-last memory: one copy here, not one per pass
    source = x.reshape(count, h // fold, fold * w)
    if x.is_floating_point():
        a = torch.matmul(e1, source)  # (count, m, f W)
        sums = x.reshape(count, h, w).sum(-1)
    else:
        # Integers (8-bit images): one channel at a time into a float32 buffer that stays
        # in cache, which the product then reads, instead of a float32 copy of the whole
        # batch from memory (at 512² RGB about half the time, the conversion included).
        a = torch.empty(count, m, fold * w, dtype=dtype, device=x.device)
        sums = torch.empty(count, h, dtype=dtype, device=x.device)
        buffer = torch.empty(source.shape[1:], dtype=dtype, device=x.device)
        for k in range(count):
            buffer.copy_(source[k])
            torch.mm(e1, buffer, out=a[k])
            torch.sum(buffer.view(h, w), -1, out=sums[k])
    # Row 0 (the cosine of 0: ones), summed over r too: the sums along H.
    along_h = a[:, 0].reshape(count, fold, w).sum(1)
    # Less its mean (row 0 only): the bins of x - mean but the zero one (read from the
    # sums), without the mean's rounding, which would swamp the small bins. (In place:
    # the product's backward needs its inputs only, and the sums above are taken.)
    a[:, 0] -= a[:, 0].mean(-1, keepdim=True)
    # (count, (m rows, f1), (m columns, f2)): every product of a row of axis 0 and one of
    # axis 1, at every pair of phases; then the bins ((o1, k1), (o2, k2)).
    y = torch.matmul(e2, a.reshape(-1, w // fold, fold))
    y = y.reshape(count, m * fold, m * fold).to(g1.dtype)
    b = torch.matmul(torch.matmul(g1, y), g2)
    # The sums are short: their DFTs in float64, as exact as the sums (whole numbers for
    # 8-bit images), however large their mean.
    wide = torch.float64 if dtype == torch.float32 else dtype
    column = torch.fft.fft(sums.to(wide), dim=-1)  # (u, 0)
    row = torch.fft.fft(along_h.to(wide), dim=-1)  # (0, v)
    lines = torch.cat([column, row], -1).to(b.dtype)
    return torch.cat([b.reshape(count, -1), lines], -1).reshape(*lead, -1)


_FOLD_INDEX: OrderedDict = OrderedDict()


def _folded_index(coords: torch.Tensor, n: tuple[int, ...], fold: int) -> torch.Tensor | None:
    """Where each bin of ``coords`` ``(..., 2)`` (wrapped, flattened) is in
    :func:`_folded_table`'s output, or None when some bin is in none of its parts (then the
    ``rfftn`` is used).
    Memoised as :func:`_bin_geometry`."""
    cached = coords.device.type == "cpu" and coords.numel() <= 1 << 16
    if cached:
        key = (tuple(coords.shape), coords.dtype, coords.numpy().tobytes(), tuple(n), fold)
        if key in _FOLD_INDEX:
            _FOLD_INDEX.move_to_end(key)
            return _FOLD_INDEX[key]
    h, w = n
    r, m = _FOLD_RADIUS, 2 * _FOLD_RADIUS + 1
    c = coords.reshape(-1, 2) % torch.tensor(n, device=coords.device)
    u, v = c[:, 0], c[:, 1]
    q1, q2 = h // fold, w // fold
    o1 = (u + q1 // 2) % q1 - q1 // 2
    o2 = (v + q2 // 2) % q2 - q2 // 2
    k1 = torch.div(u - o1, q1, rounding_mode="floor") % fold
    k2 = torch.div(v - o2, q2, rounding_mode="floor") % fold
    block = (((o1 + r) * fold + k1) * m + o2 + r) * fold + k2
    size = m * fold * fold * m
    index = torch.where(v == 0, size + u, torch.where(u == 0, size + h + v, block))
    covered = (u == 0) | (v == 0) | ((o1.abs() <= r) & (o2.abs() <= r))
    index = index if bool(covered.all()) else None
    if cached:
        _FOLD_INDEX[key] = index
        if len(_FOLD_INDEX) > _GEOMETRY_CACHE_SIZE:
            _FOLD_INDEX.popitem(last=False)
    return index


_GEOMETRY_CACHE: OrderedDict = OrderedDict()
_GEOMETRY_CACHE_SIZE = 256


def _bin_geometry(coords: torch.Tensor, n: tuple[int, ...], dtype: torch.dtype):
    """Data-independent parts of :meth:`PeriodicBins.gather` for flat bins ``coords``.

    Memoised on the bins, the grid and the dtype (an audit scores many pictures of one
    shape at the same bins); the returned tensors are shared, never written to.
    """
    if coords.device.type != "cpu" or coords.numel() > 1 << 16:
        return _bin_geometry_uncached(coords, n, dtype)
    key = (tuple(coords.shape), coords.dtype, coords.numpy().tobytes(), tuple(n), dtype)
    hit = _GEOMETRY_CACHE.get(key)
    if hit is None:
        hit = _bin_geometry_uncached(coords, n, dtype)
        _GEOMETRY_CACHE[key] = hit
        if len(_GEOMETRY_CACHE) > _GEOMETRY_CACHE_SIZE:
            _GEOMETRY_CACHE.popitem(last=False)
    else:
        _GEOMETRY_CACHE.move_to_end(key)
    return hit


def _bin_geometry_uncached(coords: torch.Tensor, n: tuple[int, ...], dtype: torch.dtype):
    d = len(n)
    device = coords.device
    c = coords.reshape(-1, d) % torch.tensor(n, device=device)
    last = n[-1]
    flip = c[:, -1] > last // 2
    mirrored = torch.where(flip[:, None], (-c) % torch.tensor(n, device=device), c)
    flat = torch.zeros(len(c), dtype=torch.long, device=device)
    for a, m in enumerate(n):
        flat = flat * (m if a < d - 1 else last // 2 + 1) + mirrored[:, a]
    angles = [2 * math.pi * c[:, a].to(dtype) / n[a] for a in range(d)]
    denominator = sum(2 * torch.cos(angle) - 2 for angle in angles)
    zero = denominator == 0
    # S(0) = 0: the mean belongs to the periodic part; a zero weight instead of 0/0.
    inverse = torch.where(zero, torch.zeros_like(denominator),
                          1 / torch.where(zero, torch.ones_like(denominator), denominator))
    jump_index, factors = [], []
    for a in range(d):
        index = torch.zeros(len(c), dtype=torch.long, device=device)
        for b, m in enumerate(n):
            if b != a:
                index = index * m + c[:, b]
        jump_index.append(index)
        factors.append(torch.complex(1 - torch.cos(angles[a]), -torch.sin(angles[a])))
    return flat, flip, jump_index, factors, inverse


def period_bins(
    x: torch.Tensor, s: int, d: int, cache: dict | None = None,
    periods: Iterable[int] | None = None,
) -> PeriodicBins:
    """:class:`PeriodicBins` of ``x`` cropped to a multiple of ``s`` (as :func:`period_spectrum`).

    Integer ``x`` (8-bit images) is read as the float32 that
    :func:`~checkerfree.score.layout.as_batch` makes of it, converted where it is read.
    ``cache`` (a dict, one per input) shares the transforms between periods whose crops have
    the same shape (all of them when the size is a multiple of every period). ``periods``:
    every period that will read bins through ``cache``; in 2-D, where it is cheaper, the
    bins of all those with this crop then come from one folded transform at the lattice of
    their least common multiple and the neighbourhoods of its bins (:func:`_folded_table`),
    and the full ``rfftn`` is made only if other bins are asked for.
    """
    _check_geometry(s, d, x)
    if x.is_complex() or x.dtype == torch.bool:
        raise InvalidTypeError(f"expected a real floating or integer tensor, got dtype {x.dtype}")
    crop = crop_to_period(x, s, d)
    key = tuple(crop.shape[-d:])
    fold = None
    if periods is not None:
        fold = math.lcm(s, *(p for p in periods
                             if all(m - m % p == k for m, k in zip(x.shape[-d:], key))))
    bins = PeriodicBins(crop, d, s, fold=fold)
    if cache is not None:
        bins._shared = cache
    return bins


def _neighbour_offsets(
    n: tuple[int, ...], s: int, free: tuple[bool, ...], device
) -> torch.Tensor:
    """Offsets of the floor neighbourhood of a lattice bin whose non-zero axes are ``free``.

    The box spans only the free axes (radius :data:`_RADIUS` of their number, at most half the
    axis so nothing is counted twice); offsets that land on the lattice are left out.
    """
    radius = _RADIUS[sum(free)]
    # Periods above 8: capped at half the lattice spacing m // s. A wider box around a bin
    # near zero frequency reaches into the steep low-frequency slope of a photograph (power
    # ~ 1/f^2), whose mean is many times the power at the bin, and a long period's sum of
    # P_b - F_b went negative (period 32 read 0.0 on a 512^2 photograph carrying a +-2
    # pattern). Periods 2, 4, 8 keep the full box their threshold is calibrated with: on
    # small images the capped floor has few bins and scatters (a 64^2 random-init decoder
    # read 2-3 grey levels, not significant, at period 4).
    ranges = []
    for m, f in zip(n, free):
        r = min(radius, (m - 1) // 2)
        if s > 8:
            r = min(r, max(1, (m // s) // 2))
        ranges.append(range(-r, r + 1) if f else range(1))
    keep = []
    for o in itertools.product(*ranges):
        if all(c % (m // s) == 0 for c, m in zip(o, n)):
            continue
        keep.append(o)
    return torch.tensor(keep, dtype=torch.long, device=device).reshape(-1, len(n))


#: The smallest period whose floors are cut short of zero frequency (:func:`_floor_weights`).
_CUT_FROM_PERIOD = 4


def _floor_weights(n: tuple[int, ...], s: int, centres: torch.Tensor, offsets: torch.Tensor,
                   free: tuple[bool, ...]) -> torch.Tensor:
    """``(K_g, M_g)`` weights of each bin's floor neighbours: equal over those kept, 0 elsewhere.

    A neighbour is kept unless it is nearer to zero frequency than half the lattice spacing
    ``n_a / s`` on an axis the floor spans: for a bin at distance ``c_a`` from zero (either
    way round the axis) the offsets kept are ``|o_a| <= c_a - ceil(n_a / (2 s))``, on both
    sides, so the cut is symmetric about the bin. Where nothing would be left the whole
    neighbourhood is kept; periods below :data:`_CUT_FROM_PERIOD` are never cut.

    Why: on short axes (64 samples, period 4: the stripe bin 16 and its line of radius 16,
    reaching 0) the line took in the content's steep low frequencies (power ~ 1/f^2), whose
    mean is many times the power at the bin, so the stripe kind's ``P_b - F_b`` went negative
    and cancelled real peaks in the period's sum (a random-init BasicUNet: 17 of 36
    deconvolution outputs significant at 0.00, issue 11). Symmetric, so a smooth slope does not
    tilt the floor (a cap of every radius scattered period 8 on 64x64 outputs). At 64 samples
    and above period 2 is never cut (its line of 16 stops at half the axis), nor any of
    2, 4, 8 at 512. Period 2 on shorter axes keeps its whole-axis line: cut, the quick
    ``disc-stride`` claim's stride-1 critic reads 13.85 instead of 1.84 at period 2 (its
    32x32 samples do carry column stripes of 13.4 grey levels peak to peak, measured
    directly; docs/score.md, Floor), and that claim would no longer hold.

    >>> w = _floor_weights((64,), 4, torch.tensor([[16]]), _neighbour_offsets((64,), 4,
    ...                    (True,), "cpu"), (True,))
    >>> int((w > 0).sum()), float(w.sum())          # offsets -8..8 but 0: 16 of 30 kept
    (16, 1.0)
    """
    weight = torch.ones(len(centres), len(offsets), dtype=torch.float64, device=offsets.device)
    if s >= _CUT_FROM_PERIOD:
        size = torch.tensor(n, device=offsets.device)
        reach = torch.minimum(centres % size, (-centres) % size) - (size // s + 1) // 2
        spans = torch.tensor(free, device=offsets.device)
        near = ((offsets.abs()[None] > reach[:, None]) & spans).any(-1)
        near &= ~near.all(-1, keepdim=True)  # nothing would be left: keep the whole box
        weight = (~near).to(torch.float64)
    return weight / weight.sum(-1, keepdim=True)


def _flat_index(coords: torch.Tensor, n: tuple[int, ...]) -> torch.Tensor:
    """Row-major flat index of integer coordinates (last axis), wrapped around each axis."""
    index = torch.zeros(coords.shape[:-1], dtype=torch.long, device=coords.device)
    for a, m in enumerate(n):
        index = index * m + coords[..., a] % m
    return index


_PLANS: dict = {}


def _excess_plan(n: tuple[int, ...], s: int, periods: tuple[int, ...], d: int, device):
    """Bins to read for :func:`lattice_excess`: the lattice, then every neighbourhood.

    Returns ``(coords, all_bins, groups)``: ``all_bins`` ``(K + sum K_g M_g, d)`` coordinates,
    ``groups`` a list of ``(positions (K_g,), start, M_g, weights (K_g, M_g))`` into it: the
    floor of a bin is its neighbours' power times the weights, summed
    (:func:`_floor_weights`). Cached per geometry.
    """
    key = (n, s, periods, d, str(device))
    plan = _PLANS.get(key)
    if plan is not None:
        return plan
    coords = lattice_coords(s, periods, d).to(device)
    bins = coords * torch.tensor([m // s for m in n], device=device)
    parts, groups, start = [bins], [], len(bins)
    free = coords != 0
    for pattern in sorted({tuple(row) for row in free.tolist()}):
        group = (free == torch.tensor(pattern, device=device)).all(-1)
        offsets = _neighbour_offsets(n, s, pattern, device)
        around = (bins[group][:, None, :] + offsets[None]).reshape(-1, d)
        weight = _floor_weights(n, s, bins[group], offsets, pattern)
        groups.append((group.nonzero().squeeze(-1), start, len(offsets), weight))
        parts.append(around)
        start += len(around)
    plan = coords, torch.cat(parts), groups
    if len(_PLANS) > 256:
        _PLANS.clear()
    _PLANS[key] = plan
    return plan


def lattice_excess(
    spectrum: torch.Tensor | PeriodicBins, s: int, periods: tuple[int, ...], d: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Power over the floor at the lattice bins of period ``s``, from :func:`period_spectrum`.

    The floor of a bin is the mean power of the bins around it that share its zero
    coordinates (a box of radius 3 in 2-D, a line of radius 16 for a stripe bin ``(k, 0)``:
    axis-aligned edges put their energy on the frequency axes, so a stripe bin is compared
    with its own axis); lattice bins are left out, and so, from period 4 on, are neighbours
    nearer to zero frequency than half the lattice spacing, symmetrically about the bin
    (:func:`_floor_weights`: on small inputs those are the content's steep low frequencies).
    Returns ``(excess, floor, coords)``:
    ``(N, K)`` mean-square values (channels averaged) for the ``K`` bins of
    :func:`lattice_coords`, and ``coords`` ``(K, d)``. ``spectrum`` is a full spectrum or,
    cheaper, a :class:`PeriodicBins` (only the bins used are computed).

    >>> import torch
    >>> i = torch.arange(32.0)
    >>> stripes = (-1.0) ** i[:, None] * torch.ones(1, 1, 32, 32)     # +-1 along rows
    >>> excess, floor, coords = lattice_excess(period_spectrum(stripes, 2, 2), 2, (2,), 2)
    >>> coords.tolist(), [round(v, 3) for v in excess[0].tolist()]
    ([[0, 1], [1, 0], [1, 1]], [0.0, 1.0, 0.0])
    >>> excess2 = lattice_excess(period_bins(stripes, 2, 2), 2, (2,), 2)[0]
    >>> bool(torch.allclose(excess, excess2, atol=1e-6))
    True
    """
    _check_geometry(s, d)
    if isinstance(spectrum, PeriodicBins):
        n, device = spectrum.n, spectrum.device
        if len(n) != d:
            raise ShapeError(f"the bins have {len(n)} spatial axes, got d={d}")
    elif isinstance(spectrum, torch.Tensor) and spectrum.is_complex():
        _check_geometry(s, d, spectrum)
        n, device = tuple(spectrum.shape[-d:]), spectrum.device
    else:
        raise InvalidTypeError(
            "spectrum must be a complex tensor (period_spectrum) or PeriodicBins (period_bins), "
            f"got {type(spectrum).__name__}"
        )
    if any(m % s for m in n):
        raise ShapeError(f"the spectrum's spatial shape {n} is not a multiple of s={s}; "
                         "crop first (period_spectrum and period_bins do)")
    coords, all_bins, groups = _excess_plan(n, s, tuple(periods), d, device)
    if isinstance(spectrum, PeriodicBins):
        values = spectrum.gather(all_bins)
        power = (values.real**2 + values.imag**2).mean(1)
    else:
        power = (spectrum.real**2 + spectrum.imag**2).mean(1)
        power = power.reshape(power.shape[0], -1)[:, _flat_index(all_bins, n)]
    k = len(coords)
    lattice = power[:, :k]
    floor = torch.empty_like(lattice)
    for positions, start, m, weight in groups:
        around = power[:, start : start + len(positions) * m].reshape(-1, len(positions), m)
        floor[:, positions] = (around * weight.to(around.dtype)).sum(-1)
    return lattice - floor, floor, coords
