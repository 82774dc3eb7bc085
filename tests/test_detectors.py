"""The published baseline detectors (benchmarks/detectors.py) against independent references.

The features are recomputed by brute force: every DFT bin's radius from its own index, binned
one bin at a time in Python; the power-law fit by ``numpy.polyfit``; AUROC by counting every
positive-negative pair; the classifier's optimum by scipy's general-purpose minimiser.
"""

from __future__ import annotations

import doctest
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
import detectors

from checkerfree.errors import InvalidArgumentError, NonFiniteError, ShapeError


def _frequency(i: int, n: int) -> float:
    """Cycles per pixel of DFT index i on an axis of n samples (negative above n/2)."""
    return (i if i < (n + 1) // 2 else i - n) / n


def _brute_rings(values: np.ndarray, top: float, bins: int):
    """Sum and count per ring, one bin at a time."""
    h, w = values.shape
    total, count = [0.0] * bins, [0] * bins
    for i in range(h):
        for j in range(w):
            rho = math.hypot(_frequency(i, h), _frequency(j, w)) / 0.5
            if rho > top * (1 + 1e-9):
                continue
            ring = min(int(rho / top * bins + 1e-9), bins - 1)  # a boundary goes outward
            total[ring] += values[i, j]
            count[ring] += 1
    return np.array(total), np.array(count)


def _brute_azimuthal(image: np.ndarray, bins: int):
    x = image.astype(np.float64)
    log_power = np.log10(np.abs(np.fft.fft2(x)) ** 2 / x.size + detectors.EPS)
    total, count = _brute_rings(log_power, math.sqrt(2), bins)
    return total, count


@settings(max_examples=25, deadline=None)
@given(h=st.integers(12, 40), w=st.integers(12, 40), bins=st.integers(2, 8),
       seed=st.integers(0, 2**31 - 1))
def test_azimuthal_average_matches_brute_force(h, w, bins, seed):
    image = np.random.default_rng(seed).uniform(0, 255, size=(h, w))
    total, count = _brute_azimuthal(image, bins)
    assume((count > 0).all())  # empty rings are interpolated: tested separately
    profile = total / count
    expected = (profile - profile.min()) / (profile.max() - profile.min())
    np.testing.assert_allclose(detectors.azimuthal_average(image, bins), expected, atol=1e-12)


def test_azimuthal_average_empty_rings_interpolated():
    image = np.random.default_rng(0).normal(size=(8, 8))
    bins = 24
    total, count = _brute_azimuthal(image, bins)
    assert (count == 0).any()  # the case under test
    centres = (np.arange(bins) + 0.5) * math.sqrt(2) / bins
    filled = count > 0
    profile = np.interp(centres, centres[filled], total[filled] / count[filled])
    expected = (profile - profile.min()) / (profile.max() - profile.min())
    np.testing.assert_allclose(detectors.azimuthal_average(image, bins), expected, atol=1e-12)


def test_azimuthal_average_colour_is_the_channel_mean():
    image = np.random.default_rng(1).uniform(0, 255, size=(20, 24, 3))
    np.testing.assert_allclose(detectors.azimuthal_average(image, 6),
                               detectors.azimuthal_average(image.mean(-1), 6))


def test_azimuthal_average_sees_a_period_2_checkerboard_in_its_last_ring():
    i, j = np.indices((64, 64))
    smooth = np.add.outer(np.linspace(0, 100, 64), np.linspace(0, 50, 64))
    plain = detectors.azimuthal_average(smooth + np.random.default_rng(2).normal(size=(64, 64)))
    checker = detectors.azimuthal_average(
        smooth + np.random.default_rng(2).normal(size=(64, 64)) + 20 * (-1.0) ** (i + j))
    assert checker[-1] > plain[-1] + 0.05


@settings(max_examples=25, deadline=None)
@given(h=st.integers(24, 48), w=st.integers(24, 48), bins=st.integers(4, 12),
       seed=st.integers(0, 2**31 - 1))
def test_spectral_decay_matches_polyfit(h, w, bins, seed):
    rng = np.random.default_rng(seed)
    # A smooth field plus noise: a spectrum that decays, as photographs' do.
    image = np.cumsum(np.cumsum(rng.normal(size=(h, w)), 0), 1) + rng.normal(size=(h, w))
    power = np.abs(np.fft.fft2(image)) ** 2 / image.size
    total, count = _brute_rings(power, 1.0, bins)
    assume((count > 0).all())
    energy = total / count
    energy = energy / energy[0]
    k = (np.arange(bins) + 0.5) / bins
    keep = k >= detectors.FIT_START
    assume(keep.sum() >= 2)
    slope, intercept = np.polyfit(np.log10(k[keep]), np.log10(energy[keep] + detectors.EPS), 1)
    np.testing.assert_allclose(detectors.spectral_decay(image, bins), [intercept, slope],
                               rtol=1e-9, atol=1e-9)
    centres, reduced = detectors.reduced_spectrum(image, bins)
    np.testing.assert_allclose(centres, k)
    np.testing.assert_allclose(reduced, energy, rtol=1e-12)


def test_spectral_decay_reads_a_known_power_law():
    # A real field whose power is exactly rho^-3 on every bin but the zero one (a spectrum
    # even in f is the DFT of a real, even field).
    n = 128
    rho = detectors.radial_frequency((n, n))
    field = np.fft.ifft2(np.where(rho > 0, rho, 1.0) ** -1.5).real
    _, slope = detectors.spectral_decay(field, bins=32)
    # Ring means of rho^-3 sit a little off the law at the ring centres: a few percent.
    assert slope == pytest.approx(-3.0, abs=0.1)


def _brute_auroc(neg, pos):
    pairs = [(1.0 if p > n else 0.5 if p == n else 0.0) for p in pos for n in neg]
    return sum(pairs) / len(pairs)


@settings(max_examples=100, deadline=None)
@given(neg=st.lists(st.integers(-5, 5), min_size=1, max_size=30),
       pos=st.lists(st.integers(-5, 5), min_size=1, max_size=30))
def test_auroc_matches_pair_count(neg, pos):
    # Small integers: many ties, the case a rank formula gets wrong first.
    assert detectors.auroc(neg, pos) == pytest.approx(_brute_auroc(neg, pos), abs=1e-12)


def test_auroc_bounds_and_errors():
    assert detectors.auroc([0, 1], [2, 3]) == 1.0
    assert detectors.auroc([2, 3], [0, 1]) == 0.0
    with pytest.raises(InvalidArgumentError, match="both classes"):
        detectors.auroc([], [1.0])
    with pytest.raises(NonFiniteError, match="finite"):
        detectors.auroc([np.nan], [1.0])


def test_feature_errors():
    with pytest.raises(ShapeError, match="expected an image"):
        detectors.azimuthal_average(np.zeros((2, 3, 4, 5)))
    with pytest.raises(InvalidArgumentError, match="bins"):
        detectors.azimuthal_average(np.zeros((8, 8)), bins=1)
    with pytest.raises(InvalidArgumentError, match="bins"):
        detectors.spectral_decay(np.zeros((8, 8)), bins=0)


def test_logistic_regression_reaches_the_optimum():
    from scipy.optimize import minimize

    rng = np.random.default_rng(4)
    x = rng.normal(size=(80, 3))
    y = (x @ [1.0, -2.0, 0.5] + rng.normal(size=80) > 0.7).astype(int)
    model = detectors.LogisticRegression(penalty=0.3).fit(x, y)
    z = np.c_[(x - x.mean(0)) / x.std(0), np.ones(len(x))]
    sign = np.where(y == 1, 1.0, -1.0)
    weight = np.where(y == 1, 0.5 / y.sum(), 0.5 / (1 - y).sum()) * len(y)

    def loss(beta):
        return (weight * np.logaddexp(0, -sign * (z @ beta))).sum() + 0.15 * (beta[:-1] ** 2).sum()

    reference = minimize(loss, np.zeros(4), method="BFGS", options={"gtol": 1e-10}).x
    np.testing.assert_allclose(model.beta, reference, atol=1e-5)
    np.testing.assert_allclose(model.decision(x), z @ reference, atol=1e-4)
    with pytest.raises(InvalidArgumentError, match="both classes"):
        detectors.LogisticRegression().fit(x, np.zeros(80))


def test_docstring_examples():
    failures, tried = doctest.testmod(detectors, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert tried > 5 and failures == 0
