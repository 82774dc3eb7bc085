"""The lattice floor on small inputs: a stripe bin's line stops short of zero frequency.

Reference: the score's definition recomputed with numpy alone: Moisan's periodic component
from a border image built in the spatial domain (jumps between the first and last ``s`` rows
and columns), ``numpy.fft.fft2``, lattice bins of period 4 minus those of period 2, and each
bin's floor the mean over its box (radius 3) or, for a stripe bin, over its line of radius 16,
lattice bins left out, and the offsets cut symmetrically so that no neighbour is nearer to zero
frequency than half the lattice spacing. Issue 11: with a line of radius 16 on a
64-pixel axis the period-4 stripe bins ``(16, 0)`` reached the content's steep low
frequencies and their negative excess cancelled a real checkerboard.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from checkerfree.score.checkerboard import MIN_SIGNIFICANCE, checkerboard_score
from checkerfree.score.lattice import _excess_plan, _neighbour_offsets

N, S, PERIODS = 64, 4, (2, 4, 8)


def _periodic_power(u: np.ndarray, s: int) -> np.ndarray:
    """``|X|^2 / n^2`` of the periodic component of ``u``, border jumps over blocks of ``s``."""
    n0, n1 = u.shape
    v = np.zeros_like(u)
    rows = (u[-s:].mean(0) - u[:s].mean(0)) * (n0 - 1) / (n0 - s)
    cols = (u[:, -s:].mean(1) - u[:, :s].mean(1)) * (n1 - 1) / (n1 - s)
    v[0] += rows
    v[-1] -= rows
    v[:, 0] += cols
    v[:, -1] -= cols
    q, r = np.meshgrid(np.arange(n0), np.arange(n1), indexing="ij")
    denominator = 2 * np.cos(2 * np.pi * q / n0) + 2 * np.cos(2 * np.pi * r / n1) - 4
    denominator[0, 0] = 1.0
    smooth = np.fft.fft2(v) / denominator
    smooth[0, 0] = 0.0
    return np.abs(np.fft.fft2(u) - smooth) ** 2 / u.size**2


def _reference_value(u: np.ndarray, s: int) -> float:
    """``2 sqrt(max(sum_b P_b - F_b, 0))`` over period ``s``'s own lattice bins (module doc)."""
    power = _periodic_power(u, s)
    n = u.shape[0]
    step = n // s
    total = 0.0
    for k in itertools.product(range(s), repeat=2):
        # The zero bin, and the bins of the smaller periods (all coordinates even).
        if not any(k) or all(c % 2 == 0 for c in k):
            continue
        centre = np.array(k) * step
        free = [c != 0 for c in k]
        radius = 3 if all(free) else 16
        # Symmetric about the bin, and no nearer to zero frequency than half the spacing.
        reach = [min(c, n - c) - (step + 1) // 2 for c in centre]
        floor = []
        for o in itertools.product(*(range(-radius, radius + 1) if f else [0] for f in free)):
            if all(c % step == 0 for c in o):
                continue
            if any(f and abs(c) > r for f, c, r in zip(free, o, reach)):
                continue
            floor.append(power[tuple((centre + o) % n)])
        total += power[tuple(centre)] - np.mean(floor)
    return 2 * np.sqrt(max(total, 0.0))


def _ramp_plus_checker(amplitude: float, seed: int) -> np.ndarray:
    """A 64x64 smooth ramp with a broad bump (steep low frequencies) and a +-a/2 checker."""
    rng = np.random.default_rng(seed)
    i, j = np.indices((N, N)).astype(float)
    ci, cj = rng.uniform(16, 48, size=2)
    bump = 40 * np.exp(-((i - ci) ** 2 + (j - cj) ** 2) / (2 * 10.0**2))
    content = 60 + 1.5 * i + 0.8 * j + bump + rng.normal(0, 0.5, size=(N, N))
    checker = (amplitude / 2) * np.where((i // 2 + j // 2) % 2 == 0, 1.0, -1.0)
    return content + checker


def _kept_reach(n: int, s: int) -> list[tuple[int, int]]:
    """Per stripe bin of period ``s`` on an ``n x n`` grid: (its distance to zero frequency,
    the largest offset its floor keeps)."""
    coords, _, groups = _excess_plan((n, n), s, PERIODS, 2, "cpu")
    out = []
    for positions, _, m, weight in groups:
        free = coords[positions[0]] != 0
        if free.all():
            continue
        offsets = _neighbour_offsets((n, n), s, tuple(free.tolist()), "cpu")[:, free]
        for p, w in zip(positions.tolist(), weight):
            c = int(coords[p][free]) * (n // s)
            out.append((min(c, n - c), int(offsets[w > 0].abs().max())))
    return out


def test_stripe_line_stops_half_a_spacing_short_of_zero_frequency():
    # 64 pixels, period 4: the bins at 16 keep 8 each side (16 before, reaching zero).
    assert _kept_reach(N, 4) == [(16, 8)] * 4
    # Period 8: the bins at 8 keep 4 each side (down to frequency 4), those at 24 all but 16.
    assert sorted(set(_kept_reach(N, 8))) == [(8, 4), (24, 15)]
    # At 512 the calibrated line of radius 16 is unchanged for periods 2, 4, 8.
    assert {r for s in PERIODS for _, r in _kept_reach(512, s)} <= {15, 16}


@pytest.mark.parametrize("seed", [0, 1, 2, 7])
def test_small_image_with_steep_content_reads_its_checkerboard(seed):
    image = _ramp_plus_checker(2.0, seed)
    result = checkerboard_score(torch.tensor(image)[None, None], periods=PERIODS, hotspot=False)
    value = result.periods[S].item()
    for s in PERIODS:
        assert result.periods[s].item() == pytest.approx(_reference_value(image, s),
                                                         rel=1e-6, abs=1e-6)
    # The checkerboard's +-1 reads its peak-to-peak 2 (its energy is on period 4's own bins)
    # and stands out of the chance spread: it is not cancelled to 0 by the stripe floors.
    assert value == pytest.approx(2.0, abs=0.1)
    assert result.significance[S].item() > MIN_SIGNIFICANCE


def test_small_image_without_pattern_reads_near_zero():
    image = _ramp_plus_checker(0.0, 3)
    result = checkerboard_score(torch.tensor(image)[None, None], periods=PERIODS, hotspot=False)
    for s in PERIODS:
        assert result.periods[s].item() == pytest.approx(_reference_value(image, s), abs=1e-6)
    assert result.periods[S].item() < 0.5
