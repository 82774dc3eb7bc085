"""The lattice floor on small inputs: a stripe bin's line stops short of zero frequency.

Reference: the score's definition recomputed with numpy alone: Moisan's periodic component
from a border image built in the spatial domain (jumps between the first and last ``s`` rows
and columns), ``numpy.fft.fft2``, lattice bins of period 4 minus those of period 2, and each
bin's floor the mean over its box (radius 3) or, for a stripe bin, over its line of radius
``min(16, (n / s) // 2)``, lattice bins left out. Issue 11: with a line of radius 16 on a
64-pixel axis the period-4 stripe bins ``(16, 0)`` reached the content's steep low
frequencies and their negative excess cancelled a real checkerboard.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from checkerfree.score.checkerboard import MIN_SIGNIFICANCE, checkerboard_score
from checkerfree.score.lattice import _neighbour_offsets

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
        if not any(k) or all(c % 2 == 0 for c in k):  # zero bin, or period 2's lattice
            continue
        centre = np.array(k) * step
        free = [c != 0 for c in k]
        radius = 3 if all(free) else min(16, step // 2)
        floor = []
        for o in itertools.product(*(range(-radius, radius + 1) if f else [0] for f in free)):
            if all(c % step == 0 for c in o):
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


def test_stripe_line_stops_at_half_the_lattice_spacing():
    # 64 pixels, period 4: spacing 16, the line keeps 8 bins each side (16 before, reaching 0).
    offsets = _neighbour_offsets((N, N), 4, (True, False), "cpu")
    assert offsets[:, 0].abs().max().item() == 8 and offsets[:, 1].abs().max().item() == 0
    # At 512 the cap is above 16: the calibrated line of radius 16 is unchanged.
    assert _neighbour_offsets((512, 512), 8, (False, True), "cpu")[:, 1].abs().max() == 16
    # The 7x7 box of a checkerboard bin fits under the cap here and is unchanged.
    assert len(_neighbour_offsets((N, N), 4, (True, True), "cpu")) == 48


@pytest.mark.parametrize("seed", [0, 1, 2, 7])
def test_small_image_with_steep_content_reads_its_checkerboard(seed):
    image = _ramp_plus_checker(2.0, seed)
    result = checkerboard_score(torch.tensor(image)[None, None], periods=PERIODS, hotspot=False)
    value = result.periods[S].item()
    assert value == pytest.approx(_reference_value(image, S), rel=1e-6, abs=1e-9)
    # The checkerboard's +-1 reads its peak-to-peak 2 (its energy is on period 4's own bins)
    # and stands out of the chance spread: it is not cancelled to 0 by the stripe floors.
    assert value == pytest.approx(2.0, abs=0.1)
    assert result.significance[S].item() > MIN_SIGNIFICANCE


def test_small_image_without_pattern_reads_near_zero():
    image = _ramp_plus_checker(0.0, 3)
    result = checkerboard_score(torch.tensor(image)[None, None], periods=PERIODS, hotspot=False)
    assert result.periods[S].item() == pytest.approx(_reference_value(image, S), abs=1e-6)
    assert result.periods[S].item() < 0.5
