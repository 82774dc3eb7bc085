"""Variants of the hotspot's coherence scan on the calibration's local trials, side by side.

Each variant locates the hotspot of every local trial of ``benchmarks/calibration.py``
(``hotspot_trials``: a random-sub-kernel pattern in one random 64x64 window of each base,
periods 2/4/8, 2/4/8 grey levels, seed ``calibration.HOTSPOT_SEED``); printed is the rate at
which it lands inside the window, per amplitude, per period at 2 grey levels and for the
JPEG-50 bases. Variants (all on the scan's Laplacian of the channel mean and its 8x8
sub-boxes, ``checkerfree.score.hotspot``):

- ``scan``: ``lattice_hotspot`` as it is (the image-wide lattice shape, a median over
  sub-boxes, projected out of every sub-box, at most twice; each sub-box's noise per bin
  from the spread of its 3x3 neighbourhood's coefficients, the likelihood ratio of one
  unknown tile in the box);
- ``noise-family``: the scan through :func:`noise_scan` at its defaults (the same numbers);
- ``own-E``: the noise with ``E`` times the sub-box's own bin power (the scan: 0.1);
- ``neighbours-5``: the noise from the spread over 5x5 sub-boxes (the scan: 3x3);
- ``exclude-centre``: the spread over the 8 neighbours, the sub-box itself left out;
- ``noise-from-power``: the noise as the 3x3 mean bin power (the pattern included), no own
  power;
- ``bins-weighted-G``: the bins summed with weights ``(Laplacian gain^2 sum_j 1/v_bj)**G``,
  the null a scaled chi-square (Satterthwaite);
- ``min-gain-F``: the bins whose Laplacian power gain is under ``F`` of the largest left
  out (the lowest frequencies of period 8's lattice);
- ``per-bin-weights-coherence``: the coherence (self-normalised) with per-bin weights
  ``v_bj**-1/2``;
- ``sub-box-weights``: the scan before the per-bin noise (:func:`sub_box_weighted_scan`:
  the same projection, sub-boxes weighted by their mean power to the -1/2, the coherence);
- ``per-period-weights``: that with each period's sub-box weights from its own lattice bins
  (:func:`per_period_weighted_scan`);
- ``before``: the scan before those two (unweighted, nothing projected out);
- ``global``: the input's own polyphase mean tile of the periods' common period (8 for the
  default periods; each of its phases' mean over the whole input) subtracted first, which
  zeroes the image-wide lattice (a JPEG block grid, a uniform pattern) and keeps 63/64 of a
  local one;
- ``weighted``: each sub-box weighted by the inverse of its own mean power over its non-zero
  bins plus 0.03 of the mean over sub-boxes, in the coherent sum,
  ``R_b = |sum_j w_j c_bj|^2 / sum_j w_j^2 |c_bj|^2`` (still about 1 for incoherent
  content), so a sub-box of strong texture weighs little;
- ``weighted-sqrt``: the same with ``w_j`` the inverse root mean power;
- ``global+weighted``: both;
- ``project``: each sub-box's lattice coefficients (of the common period, 8) less their
  projection, a real multiple, on the input's mean sub-box coefficients (the image-wide
  lattice's shape; a calm sub-box stays calm, unlike ``global``), unweighted;
- ``project+weighted``, ``project+weighted-sqrt``, ``project+weighted-0.75``,
  ``project+weighted-0.35``: with weights ``(mean power + 0.03 mean)**-e``, ``e`` 1, 1/2,
  3/4, 0.35 (power after the projection);
- ``project+weighted-sqrt+regular-R``: ``e = 1/2`` with ``R`` instead of 0.03.

This round's (issue 11 item 3; each on :func:`noise_scan`, the scan's maps):

- ``periods-calibrated``: each period's map less the median of its largest value over places
  on the 133 clean images, over that value's 90th percentile less the median
  (:func:`periods_calibrated`), so that periods compare on their measured null of the
  maximum; ``self-standardised``: each map less its own median over places, over its scaled
  median absolute deviation;
- ``top-5``, ``top-20``: the sum of the 5 or 20 largest bin ratios; ``soft-1``, ``soft-3``:
  the sum of ``max(R_b - t, 0)``; ``higher-criticism``: Donoho and Jin's statistic of the
  bins' p-values (these four through ``periods-calibrated``'s standardisation);
- ``period-8-complement``: period 8's map the larger of its ``z`` and the ``z`` of its 48
  bins off period 4's lattice (its sums over the period-2 and period-4 sub-lattices are the
  scan's period-2 and period-4 maps already);
- ``bin-mean-normalised``: each bin's ratio over its mean over the input's places;
- ``leave-one-out``: each sub-box's own term out of the coherent energy;
- ``frequency-smoothed``: the noise averaged over neighbouring frequencies (its spectral
  shape kept); ``least-2x2``: the noise the least 2x2-block spread holding the sub-box;
- ``off-lattice-M``: the noise ``1 - M`` times the spread and ``M`` times the power around
  the bin in the 16x16 window centred on the sub-box (:func:`around_sub_boxes`);
- ``period-8-off-lattice``, ``-own-0``: period 8 on 16x16 sub-boxes (4x4 to the box), the
  noise from each sub-box's own off-lattice bins (:func:`off_lattice_scan`);
- ``places-2x2``: each map averaged over 2x2 neighbouring places.

    python benchmarks/hotspot_variants.py            # every calibration image (a few minutes)
    python benchmarks/hotspot_variants.py --quick    # calibration's --quick images
    python benchmarks/hotspot_variants.py --timing   # ms per 512x512 RGB image

``--timing``: CPU milliseconds per 512x512 RGB image (batch of 8, 1 thread, fastest of 25,
interleaved in one process) of the scan's Laplacian and ``_scan`` for the default periods,
now, with sub-box weights (:func:`sub_box_weighted_scan`) and before both
(:func:`previous_scan`).
"""

