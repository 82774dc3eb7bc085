"""periods="auto" (period discovery) and the explained decision (period, reason, score)."""

from __future__ import annotations

import io
import itertools
import json
import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checkerfree.errors import CheckerfreeError, InvalidArgumentError, InvalidTypeError, LimitError
from checkerfree.score.checkerboard import (
    DEFAULT_THRESHOLD,
    MIN_SIGNIFICANCE,
    checkerboard_loss,
    checkerboard_score,
    resolve_periods,
)
from checkerfree.score.periods import (
    find_periods,
    max_search_period,
    search_periods,
    search_significance,
)

skimage_data = pytest.importorskip("skimage.data")


def photo(name: str, size: int = 256) -> np.ndarray:
    """A grey skimage sample, centre-cropped to ``size`` squared, float64 grey levels."""
    image = np.asarray(getattr(skimage_data, name)(), dtype=np.float64)
    if image.ndim == 3:
        image = image[..., :3] @ np.array([0.299, 0.587, 0.114])
    h, w = image.shape
    top, left = (h - size) // 2, (w - size) // 2
    return image[top : top + size, left : left + size]


def tile_pattern(s: int, amplitude: float, shape, seed: int, sy: int | None = None,
                 kind: str = "subkernel"):
    """A zero-mean pattern repeating every ``sy`` rows and ``s`` columns, ``amplitude`` peak
    to peak, at a random phase: a random tile (``subkernel``: a random sub-kernel per
    phase) or ``checker`` (blocks of ``s // 2``, as ``benchmarks/calibration.py``)."""
    sy = s if sy is None else sy
    rng = np.random.default_rng(seed)
    if kind == "checker":
        k = np.arange(s) // max(1, s // 2)
        tile = (-1.0) ** (k[:, None] + k[None, :])
    else:
        tile = rng.normal(size=(sy, s))
    tile -= tile.mean()
    tile *= amplitude / (tile.max() - tile.min())
    h, w = shape
    dy, dx = rng.integers(0, sy), rng.integers(0, s)
    return np.tile(tile, (h // sy + 2, w // s + 2))[dy : dy + h, dx : dx + w]


def eight_bit(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.clip(np.round(x), 0, 255).astype(np.float32))


@pytest.mark.parametrize("s", [3, 5, 14, 16, 32])
@pytest.mark.parametrize("name,kind,amplitude", [("camera", "checker", 4),
                                                 ("astronaut", "checker", 4),
                                                 ("brick", "subkernel", 8)])
def test_auto_catches_any_period_and_reports_it(s, name, kind, amplitude):
    image = photo(name, 512)  # long periods need room: 32 repeats 16 times
    x = eight_bit(image + tile_pattern(s, amplitude, image.shape, seed=s, kind=kind))
    r = checkerboard_score(x, periods="auto", hotspot=False)
    assert r.flagged.item(), r.reason[0]
    assert r.period[0].tolist() == [s, s], r.reason[0]
    assert s in r.periods and r.required[s] > MIN_SIGNIFICANCE
    assert r.reason[0].startswith("flagged by period ")
    if kind == "checker":  # odd harmonics only: nothing on the lattices of 2, 4, 8
        assert not checkerboard_score(x, hotspot=False).flagged.item()


@pytest.mark.parametrize("name", ["astronaut", "coffee", "camera", "brick", "grass", "gravel",
                                  "chelsea", "rocket"])
def test_auto_does_not_flag_clean_photographs_and_textures(name):
    from PIL import Image

    image = photo(name, 256)
    buffer = io.BytesIO()
    Image.fromarray(image.round().astype(np.uint8)).save(buffer, format="JPEG", quality=75)
    jpeg = np.asarray(Image.open(io.BytesIO(buffer.getvalue())), dtype=np.float64)
    batch = torch.stack([eight_bit(image), eight_bit(jpeg)])[:, None]
    r = checkerboard_score(batch, periods="auto", hotspot=False)
    assert not r.flagged.any(), r.reason
    assert all(reason.startswith("not flagged") for reason in r.reason)


def test_period_32_is_measured_on_a_512_photograph():
    # The floor of a long period's bins once reached the 1/f^2 slope near zero frequency
    # and the value read 0.0 (the sum of P_b - F_b went negative).
    image = photo("camera", 512)
    i, j = np.indices(image.shape)
    pattern = 2.0 * (-1.0) ** (i // 16 + j // 16)  # a +-2 checkerboard of period 32
    r = checkerboard_score(eight_bit(image + pattern), periods=(32,), hotspot=False)
    assert 3.0 < r.periods[32].item() < 4.5 and r.flagged.item()


def test_per_axis_periods_and_stripes():
    image = photo("camera")
    x = eight_bit(image + tile_pattern(8, 8, image.shape, seed=1, sy=16))   # 16 rows, 8 cols
    r = checkerboard_score(x, periods="auto", hotspot=False)
    assert r.flagged.item() and r.period[0].tolist() == [16, 8], r.reason[0]
    i = np.arange(256)[:, None] * np.ones((1, 256))
    stripes = 2.0 * (-1.0) ** (i // 4)  # varies along rows only: period 8 on axis 0
    r = checkerboard_score(eight_bit(image + stripes), hotspot=False)
    assert r.flagged.item() and r.period[0].tolist() == [8, 1]


def test_reason_flagged_not_significant_and_below_threshold():
    i, j = torch.meshgrid(torch.arange(64), torch.arange(64), indexing="ij")
    smooth = torch.linspace(0, 200, 64).repeat(64, 1)
    flagged = checkerboard_score(smooth + 3 * (-1.0) ** (i + j))
    assert flagged.reason[0].startswith("flagged by period 2: value 6.00 > threshold 0.55")
    faint = checkerboard_score(smooth + 0.1 * (-1.0) ** (i + j))
    assert not faint.flagged.item()
    assert faint.reason[0].startswith("not flagged: the largest significant value is 0.20 "
                                      "(period 2")
    assert "<= threshold 0.55" in faint.reason[0]
    # Small and noisy: values scatter far above the threshold, but no peak is significant.
    noise = torch.rand(8, 1, 16, 16, generator=torch.Generator().manual_seed(0)) * 255
    r = checkerboard_score(noise)
    loud = [k for k in range(8) if r.score[k] > DEFAULT_THRESHOLD]
    assert loud and not r.flagged.any()
    for k in loud:
        assert "not significant" in r.reason[k] and "no period is significant" in r.reason[k]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(4, 96), st.integers(4, 96), st.integers(0, 10**6),
       st.one_of(st.just("auto"), st.lists(st.integers(2, 40), min_size=1, max_size=4)))
def test_decision_is_explained_for_any_size_and_periods(h, w, seed, periods):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(2, 1, h, w, generator=g) * 255
    try:
        r = checkerboard_score(x, periods=periods, hotspot=False)
    except CheckerfreeError as exc:  # a period that does not fit: typed and named
        assert isinstance(exc, (ValueError, TypeError)) and "period" in str(exc)
        assert periods != "auto" or min(h, w) < 4
        return
    stacked = torch.stack([r.periods[s] for s in r.periods], -1)
    for k in range(2):
        assert any(math.isclose(r.score[k].item(), v, abs_tol=1e-6)
                   for v in stacked[k].tolist())
        significant = [s for s in r.periods if r.significance[s][k] > r.required[s]]
        flags = [s for s in significant if r.periods[s][k] > r.threshold]
        assert r.flagged[k].item() == bool(flags)
        if flags:
            assert r.score[k].item() == pytest.approx(max(r.periods[s][k].item() for s in flags))
        if r.score[k] > r.threshold and not r.flagged[k]:
            assert "not significant" in r.reason[k]
        assert len(r.period[k]) == 2 and all(p >= 1 for p in r.period[k].tolist())


@pytest.mark.parametrize("bad,error", [
    ("auto ", InvalidTypeError), ("AUTO", InvalidTypeError), ("", InvalidTypeError),
    (1, InvalidArgumentError), (10**9, InvalidArgumentError), (2.5, InvalidTypeError),
    (True, InvalidTypeError), ([], InvalidArgumentError), ((2, "4"), InvalidTypeError),
])
def test_bad_periods_are_typed_errors(bad, error):
    with pytest.raises(error, match="period"):
        checkerboard_score(torch.rand(32, 32), periods=bad)


def test_huge_period_in_a_long_signal_is_a_limit_error():
    with pytest.raises(LimitError, match="MAX_LATTICE_BINS"):
        checkerboard_score(torch.zeros(1, 1, 5000, 5000), periods=2048, hotspot=False)


def test_search_significance_is_bonferroni():
    tail = lambda z: 0.5 * math.erfc(z / math.sqrt(2))  # noqa: E731
    for m in (4, 10, 127, 4095):
        z = search_significance(5.0, m)
        assert z > 5.0 and tail(z) == pytest.approx(tail(5.0) * 3 / m, rel=1e-6)
    assert search_significance(5.0, 3) == 5.0
    with pytest.raises(InvalidArgumentError):
        search_significance(5.0, 0)


def test_search_ranks_the_fundamental_first_on_noise():
    g = torch.Generator().manual_seed(3)
    i, j = torch.meshgrid(torch.arange(200), torch.arange(200), indexing="ij")
    for s in (3, 7, 12, 25):
        x = 100 + 10 * torch.randn(200, 200, generator=g) + 20.0 * ((i % s == 0) & (j % s == 0))
        periods, z = search_periods(x)
        assert periods[int(z[0].argmax())] == s
        assert find_periods(x, count=1) == [[s]]
    assert max_search_period((200, 200)) == 50 and len(periods) == 49


def test_resolve_auto_uses_the_search_correction():
    xb = torch.rand(1, 1, 128, 128)
    measured, required, searched = resolve_periods("auto", xb, 2)
    assert searched == 31 and set(measured) >= {2, 4, 8}
    assert all(required[s] == MIN_SIGNIFICANCE for s in (2, 4, 8))
    assert all(required[s] == search_significance(MIN_SIGNIFICANCE, 31)
               for s in measured if s not in (2, 4, 8))


def test_auto_loss_is_differentiable_and_signals_work():
    x = (torch.rand(2, 1, 64, 64) * 255).requires_grad_()
    checkerboard_loss(x, periods="auto").backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    t = torch.arange(4000.0)
    audio = torch.sin(t / 37) * 0.5 + 0.01 * ((t % 6) < 3)   # a period-6 lattice in a tone
    r = checkerboard_score(audio[None, None], periods="auto", spatial_dims=1, hotspot=False,
                           threshold=0.005)
    assert r.flagged.item() and r.period[0].tolist() == [6]


def test_cli_period_auto(tmp_path, capsys):
    from PIL import Image

    from checkerfree.cli import main

    image = photo("camera", 400)
    x = eight_bit(image + tile_pattern(14, 4, image.shape, seed=7, kind="checker"))
    x = x.numpy().astype(np.uint8)
    Image.fromarray(x).save(tmp_path / "p14.png")
    Image.fromarray(image.round().astype(np.uint8)).save(tmp_path / "clean.png")
    assert main(["score", str(tmp_path), "--period", "auto", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    rows = {row["path"].rsplit("/", 1)[-1]: row for row in doc["images"]}
    assert rows["p14.png"]["flagged"] and rows["p14.png"]["period"] == [14, 14]
    assert rows["p14.png"]["reason"].startswith("flagged by period 14")
    assert not rows["clean.png"]["flagged"] and doc["summary"]["periods"] == "auto"
    assert main(["score", str(tmp_path), "--period", "auto", "--csv"]) == 0
    header = capsys.readouterr().out.splitlines()[0].split(",")
    assert header[:5] == ["path", "score", "flagged", "period", "reason"]
    assert "period_14" in header
    assert main(["score", str(tmp_path), "--period", "auto", "--period", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "auto" in err[0]


def test_auto_rows_to_arrow_and_parquet():
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    from checkerfree.score.batch import error_row
    from checkerfree.score.results import parquet_bytes, rows_to_arrow

    rows = [{**error_row("a.png", None), "score": 2.0, "periods": {"2": 0.1, "16": 2.0},
             "flagged": True, "period": [16, 8], "reason": "flagged by period 16",
             "hotspot": [1, 2]},
            {**error_row("b.png", None), "score": 0.1, "periods": {"2": 0.1, "3": 0.0},
             "flagged": False, "period": [2, 2], "reason": "not flagged", "hotspot": [0, 0]},
            error_row("c.png", "empty file")]
    table = rows_to_arrow(rows, "auto")
    assert pa.types.is_map(table.schema.field("periods").type)
    back = table.to_pylist()
    assert dict(back[0]["periods"]) == {"2": 0.1, "16": 2.0} and back[0]["period"] == [16, 8]
    assert back[1]["reason"] == "not flagged" and back[2]["periods"] is None
    read = pq.read_table(io.BytesIO(parquet_bytes(rows, "auto"))).to_pylist()
    assert [r["path"] for r in read] == ["a.png", "b.png", "c.png"]


# --- the search's false alarms on pictures of text, and what rules them out -----------------

def _calibration_variants(name: str) -> list[np.ndarray]:
    """As shipped, JPEG 75 and two fixed odd crops (as benchmarks/calibration.py makes them)."""
    from PIL import Image

    image = np.asarray(getattr(skimage_data, name)(), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=75)
    jpeg = np.asarray(Image.open(io.BytesIO(buffer.getvalue())))
    h, w = image.shape
    return [image, jpeg, image[3 : 3 + 107, 40 : 40 + 283], image[: h - 7, 5 : w - 2]]


@pytest.mark.parametrize("name", ["page", "text"])
def test_auto_does_not_flag_the_pictures_of_text(name):
    # page: its 18-row line pitch has its 6th harmonic at 1/3 (and its 3rd at 1/6), off the
    # lattice bin and in one direction; text: ruled lines in perspective. Both flagged once.
    for image in _calibration_variants(name):
        r = checkerboard_score(torch.from_numpy(image.astype(np.float32)), periods="auto",
                               hotspot=False)
        assert not r.flagged.item(), r.reason[0]


def test_page_period_3_is_line_harmonics_not_a_lattice():
    # The evidence of docs/score.md, recomputed with numpy: on the 189-row crop the bin
    # (63, 0) (1/3 cycle per row) stands above its line floor, but its neighbour (63, -1)
    # is higher still (tilted text lines): the peak is not sharp to the lattice bin.
    image = np.asarray(skimage_data.page(), dtype=np.float64)[:189]
    power = np.abs(np.fft.fft2(image)) ** 2
    line = np.mean([power[63 + o, 0] for o in range(-16, 17) if o and (63 + o) % 63])
    assert power[63, 0] > 4 * line
    assert power[63, -1] > power[63, 0]
    # The line pitch: the strongest vertical frequency of the row profile is about 1/18.
    profile = np.abs(np.fft.rfft(image.mean(1) - image.mean(), 189 * 8)) ** 2
    f = np.argmax(profile[8 * 5 : 8 * 20]) / 8 + 5
    assert 17 < 189 / f < 19.5
    r = checkerboard_score(torch.from_numpy(image.astype(np.float32)), periods="auto",
                           hotspot=False)
    assert 3 in r.periods and r.periods[3].item() > DEFAULT_THRESHOLD
    assert r.significance[3].item() < r.required[3] and not r.flagged.item()
    assert f"period 3 reads {r.periods[3].item():.2f} but its significance" in r.reason[0] or \
        "no period is significant" in r.reason[0]


def test_leak_floor_against_the_full_spectrum():
    from checkerfree.score.lattice import lattice_coords, period_bins, period_spectrum
    from checkerfree.score.periods import leak_floor

    g = torch.Generator().manual_seed(4)
    x = torch.rand(2, 3, 36, 30, generator=g, dtype=torch.float64) * 255
    s = 6
    coords = lattice_coords(s, (2, 3, 6), 2)
    got = leak_floor(period_bins(x, s, 2), s, coords).numpy()
    full = period_spectrum(x, s, 2).numpy()
    power = (np.abs(full) ** 2).mean(1)
    want = np.zeros_like(got)
    for b, (ky, kx) in enumerate(coords.tolist()):
        cy, cx = ky * 36 // s, kx * 30 // s
        around = [power[:, (cy + dy) % 36, (cx + dx) % 30]
                  for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx]
        want[:, b] = np.mean(around, 0)
    np.testing.assert_allclose(got, want, rtol=1e-9)


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 40), st.lists(st.tuples(st.integers(0, 39), st.integers(0, 39)),
                                    min_size=2, max_size=12))
def test_lattice_lines_group_parallel_frequencies(s, bins):
    from checkerfree.score.periods import lattice_lines

    coords = torch.tensor([(a % s, b % s) for a, b in bins if (a % s, b % s) != (0, 0)]
                          or [(1, 0)], dtype=torch.long)
    ids = lattice_lines(coords, s).tolist()
    signed = [[c - s if c > s // 2 else c for c in k] for k in coords.tolist()]
    for i, u in enumerate(signed):
        for j, v in enumerate(signed):
            parallel = u[0] * v[1] - u[1] * v[0] == 0   # brute force: a zero cross product
            assert (ids[i] == ids[j]) == parallel, (s, u, v)


def test_one_direction_found_period_is_not_a_lattice_but_two_directions_are():
    # Sharp stripes of period 18 vary along rows only (lines of text do too): a found period
    # needs its excess in more than one direction. The same period as a checkerboard flags.
    g = torch.Generator().manual_seed(2)
    i, j = torch.meshgrid(torch.arange(216), torch.arange(216), indexing="ij")
    noise = 100 + 8 * torch.randn(216, 216, generator=g)
    stripes = checkerboard_score(noise + 6.0 * ((i % 18) < 3), periods="auto", hotspot=False)
    assert 18 in stripes.periods and stripes.periods[18].item() > 1.0
    assert stripes.significance[18].item() < stripes.required[18]
    checker = checkerboard_score(noise + 3.0 * (-1.0) ** (i // 9 + j // 9), periods="auto",
                                 hotspot=False)
    assert checker.flagged.item() and checker.period[0].tolist() == [18, 18], checker.reason[0]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(3, 30), st.sampled_from(["checker", "subkernel"]), st.integers(0, 10**6))
def test_auto_finds_any_random_period(s, kind, seed):
    # Any period 3..30 on a noisy picture (8-bit), random phase and tile: flagged and reported.
    g = torch.Generator().manual_seed(seed)
    n = max(128, 6 * s)
    base = 100 + 4 * torch.randn(n, n, generator=g, dtype=torch.float64)
    pattern = tile_pattern(s, 12, (n, n), seed=seed, kind=kind)
    x = eight_bit(base.numpy() + pattern)
    r = checkerboard_score(x, periods="auto", hotspot=False)
    assert r.flagged.item(), r.reason[0]
    assert r.period[0].tolist() == [s, s], r.reason[0]


def _symmetric(shape, seed):
    """A random positive array ``A`` with ``A(-xi) = A(xi)`` (as a real signal's power)."""
    a = np.random.default_rng(seed).random(shape)
    axes = tuple(range(1, len(shape)))
    return a + np.roll(np.flip(a, axes), 1, axes)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(8, 40), min_size=1, max_size=3), st.integers(0, 10**6))
def test_search_ring_sum_is_the_brute_force_box_on_the_full_spectrum(n, seed):
    # The floor's ring (a box around each bin less the block of the gap), summed on the half
    # spectrum with mirrored ends, against the plain sum of every offset on the full one.
    from checkerfree.score.periods import _GAP, _RADIUS, _ring_sum

    full = _symmetric((2, *n), seed)
    h = n[-1] // 2 + 1
    got, count = _ring_sum(torch.from_numpy(full[..., :h].copy()), list(n), True)
    radii = [max(_GAP + 1, min(_RADIUS[len(n)], (m - 1) // 3)) for m in n]
    want = np.zeros_like(full)
    offsets = 0
    for o in itertools.product(*[range(-r, r + 1) for r in radii]):
        if max(abs(c) for c in o) > _GAP:
            want += np.roll(full, tuple(-c for c in o), tuple(range(1, len(n) + 1)))
            offsets += 1
    assert count == offsets
    np.testing.assert_allclose(got.numpy(), want[..., :h], rtol=1e-12)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(8, 60), min_size=1, max_size=3), st.integers(0, 10**6))
def test_harmonic_sums_equal_a_loop_over_periods(n, seed):
    # The matrix products (and the 1-D sparse matrix) on the half spectrum against a plain
    # loop: for each period, every harmonic k n / s, its nearest bin on each axis (both
    # neighbours between bins), summed over the full spectrum.
    from checkerfree.score.periods import _harmonic_sums

    n = n[:1] * 3 if len(n) == 3 else n        # volumes: keep the brute force small
    n = [min(m, 24) for m in n] if len(n) == 3 else n
    top = max_search_period(tuple(n))
    if top < 2:
        return
    white = _symmetric((2, *n), seed) - 1
    white.reshape(2, -1)[:, 0] = 0
    h = n[-1] // 2 + 1
    got = _harmonic_sums(torch.from_numpy(white[..., :h].copy()), tuple(n), top).numpy()
    want = np.zeros((2, top - 1))
    for s in range(2, top + 1):
        per_axis = []
        for m in n:
            bins = []
            for k in range(s):
                p = k * m / s
                bins += [math.floor(p) % m] + ([math.ceil(p) % m] if p != int(p) else [])
            per_axis.append(bins)
        for index in itertools.product(*per_axis):
            want[:, s - 2] += white[(slice(None), *index)]
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("shape", [(2, 3, 40), (1, 2, 33), (1, 2, 12, 9), (1, 1, 9, 10, 12)])
def test_search_power_is_the_periodic_spectrum(shape):
    # The search's power (one rfftn, the border term from the jumps' FFTs) against the
    # lattice module's full periodic spectrum, in 1-D, 2-D and 3-D.
    from checkerfree.score.lattice import periodic_spectrum
    from checkerfree.score.periods import _search_power

    d = len(shape) - 2
    x = torch.rand(*shape, generator=torch.Generator().manual_seed(d), dtype=torch.float64) * 255
    full = periodic_spectrum(x, d).abs().pow(2).sum(1)[..., : shape[-1] // 2 + 1]
    full[(slice(None),) + (0,) * d] = 0                      # the mean is no pattern
    axes = tuple(range(2, 2 + d))
    torch.testing.assert_close(_search_power(x, d, torch.fft.rfftn(x, dim=axes)), full,
                               rtol=1e-9, atol=1e-6)
    # float32, with the float64 fallback past float32's range: the same up to rounding.
    for scale in (1.0, 1e16):
        single = (x * scale).float()
        got = _search_power(single, d, torch.fft.rfftn(single, dim=axes)).double()
        torch.testing.assert_close(got / scale**2, full, rtol=2e-3, atol=1e-2)


def test_search_leaves_the_fixed_lattices_out():
    # A strong period-8 pattern is on the lattices of 16, 24, 32 too: counted there, it
    # would take the candidates' places; left out, those periods read noise.
    from checkerfree.score.periods import CANDIDATE_Z

    g = torch.Generator().manual_seed(5)
    base = 100 + 8 * torch.randn(256, 256, generator=g, dtype=torch.float64)
    x = eight_bit(base.numpy() + tile_pattern(8, 20, (256, 256), seed=5))
    periods, full = search_periods(x)
    _, left_out = search_periods(x, exclude=(2, 4, 8))
    multiples = [periods.index(s) for s in (16, 24, 32)]
    assert (full[0, multiples] > 5 * CANDIDATE_Z).all()
    assert (left_out[0, multiples].abs() < CANDIDATE_Z).all()
    assert not {16, 24, 32} & set(find_periods(x, skip=(2, 4, 8))[0])


def test_search_z_is_unbiased_on_noise_at_every_period():
    # The floor is a mean of M bins: without the M / (M - 1) correction the sum over the
    # (2 s)^2 bins of a long period drifted by ~sqrt((2 s)^2) / M (+6 at period 125), and a
    # wrong window sum had it at -19: either way far from a z-score.
    g = torch.Generator().manual_seed(11)
    periods, z = search_periods(torch.rand(4, 1, 512, 512, generator=g), exclude=(2, 4, 8))
    long = [i for i, s in enumerate(periods) if s >= 64]
    assert abs(float(z.mean())) < 0.3 and abs(float(z[:, long].mean())) < 0.5
    assert 0.8 < float(z.std()) < 2.0
