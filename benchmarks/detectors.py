"""Published spectral detectors, rebuilt as baselines for the checkerboard score's comparison.

Two detectors of generated images from the literature, each a fixed spectral feature vector
plus a small trained classifier, written from the papers' descriptions (no code copied):

- **Azimuthal average** (Durall, Keuper and Keuper, "Watch your up-convolution: CNN based
  generative deep neural networks are failing to reproduce spectral distributions", CVPR
  2020): the grey image's 2-D DFT, the log power ``log10(|X|^2 / n + eps)``, averaged over
  rings of equal radial frequency into a 1-D vector (``bins`` rings from 0 to the corner
  frequency ``sqrt(2) * 1/2`` cycles per pixel, so a period-2 checkerboard's corner bin is
  included), min-max normalised to ``[0, 1]`` as the paper does before its classifier.
- **Spectral decay fit** (Dzanic, Shah and Witherden, "Fourier spectrum discrepancies in
  deep network generated images", NeurIPS 2020): the reduced spectrum (mean power per ring up
  to the axis Nyquist frequency, normalised by the ring at zero frequency), and a power law
  ``E(k) = a k^b`` fitted by least squares in log-log to its high-frequency end (radii at or
  beyond ``0.75`` of Nyquist); the features are ``(log10 a, b)``.

Both feed :class:`LogisticRegression` (L2-penalised, class-balanced, Newton's method on
standardised features), trained on a held-apart split; :func:`auroc` compares the decision
values. The checkerboard score needs no training. These are baselines for
``benchmarks/calibration.py``, not part of the library.

>>> import numpy as np
>>> image = np.random.default_rng(0).normal(size=(64, 64))
>>> azimuthal_average(image, bins=16).shape, spectral_decay(image).shape
((16,), (2,))
"""

from __future__ import annotations

import math

import numpy as np

from checkerfree.errors import InvalidArgumentError, NonFiniteError, ShapeError

__all__ = [
    "LogisticRegression",
    "auroc",
    "azimuthal_average",
    "grey_float",
    "radial_frequency",
    "reduced_spectrum",
    "spectral_decay",
]

#: Added to the power before the logarithm, in power units (8-bit images: grey levels squared).
EPS = 1e-8
#: Where Dzanic et al.'s power-law fit starts, as a fraction of the axis Nyquist frequency.
FIT_START = 0.75


def grey_float(image: np.ndarray) -> np.ndarray:
    """A (H, W) or (H, W, C) array as float64 (H, W), channels averaged.

    >>> grey_float(np.ones((2, 3, 3), dtype=np.uint8) * 6).tolist()
    [[6.0, 6.0, 6.0], [6.0, 6.0, 6.0]]
    """
    image = np.asarray(image, dtype=np.float64)
    if image.ndim == 3:
        image = image.mean(-1)
    if image.ndim != 2:
        raise ShapeError(f"expected an image (H, W) or (H, W, C), got shape {image.shape}")
    return image


def radial_frequency(shape: tuple[int, int]) -> np.ndarray:
    """Each DFT bin's radial frequency in units of the axis Nyquist frequency (1/2 cycle/pixel).

    ``rho = sqrt(fy^2 + fx^2) / 0.5`` with ``numpy.fft.fftfreq`` frequencies: 0 at the zero
    bin, 1 on an axis at Nyquist, ``sqrt(2)`` at the corner ``(1/2, 1/2)``.

    >>> radial_frequency((4, 4))[2, 2].round(4), radial_frequency((4, 4))[0, 2]
    (np.float64(1.4142), np.float64(1.0))
    """
    fy = np.fft.fftfreq(shape[0])[:, None]
    fx = np.fft.fftfreq(shape[1])[None, :]
    return np.sqrt(fy**2 + fx**2) / 0.5


def _power(image: np.ndarray) -> np.ndarray:
    """``|DFT|^2 / n`` of the grey image (its mean square summed over bins)."""
    x = grey_float(image)
    return np.abs(np.fft.fft2(x)) ** 2 / x.size


