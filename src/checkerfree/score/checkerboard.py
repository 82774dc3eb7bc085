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
   left out, and from period 4 on those nearer to zero frequency than half the lattice
   spacing (:func:`~checkerfree.score.lattice.lattice_excess`): what the image has around
   ``b`` anyway. Broadband content (noise, texture, a
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
from checkerfree.score.hotspot import lattice_hotspot
from checkerfree.errors import InvalidArgumentError, InvalidTypeError
from checkerfree.score.lattice import lattice_excess, period_bins
from checkerfree.score.layout import as_batch, check_periods
from checkerfree.score.periods import (find_periods, found_significance, lattice_lines,
                                       leak_floor, max_search_period, search_significance)

__all__ = [
    "ScoreResult",
    "checkerboard_score",
    "checkerboard_loss",
    "DEFAULT_THRESHOLD",
    "MIN_SIGNIFICANCE",
    "FIXED_PERIODS",
]

#: Flag threshold in grey levels (0..255 inputs), from ``benchmarks/calibration.py --json``:
#: above the largest significant value of every clean photograph, JPEG and crop in the
#: calibration set, below most 2-grey-level patterns. Re-run the script, copy ``threshold``.
DEFAULT_THRESHOLD = 0.55

#: A period's value counts for ``flagged`` only when its peak stands this many standard
#: deviations above the floor's chance fluctuation: the statistical half of the decision,
#: which keeps small, noisy images (whose values scatter widely around 0) from being flagged.
MIN_SIGNIFICANCE = 5.0

#: The periods measured by default, and always measured by ``periods="auto"`` (the ones
#: :data:`DEFAULT_THRESHOLD` and :data:`MIN_SIGNIFICANCE` are calibrated on).
FIXED_PERIODS = (2, 4, 8)

#: Periods ``"auto"`` adds per item, at most (the best of the search, measured exactly).
AUTO_CANDIDATES = 3


@dataclass
class ScoreResult:
    """Per-item checkerboard measurements; every tensor has the batch size ``N`` first.

    - ``score`` ``(N,)``: the value of the period that decides, in the input's units (grey
      levels): when flagged, the largest value among the periods that flag; otherwise the
      largest value among the significant periods, or, when no period is significant, the
      largest value of all (then ``reason`` says it is not significant);
    - ``periods`` ``{s: (N,)}``: the value of each period measured;
    - ``axes`` ``{s: (N, d)}``: the part of ``periods[s]`` made of stripes, one value per
      spatial axis in layout order (axis ``a``: a pattern that varies along axis ``a`` only);
      the rest is the mixed (checkerboard) part, ``periods[s]**2 = sum(axes[s]**2) + mixed**2``
      up to the clamping at zero;
    - ``significance`` ``{s: (N,)}``: the excess in standard deviations of the floor's
      fluctuation (a peak-over-neighbours z-score, the larger of the plain and the whitened
      sum; a few units at most on noise); for a period ``"auto"`` found, the smaller of that
      and :func:`~checkerfree.score.periods.found_significance` (its peak sharp to the bins,
      in more than one direction);
    - ``required`` ``{s: float}``: the significance period ``s`` needs to flag:
      :data:`MIN_SIGNIFICANCE` for given periods and :data:`FIXED_PERIODS`, more for periods
      that ``"auto"`` picked from ``searched`` ones (:func:`~checkerfree.score.periods.search_significance`);
    - ``flagged`` ``(N,)`` bool: some period has ``value > threshold`` and
      ``significance > required`` (an amplitude large enough to matter *and* a peak
      that is not chance);
    - ``period`` ``(N, d)`` long: the dominant period along each spatial axis, layout order:
      the smallest period per axis that holds 80% of the pattern's energy in the periods
      that decide (``[16, 8]`` for a 16x8 lattice, ``1`` along an axis the pattern does not
      vary along); the deciding period on every axis when no period is significant;
    - ``reason`` ``[str] * N``: why the item is or is not flagged, with the numbers;
    - ``hotspot`` ``(N, d)`` long: array indices in layout order (``[row, col]`` for images)
      of the most coherent local lattice pattern (:mod:`checkerfree.score.hotspot`), for the
      items with a significant period (every flagged item has one); ``-1`` on every axis
      for the others (no significant period: the most coherent box is noise's largest
      value, so it is not computed; ``hotspot="always"`` computes it anyway) and with
      ``hotspot=False``. :meth:`to_rows` gives ``None`` for ``-1``;
    - ``threshold``: the threshold used; ``searched``: periods ``"auto"`` searched (0: none).

    >>> import torch
    >>> row = checkerboard_score(torch.zeros(1, 1, 32, 32)).to_rows()[0]
    >>> sorted(row)
    ['flagged', 'hotspot', 'period', 'periods', 'reason', 'score']
    """

    score: torch.Tensor
    periods: dict[int, torch.Tensor]
    axes: dict[int, torch.Tensor]
    significance: dict[int, torch.Tensor]
    flagged: torch.Tensor
    hotspot: torch.Tensor
    threshold: float = field(default=0.0)
    period: torch.Tensor | None = None
    reason: list[str] = field(default_factory=list)
    required: dict[int, float] = field(default_factory=dict)
    searched: int = 0

    def to_rows(self, detail: bool = False) -> list[dict]:
        """One JSON-able dict per item: ``score``, ``periods`` (keys are strings), ``flagged``,
        ``period``, ``reason``, ``hotspot`` (``None`` where not computed: ``-1`` in the
        tensor); with ``detail`` also ``axes``, ``significance`` and ``required``.

        >>> import torch
        >>> r = checkerboard_score(torch.zeros(2, 1, 16, 16), periods=(2,))
        >>> r.to_rows()[1]["periods"], r.to_rows()[1]["period"], r.to_rows()[1]["reason"]
        ({'2': 0.0}, [2, 2], 'not flagged: no period is significant (period 2: 0.0 <= 5.0); the largest value is 0.00 (period 2)')
        >>> r.to_rows()[1]["hotspot"] is None, r.hotspot[1].tolist()
        (True, [-1, -1])
        """
        score = self.score.detach().cpu().tolist()
        periods = {s: v.detach().cpu().tolist() for s, v in self.periods.items()}
        axes = {s: v.detach().cpu().tolist() for s, v in self.axes.items()}
        sig = {s: v.detach().cpu().tolist() for s, v in self.significance.items()}
        flagged = self.flagged.cpu().tolist()
        hotspot = self.hotspot.cpu().tolist()
        dominant = None if self.period is None else self.period.cpu().tolist()
        rows = []
        for i in range(len(score)):
            row = {
                "score": float(score[i]),
                "periods": {str(s): float(v[i]) for s, v in periods.items() if v[i] == v[i]},
                "flagged": bool(flagged[i]),
                "period": None if dominant is None else [int(c) for c in dominant[i]],
                "reason": self.reason[i] if i < len(self.reason) else None,
                "hotspot": None if min(hotspot[i]) < 0 else [int(c) for c in hotspot[i]],
            }
            if detail:
                # NaN: a period found on batch mates, not measured on this item (auto).
                row["axes"] = {str(s): [float(c) for c in v[i]] for s, v in axes.items()
                               if periods[s][i] == periods[s][i]}
                row["significance"] = {str(s): float(v[i]) for s, v in sig.items()
                                       if periods[s][i] == periods[s][i]}
                row["required"] = {str(s): float(v) for s, v in self.required.items()
                                   if periods[s][i] == periods[s][i]}
            rows.append(row)
        return rows

    def to_dict(self) -> dict:
        """Everything as JSON-able columns plus the threshold: ``{"rows": [...], "threshold",
        "searched"}``.

        >>> import torch
        >>> checkerboard_score(torch.zeros(16, 16), periods=2).to_dict()["threshold"] > 0
        True
        """
        return {"rows": self.to_rows(detail=True), "threshold": float(self.threshold),
                "searched": int(self.searched)}


def resolve_periods(
    periods, xb: torch.Tensor, d: int
) -> tuple[tuple[int, ...], dict[int, float], int]:
    """The periods to measure, the significance each needs, and how many were searched.

    ``periods`` is ``"auto"`` (exactly that string), an int or a sequence of ints.
    ``"auto"``: :data:`FIXED_PERIODS` (those that fit) plus, per item, up to
    :data:`AUTO_CANDIDATES` periods found by :func:`~checkerfree.score.periods.find_periods`
    among ``2 .. max_search_period``, and their divisors; the found ones need
    ``search_significance(MIN_SIGNIFICANCE, searched)``, the others :data:`MIN_SIGNIFICANCE`.
    Over a batch, the periods of all its items together; each item is scored at its own
    (:func:`resolve_item_periods`).

    >>> import torch
    >>> xb = torch.rand(1, 1, 64, 64, generator=torch.Generator().manual_seed(0))
    >>> resolve_periods("auto", xb, 2)[0], resolve_periods((4, 2), xb, 2)
    ((2, 4, 8), ((2, 4), {2: 5.0, 4: 5.0}, 0))
    """
    items = resolve_item_periods(periods, xb, d)
    spatial = tuple(xb.shape[2:])
    measured = check_periods(sorted({s for item, _, _ in items for s in item}), spatial)
    required = {s: need for _, item, _ in items for s, need in item.items()}
    return measured, required, items[0][2]


def resolve_item_periods(
    periods, xb: torch.Tensor, d: int, cache: dict | None = None
) -> list[tuple[tuple[int, ...], dict[int, float], int]]:
    """:func:`resolve_periods` for each item on its own: ``[(periods, required, searched)]``.

    Given periods are the same for every item. ``"auto"`` measures on each item the periods
    found on it (and their divisors), never those found on its batch mates: a row does not
    depend on the batch it was scored in. ``cache``: the score's ``rfftn`` per crop shape
    (:func:`~checkerfree.score.lattice.period_bins`), shared with the search.

    >>> import torch
    >>> i, j = torch.meshgrid(torch.arange(64), torch.arange(64), indexing="ij")
    >>> g = torch.Generator().manual_seed(0)
    >>> noise = 100 + 10 * torch.randn(2, 1, 64, 64, generator=g)
    >>> noise[1, 0] += 4 * (-1.0) ** (i // 5 + j // 5)               # period 10 on item 1
    >>> [item[0] for item in resolve_item_periods("auto", noise, 2)]
    [(2, 4, 8), (2, 4, 5, 8, 10)]
    """
    spatial = tuple(xb.shape[2:])
    n = xb.shape[0]
    if isinstance(periods, _Chosen):
        return [(periods.periods, dict(periods.required), periods.searched)] * max(n, 1)
    if not isinstance(periods, str):
        measured = check_periods(periods, spatial)
        return [(measured, {s: MIN_SIGNIFICANCE for s in measured}, 0)] * max(n, 1)
    if periods != "auto":
        raise InvalidTypeError(
            f"periods must be 'auto', an int or a sequence of ints, got {periods!r}"
        )
    fixed = tuple(s for s in FIXED_PERIODS if 2 * s <= min(spatial)) or FIXED_PERIODS[:1]
    fixed = check_periods(fixed, spatial)
    top = max_search_period(spatial)
    searched = max(0, top - 1)
    needed = search_significance(MIN_SIGNIFICANCE, searched) if searched else MIN_SIGNIFICANCE
    found_per_item = (find_periods(xb, d, count=AUTO_CANDIDATES, skip=fixed, cache=cache)
                      if searched and n else [[]] * max(n, 1))
    items = []
    for found in map(set, found_per_item):
        # With its divisors measured too, a found period's value is only what is new at
        # that period (each bin counts for the smallest listed period that has it, as
        # for 2, 4, 8): a photograph's period-5 lattice is not read again at 20.
        found.update(p for s in list(found) for p in range(2, s) if s % p == 0)
        measured = check_periods(fixed + tuple(found), spatial)
        items.append((measured, {s: MIN_SIGNIFICANCE if s in fixed else needed
                                 for s in measured}, searched))
    return items


def checkerboard_score(
    x: torch.Tensor,
    periods: Iterable[int] | int | str = FIXED_PERIODS,
    *,
    threshold: float | None = None,
    spatial_dims: int | None = None,
    window: float = 16.0,
    hotspot: bool | str = True,
) -> ScoreResult:
    """Measure the checkerboard amplitude of each item at each period (see the module doc).

    Layout: ``(N, C, H, W)`` images, ``(N, C, D, H, W)`` volumes, one grey image ``(H, W)``;
    other ranks (one image ``(C, H, W)``, signals ``(N, C, L)``) need ``spatial_dims``
    (:mod:`checkerfree.score.layout`). ``window`` is the standard deviation in samples of the heat
    map's Gaussian window; the ``hotspot`` is searched in boxes of ``(4 window)**2`` samples,
    in the items that have a significant period only (``-1`` for the others, see
    :class:`ScoreResult`; ``hotspot="always"``: in every item, ``False``: in none).
    Differentiable; the result follows
    ``x``'s device and (floating) dtype.

    ``periods="auto"`` searches every period from 2 to a quarter of the shortest axis
    (:mod:`checkerfree.score.periods`: one spectrum, harmonic sums) and measures
    :data:`FIXED_PERIODS` plus the best few found; a found period flags only above the
    look-elsewhere corrected significance (:func:`resolve_periods`), measured with its floor
    raised to the mean of each bin's neighbours and without the line through zero that
    holds most of its excess (:func:`~checkerfree.score.periods.found_significance`: the
    harmonics of text lines are no lattice).

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
    >>> i, j = torch.meshgrid(torch.arange(128), torch.arange(128), indexing="ij")
    >>> r = checkerboard_score(100 + 2.0 * (-1.0) ** (i // 8 + j // 8), periods="auto")
    >>> round(r.score.item(), 1), r.period.tolist(), r.flagged.item()
    (4.0, [[16, 16]], True)
    """
    # Integers (8-bit images) stay integers up to the transform, which reads them as float32
    # one channel at a time (period_bins); what else needs values converts them (_floating).
    xb, d = as_batch(x, spatial_dims, integers=True)
    threshold = check_threshold(threshold, DEFAULT_THRESHOLD)
    window = check_window(window)
    everywhere = isinstance(hotspot, str) and hotspot == "always"
    hotspot = everywhere or _check_hotspot(hotspot)
    check_finite(x, "x", batched=x.ndim == d + 2)
    # One rfftn per crop shape, shared by the periods that crop alike; "auto"'s search puts
    # the whole input's there, the fixed periods' own when they crop nothing.
    shared: dict = dict(periods.spectra) if isinstance(periods, _Chosen) else {}
    if isinstance(periods, str):
        xb = _floating(xb)  # the search reads the whole spectrum
        items = resolve_item_periods(periods, xb, d, shared)
        groups = _period_groups(items)
        if len(groups) > 1:
            # Each item at its own periods: one call per set of periods, rows put back (with
            # their rows of the spectra already taken).
            return _gathered([(index, checkerboard_score(
                xb[index], _Chosen(*items[index[0]], {key: half[index] for key, half in
                                                      shared.items()}),
                threshold=threshold, spatial_dims=d, window=window, hotspot=hotspot))
                for index in groups])
        periods = _Chosen(*items[0])
    auto = isinstance(periods, _Chosen)
    periods, required, searched = resolve_periods(periods, xb, d)
    found = {s for s in periods if s not in FIXED_PERIODS} if auto else set()
    values, axes, significance, spectra, floors, excesses, lattices = {}, {}, {}, {}, {}, {}, {}
    powers = []  # every intermediate the result is made of, checked at once for overflow
    for s in periods:
        spectra[s] = period_bins(xb, s, d, shared, periods)
        excess, floor, coords = lattice_excess(spectra[s], s, periods, d)
        floors[s] = floor.detach()
        excesses[s], lattices[s] = excess.detach(), coords
        nonzero = coords != 0
        stripe = nonzero.sum(-1) == 1
        per_axis = [excess[:, stripe & nonzero[:, a]].sum(-1) for a in range(d)]
        axes[s] = amplitude(torch.stack(per_axis, -1))
        total = excess.sum(-1)
        values[s] = amplitude(total)
        spread, significance[s] = _significance(excess, floor)
        if s in found:
            # A found period counts only a peak sharp to its bins (the floor is raised where
            # the bins next to each are high: a text page's line harmonics) and in more than
            # one direction (a lattice, not lines of text): periods.found_significance.
            with torch.no_grad():
                near = leak_floor(spectra[s], s, coords).to(floor.dtype)
                strict = found_significance(excess + floor, floor, near, lattice_lines(coords, s))
                significance[s] = torch.minimum(significance[s], strict)
        powers += [excess, floor, spread]
    # NaN compares false, so an overflowed power would read 0 ("clean"): refuse it instead.
    check_power(powers, xb, "the lattice power of x")
    stacked = torch.stack([values[s] for s in periods], -1)
    sig = torch.stack([significance[s].detach() for s in periods], -1)
    need = torch.tensor([required[s] for s in periods], dtype=sig.dtype, device=sig.device)
    significant = sig > need
    flags = significant & (stacked.detach() > threshold)
    flagged = flags.any(-1)
    # The deciding period: the largest value among those that flag, else among the
    # significant ones, else among all (see ScoreResult.score).
    pool = torch.where(flagged[:, None], flags,
                       torch.where(significant.any(-1, keepdim=True), significant,
                                   torch.ones_like(significant)))
    masked = torch.where(pool, stacked.detach(), torch.full_like(stacked.detach(), -math.inf))
    decide = masked.argmax(-1)
    score = stacked.gather(-1, decide[:, None])[:, 0]
    dominant, reasons = _explain(periods, stacked.detach(), sig, need, flags, significant,
                                 pool, decide, excesses, lattices, threshold, searched, d)
    spots = torch.full((xb.shape[0], d), -1, dtype=torch.long, device=xb.device)
    # Only items with a significant period (flagged ones are): elsewhere the most coherent
    # box is the argmax of noise, and the scan is most of the score's cost on a clean folder.
    if not hotspot:
        chosen = torch.zeros(0, dtype=torch.long, device=xb.device)
    elif everywhere:
        chosen = torch.arange(xb.shape[0], device=xb.device)
    else:
        chosen = significant.any(-1).nonzero()[:, 0]
    if len(chosen):
        with torch.no_grad():
            # The coherence scan (checkerfree.score.hotspot), in one call over the chosen
            # items (no copy when all are); inputs too small for its box fall back on the
            # whitened heat map's local ratio.
            subset = _floating(xb.detach() if len(chosen) == xb.shape[0]
                               else xb.detach()[chosen])
            found = lattice_hotspot(subset, periods, d, window)
            if found is not None:
                spots[chosen] = found[0]
            else:
                local = heat_power(spectra, periods, d, window, tuple(xb.shape[2:]),
                                   whiten=True, floors=floors)
                check_power(local, xb, "the local (heat map) power of x")
                spots[chosen] = find_hotspot(*local)[chosen]
    return ScoreResult(score, values, axes, significance, flagged, spots, threshold,
                       dominant.to(xb.device), reasons, dict(required), searched)


def _floating(x: torch.Tensor) -> torch.Tensor:
    """``x`` as the float32 that integers stand for (:func:`~checkerfree.score.layout.as_batch`);
    floating tensors as they are."""
    return x if x.is_floating_point() else x.to(torch.float32)


@dataclass(frozen=True)
class _Chosen:
    """The periods ``"auto"`` chose for some items (:func:`resolve_item_periods`), passed on
    to the call that scores them, with the spectra of those items computed already (the
    score's ``rfftn`` per crop shape)."""

    periods: tuple[int, ...]
    required: dict[int, float]
    searched: int
    spectra: dict = field(default_factory=dict)


def _period_groups(items: list[tuple]) -> list[list[int]]:
    """The item indices of each distinct set of periods, in order of first appearance."""
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, (periods, _, _) in enumerate(items):
        groups.setdefault(periods, []).append(i)
    return list(groups.values())


def _inverse(groups: list[list[int]], device) -> torch.Tensor:
    """Where each item of the batch is in the groups' items laid end to end."""
    order = torch.tensor([i for index in groups for i in index], dtype=torch.long)
    inverse = torch.empty_like(order)
    inverse[order] = torch.arange(len(order))
    return inverse.to(device)


def _gathered(parts: list[tuple[list[int], ScoreResult]]) -> ScoreResult:
    """One result of the groups' results, items in batch order.

    A period measured on some groups only is NaN for the items of the others (they were
    not measured at it); :meth:`ScoreResult.to_rows` leaves it out of their rows.
    """
    results = [result for _, result in parts]
    inverse = _inverse([index for index, _ in parts], results[0].score.device)

    def joined(pieces: list[torch.Tensor]) -> torch.Tensor:
        return torch.cat(pieces)[inverse]

    def table(name: str) -> dict[int, torch.Tensor]:
        keys = sorted({s for result in results for s in getattr(result, name)})
        out = {}
        for s in keys:
            like = next(getattr(r, name)[s] for r in results if s in getattr(r, name))
            out[s] = joined([getattr(r, name)[s] if s in getattr(r, name) else
                             torch.full((len(index), *like.shape[1:]), math.nan,
                                        dtype=like.dtype, device=like.device)
                             for index, r in parts])
        return out

    reasons = [reason for result in results for reason in result.reason]
    first = results[0]
    return ScoreResult(
        joined([r.score for r in results]), table("periods"), table("axes"),
        table("significance"), joined([r.flagged for r in results]),
        joined([r.hotspot for r in results]), first.threshold,
        joined([r.period for r in results]), [reasons[k] for k in inverse.tolist()],
        {s: v for r in results for s, v in sorted(r.required.items())}, first.searched)


def _check_hotspot(value) -> bool:
    """``hotspot``: ``True`` or ``False`` (``"always"`` is let through before this).

    >>> _check_hotspot("no")
    Traceback (most recent call last):
    ...
    checkerfree.errors.InvalidTypeError: hotspot must be True or False (or 'always'), got 'no'
    """
    try:
        return check_flag(value, "hotspot")
    except InvalidTypeError:
        raise InvalidTypeError(
            f"hotspot must be True or False (or 'always'), got {value!r}") from None


def _significance(excess: torch.Tensor, floor: torch.Tensor):
    """``(spread, z)``: the chance spread of the sum and the significance (ScoreResult).

    Two z-scores, the larger kept: the plain sum (best when the floor is even) and the
    whitened sum of ``P_b / F_b - 1`` (best when a few high-floor bins, the low frequencies
    of a busy image, would swamp the plain sum's spread). ``Var(P_b) = F_b^2`` for a complex
    bin, and conjugate pairs are counted twice: the spreads are ``sqrt(2 sum F^2)``,
    ``sqrt(2K)``.
    """
    tiny = torch.finfo(floor.dtype).tiny
    spread = _chance_spread(floor)
    plain = excess.sum(-1) / spread.clamp_min(tiny)
    whitened = (excess / floor.clamp_min(tiny)).sum(-1) / math.sqrt(2 * excess.shape[-1])
    return spread, torch.maximum(plain, whitened)


def _explain(periods, values, sig, need, flags, significant, pool, decide, excesses, lattices,
             threshold, searched, d):
    """The dominant period per axis ``(N, d)`` and the reason text of each item."""
    dominant, reasons = [], []
    values, sig, need = values.cpu(), sig.cpu(), need.cpu()
    flags, significant, pool, decide = flags.cpu(), significant.cpu(), pool.cpu(), decide.cpu()
    corrected = f", corrected for {searched} periods searched" if searched else ""
    for i in range(values.shape[0]):
        k = int(decide[i])
        s, v, z, zn = periods[k], float(values[i, k]), float(sig[i, k]), float(need[k])
        if bool(flags[i].any()):
            chosen = [p for j, p in enumerate(periods) if bool(pool[i, j])]
            reason = (f"flagged by period {s}: value {_value(v)} > threshold {threshold:g} and "
                      f"significance {_z(z)} > {zn:.1f}{corrected if zn > MIN_SIGNIFICANCE else ''}")
            others = [p for p in chosen if p != s]
            if others:
                reason += f" (also periods {', '.join(map(str, others))})"
        elif bool(significant[i].any()):
            chosen = [p for j, p in enumerate(periods) if bool(pool[i, j])]
            reason = (f"not flagged: the largest significant value is {_value(v)} (period {s}, "
                      f"significance {_z(z)} > {zn:.1f}) <= threshold {threshold:g}")
        else:
            chosen = [s]
            best = int(sig[i].argmax())
            best_need = float(need[best])
            reason = (f"not flagged: no period is significant (period {periods[best]}: "
                      f"{_z(float(sig[i, best]))} <= {best_need:.1f}"
                      f"{corrected if best_need > MIN_SIGNIFICANCE else ''}); "
                      f"the largest value is {_value(v)} (period {s})")
            if v > threshold:
                reason += f", above threshold {threshold:g} but not significant"
        # A large value that is not significant and did not decide: say why it did not count.
        if bool(flags[i].any()) or bool(significant[i].any()):
            loud = [(float(values[i, j]), p, float(sig[i, j]), float(need[j]))
                    for j, p in enumerate(periods)
                    if not bool(significant[i, j]) and float(values[i, j]) > threshold]
            if loud:
                lv, lp, lz, ln = max(loud)
                reason += (f"; period {lp} reads {_value(lv)} but its significance {_z(lz)} "
                           f"<= {ln:.1f}")
        # With no significant period the excess is noise: its per-axis split would be too.
        # Periods of the deciding one's family only: a strong pattern also leaks into the
        # lattices of nearby periods (17 and 19 beside 18), whose lcm means nothing.
        family = [p for p in chosen if s % p == 0 or p % s == 0]
        dominant.append(_dominant(family, excesses, lattices, i, d)
                        if bool(significant[i].any()) else [s] * d)
        reasons.append(reason)
    return torch.tensor(dominant, dtype=torch.long).reshape(-1, d), reasons


def _value(v: float) -> str:
    """A value for a reason text: 2 decimals (grey levels), 3 significant digits below 0.1, so
    full-scale audio values (``0.0035``) do not all read ``0.00``.

    >>> _value(6.0), _value(0.0035005), _value(0.0)
    ('6.00', '0.0035', '0.00')
    """
    return f"{v:.2f}" if v == 0 or abs(v) >= 0.1 else f"{v:.3g}"


def _z(z: float) -> str:
    """A significance for reading: one decimal, or 3 digits when huge (a noiseless image)."""
    # round() + 0.0: a z of -0.04 reads "0.0", not "-0.0".
    return f"{round(z, 1) + 0.0:.1f}" if abs(z) < 1e4 else f"{z:.3g}"


def _dominant(chosen: list[int], excesses, lattices, i: int, d: int) -> list[int]:
    """Per axis, the smallest period holding 80% of the positive excess of ``chosen``.

    A bin ``k`` of period ``s`` has frequency ``k_a / s`` along axis ``a``; it lies on the
    lattice of period ``p`` along that axis when ``k_a p / s`` is a whole number. ``p``
    runs over the divisors of the lcm of ``chosen`` (1: no variation along the axis).
    """
    lcm = math.lcm(*chosen)
    energy = {s: excesses[s][i].clamp_min(0).cpu() for s in chosen}
    total = sum(float(e.sum()) for e in energy.values())
    if not total > 0:
        return [lcm] * d
    divisors = [p for p in range(1, lcm + 1) if lcm % p == 0]
    out = []
    for a in range(d):
        for p in divisors:
            held = sum(float(energy[s][(lattices[s][:, a].cpu() * p) % s == 0].sum())
                       for s in chosen)
            if held >= 0.8 * total:
                out.append(p)
                break
    return out


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
    periods: Iterable[int] | int | str = FIXED_PERIODS,
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
    if reduction not in ("mean", "sum", "none"):
        raise InvalidArgumentError(
            f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}"
        )
    xb, d = as_batch(x, spatial_dims)
    # "auto" picks the periods from the values (no gradient through the choice); the sum
    # over the picked periods is differentiable as for given ones. Each item's own periods
    # (resolve_item_periods): one sum per set of them, items put back in batch order.
    items = resolve_item_periods(periods, xb, d)
    groups = _period_groups(items)

    def summed(xg: torch.Tensor, periods: tuple[int, ...]) -> torch.Tensor:
        shared: dict = {}
        return sum(
            4 * lattice_excess(period_bins(xg, s, d, shared, periods), s, periods, d)[0]
            .sum(-1).clamp_min(0)
            for s in periods
        )

    if len(groups) == 1:
        per_item = summed(xb, items[0][0])
    else:
        per_item = torch.cat([summed(xb[index], items[index[0]][0]) for index in groups])[
            _inverse(groups, xb.device)]
    if reduction == "none":
        return per_item
    return per_item.mean() if reduction == "mean" else per_item.sum()
