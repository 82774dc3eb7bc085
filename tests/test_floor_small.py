"""The lattice floor on small inputs: from period 4 on, a floor stops short of zero frequency.

Reference: the floor's definition recomputed with numpy alone, bin by bin: Moisan's periodic
component from a border image built in the spatial domain (jumps between the first and last
``s`` rows and columns), ``numpy.fft.fft2``, the lattice bins of period ``s`` that are not on a
smaller period's lattice, and each bin's floor the mean over its box (radius 3, at most half
the axis) or, for a stripe bin, over its line of radius 16 (at most half the axis), lattice
bins left out and, for ``s >= 4``, every offset ``|o_a| > c_a - ceil(n_a / (2 s))`` on a spanned
axis ``a`` left out too (``c_a``: the bin's distance to zero frequency), unless that leaves
nothing. Issue 11: with a line of radius 16 on a 64-pixel axis the period-4 stripe bins
``(16, 0)`` reached the content's steep low frequencies and their negative excess cancelled a
real checkerboard.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from checkerfree.score.checkerboard import MIN_SIGNIFICANCE, checkerboard_score
from checkerfree.score.lattice import lattice_excess, period_bins

PERIODS = (2, 4, 8)


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


def _reference_excess(u: np.ndarray, s: int) -> dict[tuple[int, int], float]:
    """``{k: P_b - F_b}`` for period ``s``'s own lattice bins ``b = k * n / s`` (module doc)."""
    power = _periodic_power(u, s)
    n = np.array(u.shape)
    step = n // s
    out = {}
    for k in itertools.product(range(s), repeat=2):
        # The zero bin, and the bins of a smaller period p (every k_a a multiple of s / p).
        if not any(k) or any(all(c % (s // p) == 0 for c in k) for p in PERIODS if p < s):
            continue
        centre = np.array(k) * step
        free = [c != 0 for c in k]
        radius = [min(3 if all(free) else 16, (m - 1) // 2) for m in n]
        reach = [min(c, m - c) - (m // s + 1) // 2 for c, m in zip(centre, n)]
        box = [o for o in itertools.product(*(range(-r, r + 1) if f else [0]
                                              for f, r in zip(free, radius)))
               if not all(c % st_ == 0 for c, st_ in zip(o, step))]
        kept = [o for o in box if s < 4 or not any(f and abs(c) > r
                                                   for f, c, r in zip(free, o, reach))]
        floor = [power[tuple((centre + o) % n)] for o in (kept or box)]
        out[k] = power[tuple(centre)] - np.mean(floor)
    return out


def _library_excess(u: np.ndarray, s: int) -> dict[tuple[int, int], float]:
    x = torch.tensor(u)[None, None]
    excess, _, coords = lattice_excess(period_bins(x, s, 2), s, PERIODS, 2)
    return {tuple(c): e for c, e in zip(coords.tolist(), excess[0].tolist())}


def _ramp_plus_checker(amplitude: float, seed: int, n: int = 64) -> np.ndarray:
    """A smooth ramp with a broad bump (steep low frequencies) and a +-a/2 period-4 checker."""
    rng = np.random.default_rng(seed)
    i, j = np.indices((n, n)).astype(float)
    ci, cj = rng.uniform(n / 4, 3 * n / 4, size=2)
    bump = 40 * np.exp(-((i - ci) ** 2 + (j - cj) ** 2) / (2 * 10.0**2))
    content = 60 + 1.5 * i + 0.8 * j + bump + rng.normal(0, 0.5, size=(n, n))
    checker = (amplitude / 2) * np.where((i // 2 + j // 2) % 2 == 0, 1.0, -1.0)
    return content + checker


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), h=st.sampled_from([24, 32, 40, 64, 72]),
       w=st.sampled_from([16, 32, 48, 64]), s=st.sampled_from(PERIODS),
       steep=st.floats(0, 3))
def test_every_bin_matches_the_numpy_reference(seed, h, w, s, steep):
    rng = np.random.default_rng(seed)
    i, j = np.indices((h, w)).astype(float)
    u = 100 + steep * (3 * i - 2 * j) + 20 * np.sin(i / 7) + rng.normal(0, 4, size=(h, w))
    ours, reference = _library_excess(u, s), _reference_excess(u, s)
    assert ours.keys() == reference.keys()
    for k, e in reference.items():
        assert ours[k] == pytest.approx(e, rel=1e-9, abs=1e-9), k


def test_the_cut_applies_to_small_inputs_only():
    # At 512 the calibrated floors of periods 2, 4, 8 are unchanged: the plain mean.
    u = np.random.default_rng(0).normal(0, 1, size=(512, 512)) + np.indices((512, 512))[0]
    x = torch.tensor(u)[None, None]
    for s in PERIODS:
        _, floor, coords = lattice_excess(period_bins(x, s, 2), s, PERIODS, 2)
        power = _periodic_power(u, s)
        n, step = 512, 512 // s
        k = next(c for c in coords.tolist() if c[1] == 0)  # a stripe bin (k, 0)
        centre = k[0] * step
        line = [power[(centre + o) % n, 0] for o in range(-16, 17) if o % step]
        position = coords.tolist().index(k)
        assert floor[0, position].item() == pytest.approx(np.mean(line), rel=1e-9)


@pytest.mark.parametrize("seed", [0, 1, 2, 7])
def test_small_image_with_steep_content_reads_its_checkerboard(seed):
    image = _ramp_plus_checker(2.0, seed)
    result = checkerboard_score(torch.tensor(image)[None, None], periods=PERIODS, hotspot=False)
    # The checkerboard's +-1 reads its peak-to-peak 2 (its energy is on period 4's own bins)
    # and stands out of the chance spread: it is not cancelled to 0 by the stripe floors
    # (before the cut: 0.0 for these four images).
    assert result.periods[4].item() == pytest.approx(2.0, abs=0.1)
    assert result.significance[4].item() > MIN_SIGNIFICANCE


def test_small_image_without_pattern_reads_near_zero():
    image = _ramp_plus_checker(0.0, 3)
    result = checkerboard_score(torch.tensor(image)[None, None], periods=PERIODS, hotspot=False)
    assert result.periods[4].item() < 0.5
