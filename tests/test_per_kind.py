"""The per-kind decision value (benchmarks/per_kind.py) against the library and known patterns.

References: the library's own per-period value and per-axis stripe values (an independent code
path, ``checkerboard_score``), and the pattern's true amplitude ``2 * RMS`` computed by numpy.
"""

from __future__ import annotations

import doctest
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
import per_kind

from checkerfree.errors import InvalidArgumentError
from checkerfree.score.checkerboard import MIN_SIGNIFICANCE, checkerboard_score


def _tensor(a: np.ndarray) -> torch.Tensor:
    return torch.tensor(a, dtype=torch.float64)[None, None]


def _mixed_pattern(rng: np.random.Generator, s: int, amplitude: float, n: int) -> np.ndarray:
    """A period-s pattern with energy on checkerboard bins only: zero row and column means."""
    u, v = rng.normal(size=s), rng.normal(size=s)
    tile = np.outer(u - u.mean(), v - v.mean())
    tile *= amplitude / 2 / np.sqrt((tile**2).mean())  # 2 * RMS = amplitude
    return np.tile(tile, (n // s, n // s))


def _walk_rows(rng: np.random.Generator, n: int) -> np.ndarray:
    """Content varying along axis 0 only, with a 1/f^2 spectrum (a random walk)."""
    walk = np.cumsum(rng.normal(size=n)) * 8
    return 128 + np.repeat((walk - walk.mean())[:, None], n, 1)


def test_doctests():
    assert doctest.testmod(per_kind).failed == 0


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), h=st.integers(24, 48), w=st.integers(24, 48))
def test_kinds_add_up_to_the_library_value(seed, h, w):
    rng = np.random.default_rng(seed)
    x = _tensor(rng.uniform(0, 255, size=(h, w)) + 20 * rng.normal(size=(4, 4)).repeat(
        -(-h // 4), 0).repeat(-(-w // 4), 1)[:h, :w])
    library = checkerboard_score(x, periods=(2, 4, 8), hotspot=False)
    kinds = per_kind.kind_values(x, (2, 4, 8))
    for s, parts in kinds.items():
        total = sum(parts.values())
        expected = 2 * torch.sqrt(total.clamp_min(0))
        torch.testing.assert_close(expected, library.periods[s], atol=1e-6, rtol=1e-6)
        # The stripe kinds are the library's per-axis stripe values.
        for a in range(2):
            stripe = 2 * torch.sqrt(parts[f"axis {a}"].clamp_min(0))
            torch.testing.assert_close(stripe, library.axes[s][:, a], atol=1e-6, rtol=1e-6)


def test_a_checkerboard_next_to_steep_stripe_content_is_not_cancelled():
    """The BasicUNet case, now read by the library too: the period-4 stripe floor stops short
    of zero frequency (score/lattice.py, _floor_weights).

    Before the cut the library read 0.0 here with a huge significance (its axis-0 stripe
    kind at -6 to -21 from the content's steep low frequencies); the library and the
    per-kind value now read the pattern's true period-4 amplitude: 2 * RMS of its part on the
    period-4 lattice bins that are not period-2 bins, by ``numpy.fft`` (the period-2 bin is
    period 2's value). The library is within the chance excess of the walk's own stripe bin.
    """
    rng = np.random.default_rng(0)
    n, amplitude = 64, 4.0
    for _ in range(4):
        pat = _mixed_pattern(rng, 4, amplitude, n)
        x = _tensor(_walk_rows(rng, n) + pat + rng.normal(size=(n, n)))
        library = checkerboard_score(x, periods=(2, 4, 8), hotspot=False)
        assert library.significance[4].item() > 100 * MIN_SIGNIFICANCE
        power = np.abs(np.fft.fft2(pat)) ** 2 / pat.size**2  # mean square per bin
        step = n // 4
        own = [(a, b) for a in range(0, n, step) for b in range(0, n, step)
               if (a, b) != (0, 0) and not (a % (2 * step) == 0 and b % (2 * step) == 0)]
        truth = 2 * np.sqrt(sum(power[a, b] for a, b in own))
        assert truth > 0.5 * amplitude
        assert 0.8 * truth < library.periods[4].item() < 1.3 * truth  # not cancelled
        value = 2 * torch.sqrt(sum(e.clamp_min(0) for e in per_kind.kind_values(x)[4].values()))
        assert library.periods[4].item() - 1e-9 <= value.item() < 1.3 * truth
        assert per_kind.decision(x).item() >= value.item() - 1e-9  # the largest period decides
        assert abs(per_kind.kind_values(x)[4]["axis 0"].item()) < 2  # the stripe floor's bias


def _library_decision(x):
    library = checkerboard_score(x, periods=(2, 4, 8), hotspot=False)
    values = torch.stack([torch.where(library.significance[s] > MIN_SIGNIFICANCE,
                                      library.periods[s], torch.zeros(x.shape[0]))
                          for s in (2, 4, 8)], -1)
    return values.amax(-1)


def test_equal_to_the_library_where_no_kind_is_negative():
    # Pure period-2 patterns: every floor is 0 (no energy off the lattice), no kind negative.
    # (A period-4 pattern would not do: its bins fall inside period 2's stripe floor.)
    i, j = np.meshgrid(np.arange(64), np.arange(64), indexing="ij")
    x = _tensor(120 + 3.0 * (-1.0) ** (i + j) + 1.0 * (-1.0) ** i)
    assert all((e >= -1e-9).all() for p in per_kind.kind_values(x).values() for e in p.values())
    assert per_kind.decision(x).item() == pytest.approx(_library_decision(x).item(), rel=1e-9)
    assert per_kind.decision(x).item() == pytest.approx(2 * np.sqrt(9 + 1), rel=1e-6)


def test_never_below_the_library_decision():
    rng = np.random.default_rng(4)
    base = rng.uniform(0, 255, size=(24, 1, 48, 48))
    tiles = rng.normal(size=(24, 1, 4, 4)) * rng.uniform(0, 6, size=(24, 1, 1, 1))
    x = torch.tensor(base + np.tile(tiles, (1, 1, 12, 12)))
    ours, library = per_kind.decision(x), _library_decision(x)
    assert (ours >= library - 1e-9).all()
    assert (ours > library + 1e-6).any() and (ours == library).any()  # both cases occur


def test_noise_counts_only_where_the_library_is_significant():
    rng = np.random.default_rng(1)
    x = torch.tensor(rng.normal(128, 30, size=(200, 1, 64, 64)))
    value = per_kind.decision(x)
    library = checkerboard_score(x, periods=(2, 4, 8), hotspot=False)
    significant = torch.stack([library.significance[s] > MIN_SIGNIFICANCE for s in (2, 4, 8)],
                              -1).any(-1)
    assert not (value[~significant] != 0).any()
    assert (value > 0).float().mean().item() <= 0.03  # chance peaks only


def test_volumes_and_signals():
    rng = np.random.default_rng(2)
    i = np.indices((16, 16, 16)).sum(0)
    volume = torch.tensor(100 + rng.normal(size=(16, 16, 16)) + 2.0 * (-1.0) ** i)[None, None]
    assert per_kind.decision(volume, (2,), spatial_dims=3).item() == pytest.approx(4.0, rel=0.05)
    assert len(per_kind.kind_values(volume, (2,), spatial_dims=3)[2]) == 7  # 2^3 - 1 kinds
    t = np.arange(256)
    signal = torch.tensor(np.sin(t / 9) * 20 + 1.0 * (-1.0) ** t)[None, None]
    assert list(per_kind.kind_values(signal, (2,), spatial_dims=1)[2]) == ["axis 0"]


def test_bad_arguments():
    with pytest.raises(InvalidArgumentError, match="spatial axes"):
        per_kind.kind_values(torch.zeros(1, 32, 32), (2,))
    with pytest.raises(InvalidArgumentError, match="at least one period"):
        per_kind.kind_values(torch.zeros(1, 1, 32, 32), ())
    with pytest.raises(InvalidArgumentError, match="non-zero"):
        per_kind.kind_name((False, False))


def test_decoder_spectra_masks_are_the_library_lattices():
    import decoder_spectra

    from checkerfree.score.lattice import lattice_coords

    assert doctest.testmod(decoder_spectra).failed == 0
    n = 32
    for s, mask in decoder_spectra.lattice_masks(n).items():
        coords = lattice_coords(s, decoder_spectra.PERIODS, 2) * (n // s)
        expected = np.zeros((n, n), bool)
        expected[coords[:, 0].numpy(), coords[:, 1].numpy()] = True
        np.testing.assert_array_equal(mask, expected)


def test_segresnet_smooth_probes_are_the_same_cancellation():
    """docs/audit.md: SegResNet 3D's smooth probe outputs read 0 with a significant period 2.

    Its ConvTranspose3d(k=2, s=2) has random per-phase weights; on the audit's smooth probes
    (the interior of the contrast-stretched output, as the audit scores it) the period-2
    peak is significant but the value is 0, and the per-kind value reads it above the
    threshold.
    """
    nets = pytest.importorskip("monai.networks.nets")
    from checkerfree.audit.probes import _interior, display_scale, probe_inputs
    from checkerfree.score.checkerboard import DEFAULT_THRESHOLD

    torch.manual_seed(0)
    model = nets.SegResNet(spatial_dims=3, init_filters=8, in_channels=1, out_channels=1,
                           blocks_down=(1, 2), blocks_up=(1,), upsample_mode="deconv").eval()
    smooth = [p for p in probe_inputs((1, 1, 32, 32, 32), seeds=3) if p.kind == "smooth"]
    assert len(smooth) == 3
    with torch.no_grad():
        y = torch.cat([_interior(display_scale(model(p.tensor))) for p in smooth]).float()
    library = checkerboard_score(y, periods=(2, 4), spatial_dims=3, hotspot=False)
    assert (library.significance[2] > MIN_SIGNIFICANCE).all()
    assert (library.periods[2] == 0).all()
    assert (per_kind.decision(y, (2, 4), spatial_dims=3) > DEFAULT_THRESHOLD).all()
