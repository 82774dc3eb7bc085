"""Average power spectrum of a set of images, in decibels, zero frequency at the centre.

``average_spectrum`` is what image-forensics papers plot to show generator fingerprints:
the mean over images (and channels) of ``10 log10(|DFT(p)|^2 / n + eps)`` where ``p`` is each
image's periodic component (Moisan 2011, see :mod:`checkerfree.score.lattice`: without it every
spectrum has a bright cross along the axes from the borders) and ``n`` the number of pixels,
so a spectrum does not depend on image size. Checkerboard artifacts show as bright dots on the
period-s lattice (``k / s`` cycles per pixel);
:func:`checkerfree.report.spectrum_plot.plot_spectrum` marks them.

>>> import torch
>>> x = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 255
>>> x[..., ::2, ::2] += 60                      # a period-2 artifact in every image
>>> spec = average_spectrum(x)
>>> spec.shape, bool(spec[0, 0] > spec[1:, 1:].mean() + 10)   # the corner is (-1/2, -1/2)
(torch.Size([32, 32]), True)
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch

from checkerfree.arguments import check_eps
from checkerfree.errors import InvalidArgumentError, InvalidTypeError, ShapeError
from checkerfree.finite import check_finite, check_power
from checkerfree.score.lattice import periodic_spectrum
from checkerfree.score.layout import as_batch

__all__ = ["average_spectrum", "spectrum_frequencies"]


def average_spectrum(
    images: torch.Tensor | Iterable[torch.Tensor],
    *,
    spatial_dims: int | None = None,
    eps: float = 1e-10,
) -> torch.Tensor:
    """Mean log-power spectrum (dB) of ``images``, ``fftshift``-ed, shape ``S`` (spatial only).

    ``images`` is a tensor read as in :func:`~checkerfree.score.checkerboard.checkerboard_score` or an
    iterable of such tensors of one spatial shape (a data loader's batches). Bin ``i`` of an
    axis of length ``n`` is frequency ``(i - n // 2) / n`` cycles per sample
    (:func:`spectrum_frequencies`). ``eps`` (a finite number ``> 0``, in power units) is added
    before the logarithm so that an empty bin reads ``10 log10(eps)`` dB. NaN or infinite
    input, or a float overflow of its power, raises :class:`~checkerfree.errors.NonFiniteError`
    naming the batch (:mod:`checkerfree.finite`).

    >>> import torch
    >>> average_spectrum([torch.zeros(2, 1, 8, 8), torch.ones(1, 1, 8, 8)]).shape
    torch.Size([8, 8])
    """
    eps = check_eps(eps)
    if isinstance(images, torch.Tensor):
        batches, names = [images], ["images"]
    elif isinstance(images, Iterable) and not isinstance(images, (str, bytes)):
        batches = list(images)
        names = [f"images[{i}]" for i in range(len(batches))]
    else:
        raise InvalidTypeError(
            f"images must be a tensor or an iterable of tensors, got {type(images).__name__}"
        )
    if not batches:
        raise InvalidArgumentError("average_spectrum needs at least one image, got none")
    total, count, shape = None, 0, None
    for batch, name in zip(batches, names):
        xb, d = as_batch(batch, spatial_dims)
        check_finite(batch, name, batched=batch.ndim == d + 2)
        if shape is None:
            shape = tuple(xb.shape[2:])
        elif tuple(xb.shape[2:]) != shape:
            raise ShapeError(
                f"all images need one spatial shape, got {shape} and {tuple(xb.shape[2:])}"
            )
        spectrum = periodic_spectrum(xb, d)
        power = (spectrum.real**2 + spectrum.imag**2) / math.prod(shape)
        decibels = 10 * torch.log10(power + eps)
        # An overflowed bin would be inf dB, or NaN after the average: refused instead.
        check_power(decibels, xb, f"the power spectrum of {name}")
        part = decibels.sum((0, 1))
        total = part if total is None else total + part.to(total.device)
        count += xb.shape[0] * xb.shape[1]
    return torch.fft.fftshift(total / count, dim=tuple(range(len(shape))))


def spectrum_frequencies(n: int) -> torch.Tensor:
    """Frequencies (cycles per sample) of the bins of an ``fftshift``-ed axis of length ``n``.

    >>> spectrum_frequencies(4).tolist()
    [-0.5, -0.25, 0.0, 0.25]
    """
    return torch.fft.fftshift(torch.fft.fftfreq(n))
