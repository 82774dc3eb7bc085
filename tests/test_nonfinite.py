"""Promise 1: non-finite values are never a measurement (issue 10).

One table row per case: the input (NaN, +inf, -inf pixels, float32 overflow, NaN weights, a
NaN batch), the function, and what the NonFiniteError must say (the counts, the place). Then
what must not change: finite input scores as before, to the bit, and the loss keeps torch's
convention (NaN in, NaN out).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from checkerfree import (
    average_spectrum,
    checkerboard_heatmap,
    checkerboard_loss,
    checkerboard_score,
    phase_imbalance,
)
from checkerfree.score.batch import Decoded, ImageScorer
from checkerfree.errors import NonFiniteError
from checkerfree.finite import check_finite
from checkerfree.io import ImageInfo
from checkerfree.score.lattice import lattice_excess, period_spectrum

NAN, INF = math.nan, math.inf


def _checkerboard(n: int = 64, batch: int = 1, dtype=torch.float32) -> torch.Tensor:
    """An 8-level (+-4) checkerboard on 100: scores 8.0 at period 2."""
    i = torch.arange(n)
    pattern = 100 + 4 * (-1.0) ** (i[:, None] + i[None, :])
    return pattern.to(dtype).expand(batch, 1, n, n).clone()


def _with(values: dict, batch: int = 1, dtype=torch.float32) -> torch.Tensor:
    x = _checkerboard(batch=batch, dtype=dtype)
    for index, v in values.items():
        x[index] = v
    return x


def _weights(value: float, shape=(2, 3, 4, 4)) -> torch.Tensor:
    w = torch.ones(shape)
    w[1, 2, 0, 3] = value
    return w


def _nan_module() -> torch.nn.ConvTranspose2d:
    """A layer "loaded" with all-NaN weights (the issue's audited-clean model)."""
    layer = torch.nn.ConvTranspose2d(2, 3, 4, 2)
    with torch.no_grad():
        layer.weight.fill_(NAN)
    return layer


def _metric_update(x):
    pytest.importorskip("torchmetrics")
    from checkerfree.score.metric import CheckerboardScore

    CheckerboardScore(periods=(2, 4)).update(x)


# (case, call, fragments the message must contain)
CASES = [
    ("score NaN pixel", lambda: checkerboard_score(_with({(0, 0, 5, 7): NAN})),
     ["1 non-finite value", "1 NaN, 0 +inf, 0 -inf", "index (0, 0, 5, 7)"]),
    ("score +inf pixel", lambda: checkerboard_score(_with({(0, 0, 0, 0): INF})),
     ["1 non-finite value", "0 NaN, 1 +inf, 0 -inf", "index (0, 0, 0, 0)"]),
    ("score -inf pixel", lambda: checkerboard_score(_with({(0, 0, 63, 63): -INF})),
     ["0 NaN, 0 +inf, 1 -inf", "index (0, 0, 63, 63)"]),
    ("score mixed, one batch item of three",
     lambda: checkerboard_score(_with({(1, 0, 2, 3): NAN, (1, 0, 9, 9): INF,
                                        (1, 0, 9, 10): -INF}, batch=3)),
     ["3 non-finite values", "1 NaN, 1 +inf, 1 -inf", "index (1, 0, 2, 3)",
      "in 1 of 3 batch items", "item 1"]),
    ("score one grey image (H, W): index in its own shape",
     lambda: checkerboard_score(_with({(0, 0, 4, 6): NAN})[0, 0]),
     ["1 NaN", "index (4, 6)"]),
    ("score float16 NaN", lambda: checkerboard_score(_with({(0, 0, 1, 1): NAN}).half()),
     ["1 NaN", "index (0, 0, 1, 1)"]),
    ("score float64 all NaN", lambda: checkerboard_score(torch.full((2, 1, 16, 16), NAN,
                                                                    dtype=torch.float64)),
     ["512 non-finite values", "512 NaN", "in 2 of 2 batch items"]),
    ("score without hotspot", lambda: checkerboard_score(_with({(0, 0, 5, 7): NAN}),
                                                         hotspot=False),
     ["1 NaN"]),
    ("score overflow float32 x1e36", lambda: checkerboard_score(_checkerboard() * 1e36),
     ["float overflow", "float32", "1.04e+38", "float64"]),
    ("score overflow float64 x1e300",
     lambda: checkerboard_score(_checkerboard(dtype=torch.float64) * 1e300),
     ["float overflow", "float64", "rescale"]),
    ("heat map NaN", lambda: checkerboard_heatmap(_with({(0, 0, 5, 7): NAN})),
     ["1 NaN", "index (0, 0, 5, 7)"]),
    ("heat map +inf", lambda: checkerboard_heatmap(_with({(0, 0, 5, 7): INF})), ["1 +inf"]),
    ("heat map overflow x1e36", lambda: checkerboard_heatmap(_checkerboard() * 1e36),
     ["float overflow", "heat map"]),
    ("spectrum NaN", lambda: average_spectrum(_with({(0, 0, 5, 7): NAN})),
     ["images has 1 non-finite value", "1 NaN"]),
    ("spectrum -inf in the second batch",
     lambda: average_spectrum([_checkerboard(), _with({(0, 0, 3, 3): -INF})]),
     ["images[1] has 1 non-finite value", "1 -inf", "index (0, 0, 3, 3)"]),
    ("spectrum overflow x1e36", lambda: average_spectrum(_checkerboard() * 1e36),
     ["float overflow", "power spectrum"]),
    ("phase_imbalance NaN weight", lambda: phase_imbalance(_weights(NAN), 2),
     ["weight has 1 non-finite value", "1 NaN", "index (1, 2, 0, 3)"]),
    ("phase_imbalance all-NaN module", lambda: phase_imbalance(_nan_module()),
     ["weight has 96 non-finite values", "96 NaN"]),  # (2, 3, 4, 4): 96 weights
    ("phase_imbalance per channel +inf", lambda: phase_imbalance(_weights(INF), 2,
                                                                 per_channel=True),
     ["1 +inf"]),
    ("phase_imbalance overflow of the squared sums", lambda: phase_imbalance(_weights(1e20), 2),
     ["float overflow", "squared phase sums"]),
    ("metric NaN batch", lambda: _metric_update(_with({(1, 0, 0, 0): NAN}, batch=2)),
     ["1 NaN", "in 1 of 2 batch items"]),
]


@pytest.mark.parametrize("case, call, fragments", CASES, ids=[c[0] for c in CASES])
def test_non_finite_raises_and_says_how_many_and_where(case, call, fragments):
    with pytest.raises(NonFiniteError) as info:
        call()
    message = str(info.value)
    assert isinstance(info.value, ValueError)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, (case, fragment, message)


def test_counts_agree_with_numpy_on_random_tensors():
    """The counts and the first index are numpy's, on tensors with many non-finite values."""
    rng = np.random.default_rng(3)
    for _ in range(20):
        a = rng.normal(size=(3, 2, 5, 7))
        kinds = rng.integers(0, 8, size=a.shape)
        a[kinds == 0], a[kinds == 1], a[kinds == 2] = np.nan, np.inf, -np.inf
        if np.isfinite(a).all():
            continue
        with pytest.raises(NonFiniteError) as info:
            check_finite(torch.from_numpy(a), "x", batched=True)
        bad = ~np.isfinite(a)
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        expected = (f"{int(bad.sum())} non-finite values out of {a.size} "
                    f"({int(np.isnan(a).sum())} NaN, {int(np.isposinf(a).sum())} +inf, "
                    f"{int(np.isneginf(a).sum())} -inf), the first at index {first}, "
                    f"in {int(bad.reshape(3, -1).any(1).sum())} of 3 batch items")
        assert expected in str(info.value)


def test_overflow_message_advice_works():
    """float64, which the float32 overflow error suggests, measures the same pattern exactly."""
    x = _checkerboard() * 1e36
    with pytest.raises(NonFiniteError, match="float64"):
        checkerboard_score(x)
    result = checkerboard_score(x.double())
    assert result.score.item() == pytest.approx(8e36, rel=1e-6)
    assert bool(result.flagged)


def test_float32_below_the_overflow_reads_like_float64():
    """No false alarm below the float32 limit: an exact pattern x1e6, a noisy one x1e13."""
    noisy = _checkerboard() + torch.rand(1, 1, 64, 64)
    for x, scale in ((_checkerboard(), 1e6), (noisy, 1e13)):
        single = checkerboard_score(x * scale)
        double = checkerboard_score(x.double() * scale)
        assert single.score.item() == pytest.approx(double.score.item(), rel=1e-4)
        assert single.flagged.tolist() == double.flagged.tolist()


def test_metric_nan_batch_is_not_counted_and_forward_keeps_the_state():
    pytest.importorskip("torchmetrics")
    from checkerfree.score.metric import CheckerboardScore

    good, bad = _checkerboard(batch=2), _with({(1, 0, 3, 3): NAN}, batch=2)
    metric = CheckerboardScore(periods=(2,))
    metric.update(good)
    before = {k: v.clone() for k, v in metric.compute().items()}
    with pytest.raises(NonFiniteError):
        metric.update(bad)
    with pytest.raises(NonFiniteError):
        metric(bad)  # forward resets the state before updating: it must be put back
    assert metric.total.item() == 2
    for key, value in metric.compute().items():
        assert value.item() == pytest.approx(before[key].item())
    metric(good)  # and the metric still works after the errors
    assert metric.total.item() == 4
    assert metric.compute()["score"].item() == pytest.approx(8.0, rel=1e-5)


def test_image_scorer_gives_only_the_nan_item_an_error_row():
    """The batch path: a NaN image is its own error row, its same-shape neighbours score."""
    good = _checkerboard()[0].numpy()
    nan = good.copy()
    nan[0, 3, 4] = np.nan
    huge = good * np.float32(1e36)
    info = ImageInfo("TIFF", "F", 32, (64, 64), 1, False)
    rows = ImageScorer(periods=(2, 4)).score_decoded(
        [Decoded("a", good, info), Decoded("nan", nan, info), Decoded("huge", huge, info),
         Decoded("b", good, info)]
    )
    assert [r["path"] for r in rows] == ["a", "nan", "huge", "b"]
    assert rows[0]["score"] == pytest.approx(8.0) and rows[3]["score"] == pytest.approx(8.0)
    assert rows[1]["score"] is None and "1 NaN" in rows[1]["error"]
    assert "index (0, 3, 4)" in rows[1]["error"]
    assert rows[2]["score"] is None and "float overflow" in rows[2]["error"]
    assert rows[0]["error"] is None and rows[3]["error"] is None


@pytest.mark.parametrize("value", [NAN, INF, -INF])
def test_loss_keeps_torchs_convention(value):
    """NaN in, NaN out (as torch.nn.functional.mse_loss), gradient included; no error."""
    x = _with({(0, 0, 5, 7): value}).requires_grad_(True)
    loss = checkerboard_loss(x)
    reference = torch.nn.functional.mse_loss(x, torch.zeros_like(x))
    assert not math.isfinite(loss.item())
    assert math.isnan(loss.item()) or not math.isfinite(reference.item())
    loss.backward()
    assert not torch.isfinite(x.grad).all()


def test_loss_overflow_is_not_finite():
    assert not math.isfinite(checkerboard_loss(_checkerboard() * 1e36).item())


def _images():
    """A few inputs: a photograph, with a faint checkerboard, with stripes, with noise."""
    skimage = pytest.importorskip("skimage")
    camera = torch.from_numpy(skimage.data.camera()[:192, :160].astype(np.float32))
    i, j = torch.meshgrid(torch.arange(192), torch.arange(160), indexing="ij")
    noise = torch.rand(192, 160, generator=torch.Generator().manual_seed(1)) * 20
    return [camera, camera + (-1.0) ** (i + j), camera + 2 * ((j % 4) < 2) - 1,
            100 + noise + 3 * (-1.0) ** (i // 4 + j // 4)]


def test_finite_input_scores_as_the_full_spectrum_reference():
    """No behaviour change for good input: the values agree with an independent path (the
    full periodic spectrum of each period, float64) and float32 agrees with float64."""
    for image in _images():
        x = image[None, None]
        single, double = checkerboard_score(x), checkerboard_score(x.double())
        for s in (2, 4, 8):
            excess = lattice_excess(period_spectrum(x.double(), s, 2), s, (2, 4, 8), 2)[0]
            reference = 2 * math.sqrt(max(excess.sum().item(), 0.0))
            assert double.periods[s].item() == pytest.approx(reference, rel=1e-9, abs=1e-9)
            assert single.periods[s].item() == pytest.approx(reference, rel=1e-3, abs=1e-3)
        assert single.flagged.tolist() == double.flagged.tolist()
        assert single.hotspot.tolist() == double.hotspot.tolist()


def test_scaling_by_a_power_of_two_is_exact():
    """The overflow-safe spread and weights scale by powers of two: ``score(4 x) = 4 score(x)``
    bit for bit, and the hotspot (a ratio) does not move."""
    for image in _images():
        x = image[None, None]
        a, b = checkerboard_score(x), checkerboard_score(x * 4)
        assert torch.equal(b.score, 4 * a.score)
        for s in a.periods:
            assert torch.equal(b.significance[s], a.significance[s])
        assert torch.equal(a.hotspot, b.hotspot)


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.one_of(st.floats(-6e4, 6e4), st.sampled_from([NAN, INF, -INF, 6.5e4])),
                    min_size=1, max_size=40),
    dtype=st.sampled_from([torch.float16, torch.float32, torch.float64]),
)
def test_check_finite_raises_exactly_when_numpy_finds_a_non_finite_value(values, dtype):
    """The fast path (a finite sum proves all finite) never misses a NaN or inf, and a sum that
    overflows on finite values (float16 near 65504) is no false alarm."""
    x = torch.tensor(values, dtype=torch.float64).to(dtype)
    finite = bool(np.isfinite(x.double().numpy()).all())
    if finite:
        check_finite(x, "x")
    else:
        with pytest.raises(NonFiniteError):
            check_finite(x, "x")


def test_float16_sum_overflow_is_not_a_non_finite_value():
    check_finite(torch.full((64,), 6e4, dtype=torch.float16), "x")  # the sum is inf, not x
