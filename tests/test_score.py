"""checkerboard_score / checkerboard_loss: known amplitudes, numpy.fft reference, photographs."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from checkerfree.errors import InvalidArgumentError, InvalidTypeError, ShapeError
from checkerfree.score.lattice import lattice_coords, lattice_excess, period_spectrum
from checkerfree.score.checkerboard import (
    DEFAULT_THRESHOLD,
    ScoreResult,
    checkerboard_loss,
    checkerboard_score,
)


def smooth_image(h: int, w: int, channels: int = 1) -> torch.Tensor:
    """A smooth, non-periodic image in grey levels (a shaded ramp), (channels, h, w)."""
    i, j = torch.meshgrid(torch.arange(h, dtype=torch.float64),
                          torch.arange(w, dtype=torch.float64), indexing="ij")
    base = 60 + 0.3 * i + 0.2 * j + 20 * torch.sin(i / 17.0) * torch.cos(j / 23.0)
    return base.expand(channels, h, w).clone()


def checkerboard(h: int, w: int, s: int, amplitude: float) -> torch.Tensor:
    """+-amplitude/2 checkerboard of period s (squares of s/2)."""
    i, j = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    return amplitude / 2 * (-1.0) ** ((i // (s // 2)) + (j // (s // 2))).double()


def numpy_lattice_excess(x: np.ndarray, s: int) -> float:
    """Independent reference for a smooth-free input: mean-square power at the period-s
    lattice minus the mean power of the non-lattice bins (white-noise floor), numpy.fft."""
    h, w = x.shape
    x = x[: h - h % s, : w - w % s]
    h, w = x.shape
    power = np.abs(np.fft.fft2(x)) ** 2 / (h * w) ** 2
    lattice = np.zeros_like(power, dtype=bool)
    lattice[:: h // s, :: w // s] = True
    lattice[0, 0] = False
    off = ~lattice
    off[0, 0] = False
    return float(power[lattice].sum() - lattice.sum() * power[off].mean())


# smoke / cardinality --------------------------------------------------------------------


def test_smoke_shapes_and_contract():
    x = torch.rand(3, 3, 40, 48) * 255
    r = checkerboard_score(x)
    assert isinstance(r, ScoreResult)
    assert r.score.shape == (3,)
    assert set(r.periods) == {2, 4, 8} and all(v.shape == (3,) for v in r.periods.values())
    assert all(v.shape == (3, 2) for v in r.axes.values())
    assert r.flagged.shape == (3,) and r.flagged.dtype == torch.bool
    assert r.hotspot.shape == (3, 2) and r.hotspot.dtype == torch.long
    rows = r.to_rows()
    assert len(rows) == 3 and sorted(rows[0]) == ["flagged", "hotspot", "period", "periods",
                                                  "reason", "score"]
    assert set(rows[0]["periods"]) == {"2", "4", "8"}
    import json

    json.dumps(r.to_dict())
    assert torch.equal(r.score, torch.stack(list(r.periods.values()), -1).amax(-1))


@pytest.mark.parametrize(
    "shape, dims, n, d",
    [((32, 40), None, 1, 2), ((3, 32, 40), 2, 1, 2), ((2, 3, 64), 1, 2, 1),
     ((64,), 1, 1, 1), ((1, 1, 16, 16, 16), None, 1, 3), ((2, 3, 32, 32), None, 2, 2)],
)
def test_layouts(shape, dims, n, d):
    r = checkerboard_score(torch.rand(shape), periods=(2, 4), spatial_dims=dims)
    assert r.score.shape == (n,) and r.hotspot.shape == (n, d)
    assert all(v.shape == (n, d) for v in r.axes.values())


# known amplitudes ---------------------------------------------------------------------


@pytest.mark.parametrize("h, w", [(64, 64), (97, 131), (200, 150)])
@pytest.mark.parametrize("s", [2, 4, 8])
def test_checkerboard_reads_its_peak_to_peak_amplitude(h, w, s):
    a = 6.0
    x = smooth_image(h, w) + checkerboard(h, w, s, a)
    r = checkerboard_score(x[None], periods=(s,), hotspot=False)
    assert r.periods[s].item() == pytest.approx(a, rel=0.05)
    clean = checkerboard_score(smooth_image(h, w)[None], periods=(s,), hotspot=False)
    assert clean.score.item() < 0.3


def test_stripes_land_on_their_axis():
    h, w = 96, 80
    stripes = 2.0 * (-1.0) ** torch.arange(h, dtype=torch.float64)[:, None]  # varies along rows
    r = checkerboard_score((smooth_image(h, w) + stripes)[None], periods=(2,), hotspot=False)
    assert r.axes[2][0, 0].item() == pytest.approx(4.0, rel=0.05)
    assert r.axes[2][0, 1].item() < 0.3
    assert r.periods[2].item() == pytest.approx(4.0, rel=0.05)


def test_one_dimensional_and_volume():
    t = torch.arange(301, dtype=torch.float64)
    signal = 40 * torch.sin(t / 31) + 1.5 * (-1.0) ** t
    r = checkerboard_score(signal[None, None], periods=(2,), spatial_dims=1)
    assert r.score.item() == pytest.approx(3.0, rel=0.05)
    idx = torch.stack(torch.meshgrid(*[torch.arange(20)] * 3, indexing="ij")).sum(0)
    volume = 100 + 2.0 * (-1.0) ** idx.double()
    r = checkerboard_score(volume[None, None], periods=(2, 4))
    assert r.periods[2].item() == pytest.approx(4.0, rel=0.05)
    assert r.periods[4].item() < 0.3


def test_matches_numpy_reference_on_noise_plus_pattern():
    rng = np.random.default_rng(1)
    x = rng.normal(0, 5, (128, 96)) + checkerboard(128, 96, 4, 3.0).numpy()
    expected = 2 * np.sqrt(max(numpy_lattice_excess(x, 4), 0))
    r = checkerboard_score(torch.from_numpy(x), periods=(4,), hotspot=False)
    assert r.score.item() == pytest.approx(expected, rel=0.1)
    assert r.score.item() == pytest.approx(3.0, rel=0.15)


def test_lattice_coords_are_exclusive_and_complete():
    union = {tuple(k * (8 // s) for k in c) for s in (2, 4, 8)
             for c in lattice_coords(s, (2, 4, 8), 2).tolist()}
    assert len(union) == 63  # every non-zero period-8 bin, each once
    assert len(lattice_coords(8, (8,), 2)) == 63


def test_white_noise_reads_about_zero_at_any_size():
    spread = {}
    for size in (64, 256):
        torch.manual_seed(size)
        x = torch.randn(16, 1, size, size, dtype=torch.float64) * 30
        r = checkerboard_score(x, hotspot=False)
        assert not r.flagged.any(), size
        for s in (2, 4, 8):
            excess = lattice_excess(period_spectrum(x, s, 2), s, (2, 4, 8), 2)[0].sum(-1)
            # Unbiased: the floor takes the noise's share out, so the mean is 0 within error.
            assert abs(excess.mean()) < 4 * excess.std() / 4, (size, s)
        spread[size] = r.score.pow(2).mean().sqrt().item()
    # Not a fixed fraction of the noise: the chance value shrinks as the image grows.
    assert spread[256] < spread[64] / 2


def test_photographs_read_low_and_are_not_flagged():
    skimage_data = pytest.importorskip("skimage.data")
    for name in ("astronaut", "camera", "grass"):
        image = torch.from_numpy(np.asarray(getattr(skimage_data, name)()).astype(np.float32))
        x = image.permute(2, 0, 1)[None] if image.ndim == 3 else image[None, None]
        r = checkerboard_score(x, hotspot=False)
        assert r.score.item() < DEFAULT_THRESHOLD, name
        assert not r.flagged.item()
        # ...and the same photograph with a faint 3-level checkerboard is flagged.
        patterned = torch.round(x + checkerboard(*x.shape[-2:], 2, 3.0).float())
        assert checkerboard_score(patterned, hotspot=False).flagged.item(), name


def test_hotspot_finds_a_local_pattern():
    x = smooth_image(160, 200).float()
    x[:, 90:138, 20:68] += checkerboard(48, 48, 4, 8.0).float()
    row, col = checkerboard_score(x[None]).hotspot[0].tolist()
    assert 90 <= row < 138 and 20 <= col < 68


# batching, device, dtype ----------------------------------------------------------------


def test_batched_equals_per_item():
    torch.manual_seed(0)
    x = torch.rand(4, 3, 48, 56, dtype=torch.float64) * 255
    x[1] += checkerboard(48, 56, 2, 4.0)
    batch = checkerboard_score(x)
    for i in range(4):
        one = checkerboard_score(x[i : i + 1])
        torch.testing.assert_close(batch.score[i : i + 1], one.score)
        for s in (2, 4, 8):
            torch.testing.assert_close(batch.periods[s][i : i + 1], one.periods[s])
        assert torch.equal(batch.hotspot[i], one.hotspot[0])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtype_and_device_follow_input(dtype):
    x = torch.rand(2, 1, 32, 32, dtype=dtype)
    r = checkerboard_score(x)
    assert r.score.dtype == dtype and r.score.device == x.device
    assert r.hotspot.device == x.device
    assert checkerboard_score(x.half()).score.dtype == torch.float32
    assert checkerboard_score((x * 255).to(torch.uint8)).score.dtype == torch.float32


def test_threshold_controls_flagged():
    x = (smooth_image(64, 64) + checkerboard(64, 64, 2, 2.0))[None]
    assert checkerboard_score(x, threshold=1.0).flagged.item()
    assert not checkerboard_score(x, threshold=3.0).flagged.item()


# errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "periods, error",
    [((1,), InvalidArgumentError), ((2.0,), InvalidTypeError), ((True,), InvalidTypeError),
     ((), InvalidArgumentError), ((32,), InvalidArgumentError), ("ab", InvalidTypeError),
     (None, InvalidTypeError)],
)
def test_bad_periods(periods, error):
    with pytest.raises(error):
        checkerboard_score(torch.rand(1, 1, 40, 40), periods=periods)


@pytest.mark.parametrize(
    "x, dims, error",
    [(torch.rand(3, 32, 32), None, ShapeError), (torch.rand(32), None, ShapeError),
     (torch.rand(2, 2, 2, 2, 16, 16), None, ShapeError), (torch.rand(16, 16), 3, ShapeError),
     (torch.rand(1, 1, 0, 16), None, ShapeError), (np.zeros((16, 16)), None, InvalidTypeError),
     (torch.zeros(16, 16, dtype=torch.complex64), None, InvalidTypeError),
     (torch.rand(16, 16), 4, InvalidArgumentError)],
)
def test_bad_inputs(x, dims, error):
    with pytest.raises(error):
        checkerboard_score(x, periods=(2,), spatial_dims=dims)


def test_errors_are_also_builtin_errors():
    with pytest.raises(ValueError):
        checkerboard_score(torch.rand(1, 1, 8, 8), periods=(8,))


# loss -----------------------------------------------------------------------------------


def test_loss_gradcheck_float64():
    torch.manual_seed(0)
    x = (torch.rand(2, 1, 16, 16, dtype=torch.float64)
         + checkerboard(16, 16, 2, 1.0)).requires_grad_()
    assert checkerboard_loss(x, periods=(2, 4)).item() > 0  # away from the clamp's kink
    assert torch.autograd.gradcheck(lambda t: checkerboard_loss(t, periods=(2, 4)), (x,))


def test_loss_equals_squared_values_and_reductions():
    x = torch.rand(3, 2, 32, 32, dtype=torch.float64) + checkerboard(32, 32, 2, 0.5)
    r = checkerboard_score(x, hotspot=False)
    per_item = sum(v**2 for v in r.periods.values())
    torch.testing.assert_close(checkerboard_loss(x, reduction="none"), per_item)
    torch.testing.assert_close(checkerboard_loss(x), per_item.mean())
    torch.testing.assert_close(checkerboard_loss(x, reduction="sum"), per_item.sum())
    with pytest.raises(InvalidArgumentError):
        checkerboard_loss(x, reduction="max")


def test_loss_descends():
    torch.manual_seed(0)
    x = (smooth_image(32, 32) + checkerboard(32, 32, 2, 4.0))[None].requires_grad_()
    start = checkerboard_loss(x).item()
    opt = torch.optim.SGD([x], lr=100.0)  # grey-level pixels, a loss in grey levels^2 / n
    for _ in range(20):
        opt.zero_grad()
        checkerboard_loss(x).backward()
        opt.step()
    assert checkerboard_loss(x).item() < 0.1 * start


def test_score_is_differentiable():
    x = (smooth_image(32, 32) + checkerboard(32, 32, 2, 4.0))[None].requires_grad_()
    checkerboard_score(x, hotspot=False).score.sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_compile_smoke():
    compiled = torch.compile(lambda t: checkerboard_loss(t, periods=(2,)), backend="eager")
    x = torch.rand(1, 1, 16, 16)
    torch.testing.assert_close(compiled(x), checkerboard_loss(x, periods=(2,)))


def test_all_lattice_bins_count():
    # s^d - 1 bins for a period alone in any dimension.
    for d, s in itertools.product((1, 2, 3), (2, 3, 4)):
        assert len(lattice_coords(s, (s,), d)) == s**d - 1


from hypothesis import assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=15, deadline=None)
@given(
    h=st.integers(24, 120), w=st.integers(24, 120), s=st.sampled_from([2, 3, 4, 6, 8]),
    amplitude=st.floats(1.0, 20.0),
)
def test_property_any_size_and_period_reads_the_amplitude(h, w, s, amplitude):
    assume(6 * s <= min(h, w))  # two periods are allowed, but the smooth image then overlaps
    i, j = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    pattern = amplitude / 2 * (-1.0) ** ((i % s == 0) ^ (j % s == 0)).double()  # two-level
    r = checkerboard_score((smooth_image(h, w) + pattern)[None], periods=(s,), hotspot=False)
    assert r.score.item() == pytest.approx(
        amplitude * (pattern[:s, :s].std(unbiased=False) * 2 / amplitude).item(), rel=0.1
    )
