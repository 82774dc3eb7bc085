"""Checkerboard heat map: where in an image the periodic pattern is, in the score's unit.

For each lattice frequency ``f`` of period ``s`` (the bins of
:func:`~checkerfree.score.lattice.lattice_coords`), demodulate and low-pass with a Gaussian window
``g`` of standard deviation ``window`` samples:

    c_f(y) = sum_z g(z - y) x(z) exp(-2 pi i f . z)

(the local Fourier coefficient of the pattern: a ``+-a/2`` checkerboard gives ``|c_f| = a/2``
under the window). ``sum_f |c_f(y)|^2`` is the local mean square of the lattice component;
the local floor is the same sum demodulated ``2 sigma_f`` off the lattice along each axis
(``sigma_f = 1 / (2 pi window)`` cycles per sample, the window's spectral width), which holds
the texture and noise that happen to lie near ``f``. Both are averaged over a second Gaussian
of the same size (one demodulated sample is an exponential variate, as noisy as it is large).
The map is ``2 sqrt(max(sum_s (lattice_s - floor_s), 0))``: grey levels for 0..255 images, like
:func:`~checkerfree.score.checkerboard.checkerboard_score`.

Computed in the Fourier domain: ``c_f`` has spectrum ``X(f + nu) G(nu)``, band-limited, so it
is evaluated on a coarse grid by a small inverse DFT of the ``3.5 sigma_f`` neighbourhood of
``f`` and interpolated (linearly) back to full size. The DFT wraps around: a pattern near one
border shows faintly at the opposite one.

>>> import torch
>>> x = torch.full((1, 1, 128, 128), 100.0)
>>> x[..., 32:96, 32:96] += 4 * (-1.0) ** torch.arange(64.0)   # stripes, 8 levels p-p
>>> heat = checkerboard_heatmap(x, periods=(2,), window=8)
>>> round(heat[0, 64, 64].item()), round(heat[0, 4, 4].item())
(8, 0)
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
import torch.nn.functional as F

from checkerfree.arguments import check_window, real_number
from checkerfree.errors import InvalidArgumentError
from checkerfree.finite import check_finite, check_power
from checkerfree.score.hotspot import lattice_hotspot
from checkerfree.score.lattice import (
    PeriodicBins,
    lattice_coords,
    lattice_excess,
    period_bins,
)
from checkerfree.score.layout import as_batch, check_periods

__all__ = [
    "HEAT_SIGNIFICANCE",
    "amplitude",
    "checkerboard_heatmap",
    "heat_maps",
    "heat_power",
    "hotspot",
    "local_ratio",
]

# Complex elements gathered at once (512 KiB in complex64: the chunk's passes stay in cache).
_CHUNK = 1 << 16
_TINY = 1e-30
# Hotspot search: a tenth of the mean floor regularises the local ratio excess / floor, and a
# tenth of the mean bin floor the whitening weights, so a calm (synthetic) image is not
# ruled by rounding noise. Chosen on the calibration set's local patterns.
_REGULAR = 0.1
_WHITE = 0.1
COMBINE = "max"
#: The heat map shows a place only where the :func:`local_ratio` of the period that reads
#: there exceeds this. ``scripts/heatmap_calibration.py`` on the calibration set's 133 clean
#: pictures: at 4 a scanned page (text lines) still shows 2.3 grey levels, at 5 no PNG
#: photograph or texture shows anything; JPEG blocking at quality 30 (a real period-8
#: pattern) shows about 1 grey level.
HEAT_SIGNIFICANCE = 5.0
_MODES = {1: "linear", 2: "bilinear", 3: "trilinear"}


def _gather(spectrum, coords: torch.Tensor) -> torch.Tensor:
    """Spectrum values ``(N, C, ...)`` at integer bin coordinates ``coords`` ``(..., d)``."""
    if isinstance(spectrum, PeriodicBins):
        return spectrum.gather(coords)
    d = coords.shape[-1]
    n = spectrum.shape[-d:]
    index = torch.zeros(coords.shape[:-1], dtype=torch.long, device=coords.device)
    for a, m in enumerate(n):
        index = index * m + coords[..., a] % m
    return spectrum.reshape(*spectrum.shape[:2], -1)[..., index]


_PLANS: dict = {}
_PLANNED = 0  # bins held by the cached plans
_PLAN_LIMIT = 1 << 22


def _local_power(
    spectrum,
    centres: torch.Tensor,
    grids: list[tuple[torch.Tensor, torch.Tensor]],
    weight: torch.Tensor,
    key: tuple | None = None,
) -> torch.Tensor:
    """``sum_f w_f mean_C |c_f|^2`` on the coarse grid; centres ``(K, d)``, weights ``(N, K)``.

    ``spectrum`` is a full spectrum or a :class:`~checkerfree.score.lattice.PeriodicBins` (only the
    neighbourhoods of the centres are computed, in cache-sized chunks of centres).
    """
    d = len(grids)
    if isinstance(spectrum, PeriodicBins):
        batch, channels = spectrum.half.shape[:2]
        real_dtype = spectrum.real_dtype
    else:
        batch, channels = spectrum.shape[:2]
        real_dtype = spectrum.real.dtype
    sizes = [len(nu) for nu, _ in grids]
    gain = grids[0][1]
    for _, g in grids[1:]:
        gain = gain[..., None] * g
    gain = gain * math.prod(sizes)  # the inverse DFT's normalisation, folded in
    offsets = torch.stack(
        torch.meshgrid(*[nu for nu, _ in grids], indexing="ij"), -1
    )  # (*M, d)
    per_bin = batch * channels * math.prod(sizes)
    chunk = max(1, _CHUNK // per_bin)
    total = torch.zeros((batch, *sizes), dtype=real_dtype, device=centres.device)
    for start in range(0, len(centres), chunk):
        part = centres[start : start + chunk]
        coords = part.reshape(len(part), *([1] * d), d) + offsets  # (K, *M, d)
        if isinstance(spectrum, PeriodicBins):
            # The plan depends on shapes only (the bins, the window): cached across calls.
            plan_key = None if key is None else (*key, spectrum.n, start, chunk)
            plan = _PLANS.get(plan_key) if plan_key is not None else None
            if plan is None:
                plan = spectrum.plan(coords, gain)
                if plan_key is not None:
                    global _PLANNED
                    if _PLANNED > _PLAN_LIMIT:  # about 32 bytes a bin: ~130 MB at most
                        _PLANS.clear()
                        _PLANNED = 0
                    _PLANS[plan_key] = plan
                    _PLANNED += plan[0].numel()
            local = spectrum.apply(plan)
        else:
            local = _gather(spectrum, coords) * gain  # (N, C, K, *M)
        coef = torch.fft.ifftn(local, dim=tuple(range(-d, 0)))
        w = weight[:, start : start + chunk] / channels
        # w |coef|^2 summed over channels, centres, real and imaginary parts: one matrix product
        power = torch.view_as_real(coef).square().reshape(batch, -1, 2 * math.prod(sizes))
        w = w[:, None, :].expand(batch, channels, len(part)).reshape(batch, 1, -1)
        total = total + torch.bmm(w, power).reshape(batch, *sizes, 2).sum(-1)
    return total


def _smooth(power: torch.Tensor, sigma: list[float]) -> torch.Tensor:
    """Circular Gaussian blur of ``(N, *M)`` maps, ``sigma`` in grid steps per axis."""
    d = len(sigma)
    axes = tuple(range(-d, 0))
    spectrum = torch.fft.fftn(power, dim=axes)
    for a, sd in enumerate(sigma):
        m = power.shape[-d + a]
        k = torch.fft.fftfreq(m, device=power.device, dtype=power.dtype)
        shape = [1] * power.ndim
        shape[power.ndim - d + a] = m
        spectrum = spectrum * torch.exp(-2 * (math.pi * sd * k) ** 2).reshape(shape)
    return torch.fft.ifftn(spectrum, dim=axes).real


def heat_power(
    spectra: dict[int, torch.Tensor | PeriodicBins],
    periods: tuple[int, ...],
    d: int,
    window: float,
    spatial: tuple[int, ...],
    whiten: bool = False,
    floors: dict[int, torch.Tensor] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Local lattice power over the floor, and the floor, ``(N, *spatial)`` each.

    From each period's :func:`~checkerfree.score.lattice.period_spectrum` (or its
    :class:`~checkerfree.score.lattice.PeriodicBins`, cheaper); both are mean-square
    values summed over the periods' lattice bins (channels averaged). With ``whiten`` each
    bin is divided by its global floor first, so that low-frequency bins, where photographs
    have most of their energy (and most of its chance fluctuation), do not drown the others:
    the sum is then a signal-to-noise ratio, the right thing to search for the hotspot.
    ``floors`` (the ``floor`` of :func:`~checkerfree.score.lattice.lattice_excess` per period, when
    the caller has it) saves computing them again.

    >>> import torch
    >>> from checkerfree.score.lattice import period_spectrum
    >>> x = torch.zeros(2, 3, 16, 20)
    >>> spectra = {s: period_spectrum(x, s, 2) for s in (2, 4)}
    >>> [tuple(m.shape) for m in heat_power(spectra, (2, 4), 2, 4.0, (16, 20))]
    [(2, 16, 20), (2, 16, 20)]
    """
    weights = _whitening(spectra, periods, d, floors) if whiten else None
    return _heat_power_many(spectra, periods, d, window, spatial, [weights])[0]


