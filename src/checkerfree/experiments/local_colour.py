"""Does a local quantity follow another inside images? Colour maps and a paired correlation.

For ``bright-colours``: per image, the checkerboard heat map (grey levels) against the local
colour's distance from the image's mean colour, or its saturation, both smoothed with the
heat map's Gaussian window so that the two maps describe the same neighbourhoods.

The statistic (:func:`paired_correlation`): for each image ``i``, Spearman's rank correlation
``r_i`` between the two maps read on a grid every ``step`` pixels; the mean ``r`` over
images. Its 95% confidence interval is a bootstrap over images (images are independent
samples; pixels of one image are not). Its p-value is a permutation test that keeps every map
intact and re-pairs heat maps with the colour maps of *other* images: the null is "the
artifact's place does not follow the colour's place in the same image", and structure that
every image shares (a border effect, a fixed layout) is in the null too. One-sided: the
p-value is the share of pairings whose mean correlation is at least the observed one.

>>> import torch
>>> g = torch.Generator().manual_seed(0)
>>> colour = torch.rand(40, 32, 32, generator=g)
>>> r = paired_correlation(3 * colour + 0.1 * torch.rand(40, 32, 32, generator=g), colour)
>>> r["mean"] > 0.9, r["p_value"] < 0.01, r["ci95"][0] > 0.9
(True, True, True)
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from checkerfree.errors import InvalidArgumentError

__all__ = ["colour_distance", "paired_correlation", "saturation", "smooth"]


def smooth(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """``(N, C, H, W)`` blurred by a Gaussian of std ``sigma`` px (reflected borders)."""
    radius = max(1, round(3 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    c = x.shape[1]
    y = F.pad(x, (radius,) * 4, mode="reflect")
    y = F.conv2d(y, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(y, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def colour_distance(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """``(N, H, W)``: Euclidean RGB distance of the local (smoothed) colour from the image's
    mean colour, in ``x``'s units.

    >>> x = torch.zeros(1, 3, 8, 8); x[:, 0, :, 4:] = 2.0
    >>> d = colour_distance(x, sigma=0.3)
    >>> round(d[0, 0, 0].item(), 3), round(d[0, 0, 7].item(), 3)
    (1.0, 1.0)
    """
    _check(x)
    mean = x.mean(dim=(2, 3), keepdim=True)
    return (smooth(x, sigma) - mean).norm(dim=1)


def saturation(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """``(N, H, W)``: local chroma ``max(R, G, B) - min(R, G, B)``, smoothed.

    >>> saturation(torch.tensor([1.0, 0.5, 0.0]).view(1, 3, 1, 1).expand(1, 3, 4, 4), 0.5)[0, 0, 0]
    tensor(1.)
    """
    _check(x)
    chroma = (x.max(dim=1, keepdim=True).values - x.min(dim=1, keepdim=True).values)
    return smooth(chroma, sigma)[:, 0]


def _check(x: torch.Tensor) -> None:
    if x.ndim != 4 or x.shape[1] != 3:
        raise InvalidArgumentError(f"expected RGB images (N, 3, H, W), got {tuple(x.shape)}")


def _ranks(a: np.ndarray) -> np.ndarray:
    """Row-wise ranks, ties given their mean rank."""
    out = np.empty_like(a, dtype=float)
    for i, row in enumerate(a):
        _, inverse, counts = np.unique(row, return_inverse=True, return_counts=True)
        out[i] = (np.cumsum(counts) - (counts - 1) / 2.0)[inverse]
    return out


def _standardised(a: np.ndarray) -> np.ndarray:
    r = _ranks(a)
    r = r - r.mean(axis=1, keepdims=True)
    norm = np.sqrt((r ** 2).sum(axis=1, keepdims=True))
    # A constant map (no artifact anywhere) has no ranks: it correlates 0 with anything.
    return np.divide(r, norm, out=np.zeros_like(r), where=norm > 0)


def paired_correlation(a: torch.Tensor, b: torch.Tensor, step: int = 1,
                       permutations: int = 2000, seed: int = 0) -> dict:
    """Mean within-image Spearman correlation of maps ``a`` and ``b`` ``(N, H, W)``, with a
    bootstrap 95% interval over images and a one-sided re-pairing permutation p-value."""
    if a.shape != b.shape or a.ndim != 3 or a.shape[0] < 3:
        raise InvalidArgumentError(
            f"expected two (N, H, W) maps of one shape with N >= 3, got {tuple(a.shape)} and "
            f"{tuple(b.shape)}")
    ra = _standardised(a[:, ::step, ::step].reshape(a.shape[0], -1).double().numpy())
    rb = _standardised(b[:, ::step, ::step].reshape(b.shape[0], -1).double().numpy())
    pairs = ra @ rb.T  # pairs[i, j]: Spearman of image i's a with image j's b
    r = np.diag(pairs)
    observed = float(r.mean())
    rng = np.random.default_rng(seed)
    n = len(r)
    boot = r[rng.integers(n, size=(2000, n))].mean(axis=1)
    perms = np.argsort(rng.random((permutations, n)), axis=1)
    null = pairs[np.arange(n)[None, :], perms].mean(axis=1)
    p = (1 + int((null >= observed - 1e-12).sum())) / (permutations + 1)
    return {"mean": observed, "ci95": [float(np.quantile(boot, 0.025)),
                                       float(np.quantile(boot, 0.975))],
            "p_value": p, "images": n, "points_per_image": int(ra.shape[1]),
            "per_image": [float(v) for v in r]}
