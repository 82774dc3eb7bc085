"""The folded transform of the lattice bins (score/lattice.py ``_folded_table``): the DFT at
the lattice and its floor neighbourhoods without a full ``rfftn``, against numpy.fft."""

import numpy as np
import pytest
import torch

from checkerfree.score import lattice
from checkerfree.score.checkerboard import checkerboard_loss, checkerboard_score
from checkerfree.score.lattice import (_FOLD_RADIUS, _folded_index, _folded_table, _folds,
                                       lattice_excess, period_bins, period_spectrum)

PERIODS = (2, 4, 8)


def _covered(n, fold):
    """Every bin the folded table holds: the blocks around the multiples of n / fold, the
    column (u, 0) and the row (0, v)."""
    r = _FOLD_RADIUS
    rows = [[(k * n[a] // fold + o) % n[a] for k in range(fold) for o in range(-r, r + 1)]
            for a in (0, 1)]
    bins = [(u, v) for u in rows[0] for v in rows[1]]
    bins += [(u, 0) for u in range(n[0])] + [(0, v) for v in range(n[1])]
    return torch.tensor(bins)


@pytest.mark.parametrize("n, fold", [((64, 56), 2), ((96, 128), 4), ((256, 192), 8)])
def test_folded_table_is_the_dft(n, fold):
    x = np.random.default_rng(1).normal(100, 30, (2, 3, *n))
    coords = _covered(n, fold)
    table = _folded_table(torch.from_numpy(x), fold)
    index = _folded_index(coords, n, fold)
    reference = np.fft.fft2(x)[..., coords[:, 0].numpy(), coords[:, 1].numpy()]
    np.testing.assert_allclose(table[..., index].numpy(), reference,
                               atol=1e-9 * np.abs(reference).max())


def test_integers_are_read_as_float32():
    x = torch.from_numpy(np.random.default_rng(2).integers(0, 256, (2, 3, 128, 96), np.uint8))
    np.testing.assert_allclose(_folded_table(x, 4).numpy(),
                               _folded_table(x.to(torch.float32), 4).numpy(), rtol=0, atol=1e-2)


def test_bins_off_the_blocks_are_not_taken_from_it():
    n = (64, 64)
    assert _folded_index(torch.tensor([[16 + _FOLD_RADIUS + 1, 16]]), n, 4) is None
    assert _folded_index(torch.tensor([[16 + _FOLD_RADIUS, 48 - _FOLD_RADIUS]]), n, 4) is not None
    # Such bins still come right, from the rfftn (its own cache entry).
    x = torch.rand(1, 2, 64, 64, dtype=torch.float64)
    bins = period_bins(x, 4, 2, {}, (4,))
    k = torch.tensor([[21, 16], [5, 9], [16, 48]])
    full = period_spectrum(x, 4, 2)
    assert torch.allclose(bins.gather(k), full[..., k[:, 0], k[:, 1]])


def test_which_sizes_fold():
    assert _folds((512, 512), 8) and _folds((256, 256), 8) and _folds((500, 500), 4)
    assert not _folds((128, 128), 8)      # 56 bins kept of 128: the rfftn is cheaper
    assert not _folds((512, 500), 8)      # not a multiple of the fold
    assert not _folds((64,), 2) and not _folds((64, 64, 64), 2)


def _photograph_like(size, seed=3):
    """8-bit values with a large mean and a 1/f spectrum: small floors beside a big zero bin."""
    rng = np.random.default_rng(seed)
    f = np.fft.fftfreq(size)
    spectrum = rng.normal(size=(3, size, size)) / (np.hypot(*np.meshgrid(f, f)) + 1 / size)
    x = np.real(np.fft.ifft2(spectrum))
    x = 128 + 60 * x / x.std()
    return torch.from_numpy(np.clip(np.round(x), 0, 255).astype(np.uint8))[None]


@pytest.mark.parametrize("size, offset", [(256, None), (512, None), (504, None),
                                          (256, 1000.0), (512, 1000.0)])
def test_score_as_exact_as_the_rfftn(size, offset, monkeypatch):
    """The lattice excess and floor by the folded bins stay within the rfftn's own float32
    error against float64 (8-bit input; and float32 input with a large mean and fractions,
    where the folded bins' mean removal keeps the small bins exact)."""
    x = _photograph_like(size)
    if offset is not None:
        noise = torch.rand(x.shape, generator=torch.Generator().manual_seed(5))
        x = x.double() + offset + noise.double()
    exact = {s: lattice_excess(period_bins(x.double(), s, 2), s, PERIODS, 2)[:2]
             for s in PERIODS}
    shared: dict = {}
    folded = {}
    for s in PERIODS:
        bins = period_bins(x if offset is None else x.float(), s, 2, shared, PERIODS)
        folded[s] = lattice_excess(bins, s, PERIODS, 2)[:2]
        assert bins._half is None  # no rfftn was made
    monkeypatch.setattr(lattice, "_folds", lambda n, fold: False)
    plain = {s: lattice_excess(period_bins(x.float(), s, 2), s, PERIODS, 2)[:2]
             for s in PERIODS}
    for s in PERIODS:
        for ours, fft, ref in zip(folded[s], plain[s], exact[s]):
            scale = ref.abs().max().item()
            err_ours = (ours.double() - ref).abs().max().item()
            err_fft = (fft.double() - ref).abs().max().item()
            if offset is None:
                assert err_ours <= 4 * err_fft + 1e-6 * scale, (s, err_ours, err_fft, scale)
            else:
                assert err_ours <= max(err_fft, 1e-4 * scale), (s, err_ours, err_fft, scale)


def test_score_and_gradient_unchanged(monkeypatch):
    """checkerboard_score on 8-bit input and checkerboard_loss's gradient: the same with and
    without the folded bins."""
    x8 = _photograph_like(256, seed=4).repeat(2, 1, 1, 1)
    i, j = torch.meshgrid(torch.arange(256), torch.arange(256), indexing="ij")
    x8[1] = (x8[1].to(torch.int16) + 2 * (-1) ** ((i // 2 + j // 2) % 2)).clamp(0, 255)
    xf = x8.to(torch.float32).requires_grad_()
    ours = checkerboard_score(x8)
    checkerboard_loss(xf).backward()
    grad = xf.grad.clone()
    xf.grad = None
    monkeypatch.setattr(lattice, "_folds", lambda n, fold: False)
    plain = checkerboard_score(x8)
    checkerboard_loss(xf).backward()
    assert ours.flagged.tolist() == plain.flagged.tolist() == [False, True]
    assert ours.hotspot.tolist() == plain.hotspot.tolist()
    for s in PERIODS:
        torch.testing.assert_close(ours.periods[s], plain.periods[s], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(grad, xf.grad, rtol=1e-4, atol=1e-6)
