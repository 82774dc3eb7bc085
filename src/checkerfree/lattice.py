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

import torch

__all__ = [
    "lattice_coords",
    "periodic_spectrum",
    "crop_to_period",
    "period_spectrum",
    "lattice_excess",
]

# Half-size, in bins, of the floor neighbourhood by the number of axes it spans.
_RADIUS = {1: 16, 2: 3, 3: 2}


def crop_to_period(x: torch.Tensor, s: int, d: int) -> torch.Tensor:
    """Crop the last ``d`` axes of ``x`` to the largest multiple of ``s`` (top-left corner kept).

    Cropping keeps the lattice exact: on a multiple of ``s`` every lattice frequency is a DFT
    bin, so a periodic pattern leaks nowhere (windowing and interpolating would smear it).

    >>> import torch
    >>> crop_to_period(torch.zeros(1, 1, 9, 10), 4, 2).shape
    torch.Size([1, 1, 8, 8])
    """
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
    crop = crop_to_period(x, s, d)
    return periodic_spectrum(crop, d, block=s) / math.prod(crop.shape[-d:])


def _neighbour_offsets(
    n: tuple[int, ...], s: int, free: tuple[bool, ...], device
) -> torch.Tensor:
    """Offsets of the floor neighbourhood of a lattice bin whose non-zero axes are ``free``.

    The box spans only the free axes (radius :data:`_RADIUS` of their number, at most half the
    axis so nothing is counted twice); offsets that land on the lattice are left out.
    """
    radius = _RADIUS[sum(free)]
    ranges = [
        range(-min(radius, (m - 1) // 2), min(radius, (m - 1) // 2) + 1) if f else range(1)
        for m, f in zip(n, free)
    ]
    keep = []
    for o in itertools.product(*ranges):
        if all(c % (m // s) == 0 for c, m in zip(o, n)):
            continue
        keep.append(o)
    return torch.tensor(keep, dtype=torch.long, device=device).reshape(-1, len(n))


def _flat_index(coords: torch.Tensor, n: tuple[int, ...]) -> torch.Tensor:
    """Row-major flat index of integer coordinates (last axis), wrapped around each axis."""
    index = torch.zeros(coords.shape[:-1], dtype=torch.long, device=coords.device)
    for a, m in enumerate(n):
        index = index * m + coords[..., a] % m
    return index


def lattice_excess(
    spectrum: torch.Tensor, s: int, periods: tuple[int, ...], d: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Power over the floor at the lattice bins of period ``s``, from :func:`period_spectrum`.

    The floor of a bin is the mean power of the bins around it that share its zero
    coordinates (a box of radius 3 in 2-D, a line of radius 16 for a stripe bin ``(k, 0)``:
    axis-aligned edges put their energy on the frequency axes, so a stripe bin is compared
    with its own axis); lattice bins are left out. Returns ``(excess, floor, coords)``:
    ``(N, K)`` mean-square values (channels averaged) for the ``K`` bins of
    :func:`lattice_coords`, and ``coords`` ``(K, d)``.

    >>> import torch
    >>> i = torch.arange(32.0)
    >>> stripes = (-1.0) ** i[:, None] * torch.ones(1, 1, 32, 32)     # +-1 along rows
    >>> excess, floor, coords = lattice_excess(period_spectrum(stripes, 2, 2), 2, (2,), 2)
    >>> coords.tolist(), [round(v, 3) for v in excess[0].tolist()]
    ([[0, 1], [1, 0], [1, 1]], [0.0, 1.0, 0.0])
    """
    n = tuple(spectrum.shape[-d:])
    device = spectrum.device
    power = (spectrum.real**2 + spectrum.imag**2).mean(1)
    power = power.reshape(power.shape[0], -1)
    coords = lattice_coords(s, periods, d).to(device)
    bins = coords * torch.tensor([m // s for m in n], device=device)
    lattice = power[:, _flat_index(bins, n)]
    floor = torch.empty_like(lattice)
    free = coords != 0
    for pattern in {tuple(row) for row in free.tolist()}:
        group = (free == torch.tensor(pattern, device=device)).all(-1)
        offsets = _neighbour_offsets(n, s, pattern, device)
        around = power[:, _flat_index(bins[group][:, None, :] + offsets[None], n)]  # (N, K, M)
        floor[:, group] = around.mean(-1)
    return lattice - floor, floor, coords
