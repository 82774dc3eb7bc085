"""High-frequency fidelity: how much of a target's fine detail an output reproduces.

Both images are multiplied by a separable Hann window ``w`` (so the image borders, which a
DFT would read as a jump, add no spurious high frequencies) and transformed: ``X = DFT(w x)``,
``Y = DFT(w y)``. The high band ``B`` is every frequency whose radius
``sqrt(fy^2 + fx^2)`` exceeds ``cut`` cycles per sample (``cut = 0.25``: above half the
Nyquist frequency, 0.5). Over ``B``, summed over channels and the batch:

- ``high_pass_psnr = 10 log10(peak^2 / mse_B)`` with
  ``mse_B = sum_B |X - Y|^2 / (H W sum w^2)``, the mean square error of the high-pass
  band (Parseval), in dB (higher: the detail is closer to the target's);
- ``high_frequency_ratio = sum_B |X|^2 / sum_B |Y|^2``: 1 = as much fine detail as the
  target, below 1 = the output resists high frequencies (blur), above 1 = more (noise,
  artifacts).

>>> import torch
>>> y = torch.rand(1, 1, 32, 32)
>>> high_frequency_ratio(y, y), high_pass_psnr(y, y) > 100
(1.0, True)
>>> blurred = torch.nn.functional.avg_pool2d(y, 3, 1, 1, count_include_pad=False)
>>> high_frequency_ratio(blurred, y) < 0.5
True
"""

from __future__ import annotations

import itertools
import math

import torch

from checkerfree.errors import InvalidArgumentError

__all__ = ["high_band", "high_frequency_ratio", "high_pass_psnr", "radial_ratio"]


def _spectra(x: torch.Tensor, ref: torch.Tensor):
    if x.ndim != 4 or x.shape != ref.shape:
        raise InvalidArgumentError(
            f"expected two (N, C, H, W) images of one shape, got {tuple(x.shape)} and "
            f"{tuple(ref.shape)}")
    h, w = x.shape[-2:]
    win = (torch.hann_window(h, periodic=False, dtype=torch.float64)[:, None]
           * torch.hann_window(w, periodic=False, dtype=torch.float64)[None, :])
    fx = torch.fft.fft2(x.double() * win)
    fy = torch.fft.fft2(ref.double() * win)
    return fx, fy, float((win ** 2).sum())


def _radius(h: int, w: int) -> torch.Tensor:
    fy = torch.fft.fftfreq(h, dtype=torch.float64)[:, None]
    fx = torch.fft.fftfreq(w, dtype=torch.float64)[None, :]
    return (fy ** 2 + fx ** 2).sqrt()


def high_band(h: int, w: int, cut: float = 0.25) -> torch.Tensor:
    """The boolean ``(h, w)`` DFT mask of frequencies above ``cut`` cycles per sample."""
    if not 0 < cut < 0.5 * math.sqrt(2):
        raise InvalidArgumentError(f"cut must be in (0, 0.707) cycles per sample, got {cut}")
    return _radius(h, w) > cut


def high_pass_psnr(x: torch.Tensor, ref: torch.Tensor, cut: float = 0.25,
                   peak: float = 1.0) -> float:
    """PSNR (dB) of the band above ``cut`` cycles/sample of ``x`` against ``ref``."""
    fx, fy, energy = _spectra(x, ref)
    band = high_band(*x.shape[-2:], cut=cut)
    n = x.shape[0] * x.shape[1]
    mse = float((fx - fy).abs().pow(2)[..., band].sum()) / (energy * n * x.shape[-2]
                                                             * x.shape[-1])
    return 10 * math.log10(peak ** 2 / max(mse, 1e-30))


def high_frequency_ratio(x: torch.Tensor, ref: torch.Tensor, cut: float = 0.25) -> float:
    """Spectral energy of ``x`` above ``cut`` cycles/sample over that of ``ref``."""
    fx, fy, _ = _spectra(x, ref)
    band = high_band(*x.shape[-2:], cut=cut)
    return round(float(fx.abs().pow(2)[..., band].sum() / fy.abs().pow(2)[..., band].sum()
                       .clamp_min(1e-30)), 12)


def radial_ratio(x: torch.Tensor, ref: torch.Tensor, bins: int = 16):
    """Energy ratio ``x`` / ``ref`` per radial frequency band: (band centres, ratios)."""
    fx, fy, _ = _spectra(x, ref)
    r = _radius(*x.shape[-2:])
    edges = torch.linspace(0, 0.5 * math.sqrt(2), bins + 1, dtype=torch.float64)
    px, py = fx.abs().pow(2).sum((0, 1)), fy.abs().pow(2).sum((0, 1))
    centres, ratios = [], []
    for lo, hi in itertools.pairwise(edges.tolist()):
        m = (r > lo) & (r <= hi)
        if m.any() and float(py[m].sum()) > 0:
            centres.append(float((lo + hi) / 2))
            ratios.append(float(px[m].sum() / py[m].sum()))
    return centres, ratios