def _ring_mean(values: np.ndarray, rho: np.ndarray, top: float, bins: int) -> np.ndarray:
    """Mean of ``values`` over ``bins`` equal rings of ``rho`` in ``[0, top]``; empty rings
    (small images have fewer bins than rings near zero) interpolated from their neighbours."""
    inside = rho <= top * (1 + 1e-9)
    # A bin on a ring boundary (common: radii are multiples of 1/n) goes to the outer ring,
    # whatever the last bit of its square root.
    index = np.minimum(np.floor(rho[inside] / top * bins + 1e-9).astype(int), bins - 1)
    total = np.bincount(index, weights=values[inside], minlength=bins)
    count = np.bincount(index, minlength=bins)
    centres = (np.arange(bins) + 0.5) * top / bins
    filled = count > 0
    means = np.zeros(bins)
    means[filled] = total[filled] / count[filled]
    if not filled.all():
        means[~filled] = np.interp(centres[~filled], centres[filled], means[filled])
    return means


def azimuthal_average(image: np.ndarray, bins: int = 64) -> np.ndarray:
    """Durall et al.'s feature: the ring average of the log power spectrum, min-max scaled.

    Ring ``i`` holds the bins with ``rho`` (:func:`radial_frequency`) in
    ``[i, i + 1) * sqrt(2) / bins`` (the corner in the last ring); the value is the mean of
    ``log10(|X|^2 / n + EPS)`` over it, then the vector is mapped to ``[0, 1]``.

    >>> v = azimuthal_average(np.random.default_rng(1).normal(size=(32, 32)), bins=8)
    >>> float(v.min()), float(v.max())
    (0.0, 1.0)
    """
    if int(bins) < 2:
        raise InvalidArgumentError(f"bins must be an integer >= 2, got {bins!r}")
    power = _power(image)
    log_power = np.log10(power + EPS)
    profile = _ring_mean(log_power, radial_frequency(power.shape), math.sqrt(2), int(bins))
    span = profile.max() - profile.min()
    return (profile - profile.min()) / span if span > 0 else np.zeros_like(profile)