def _heat_power_many(spectra, periods, d, window, spatial, weightings):
    """:func:`heat_power` for several weightings (``None``: plain; else per-period weights).

    :func:`_fast_maps` where the periods allow it: a few large operations (one gather, one
    batched inverse DFT, one ``einsum`` for all weightings), where the general path runs
    many small ones per chunk of centres, whose thread synchronisation is what a loaded
    machine makes slow (``benchmarks/score.py``: 3.5 against 0.8 RGB 256² images per second
    with the hotspot, 2 threads on 2 busy cores; about equal on one thread).
    """
    fast = _fast_maps(spectra, periods, d, window, spatial, weightings)
    if fast is not None:
        return fast
    return [_general_maps(spectra, periods, d, window, spatial, w) for w in weightings]


def _general_maps(spectra, periods, d, window, spatial, weights):
    """:func:`heat_power` one centre grid at a time (any periods, any geometry)."""
    first = next(iter(spectra.values()))
    if isinstance(first, PeriodicBins):
        batch, dtype, device = first.half.shape[0], first.real_dtype, first.half.device
    else:
        batch, dtype, device = first.shape[0], first.real.dtype, first.device
    excess_total = torch.zeros((batch, *spatial), dtype=dtype, device=device)
    floor_total = torch.zeros_like(excess_total)
    # Periods whose crops coincide share the coarse grid: their coarse maps are summed before
    # the (linear) blur and interpolation, which then run once per crop shape.
    coarse: dict[tuple[int, ...], list] = {}
    for s in periods:
        if weights is not None and s not in weights:
            continue  # a weighting of some periods only: the others weigh 0
        spectrum = spectra[s]
        n = spectrum.n if isinstance(spectrum, PeriodicBins) else tuple(spectrum.shape[-d:])
        coords = lattice_coords(s, periods, d).to(device)
        if weights is not None:
            weight = weights[s]
        else:
            weight = torch.ones((batch, len(coords)), dtype=dtype, device=device)
        bins = coords * torch.tensor([m // s for m in n], device=device)
        grids, steps, blur = _grids(n, s, window, dtype, device)
        key = (s, periods, d, float(window), dtype, str(device), batch)
        lattice = _local_power(spectrum, bins, grids, weight, key + ("lattice",))
        # One probe direction per axis: for a real input |c_{f-delta}| = |c_{-f+delta}| and
        # the lattice (with its weights) is symmetric under f -> -f, so the probe sums at
        # f - delta equal those at f + delta and need not be computed.
        probes = []
        for a in range(d):
            probe = bins.clone()
            probe[:, a] += steps[a]
            probes.append(_local_power(spectrum, probe, grids, weight, key + ("probe", a)))
        probes = torch.stack(probes, 1)
        if n in coarse:
            coarse[n][0] = coarse[n][0] + lattice
            coarse[n][1] = coarse[n][1] + probes
        else:
            coarse[n] = [lattice, probes, blur]
    for n, (lattice, probes, blur) in coarse.items():
        # One demodulated sample per place is an exponential variate (std = mean): averaging
        # the power over a second window makes texture fluctuations small next to a pattern.
        probes = _smooth(probes, blur)
        probes = probes.amax(1) if COMBINE == "max" else probes.mean(1)
        lattice = _smooth(lattice, blur)
        maps = torch.stack([lattice - probes, probes], 1)
        maps = F.interpolate(maps, size=n, mode=_MODES[d], align_corners=False)
        pad = []
        for m, full in zip(reversed(n), reversed(spatial)):
            pad += [0, full - m]
        if any(pad):
            maps = F.pad(maps, pad, mode="replicate")
        excess_total = excess_total + maps[:, 0]
        floor_total = floor_total + maps[:, 1]
    return excess_total, floor_total


_INVERSE: dict = {}


def _dense(bins: PeriodicBins, index: list[torch.Tensor]) -> torch.Tensor:
    """The normalised periodic spectrum of :class:`PeriodicBins` on the grid ``index``.

    ``index`` holds one tensor of bin rows per axis; returns ``(N, C, len(index_0), ...)``,
    :func:`~checkerfree.score.lattice.period_spectrum` at those rows. The border image ``v``
    (each axis's jump at index 0, minus it at index -1: ``V = DFT(v)`` is the
    ``sum_a DFT(b_a) (1 - exp(2 pi i xi_a / n_a))`` of the smooth component) is transformed
    by one ``rfftn`` and divided by ``sum_a (2 cos(2 pi xi_a / n_a) - 2)``; the half spectrum
    minus it is the periodic component's, and the rows past the half are read from it by
    conjugate symmetry.
    """
    half, n, d = bins.half, bins.n, bins.d
    lead = half.ndim - d
    hn = half.shape[-1]
    border = torch.zeros((*half.shape[:lead], *n), dtype=bins.real_dtype, device=half.device)
    for a in range(d):
        others = tuple(size for b, size in enumerate(n) if b != a)
        jump_hat = bins.jumps[a].reshape(*half.shape[:lead], *others)
        axes = tuple(range(lead, lead + d - 1))
        jump = torch.fft.ifftn(jump_hat, dim=axes).real if others else jump_hat.real
        jump = jump.unsqueeze(lead + a)
        border.narrow(lead + a, 0, 1).add_(jump)
        border.narrow(lead + a, n[a] - 1, 1).sub_(jump)
    key = (n, bins.real_dtype, str(half.device))
    inverse = _INVERSE.get(key)
    if inverse is None:
        denominator = torch.zeros((*n[:-1], hn), dtype=bins.real_dtype, device=half.device)
        for a, m in enumerate(n):
            size = hn if a == d - 1 else m
            angle = 2 * math.pi * torch.arange(size, device=half.device,
                                               dtype=bins.real_dtype) / m
            shape = [1] * d
            shape[a] = size
            denominator = denominator + (2 * torch.cos(angle) - 2).reshape(shape)
        zero = denominator == 0
        inverse = torch.where(zero, torch.zeros_like(denominator),
                              1 / torch.where(zero, torch.ones_like(denominator), denominator))
        if len(_INVERSE) > 32:
            _INVERSE.clear()
        _INVERSE[key] = inverse
    axes = tuple(range(lead, lead + d))
    periodic = half - torch.fft.rfftn(border, dim=axes) * inverse
    return _gather_full(periodic.contiguous(), index, n) / math.prod(n)


def _gather_full(half: torch.Tensor, index: list[torch.Tensor], n: tuple[int, ...]):
    """The full spectrum on the grid ``index`` from its half ``(..., n_last // 2 + 1)``.

    Rows past the half of the last axis: ``X(k) = conj X(-k)``, every axis negated. One
    gather of flat offsets (each value moved as one 8-byte integer for complex64) and a
    sign flip of the mirrored imaginary parts: the same values as ``index_select`` per axis
    and a ``where`` between the direct and mirrored copies, without the slow complex
    ``index_select`` along the last axis (``benchmarks/score.py``, the stage table).
    """
    d = len(n)
    lead = half.shape[:-d]
    last = index[-1]
    mirrored = last > n[-1] // 2
    sizes = [len(rows) for rows in index]
    strides = half.stride()[len(lead):]
    column = [1] * d
    column[-1] = sizes[-1]
    flat = (torch.where(mirrored, (-last) % n[-1], last) * strides[-1]).reshape(column)
    for a, rows in enumerate(index[:-1]):
        shape = [1] * d
        shape[a] = sizes[a]
        rows = rows.reshape(shape)
        flat = flat + torch.where(mirrored.reshape(column), (-rows) % n[a], rows) * strides[a]
    flat = flat.reshape(-1)
    items = math.prod(lead)
    if half.dtype == torch.complex64:
        words = half.view(torch.int64).reshape(items, -1).index_select(1, flat)
        pairs = torch.view_as_real(words.view(torch.complex64))
    else:
        pairs = torch.view_as_real(half).reshape(items, -1, 2).index_select(1, flat)
    pairs = pairs.reshape(items, -1, sizes[-1], 2)
    pairs[..., 1].mul_(torch.where(mirrored, -1.0, 1.0).to(pairs.dtype))
    return torch.view_as_complex(pairs).reshape(*lead, *sizes)


def _fast_maps(spectra, periods, d, window, spatial, weightings):
    """:func:`heat_power` for every weighting at once, by slicing one dense spectrum.

    When every period divides the largest one ``L``, every lattice bin is a bin of the
    period-``L`` lattice, ``q n / L``: the spectrum's rows around those bins, gathered once
    per axis and viewed as ``(L, size + step)`` blocks, hold the neighbourhood of every
    lattice bin (and of its probes, ``step`` further along one axis) as plain slices, so one product with the
    Gaussian gains and one batched inverse DFT of the small grids give all coarse maps;
    the weighted sum over bins and channels is one ``einsum``. Returns ``None`` when the geometry
    does not allow it (periods that do not divide the largest one, a grid wider than
    ``n / L``): the caller takes the general path.
    """
    top = max(periods)
    if any(top % s for s in periods) or not isinstance(spectra[top], PeriodicBins):
        return None
    bins_top = spectra[top]
    n = bins_top.n
    dtype, device = bins_top.real_dtype, bins_top.half.device
    grids, steps, blur = _grids(n, top, window, dtype, device)
    sizes = [len(nu) for nu, _ in grids]
    block = [m // top for m in n]
    if any(size + step > b for size, step, b in zip(sizes, steps, block)):
        return None
    batch, channels = bins_top.half.shape[:2]
    # Per weighting, one table (N, L, ..., L) of bin weights over the period-L lattice.
    tables = []
    for weights in weightings:
        table = torch.zeros((batch, *([top] * d)), dtype=dtype, device=device)
        for s in periods:
            if weights is not None and s not in weights:
                continue  # a weighting of some periods only: the others weigh 0
            coords = lattice_coords(s, periods, d).to(device) * (top // s)
            w = (torch.ones((batch, len(coords)), dtype=dtype, device=device)
                 if weights is None else weights[s].to(dtype))
            table[(slice(None), *coords.T)] = w
        tables.append(table / channels)
    table = torch.stack(tables, 1)  # (N, W, L, ..., L)
    # Per axis, the rows of every block's neighbourhood and probe: bin q n/L + nu for nu in
    # [-size/2, size/2 + step), gathered once, then viewed as (L, size + step) blocks.
    index = []
    for size, step, m in zip(sizes, steps, n):
        nu = torch.arange(-(size // 2), size - size // 2 + step, device=device)
        index.append(((torch.arange(top, device=device) * (m // top))[:, None] + nu).reshape(-1)
                     % m)
    dense = _dense(bins_top, index)
    lead = dense.ndim - d
    shape = list(dense.shape[:lead])
    for size, step in zip(sizes, steps):
        shape += [top, size + step]
    dense = dense.reshape(shape)  # (N, C, L, size0 + step0, L, size1 + step1, ...)
    gain = grids[0][1]
    for _, g in grids[1:]:
        gain = gain[..., None] * g
    gain = gain * math.prod(sizes)
    # The gains were built for offsets in FFT order; the slices are in natural order.
    gain = torch.fft.fftshift(gain)
    gain_shape = [1] * 2 * d
    for a, size in enumerate(sizes):
        gain_shape[2 * a + 1] = size
    gain = gain.reshape(gain_shape)
    tile_axes = tuple(lead + 2 * a + 1 for a in range(d))
    letters = "ijklmo"[: 2 * d]
    spec = "nc" + letters + ",nw" + letters[0::2] + "->nw" + letters[1::2]

    def power(offset: list[int]) -> torch.Tensor:
        index = [slice(None)] * lead
        for a, (size, o) in enumerate(zip(sizes, offset)):
            index += [slice(None), slice(o, o + size)]
        coef = torch.fft.ifftn(dense[tuple(index)] * gain, dim=tile_axes)
        return torch.einsum(spec, coef.real.square() + coef.imag.square(), table)

    lattice = power([0] * d)
    probes = torch.stack([power([steps[b] if b == a else 0 for b in range(d)])
                          for a in range(d)], 2)
    lattice = _smooth(lattice, blur)
    probes = _smooth(probes, blur)
    floor = probes.amax(2) if COMBINE == "max" else probes.mean(2)
    out = []
    for w in range(len(weightings)):
        maps = torch.stack([lattice[:, w] - floor[:, w], floor[:, w]], 1)
        maps = F.interpolate(maps, size=n, mode=_MODES[d], align_corners=False)
        pad = []
        for m, full in zip(reversed(n), reversed(spatial)):
            pad += [0, full - m]
        if any(pad):
            maps = F.pad(maps, pad, mode="replicate")
        out.append((maps[:, 0], maps[:, 1]))
    return out


def _whitening(spectra, periods: tuple[int, ...], d: int, floors) -> dict[int, torch.Tensor]:
    """Per period, the weights ``1 / (F_b + mean F / 10)`` of :func:`heat_power`'s ``whiten``.

    Every item's weights are then divided by the power of two just above their largest one
    (all periods together): the hotspot is a ratio, so one factor per item changes nothing,
    and a power of two changes no rounding either (the maps come out exactly scaled). Without
    it an exact synthetic pattern, whose floors are 0 and whose weights are ``1 / 1e-31``,
    overflows float32 once its power passes ``~1e7``.
    """
    weights = {}
    for s in periods:
        if floors is not None and s in floors:
            floor = floors[s]
        else:
            floor = lattice_excess(spectra[s], s, periods, d)[1]
        # A tenth of the mean floor added: bins far below it (a calm image) stay finite.
        regular = _WHITE * floor.mean(-1, keepdim=True).clamp_min(_TINY)
        weights[s] = 1 / (floor.clamp_min(0) + regular)
    largest = torch.stack([w.amax(-1) for w in weights.values()], -1).amax(-1, keepdim=True)
    exponent = torch.frexp(largest).exponent
    return {s: torch.ldexp(w, -exponent).to(w.dtype) for s, w in weights.items()}


def _grids(n: tuple[int, ...], s: int, window: float, dtype, device):
    """Per axis: the coarse grid's bin offsets and Gaussian gains, probe steps, blur widths."""
    complex_dtype = torch.complex128 if dtype == torch.float64 else torch.complex64
    grids, steps, blur = [], [], []
    for m in n:
        sigma = m / (2 * math.pi * window)  # the window's spectral width, in bins
        size = min(m, 2 * math.ceil(3.5 * sigma))
        nu = torch.fft.fftfreq(size, 1.0 / size, device=device).round().long()
        # Shift so coarse sample j sits at (j + 0.5) m/size - 0.5, where interpolate puts it.
        shift = (m / size - 1) / 2
        nu_f = nu.to(dtype)
        gain = torch.exp(-(nu_f**2) / (2 * sigma**2)) * torch.exp(
            2j * math.pi * nu_f * shift / m
        )
        grids.append((nu, gain.to(complex_dtype)))
        # 2 sigma off the lattice: e^-4 of a pattern's power leaks into a probe, and the
        # probes stay close enough for a steep (1/f^2) spectrum to look straight.
        steps.append(min(max(1, round(2 * sigma)), max(1, (m // s) // 2)))
        blur.append(window * size / m)
    return grids, steps, blur


def amplitude(power: torch.Tensor) -> torch.Tensor:
    """``2 sqrt(max(p, 0))``: mean-square excess to peak-to-peak units, zero-safe gradient.

    >>> import torch
    >>> amplitude(torch.tensor([4.0, -1.0])).tolist()
    [4.0, 0.0]
    """
    tiny = torch.finfo(power.dtype).tiny
    return 2 * torch.where(power > 0, power.clamp_min(tiny).sqrt(), torch.zeros_like(power))


def local_ratio(excess: torch.Tensor, floor: torch.Tensor) -> torch.Tensor:
    """The local signal-to-noise ratio ``excess / (floor + mean floor / 10)``, ``(N, *S)``.

    From :func:`heat_power`'s whitened maps: the local excess over the local floor, each
    lattice bin divided by its global floor. The tenth of the mean floor keeps a calm
    (synthetic) patch from being ruled by rounding noise. Where the image carries no pattern
    it scatters around 0 (below 1 on every clean photograph of the calibration set); an
    artifact makes it large.

    >>> import torch
    >>> local_ratio(torch.tensor([[0.0, 1.0]]), torch.tensor([[1.0, 1.0]])).tolist()
    [[0.0, 0.9090909...]]
    """
    flat_floor = floor.reshape(floor.shape[0], -1)
    regular = flat_floor.mean(-1, keepdim=True).clamp_min(torch.finfo(floor.dtype).tiny) * _REGULAR
    ratio = excess.reshape(excess.shape[0], -1) / (flat_floor.clamp_min(0) + regular)
    return ratio.reshape(excess.shape)


def hotspot(excess: torch.Tensor, floor: torch.Tensor) -> torch.Tensor:
    """Indices ``(N, d)`` where the local excess stands highest over its own floor.

    The maximum of :func:`local_ratio`, a local signal-to-noise ratio: a pattern on a calm
    patch beats the chance excess of a busy texture of the same amplitude.

    >>> import torch
    >>> e = torch.zeros(1, 4, 5); e[0, 2, 3] = 1.0
    >>> hotspot(e, torch.ones(1, 4, 5)).tolist()
    [[2, 3]]
    """
    ratio = local_ratio(excess, floor).reshape(excess.shape[0], -1)
    # The map is interpolated from a coarse grid: pixels equidistant from a grid node tie, and
    # rounding (which differs with the batch size) would pick among them. Values within
    # sqrt(eps) of each other are made equal, so the first of them wins in any batch.
    tolerance = math.sqrt(torch.finfo(ratio.dtype).eps)
    scale = ratio.amax(-1, keepdim=True).abs().clamp_min(torch.finfo(ratio.dtype).tiny)
    index = torch.round(ratio / (scale * tolerance)).argmax(-1)
    return torch.stack(torch.unravel_index(index, excess.shape[1:]), -1)


def checkerboard_heatmap(
    x: torch.Tensor,
    periods: Iterable[int] | int = (2, 4, 8),
    *,
    window: float = 16.0,
    spatial_dims: int | None = None,
    threshold: float | None = None,
    significance: float | None = HEAT_SIGNIFICANCE,
) -> torch.Tensor:
    """Local checkerboard amplitude ``(N, *S)`` in the score's unit, zero where not significant.

    The map is :func:`amplitude` of the local excess (the module doc): grey levels for
    0..255 images, so a uniform ``+-a/2`` checkerboard reads about ``a`` everywhere, like
    :func:`~checkerfree.score.checkerboard.checkerboard_score`. Like ``flagged`` it applies
    two tests, here place by place: it is set to 0 wherever the local amplitude is at most
    ``threshold`` (``None``: :data:`~checkerfree.score.checkerboard.DEFAULT_THRESHOLD`) or the
    :func:`local_ratio` at most ``significance`` (:data:`HEAT_SIGNIFICANCE`), so that the
    chance excess of a clean photograph's edges and textures is not painted as an artifact;
    ``threshold=0, significance=None`` gives the raw map.

    ``x`` is read as in :func:`~checkerfree.score.checkerboard.checkerboard_score`; ``window`` is
    the Gaussian's standard deviation in samples (larger: steadier, blurrier; keep it at
    least the largest period so neighbouring lattice frequencies stay apart), a finite number
    ``> 0``, refused (:class:`~checkerfree.errors.InvalidArgumentError`) below the largest
    period. NaN or infinite input, or a float overflow of its local power, raises
    :class:`~checkerfree.errors.NonFiniteError` (:mod:`checkerfree.finite`).

    >>> import torch
    >>> checkerboard_heatmap(torch.rand(3, 40, 40), spatial_dims=2).shape
    torch.Size([1, 40, 40])
    """
    return heat_maps(x, periods, window=window, spatial_dims=spatial_dims, threshold=threshold,
                     significance=significance)[0]


def heat_maps(
    x: torch.Tensor,
    periods: Iterable[int] | int = (2, 4, 8),
    *,
    window: float = 16.0,
    spatial_dims: int | None = None,
    threshold: float | None = None,
    significance: float | None = HEAT_SIGNIFICANCE,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(heat, ratio, hotspot)``: :func:`checkerboard_heatmap`, :func:`local_ratio`, :func:`hotspot`.

    One pass over the spectra for the three (the overlays of ``checkerfree score --heatmap``
    need all of them); ``hotspot`` is the score's, the coherence scan of
    :func:`~checkerfree.score.hotspot.lattice_hotspot` (where ``ratio`` is largest when the
    input is too small for its box).

    >>> import torch
    >>> heat, ratio, spot = heat_maps(torch.rand(2, 1, 32, 32))
    >>> heat.shape, ratio.shape, spot.shape
    (torch.Size([2, 32, 32]), torch.Size([2, 32, 32]), torch.Size([2, 2]))
    """
    from checkerfree.arguments import check_threshold
    from checkerfree.score.checkerboard import DEFAULT_THRESHOLD

    xb, d = as_batch(x, spatial_dims)
    periods = check_periods(periods, tuple(xb.shape[2:]))
    window = check_window(window)
    threshold = check_threshold(threshold, DEFAULT_THRESHOLD)
    if significance is not None:
        value = real_number(significance, "significance", "a finite number >= 0 or None")
        if not (math.isfinite(value) and value >= 0):
            raise InvalidArgumentError(
                f"significance must be a finite number >= 0 or None, got {significance!r}")
        significance = value
    if window < max(periods):
        # Narrower windows smear each lattice peak over its neighbours: the map reads zero
        # on an exact checkerboard, a silent "no artifact".
        raise InvalidArgumentError(
            f"window must be at least the largest period ({max(periods)}) so that the lattice "
            f"frequencies stay apart, got {window:g}")
    check_finite(x, "x", batched=x.ndim == d + 2)
    shared: dict = {}
    spectra = {s: period_bins(xb, s, d, shared) for s in periods}
    spatial = tuple(xb.shape[2:])
    with torch.no_grad():
        floors = {s: lattice_excess(spectra[s], s, periods, d)[1] for s in periods}
        white = _whitening(spectra, periods, d, floors)
        ones = {s: torch.ones_like(floors[s]) for s in periods}
        # Per period: its plain map (the amplitude) and its whitened map (the significance);
        # then all periods whitened together, the hotspot's.
        weightings = ([{s: ones[s]} for s in periods] + [{s: white[s]} for s in periods]
                      + [white])
        maps = _heat_power_many(spectra, periods, d, window, spatial, weightings)
    # NaN compares false: an overflowed map would read 0 everywhere, so it is refused.
    check_power([m for pair in maps for m in pair], xb, "the local (heat map) power of x")
    heat = torch.zeros((xb.shape[0], *spatial), dtype=xb.dtype, device=xb.device)
    for k in range(len(periods)):
        # Each period tested on its own, as flagged does: a value above the threshold whose
        # local ratio is significant; the map is the largest such value (as score is).
        value = amplitude(maps[k][0])
        keep = value > threshold
        if significance is not None:
            keep = keep & (local_ratio(*maps[len(periods) + k]) > significance)
        heat = torch.maximum(heat, torch.where(keep, value, torch.zeros_like(value)))
    white_all = maps[-1]
    ratio = local_ratio(*white_all)
    # The score's hotspot (checkerfree.score.hotspot's coherence scan); inputs too small for
    # its box keep the largest local ratio.
    with torch.no_grad():
        found = lattice_hotspot(xb.detach(), periods, d, window)
    return heat, ratio, hotspot(*white_all) if found is None else found[0]
