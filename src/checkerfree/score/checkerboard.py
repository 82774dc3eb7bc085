"""Checkerboard score: the amplitude of the periodic pattern at the period-s lattice.

Definition, for each item and each period ``s`` (see ``docs/score.md``):

1. crop every spatial axis to the largest multiple of ``s`` (top-left kept), so each lattice
   frequency ``k n / s`` is an exact DFT bin;
2. take the DFT of the crop's periodic component (:func:`~checkerfree.score.lattice.periodic_spectrum`)
   and the power per bin ``P = |X|^2 / n^2`` (``n`` the number of samples: summed over all
   bins it is the mean square), averaged over channels;
3. for each lattice bin ``b`` of period ``s`` (non-zero, not on the lattice of a smaller
   listed period that divides ``s``), the floor ``F_b`` is the mean of ``P`` over the bins
   around ``b`` that share its zero coordinates (a box of radius 3 for a checkerboard bin
   ``(k, l)``, a line of radius 16 for a stripe bin ``(k, 0)``: axis-aligned edges put their
   energy on the frequency axes, so a stripe bin is compared with its own axis), lattice bins
   left out: what the image has around ``b`` anyway. Broadband content (noise, texture, a
   random-init decoder's hash) has ``P_b`` close to ``F_b``; a periodic pattern is a sharp
   peak on top of it;
4. ``value_s = 2 * sqrt(max(sum_b (P_b - F_b), 0))``.

Unit: ``sum_b (P_b - F_b)`` is the mean square of the periodic component beyond what the
neighbourhood predicts, so ``value_s`` is twice its RMS, in the input's units: the
peak-to-peak amplitude of a ``+-a/2`` pattern (a checkerboard or stripes of ``+-a/2`` read
``a``). For 8-bit images in ``0..255`` it is in grey levels. White noise reads about 0 at any
size (the floor takes its share out); the small Nyquist residue of photographs and JPEG
blocks reads a fraction of a grey level.

``score`` is the largest ``value_s``. ``flagged`` combines both tests of DESIGN section 4: some
period's value exceeds ``threshold`` (energy: the small real Nyquist residue of photographs
and JPEG stays below it) and its peak is significant, ``sum_b (P_b - F_b)`` more than
:data:`MIN_SIGNIFICANCE` times its chance spread ``sqrt(2 sum_b F_b^2)`` (peak over
neighbours: broadband noise and texture, whose values scatter around 0, stay below it).
:data:`DEFAULT_THRESHOLD` is in grey levels (calibrated by ``benchmarks/calibration.py``):
for inputs in ``0..1`` pass ``threshold=DEFAULT_THRESHOLD / 255`` or scale by 255.

>>> import torch
>>> smooth = torch.linspace(0, 200, 64).repeat(64, 1)
>>> i, j = torch.meshgrid(torch.arange(64), torch.arange(64), indexing="ij")
>>> result = checkerboard_score(smooth + 3 * (-1.0) ** (i + j))   # +-3: 6 grey levels
>>> round(result.score.item(), 1), result.flagged.item()
(6.0, True)
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import torch

from checkerfree.arguments import check_flag, check_threshold, check_window
from checkerfree.finite import check_finite, check_power
from checkerfree.score.heatmap import amplitude, heat_power, hotspot as find_hotspot
from checkerfree.score.lattice import lattice_excess, period_bins
from checkerfree.score.layout import as_batch, check_periods

__all__ = [
    "ScoreResult",
    "checkerboard_score",
    "checkerboard_loss",
    "DEFAULT_THRESHOLD",
    "MIN_SIGNIFICANCE",
]

#: Flag threshold in grey levels (0..255 inputs), from ``benchmarks/calibration.py --json``:
#: above the largest significant value of every clean photograph, JPEG and crop in the
#: calibration set, below most 2-grey-level patterns. Re-run the script, copy ``threshold``.
DEFAULT_THRESHOLD = 0.55

#: A period's value counts for ``flagged`` only when its peak stands this many standard
#: deviations above the floor's chance fluctuation: the statistical half of the decision,
#: which keeps small, noisy images (whose values scatter widely around 0) from being flagged.
MIN_SIGNIFICANCE = 5.0



@dataclass
class ScoreResult:
    """Per-item checkerboard measurements; every tensor has the batch size ``N`` first.

    - ``score`` ``(N,)``: the largest per-period value, in the input's units (grey levels);
    - ``periods`` ``{s: (N,)}``: the value of each period;
    - ``axes`` ``{s: (N, d)}``: the part of ``periods[s]`` made of stripes, one value per
      spatial axis in layout order (axis ``a``: a pattern that varies along axis ``a`` only);
      the rest is the mixed (checkerboard) part, ``periods[s]**2 = sum(axes[s]**2) + mixed**2``
      up to the clamping at zero;
    - ``significance`` ``{s: (N,)}``: the excess in standard deviations of the floor's
      fluctuation (a peak-over-neighbours z-score, the larger of the plain and the whitened
      sum; a few units at most on noise);
    - ``flagged`` ``(N,)`` bool: some period has ``value > threshold`` and
      ``significance > MIN_SIGNIFICANCE`` (an amplitude large enough to matter *and* a peak
      that is not chance);
    - ``hotspot`` ``(N, d)`` long: array indices in layout order (``[row, col]`` for images)
      of the strongest local artifact, the maximum of :func:`checkerboard_heatmap`;
    - ``threshold``: the threshold used.

    >>> import torch
    >>> row = checkerboard_score(torch.zeros(1, 1, 32, 32)).to_rows()[0]
    >>> sorted(row)
    ['flagged', 'hotspot', 'periods', 'score']
    """

    score: torch.Tensor
    periods: dict[int, torch.Tensor]
    axes: dict[int, torch.Tensor]
    significance: dict[int, torch.Tensor]
    flagged: torch.Tensor
    hotspot: torch.Tensor
    threshold: float = field(default=0.0)

    def to_rows(self, detail: bool = False) -> list[dict]:
        """One JSON-able dict per item: ``score``, ``periods`` (keys are strings), ``flagged``,
        ``hotspot``; with ``detail`` also ``axes`` and ``significance``.

        >>> import torch
        >>> r = checkerboard_score(torch.zeros(2, 1, 16, 16), periods=(2,))
        >>> r.to_rows()[1]
        {'score': 0.0, 'periods': {'2': 0.0}, 'flagged': False, 'hotspot': [0, 0]}
        """
        score = self.score.detach().cpu().tolist()
        periods = {s: v.detach().cpu().tolist() for s, v in self.periods.items()}
        axes = {s: v.detach().cpu().tolist() for s, v in self.axes.items()}
        sig = {s: v.detach().cpu().tolist() for s, v in self.significance.items()}
        flagged = self.flagged.cpu().tolist()
        hotspot = self.hotspot.cpu().tolist()
        rows = []
        for i in range(len(score)):
            row = {
                "score": float(score[i]),
                "periods": {str(s): float(v[i]) for s, v in periods.items()},
                "flagged": bool(flagged[i]),
                "hotspot": [int(c) for c in hotspot[i]],
            }
            if detail:
                row["axes"] = {str(s): [float(c) for c in v[i]] for s, v in axes.items()}
                row["significance"] = {str(s): float(v[i]) for s, v in sig.items()}
            rows.append(row)
        return rows

    def to_dict(self) -> dict:
        """Everything as JSON-able columns plus the threshold: ``{"rows": [...], "threshold"}``.

        >>> import torch
        >>> checkerboard_score(torch.zeros(16, 16), periods=2).to_dict()["threshold"] > 0
        True
        """
        return {"rows": self.to_rows(detail=True), "threshold": float(self.threshold)}


def checkerboard_score(
    x: torch.Tensor,
    periods: Iterable[int] | int = (2, 4, 8),
    *,
    threshold: float | None = None,
    spatial_dims: int | None = None,
    window: float = 16.0,
    hotspot: bool = True,
) -> ScoreResult:
    """Measure the checkerboard amplitude of each item at each period (see the module doc).

    Layout: ``(N, C, H, W)`` images, ``(N, C, D, H, W)`` volumes, one grey image ``(H, W)``;
    other ranks (one image ``(C, H, W)``, signals ``(N, C, L)``) need ``spatial_dims``
    (:mod:`checkerfree.score.layout`). ``window`` is the standard deviation in samples of the heat
    map's Gaussian window, which locates the ``hotspot`` (``hotspot=False`` skips it and
    returns zeros). Differentiable; the result follows ``x``'s device and (floating) dtype.

    ``threshold`` is a number ``>= 0`` in the input's units (``None``: :data:`DEFAULT_THRESHOLD`;
    ``inf`` flags nothing; NaN is refused). Non-finite input is never a measurement: a NaN or
    infinite value in ``x``, or a float overflow of the power computed from it (float32 values
    near ``1e19`` and beyond), raises :class:`~checkerfree.errors.NonFiniteError` saying how
    many values and where (:mod:`checkerfree.finite`).

    >>> import torch
    >>> t = torch.arange(256.0)
    >>> signal = torch.sin(t / 9) * 20 + 2 * (t % 4 == 0)      # 1 sample in 4 is 2 higher
    >>> r = checkerboard_score(signal[None, None], periods=(2, 4), spatial_dims=1)
    >>> {s: round(v.item(), 1) for s, v in r.periods.items()}
    {2: 1.0, 4: 1.4}
    """
    xb, d = as_batch(x, spatial_dims)
    periods = check_periods(periods, tuple(xb.shape[2:]))
    threshold = check_threshold(threshold, DEFAULT_THRESHOLD)
    window = check_window(window)
    hotspot = check_flag(hotspot, "hotspot")
    check_finite(x, "x", batched=x.ndim == d + 2)
    values, axes, significance, spectra, floors = {}, {}, {}, {}, {}
    powers = []  # every intermediate the result is made of, checked at once for overflow
    shared: dict = {}  # one rfftn per crop shape, shared by the periods that crop alike
    for s in periods:
        spectra[s] = period_bins(xb, s, d, shared)
        excess, floor, coords = lattice_excess(spectra[s], s, periods, d)
        floors[s] = floor.detach()
        nonzero = coords != 0
        stripe = nonzero.sum(-1) == 1
        per_axis = [excess[:, stripe & nonzero[:, a]].sum(-1) for a in range(d)]
        axes[s] = amplitude(torch.stack(per_axis, -1))
        total = excess.sum(-1)
        values[s] = amplitude(total)
        # Var(P_b) = F_b^2 for a complex bin, and conjugate pairs are counted twice: 2 sum F^2.
        # Two z-scores, the larger kept: the plain sum (best when the floor is even) and the
        # whitened sum of P_b / F_b - 1 (best when a few high-floor bins, the low frequencies
        # of a busy image, would swamp the plain sum's spread). Var(P_b) = F_b^2 for a complex
        # bin, and conjugate pairs are counted twice: the spreads are sqrt(2 sum F^2), sqrt(2K).
        tiny = torch.finfo(floor.dtype).tiny
        spread = _chance_spread(floor)
        plain = total / spread.clamp_min(tiny)
        whitened = (excess / floor.clamp_min(tiny)).sum(-1) / math.sqrt(2 * excess.shape[-1])
        significance[s] = torch.maximum(plain, whitened)
        powers += [excess, floor, spread]
    # NaN compares false, so an overflowed power would read 0 ("clean"): refuse it instead.
    check_power(powers, xb, "the lattice power of x")
    score = torch.stack(list(values.values()), -1).amax(-1)
    flagged = torch.stack(
        [(values[s].detach() > threshold) & (significance[s].detach() > MIN_SIGNIFICANCE)
         for s in periods], -1
    ).any(-1)
    if hotspot:
        with torch.no_grad():
            local = heat_power(spectra, periods, d, window, tuple(xb.shape[2:]), whiten=True,
                               floors=floors)
            check_power(local, xb, "the local (heat map) power of x")
            spots = find_hotspot(*local)
    else:
        spots = torch.zeros(xb.shape[0], d, dtype=torch.long, device=xb.device)
    return ScoreResult(score, values, axes, significance, flagged, spots, threshold)


def _chance_spread(floor: torch.Tensor) -> torch.Tensor:
    """``sqrt(2 sum_b F_b^2)`` per item, computed on ``F`` scaled by a power of two.

    The squares of a float32 floor overflow once ``F`` passes ``~1e19`` (inputs near
    ``1e12``); scaling by ``2^-e`` first (``2^e`` just above the largest ``F_b``) cannot
    overflow and changes no rounding, so the result is bit for bit the plain formula's
    wherever that one is finite.

    >>> import torch
    >>> round(_chance_spread(torch.tensor([[3e30, 4e30]])).item() / 5e30, 4)
    1.4142
    """
    exponent = torch.frexp(floor.detach().abs().amax(-1, keepdim=True)).exponent
    scaled = torch.ldexp(floor, -exponent).to(floor.dtype)
    return torch.ldexp(torch.sqrt(2 * (scaled**2).sum(-1)), exponent[..., 0]).to(floor.dtype)


def checkerboard_loss(
    x: torch.Tensor,
    periods: Iterable[int] | int = (2, 4, 8),
    *,
    spatial_dims: int | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    """Differentiable penalty: the squared checkerboard amplitude, summed over periods.

    ``loss_i = sum_s value_s(x_i)**2 = 4 sum_s max(sum_b (P_b - F_b), 0)`` in squared input
    units; squaring avoids the square root's infinite slope at zero. ``reduction`` is
    ``"mean"``, ``"sum"`` or ``"none"`` (per item, ``(N,)``).

    Unlike the measurements, the loss does not check for NaN or infinity: it keeps torch's
    convention (NaN in, NaN out; an overflow gives inf or NaN), as every torch loss does, so
    a training loop's own NaN handling (``torch.autograd.detect_anomaly``, a GradScaler's
    skipped step) sees it.

    >>> import torch
    >>> x = torch.rand(2, 3, 32, 32, requires_grad=True)
    >>> checkerboard_loss(x).backward()
    >>> x.grad.shape
    torch.Size([2, 3, 32, 32])
    >>> checkerboard_loss(torch.full((1, 1, 16, 16), float("nan"))).isnan().item()
    True
    """
    from checkerfree.errors import InvalidArgumentError

    if reduction not in ("mean", "sum", "none"):
        raise InvalidArgumentError(
            f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}"
        )
    xb, d = as_batch(x, spatial_dims)
    periods = check_periods(periods, tuple(xb.shape[2:]))
    shared: dict = {}
    per_item = sum(
        4 * lattice_excess(period_bins(xb, s, d, shared), s, periods, d)[0].sum(-1).clamp_min(0)
        for s in periods
    )
    if reduction == "none":
        return per_item
    return per_item.mean() if reduction == "mean" else per_item.sum()