def reduced_spectrum(image: np.ndarray, bins: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Dzanic et al.'s reduced spectrum: (ring centres in units of Nyquist, mean power / ring 0).

    Rings of equal width over ``rho in [0, 1]`` (the corners beyond the axis Nyquist
    frequency are left out, as the paper's wavenumbers stop at ``N / 2``); dividing by the
    first ring (the zero frequency's) makes the spectrum independent of brightness.

    >>> k, e = reduced_spectrum(np.random.default_rng(2).normal(size=(64, 64)) + 5, bins=8)
    >>> k.shape, float(e[0])
    ((8,), 1.0)
    """
    if int(bins) < 2:
        raise InvalidArgumentError(f"bins must be an integer >= 2, got {bins!r}")
    power = _power(image)
    spectrum = _ring_mean(power, radial_frequency(power.shape), 1.0, int(bins))
    centres = (np.arange(int(bins)) + 0.5) / int(bins)
    return centres, spectrum / max(spectrum[0], EPS)


def spectral_decay(image: np.ndarray, bins: int = 64) -> np.ndarray:
    """Dzanic et al.'s features ``(log10 a, b)`` of the fit ``E(k) = a k^b`` to the high end.

    Least squares of ``log10 E = log10 a + b log10 k`` over the rings of
    :func:`reduced_spectrum` whose centre is at or beyond ``FIT_START`` of Nyquist, in closed
    form (the normal equations of a straight line).

    >>> white = np.random.default_rng(3).normal(size=(128, 128))   # a flat spectrum
    >>> intercept, slope = spectral_decay(white)
    >>> bool(abs(slope) < 0.5)
    True
    """
    k, energy = reduced_spectrum(image, bins)
    keep = k >= FIT_START
    u, v = np.log10(k[keep]), np.log10(energy[keep] + EPS)
    slope = ((u - u.mean()) * (v - v.mean())).sum() / ((u - u.mean()) ** 2).sum()
    return np.array([v.mean() - slope * u.mean(), slope])


def auroc(negatives, positives) -> float:
    """Area under the ROC curve: ``P(positive > negative)``, ties counted half.

    Computed from mid-ranks (the Mann-Whitney U statistic,
    ``(sum of the positives' ranks - n_p (n_p + 1) / 2) / (n_p n_n)``) in ``O(n log n)``;
    equal to the count over all positive-negative pairs.

    >>> auroc([0.1, 0.4], [0.4, 0.9])
    0.875
    """
    neg = np.asarray(negatives, dtype=np.float64).ravel()
    pos = np.asarray(positives, dtype=np.float64).ravel()
    if len(neg) == 0 or len(pos) == 0:
        raise InvalidArgumentError(
            f"auroc needs both classes, got {len(neg)} negatives and {len(pos)} positives"
        )
    values = np.concatenate([neg, pos])
    if not np.isfinite(values).all():
        raise NonFiniteError(f"auroc needs finite values, got {int((~np.isfinite(values)).sum())} "
                             "non-finite")
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values))
    sorted_values = values[order]
    # Mid-ranks: every member of a run of equal values gets the mean of the run's ranks.
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_values)) + 1]
    ends = np.r_[starts[1:], len(values)]
    run_rank = (starts + ends + 1) / 2.0  # ranks start at 1
    ranks[order] = np.repeat(run_rank, ends - starts)
    u = ranks[len(neg):].sum() - len(pos) * (len(pos) + 1) / 2.0
    return float(u / (len(neg) * len(pos)))


class LogisticRegression:
    """L2-penalised logistic regression with balanced classes, fitted by Newton's method.

    Minimises ``sum_i w_i log(1 + exp(-y_i (x_i . beta + c))) + penalty / 2 |beta|^2`` on
    standardised features (train mean and spread), ``y in {-1, +1}``, weights ``w_i`` that give
    each class half of the total, the intercept unpenalised. The loss is convex, so Newton's
    iterations (``H^-1 grad``) converge in a few steps.

    >>> x = np.array([[0.0], [1.0], [2.0], [3.0]]); y = np.array([0, 0, 1, 1])
    >>> model = LogisticRegression(penalty=1e-3).fit(x, y)
    >>> (model.decision(x) > 0).astype(int).tolist()
    [0, 0, 1, 1]
    """

    def __init__(self, penalty: float = 1e-2, iterations: int = 50):
        self.penalty = float(penalty)
        self.iterations = int(iterations)

    def fit(self, features, labels) -> LogisticRegression:
        x = np.asarray(features, dtype=np.float64)
        y = np.asarray(labels).astype(bool)
        if x.ndim != 2 or len(x) != len(y) or y.all() or not y.any():
            raise InvalidArgumentError(f"fit needs features (n, d) and labels of both classes, got "
                             f"{x.shape} and {int(y.sum())} of {len(y)} positive")
        self.mean = x.mean(0)
        self.scale = x.std(0)
        self.scale[self.scale == 0] = 1.0
        z = np.c_[(x - self.mean) / self.scale, np.ones(len(x))]
        sign = np.where(y, 1.0, -1.0)
        weight = np.where(y, 0.5 / y.sum(), 0.5 / (~y).sum()) * len(y)
        ridge = np.full(z.shape[1], self.penalty)
        ridge[-1] = 0.0
        beta = np.zeros(z.shape[1])
        for _ in range(self.iterations):
            margin = sign * (z @ beta)
            p = 0.5 * (1 - np.tanh(margin / 2))  # sigmoid(-margin), without overflow
            grad = -(z * (weight * sign * p)[:, None]).sum(0) + ridge * beta
            hess = (z * (weight * p * (1 - p))[:, None]).T @ z + np.diag(ridge + 1e-9)
            step = np.linalg.solve(hess, grad)
            beta -= step
            if np.abs(step).max() < 1e-10:
                break
        self.beta = beta
        return self

    def decision(self, features) -> np.ndarray:
        """The linear score ``x . beta + c`` (positive: the artifact class)."""
        x = np.asarray(features, dtype=np.float64)
        z = np.c_[(x - self.mean) / self.scale, np.ones(len(x))]
        return z @ self.beta