from __future__ import annotations

import argparse
from functools import partial
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
import calibration as cal

from checkerfree.score.hotspot import (
    _PROJECT_LIMIT,
    _REGULAR,
    _conjugate_count,
    _median_stride,
    _box_sum,
    _laplacian,
    _scan,
    _sub_boxes,
    box_geometry,
    lattice_hotspot,
)

PERIODS = (2, 4, 8)


def remove_global(y: torch.Tensor, period: int) -> torch.Tensor:
    """``y`` less its polyphase mean tile of ``period`` (per item; phases from index 0).

    >>> y = torch.arange(16.0).reshape(1, 4, 4) % 2        # a period-2 column pattern
    >>> remove_global(y, 2).abs().max().item()
    0.0
    """
    n, h, w = y.shape
    hh, ww = h // period * period, w // period * period
    tile = y[:, :hh, :ww].reshape(n, hh // period, period, ww // period, period).mean((1, 3))
    rows = torch.arange(h) % period
    cols = torch.arange(w) % period
    return y - tile[:, rows][:, :, cols]


def weighted_scan(y: torch.Tensor, periods, q: int, step: int, power_exponent: float,
                  project: bool = False, weight_regular: float = _REGULAR):
    """``{s: z}`` as ``hotspot._scan`` (images), each sub-box weighted by ``mean power**-e``.

    ``project``: each sub-box's coefficients less their projection (a real multiple) on the
    input's mean sub-box coefficients, the image-wide lattice's shape. ``weight_regular``:
    the fraction of the mean sub-box power added to each before the power is taken.
    """
    cut = _sub_boxes(y, 2, q, step)
    if cut is None:
        return None
    y, cells = cut
    coef = torch.fft.rfftn(y, dim=(3, 4))
    column = torch.arange(coef.shape[-1])
    count = torch.where((column == 0) | (2 * column == step), 1.0, 2.0).to(y.dtype)
    if project:
        mean = coef.mean((1, 2), keepdim=True)
        mean[..., 0, 0] = 0
        dot = ((coef * mean.conj()).real * count).sum((3, 4), keepdim=True)
        norm = ((mean.real.square() + mean.imag.square()) * count).sum((3, 4), keepdim=True)
        coef = coef - dot / norm.clamp_min(torch.finfo(norm.dtype).tiny) * mean
    power_all = (coef.real.square() + coef.imag.square()) * count
    power_all[..., 0, 0] = 0
    mean_power = power_all.sum((3, 4)) / (step * step - 1)
    typical_power = mean_power.flatten(1).mean(1)[:, None, None]
    w = (mean_power + weight_regular * typical_power) ** -power_exponent
    w = w / w.flatten(1).mean(1)[:, None, None]
    lcm = math.lcm(*periods)
    r = step // lcm
    coef = coef[..., ::r, ::r]
    wc = coef * w[..., None, None]
    coherent = _box_sum(wc, q, (1, 2))
    coherent = coherent.real.square() + coherent.imag.square()
    power = (coef.real.square() + coef.imag.square()) * (w * w)[..., None, None]
    total = _box_sum(power, q, (1, 2))
    typical = total.flatten(1, 2).mean(1)
    total = total + _REGULAR * typical[:, None, None]
    ratio = coherent / total.clamp_min(torch.finfo(total.dtype).tiny)
    column = torch.arange(ratio.shape[-1]) * r
    ratio = ratio * torch.where((column == 0) | (2 * column == step), 1.0, 2.0).to(ratio.dtype)
    ratio[..., 0, 0] = 0
    out = {}
    for s in periods:
        t = lcm // s
        K = s * s - 1
        tr = ratio[..., ::t, ::t].sum((3, 4))
        out[s] = ((tr / K).clamp_min(0) ** (1 / 3) - (1 - 2 / (9 * K))) / math.sqrt(2 / (9 * K))
    return out


def sub_box_weighted_scan(y: torch.Tensor, periods: tuple[int, ...], d: int, q: int, step: int):
    """``hotspot._scan`` as it was before the per-bin noise (its code as it was).

    Sub-boxes weighted by ``(mean power + 0.03 mean)**-1/2`` over all their non-zero bins,
    the coherence ``|sum_j w_j c'_bj|^2 / (sum_j w_j^2 |c'_bj|^2 + 0.03 G_b)`` (the image-wide
    lattice projected out as now). ``{s: z}``; ``None`` when the sub-boxes do not fit.
    """
    cut = _sub_boxes(y, d, q, step)
    if cut is None:
        return None
    y, cells = cut
    grid = tuple(range(1, 1 + d))
    phases = tuple(range(1 + d, 1 + 2 * d))
    ones = [1] * d
    zero = (Ellipsis, *([0] * d))
    tiny = torch.finfo(y.dtype).tiny
    # Half the spectrum (the last axis to step // 2): the other half holds the conjugates.
    coef = torch.fft.rfftn(y, dim=phases)
    count = _conjugate_count(coef.shape[-1], 1, step, y.dtype, y.device)
    # Sub-box weights 1/sqrt(mean power over its non-zero bins + the regulariser), by
    # Parseval from the samples: a sub-box of strong texture or an edge adds its phase more
    # than its power to the coherent sum.
    n = step**d
    flat = y.flatten(1 + d)
    mean_power = (n * flat.square().sum(-1) - flat.sum(-1).square()) / (n - 1)
    typical_power = mean_power.flatten(1).mean(1).reshape(-1, *ones)
    weight = (mean_power + _REGULAR * typical_power).clamp_min(tiny) ** -0.5
    weight = weight / weight.flatten(1).mean(1).reshape(-1, *ones)
    weight = weight.reshape(*weight.shape, *ones)
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
    kept = (coef - alpha * common_shape) * weight
    coherent = _box_sum(kept, q, grid)
    coherent = coherent.real.square() + coherent.imag.square()
    total = _box_sum(kept.real.square() + kept.imag.square(), q, grid)
    # The image's mean bin power over places (per item and bin): where a local pattern sits
    # it raises this mean a little, and calm patches stay far below it.
    typical = total.flatten(1, d).mean(1)
    total = total + _REGULAR * typical.reshape(typical.shape[0], *ones, *typical.shape[1:])
    ratio = coherent / total.clamp_min(torch.finfo(total.dtype).tiny)
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


def projected_coefficients(y: torch.Tensor, periods, step: int):
    """Images' sub-box coefficients on the periods' common lattice, the image-wide lattice
    shape projected out as ``hotspot._scan`` does: ``(kept, count)``, ``kept``
    ``(N, U0, U1, L, L // 2 + 1)``, ``count`` each half-spectrum column's bin count."""
    cells = [m // step for m in y.shape[1:]]
    y = y[:, : cells[0] * step, : cells[1] * step]
    y = y.reshape(y.shape[0], cells[0], step, cells[1], step).permute(0, 1, 3, 2, 4)
    coef = torch.fft.rfftn(y, dim=(3, 4))
    lcm = math.lcm(*periods)
    coef = coef[..., :: step // lcm, :: step // lcm]
    count = _conjugate_count(coef.shape[-1], step // lcm, step, y.dtype, y.device)
    stride = _median_stride(cells, 2)
    sampled = coef[:, ::stride, ::stride].flatten(1, 2)
    sampled = sampled[:, : sampled.shape[1] - 1 + sampled.shape[1] % 2]
    middle = torch.view_as_real(sampled).movedim(1, -1).contiguous().median(-1).values
    shape = torch.view_as_complex(middle.contiguous())[:, None, None]
    shape[..., 0, 0] = 0
    dot = ((coef * shape.conj()).real * count).sum((3, 4), keepdim=True)
    norm = ((shape.real.square() + shape.imag.square()) * count).sum((3, 4), keepdim=True)
    alpha = (dot / norm.clamp_min(torch.finfo(norm.dtype).tiny)).clamp(
        -_PROJECT_LIMIT, _PROJECT_LIMIT)
    return coef - alpha * shape, count


def _grid_pad(t: torch.Tensor, pad: int) -> torch.Tensor:
    """``(N, U0, U1, *B)`` padded by ``pad`` sub-boxes with the edge values."""
    flat = t.reshape(*t.shape[:3], -1).permute(0, 3, 1, 2)
    flat = torch.nn.functional.pad(flat, (pad,) * 4, mode="replicate")
    return flat.permute(0, 2, 3, 1).reshape(t.shape[0], *flat.shape[2:], *t.shape[3:])


def _wilson_hilferty(t: torch.Tensor, dof) -> torch.Tensor:
    return ((t / dof).clamp_min(0) ** (1 / 3) - (1 - 2 / (9 * dof))) / torch.sqrt(
        torch.as_tensor(2 / (9 * dof)))


def _smooth_over_frequencies(noise: torch.Tensor, count: torch.Tensor) -> torch.Tensor:
    """``noise`` ``(N, U0, U1, L, L // 2 + 1)`` over its mean over sub-boxes, averaged over
    the 3x3 neighbouring frequencies of the full ``L x L`` spectrum (circular; the other
    half by conjugate symmetry), times that mean again."""
    shape = noise.flatten(1, 2).mean(1)[:, None, None].clamp_min(torch.finfo(noise.dtype).tiny)
    relative = noise / shape
    n, u0, u1, side, half = relative.shape
    full = torch.cat([relative, relative[..., (-torch.arange(side)) % side, 1 : side - half + 1]
                      .flip(-1)], -1)
    flat = torch.nn.functional.pad(full.reshape(-1, 1, side, side), (1,) * 4, mode="circular")
    full = torch.nn.functional.avg_pool2d(flat, 3, 1).reshape(n, u0, u1, side, side)
    return full[..., :half] * shape


def top_sum(k: int):
    """``combine`` for :func:`noise_scan`: the sum of the ``k`` largest bin ratios."""
    return lambda ratio, count: ratio.topk(min(k, ratio.shape[-1]), -1).values.sum(-1)


def soft_threshold_sum(t: float):
    """``combine``: the sum of ``max(R_b - t, 0)`` over the bins."""
    return lambda ratio, count: (ratio - t).clamp_min(0).sum(-1)


def higher_criticism(ratio: torch.Tensor, count: torch.Tensor) -> torch.Tensor:
    """``combine``: Donoho and Jin's higher criticism of the bins' p-values ``exp(-R_b)``
    (``R_b ~ Exp(1)`` per bin without a pattern), over the smaller half of them."""
    p = torch.exp(-ratio / count).sort(-1).values
    n = p.shape[-1]
    rank = torch.arange(1, n + 1, dtype=p.dtype) / n
    score = math.sqrt(n) * (rank - p) / (p * (1 - p)).clamp_min(1e-12).sqrt()
    return score[..., : max(1, n // 2)].amax(-1)


def mean_normalised(ratio: torch.Tensor, count: torch.Tensor) -> torch.Tensor:
    """``combine``: each bin's ratio over its mean over the input's places (per item), the
    Wilson-Hilferty ``z`` of their sum (each bin's mean made its count)."""
    mean = ratio.flatten(1, -2).mean(1).clamp_min(torch.finfo(ratio.dtype).tiny)
    return _wilson_hilferty((ratio / mean[:, None, None] * count).sum(-1), float(count.sum()))


def around_sub_boxes(y: torch.Tensor, cells) -> torch.Tensor:
    """Each 8x8 sub-box's noise per period-8 bin from the 16x16 window centred on it (4
    samples more each side, the input's edge repeated): a quarter (the area) of the mean
    power of the window's 8 DFT bins next to the bin's (``2 b`` there), all off period 8's
    lattice, where a period-8 pattern has no power. ``(N, U0, U1, 8, 5)``."""
    padded = torch.nn.functional.pad(y[:, None], (4,) * 4, mode="replicate")[:, 0]
    windows = padded.unfold(1, 16, 8).unfold(2, 16, 8)[:, : cells[0], : cells[1]]
    coef = torch.fft.fft2(windows)
    power = coef.real.square() + coef.imag.square()
    around = sum(torch.roll(power, (a, b), (3, 4)) for a in (-1, 0, 1) for b in (-1, 0, 1)
                 if a or b) / 8
    return around[..., ::2, : 9 : 2] / 4


def noise_scan(y: torch.Tensor, periods, d: int, q: int, step: int, estimate: str = "spread",
               neighbours: int = 3, own: float = 0.1, exclude_centre: bool = False,
               bin_exponent: float | None = None, self_normalised: float | None = None,
               min_gain: float = 0.0, frequency_smoothing: bool = False,
               leave_one_out: bool = False, combine=None,
               noise_from: torch.Tensor | None = None, outside: int = 0,
               off_lattice: float = 0.0):
    """``{s: z}``: the scan's family with each sub-box's noise estimated per bin (images).

    ``d`` is 2 (for the signature of ``hotspot._scan``); the defaults are the scan's.

    ``estimate``: ``"spread"`` (as ``hotspot._scan``: the variance of the coefficient over
    the ``neighbours x neighbours`` sub-boxes around, ``exclude_centre``: without the
    sub-box itself) or ``"power"`` (their mean power, the pattern included); ``own`` times
    the sub-box's own power added; 0.03 of the mean over sub-boxes added. Per bin, the
    likelihood ratio ``|sum_j c_bj / v_bj|^2 / sum_j 1 / v_bj``, unless
    ``self_normalised`` ``e``: the coherence ``|sum_j w c|^2 / (sum_j w^2 |c|^2 + 0.03 G)``
    with per-bin weights ``w = v**-e``. ``bin_exponent`` ``g``: bins summed with weights
    ``(|Laplacian gain|^2 sum_j 1 / v_bj)**g`` (the small-signal optimum for a tile white
    before the Laplacian at ``g = 1``), the sum's null matched by a scaled chi-square.
    ``min_gain``: bins whose Laplacian power gain is under that fraction of the largest
    (where a tile white before the Laplacian has least of its power and a photograph most)
    left out, the degrees of freedom with them.

    ``estimate`` ``"least-2x2"``: the least of the sample variances over the four 2x2
    sub-box blocks that hold the sub-box (more local than 3x3); ``"own-power"``: the
    coefficient's own power alone (with ``noise_from``, the clean picture's: an oracle).
    ``frequency_smoothing``: the noise, over its mean over sub-boxes (its spectral shape),
    averaged over the 3x3 neighbouring frequencies of the full spectrum, times the shape.
    ``leave_one_out``: each sub-box's own term left out of the coherent energy,
    ``(|sum_j c_j / v_j|^2 - sum_j |c_j|^2 / v_j^2) / sum_j 1 / v_j`` (mean 0 without a
    pattern), standardised per bin, the bins' sum as a normal ``z``. ``combine``: a function
    of the period's bins' ratios ``(N, *M, n)`` (half-spectrum bins, a bin standing for its
    conjugate counted twice) and their counts ``(n,)`` that makes the map instead of the
    Wilson-Hilferty ``z`` of their sum. ``noise_from``: another input (the same picture
    without the pattern) whose coefficients give the noise. ``outside``: for periods longer
    than it, the bins on period ``outside``'s lattice left out. ``off_lattice`` ``m``: the
    noise ``1 - m`` times the spread and ``m`` times :func:`around_sub_boxes` (period 8's).
    """
    kept, count = projected_coefficients(y, periods, step)
    power = kept.real.square() + kept.imag.square()
    source, source_power = kept, power  # whose coefficients the noise is measured on
    if noise_from is not None:
        source, _ = projected_coefficients(noise_from, periods, step)
        source_power = source.real.square() + source.imag.square()
    r, pad = neighbours, neighbours // 2
    if estimate == "power":
        noise = _box_sum(source_power, r, (1, 2)) / (r * r)
    elif estimate == "own-power":
        noise, pad = torch.zeros_like(source_power), 0
    elif estimate == "least-2x2":
        near = _box_sum(source, 2, (1, 2))
        block = (_box_sum(source_power, 2, (1, 2))
                 - (near.real.square() + near.imag.square()) / 4) / 3
        block = _grid_pad(block, 1)
        noise = torch.minimum(torch.minimum(block[:, :-1, :-1], block[:, 1:, :-1]),
                              torch.minimum(block[:, :-1, 1:], block[:, 1:, 1:]))
        pad = 0
    else:
        near, near_power, n = (_box_sum(source, r, (1, 2)), _box_sum(source_power, r, (1, 2)),
                               r * r)
        if exclude_centre:
            centre = source[:, pad : source.shape[1] - pad, pad : source.shape[2] - pad]
            near, n = near - centre, n - 1
            near_power = near_power - (centre.real.square() + centre.imag.square())
        noise = (near_power - (near.real.square() + near.imag.square()) / n) / (n - 1)
    noise = _grid_pad(noise, pad)
    if off_lattice:
        noise = (1 - off_lattice) * noise + off_lattice * around_sub_boxes(y, noise.shape[1:3])
    tiny = torch.finfo(noise.dtype).tiny
    if frequency_smoothing:
        noise = _smooth_over_frequencies(noise, count)
    noise = noise + own * source_power
    noise = noise + _REGULAR * noise.flatten(1, 2).mean(1)[:, None, None]
    if self_normalised is None:
        precision = 1 / noise.clamp_min(tiny)
        coherent = _box_sum(kept * precision, q, (1, 2))
        total = _box_sum(precision, q, (1, 2))
    else:
        w = noise.clamp_min(tiny) ** -self_normalised
        coherent = _box_sum(kept * w, q, (1, 2))
        total = _box_sum(power * w * w, q, (1, 2))
        total = total + _REGULAR * total.flatten(1, 2).mean(1)[:, None, None]
    if leave_one_out:
        coherent = coherent.real.square() + coherent.imag.square()
        coherent = coherent - _box_sum(power * precision * precision, q, (1, 2))
        # the left-out energy's spread without a pattern, per bin: sqrt(W^2 - sum_j v_j^-2) / W
        spread = (total.square() - _box_sum(precision * precision, q, (1, 2))).clamp_min(
            tiny).sqrt()
        standard = coherent / spread.clamp_min(tiny)
        standard[..., 0, 0] = 0  # the box mean is out (as 0 * nan would not be)
    else:
        ratio = (coherent.real.square() + coherent.imag.square()) / total.clamp_min(tiny)
        ratio[..., 0, 0] = 0  # the box mean is out (as 0 * nan would not be)
    lcm = math.lcm(*periods)
    frequency = torch.arange(lcm) / lcm
    gain = (4 * torch.sin(math.pi * frequency[:, None]) ** 2
            + 4 * torch.sin(math.pi * frequency[None, : lcm // 2 + 1]) ** 2) ** 2
    out = {}
    for s in periods:
        t = lcm // s
        bins = torch.zeros(lcm, lcm // 2 + 1)
        bins[::t, ::t] = 1
        bins[0, 0] = 0
        bins = bins * count * (gain >= min_gain * gain.max())
        if outside and s > outside:
            bins[:: lcm // outside, :: lcm // outside] = 0
        if leave_one_out:
            out[s] = (standard * bins).sum((3, 4)) / bins.square().sum().sqrt()
            continue
        if combine is not None:
            chosen = bins > 0
            out[s] = combine(ratio[..., chosen] * bins[chosen], bins[chosen])
            continue
        if bin_exponent is None:
            out[s] = _wilson_hilferty((ratio * bins).sum((3, 4)), float(bins.sum()))
            continue
        omega = (gain * total).clamp_min(tiny) ** bin_exponent
        first, second = (omega * bins).sum((3, 4)), (omega * omega * bins).sum((3, 4))
        scale, dof = second / first, first * first / second
        out[s] = _wilson_hilferty((ratio * omega * bins).sum((3, 4)) / scale, dof)
    return out


def per_period_weighted_scan(y: torch.Tensor, periods, d: int, q: int, step: int):
    """``{s: z}``: :func:`sub_box_weighted_scan` with each period's sub-box weights from its
    own lattice bins, ``(P_js + 0.03 mean)**-1/2``, ``P_js`` the mean power over the
    non-zero bins of period ``s``'s lattice after the projection (images)."""
    kept, count = projected_coefficients(y, periods, step)
    power = kept.real.square() + kept.imag.square()
    lcm = math.lcm(*periods)
    tiny = torch.finfo(power.dtype).tiny
    out = {}
    for s in periods:
        t = lcm // s
        bins = torch.zeros(lcm, lcm // 2 + 1)
        bins[::t, ::t] = 1
        bins[0, 0] = 0
        bins = bins * count
        own = (power * bins).sum((3, 4)) / (s * s - 1)
        w = (own + _REGULAR * own.flatten(1).mean(1)[:, None, None]).clamp_min(tiny) ** -0.5
        w = (w / w.flatten(1).mean(1)[:, None, None])[..., None, None]
        coherent = _box_sum(kept * w, q, (1, 2))
        total = _box_sum(power * w * w, q, (1, 2))
        total = total + _REGULAR * total.flatten(1, 2).mean(1)[:, None, None]
        ratio = (coherent.real.square() + coherent.imag.square()) / total.clamp_min(tiny)
        out[s] = _wilson_hilferty((ratio * bins).sum((3, 4)), s * s - 1)
    return out


def previous_scan(y: torch.Tensor, periods: tuple[int, ...], d: int, q: int, step: int):
    """``hotspot._scan`` before the weights and the projection (its code as it was).

    ``{s: z}`` for periods that all divide the sub-box side ``step`` (one transform for all).

    Each sub-box's ``step**d``-point DFT holds, at the bins ``b step / s``, the lattice
    coefficients of every period ``s`` dividing ``step``: one ``rfftn`` and one set of box
    sums serve them all. ``y`` is the whitened ``(N, *S)``; ``None`` when ``q`` sub-boxes do
    not fit along some axis.
    """
    cut = _sub_boxes(y, d, q, step)
    if cut is None:
        return None
    y, cells = cut
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


def locate(x: torch.Tensor, glob: bool, exponent: float | None,
           project: bool = False, weight_regular: float = _REGULAR,
           scan=None, post=None) -> tuple[int, int]:
    """The hotspot ``(row, col)`` of one image under a variant (``exponent`` None and no
    ``scan``: :func:`previous_scan`; ``scan``: that function of ``(y, periods, d, q, step)``,
    whose value for a period may be ``(z, sub-box side)`` where it is not the others';
    ``post``: a function of ``(s, z)`` applied to each period's map before the largest is
    taken)."""
    q, k = box_geometry(8, 2, 16.0)
    step = k * 8  # 8: the three default periods share the 8x8 sub-box
    y = _laplacian(x.mean(1), 2)
    if glob:
        y = remove_global(y, math.lcm(*PERIODS))
    if scan is not None:
        scans = scan(y, PERIODS, 2, q, step)
    elif exponent is None:
        scans = previous_scan(y, PERIODS, 2, q, step)
    else:
        scans = weighted_scan(y, PERIODS, q, step, exponent, project, weight_regular)
    best, at = -math.inf, None
    for s in PERIODS:
        z, side = scans[s] if isinstance(scans[s], tuple) else (scans[s], step)
        z = z[0] if post is None else post(s, z)[0]
        value = float(z.max())
        if value > best:
            u, v = np.unravel_index(int(z.argmax()), tuple(z.shape))
            # every period's box is q * step samples a side, its places `side` apart
            best, at = value, (math.floor(1 + q * step / 2 - 0.5 + side * u),
                               math.floor(1 + q * step / 2 - 0.5 + side * v))
    return at


def periods_calibrated(scan):
    """``post`` for :func:`locate`: each period's map less the median of its largest value
    over places on the 133 clean calibration images, over that largest value's 90th
    percentile less the median (the scan's own null of the maximum; measured on first use)."""
    constants: dict[int, tuple[float, float]] = {}

    def post(s, z):
        if not constants:
            constants.update(clean_maximum_spread(scan))
        middle, spread = constants[s]
        return (z - middle) / spread
    return post


def clean_maximum_spread(scan) -> dict[int, tuple[float, float]]:
    """Per period, the median and the 90th percentile less the median of ``scan``'s largest
    value over places, on calibration's 133 clean images (``cal.clean_set``)."""
    q, k = box_geometry(8, 2, 16.0)
    maxima: dict[int, list[float]] = {s: [] for s in PERIODS}
    for _, image in cal.clean_set(cal.PHOTOS + cal.TEXTURES, np.random.default_rng(0)):
        scans = scan(_laplacian(cal.as_tensor(image).float().mean(1), 2), PERIODS, 2, q, k * 8)
        for s in PERIODS:
            z = scans[s][0] if isinstance(scans[s], tuple) else scans[s]
            maxima[s].append(float(z.max()))
    return {s: (float(np.median(m)), float(np.percentile(m, 90) - np.median(m)))
            for s, m in maxima.items()}


def self_standardised(s, z):
    """``post``: each period's map less its median over places, over 1.4826 times its
    median absolute deviation (each input's own null, per period)."""
    flat = z.flatten(1)
    middle = flat.median(1).values
    spread = 1.4826 * (flat - middle[:, None]).abs().median(1).values
    return (z - middle.reshape(-1, 1, 1)) / spread.clamp_min(1e-6).reshape(-1, 1, 1)


def places_averaged(s, z):
    """``post``: each period's map averaged over 2x2 neighbouring places."""
    return _box_sum(z, 2, (1, 2)) / 4


def complement_scan(y: torch.Tensor, periods, d: int, q: int, step: int):
    """:func:`noise_scan`, period 8's map the larger of its own ``z`` and the ``z`` of its 48
    bins outside period 4's lattice (a pattern whose power is off period 4's bins)."""
    out = noise_scan(y, periods, d, q, step)
    outside = noise_scan(y, periods, d, q, step, outside=4)
    out[8] = torch.maximum(out[8], outside[8])
    return out


def off_lattice_scan(y: torch.Tensor, periods, d: int, q: int, step: int, own: float = 0.1):
    """:func:`noise_scan` for periods 2 and 4; period 8 on 16x16 sub-boxes (4x4 to the 64x64
    box), each sub-box's noise per lattice bin the mean power of its 8 neighbouring
    frequencies (off the lattice: a period-8 pattern has no power there), plus ``own`` times
    its own power and 0.03 of the mean; ``{8: (z, 16)}``."""
    out = noise_scan(y, periods, d, q, step)
    side, boxes = 16, 4
    kept, count = projected_coefficients(y, (8,), side)
    coef = torch.fft.rfftn(_sub_boxes(y, 2, boxes, side)[0], dim=(3, 4))
    full = coef.real.square() + coef.imag.square()
    full = torch.cat([full, full[..., (-torch.arange(side)) % side, 1 : side // 2].flip(-1)], -1)
    around = sum(torch.roll(full, (a, b), (3, 4)) for a in (-1, 0, 1) for b in (-1, 0, 1)
                 if a or b) / 8
    noise = around[..., ::2, : side // 2 + 1 : 2] + own * (kept.real.square() + kept.imag.square())
    noise = noise + _REGULAR * noise.flatten(1, 2).mean(1)[:, None, None]
    precision = 1 / noise.clamp_min(torch.finfo(noise.dtype).tiny)
    coherent = _box_sum(kept * precision, boxes, (1, 2))
    ratio = (coherent.real.square() + coherent.imag.square()) / _box_sum(
        precision, boxes, (1, 2)) * count
    ratio[..., 0, 0] = 0
    out[8] = (_wilson_hilferty(ratio.sum((3, 4)), 63.0), side)
    return out


def calibrated(scan):
    """A variant: ``scan``'s maps through :func:`periods_calibrated` (its own clean maxima)."""
    post = periods_calibrated(scan)
    return lambda x: locate(x, False, None, scan=scan, post=post)


VARIANTS = {
    "scan": lambda x: tuple(lattice_hotspot(x, PERIODS, 2)[0][0].tolist()),
    "periods-calibrated": calibrated(noise_scan),
    "self-standardised": lambda x: locate(x, False, None, scan=noise_scan,
                                          post=self_standardised),
    "top-5": calibrated(partial(noise_scan, combine=top_sum(5))),
    "top-20": calibrated(partial(noise_scan, combine=top_sum(20))),
    "soft-1": calibrated(partial(noise_scan, combine=soft_threshold_sum(1.0))),
    "soft-3": calibrated(partial(noise_scan, combine=soft_threshold_sum(3.0))),
    "higher-criticism": calibrated(partial(noise_scan, combine=higher_criticism)),
    "period-8-complement": lambda x: locate(x, False, None, scan=complement_scan),
    "bin-mean-normalised": lambda x: locate(
        x, False, None, scan=partial(noise_scan, combine=mean_normalised)),
    "leave-one-out": lambda x: locate(x, False, None, scan=partial(noise_scan,
                                                                   leave_one_out=True)),
    "frequency-smoothed": lambda x: locate(
        x, False, None, scan=partial(noise_scan, frequency_smoothing=True)),
    "least-2x2": lambda x: locate(x, False, None, scan=partial(noise_scan,
                                                               estimate="least-2x2")),
    "period-8-off-lattice": lambda x: locate(x, False, None, scan=off_lattice_scan),
    "period-8-off-lattice-own-0": lambda x: locate(
        x, False, None, scan=partial(off_lattice_scan, own=0.0)),
    "places-2x2": lambda x: locate(x, False, None, scan=noise_scan, post=places_averaged),
    "off-lattice-0.5": lambda x: locate(x, False, None, scan=partial(noise_scan,
                                                                     off_lattice=0.5)),
    "off-lattice-1": lambda x: locate(x, False, None, scan=partial(noise_scan,
                                                                   off_lattice=1.0)),
    "noise-family": lambda x: locate(x, False, None, scan=noise_scan),
    "own-0": lambda x: locate(x, False, None, scan=partial(noise_scan, own=0.0)),
    "own-0.05": lambda x: locate(x, False, None, scan=partial(noise_scan, own=0.05)),
    "own-0.3": lambda x: locate(x, False, None, scan=partial(noise_scan, own=0.3)),
    "own-1": lambda x: locate(x, False, None, scan=partial(noise_scan, own=1.0)),
    "neighbours-5": lambda x: locate(x, False, None, scan=partial(noise_scan, neighbours=5)),
    "exclude-centre": lambda x: locate(
        x, False, None, scan=partial(noise_scan, exclude_centre=True)),
    "noise-from-power": lambda x: locate(
        x, False, None, scan=partial(noise_scan, estimate="power", own=0.0)),
    "bins-weighted-1": lambda x: locate(
        x, False, None, scan=partial(noise_scan, bin_exponent=1.0)),
    "bins-weighted-0.5": lambda x: locate(
        x, False, None, scan=partial(noise_scan, bin_exponent=0.5)),
    "min-gain-0.01": lambda x: locate(x, False, None, scan=partial(noise_scan, min_gain=0.01)),
    "min-gain-0.03": lambda x: locate(x, False, None, scan=partial(noise_scan, min_gain=0.03)),
    "min-gain-0.1": lambda x: locate(x, False, None, scan=partial(noise_scan, min_gain=0.1)),
    "per-bin-weights-coherence": lambda x: locate(
        x, False, None, scan=partial(noise_scan, self_normalised=0.5)),
    "sub-box-weights": lambda x: locate(x, False, None, scan=sub_box_weighted_scan),
    "per-period-weights": lambda x: locate(x, False, None, scan=per_period_weighted_scan),
    "before": lambda x: locate(x, False, None),
    "global": lambda x: locate(x, True, None),
    "weighted": lambda x: locate(x, False, 1.0),
    "weighted-sqrt": lambda x: locate(x, False, 0.5),
    "global+weighted": lambda x: locate(x, True, 1.0),
    "project": lambda x: locate(x, False, 0.0, True),
    "project+weighted-sqrt": lambda x: locate(x, False, 0.5, True),
    "project+weighted": lambda x: locate(x, False, 1.0, True),
    "project+weighted-0.75": lambda x: locate(x, False, 0.75, True),
    "project+weighted-0.35": lambda x: locate(x, False, 0.35, True),
    "project+weighted-sqrt+regular-0.1": lambda x: locate(x, False, 0.5, True, 0.1),
    "project+weighted-sqrt+regular-0.3": lambda x: locate(x, False, 0.5, True, 0.3),
    "project+weighted-sqrt+regular-0.01": lambda x: locate(x, False, 0.5, True, 0.01),
}


def timing(repeats: int = 25) -> str:
    """The ``--timing`` line: ms per 512x512 RGB image of the scan, ``sub-box-weights``
    and ``before``."""
    x = torch.rand(8, 3, 512, 512, generator=torch.Generator().manual_seed(0)) * 255
    calls = {"scan": lambda: _scan(_laplacian(x.mean(1), 2), PERIODS, 2, 8, 8),
             "sub-box-weights": lambda: sub_box_weighted_scan(
                 _laplacian(x.mean(1), 2), PERIODS, 2, 8, 8),
             "before": lambda: previous_scan(_laplacian(x.mean(1), 2), PERIODS, 2, 8, 8)}
    best = dict.fromkeys(calls, math.inf)
    for _ in range(repeats):
        for name, call in calls.items():
            started = time.perf_counter()
            call()
            best[name] = min(best[name], (time.perf_counter() - started) / len(x))
    return (f"scan {1e3 * best['scan']:.2f} ms, sub-box-weights "
            f"{1e3 * best['sub-box-weights']:.2f} ms, before {1e3 * best['before']:.2f} ms per "
            f"512x512 RGB image (ratio to sub-box-weights "
            f"{best['scan'] / best['sub-box-weights']:.2f}; 1 thread, fastest of {repeats}, "
            f"interleaved)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="calibration's --quick images")
    parser.add_argument("--only", default=None, help="comma-separated variant names")
    parser.add_argument("--timing", action="store_true", help="ms per image: scan, before")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if args.timing:
        print(timing())
        return 0
    started = time.perf_counter()
    names = cal.QUICK if args.quick else cal.PHOTOS + cal.TEXTURES
    clean = cal.clean_set(names, np.random.default_rng(0))
    bases = [(n, im) for n, im in clean if n.split("/")[1] in ("png", "grey", "jpeg50", "odd")]
    chosen = args.only.split(",") if args.only else list(VARIANTS)
    hits: dict[tuple, list[bool]] = {}
    for base, s, a, top, left, _, patterned in cal.hotspot_trials(
            bases, np.random.default_rng(cal.HOTSPOT_SEED)):
        x = cal.as_tensor(patterned).float()
        variant = base.split("/")[1]
        for name in chosen:
            row, col = VARIANTS[name](x)
            inside = top <= row < top + cal.WINDOW and left <= col < left + cal.WINDOW
            for key in ((name, a), (name, a, f"p{s}"), (name, a, variant)):
                hits.setdefault(key, []).append(inside)
    columns = [(a, None) for a in cal.AMPLITUDES] + [(2, f"p{s}") for s in PERIODS] + [
        (a, "jpeg50") for a in cal.AMPLITUDES]
    print("| variant | " + " | ".join(f"{a} levels" + (f" {c}" if c else "")
                                       for a, c in columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for name in chosen:
        cells = [np.mean(hits[(name, a) if c is None else (name, a, c)]) for a, c in columns]
        print(f"| {name} | " + " | ".join(f"{v:.1%}" for v in cells) + " |")
    n = len(hits[(chosen[0], 2)])
    print(f"\n{n} trials per amplitude; {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
