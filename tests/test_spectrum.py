"""average_spectrum against numpy.fft; plot_spectrum marks the lattice."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from checkerfree.errors import InvalidArgumentError, ShapeError
from checkerfree.score.spectrum import average_spectrum, spectrum_frequencies


def moisan_periodic_fft(u: np.ndarray) -> np.ndarray:
    """Moisan (2011) periodic component's FFT, written out with the explicit border image."""
    h, w = u.shape
    v = np.zeros_like(u)
    v[0, :] += u[-1, :] - u[0, :]
    v[-1, :] += u[0, :] - u[-1, :]
    v[:, 0] += u[:, -1] - u[:, 0]
    v[:, -1] += u[:, 0] - u[:, -1]
    q = np.arange(h)[:, None]
    r = np.arange(w)[None, :]
    denominator = 2 * np.cos(2 * np.pi * q / h) + 2 * np.cos(2 * np.pi * r / w) - 4
    denominator[0, 0] = 1.0
    smooth = np.fft.fft2(v) / denominator
    smooth[0, 0] = 0.0
    return np.fft.fft2(u) - smooth


def test_matches_numpy_reference():
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (3, 2, 32, 24)).cumsum(-1) / 10  # ramps: big border jumps
    power = np.stack([[np.abs(moisan_periodic_fft(c)) ** 2 for c in im] for im in images])
    expected = np.fft.fftshift((10 * np.log10(power / (32 * 24) + 1e-10)).mean((0, 1)))
    got = average_spectrum(torch.from_numpy(images))
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-6)
    plain = np.fft.fftshift((10 * np.log10(np.abs(np.fft.fft2(images)) ** 2 / 768)).mean((0, 1)))
    assert np.abs(got.numpy() - plain).max() > 3  # the border cross is really gone


def test_artifact_shows_at_lattice_and_iterable_input():
    torch.manual_seed(0)
    batches = [torch.rand(2, 3, 64, 64) * 255 for _ in range(3)]
    for b in batches:
        b[..., ::2, :] += 10
    spec = average_spectrum(batches)
    freq = spectrum_frequencies(64)
    row = int((freq == -0.5).nonzero())
    col = int((freq == 0.0).nonzero())
    assert spec[row, col] > spec.median() + 10  # 14 dB above the noise here


def test_errors():
    with pytest.raises(InvalidArgumentError):
        average_spectrum([])
    with pytest.raises(ShapeError):
        average_spectrum([torch.rand(1, 1, 8, 8), torch.rand(1, 1, 8, 9)])


def test_plot_marks_lattice():
    pytest.importorskip("matplotlib")
    from checkerfree.report.spectrum_plot import lattice_frequencies, plot_spectrum

    assert len(lattice_frequencies(8)) == 63
    assert (0.25, -0.25) in lattice_frequencies(4)
    fig, ax = plot_spectrum(average_spectrum(torch.rand(1, 1, 32, 32)), periods=(2, 4, 8))
    assert len(ax.collections) == 3
    offsets = ax.collections[0].get_offsets()
    assert len(offsets) == 3
    with pytest.raises(ShapeError):
        plot_spectrum(torch.zeros(2, 8, 8))
    with pytest.raises(InvalidArgumentError):
        plot_spectrum(torch.zeros(8, 8), periods=(1,))
    import matplotlib.pyplot as plt

    plt.close(fig)
