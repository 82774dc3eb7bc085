"""Heat maps that tell the truth: calibrated units, clean pictures clean, one fixed colour scale
with a legend, and the hotspot inside a local patch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from checkerfree.errors import InvalidArgumentError
from checkerfree.score.checkerboard import DEFAULT_THRESHOLD
from checkerfree.score.heatmap import checkerboard_heatmap, heat_maps
from checkerfree.score.overlay import (
    FULL_SCALE,
    LEGEND_HEIGHT,
    MIN_WIDTH,
    OPACITY,
    colour_scale,
    heatmap_overlay,
)

data = pytest.importorskip("skimage.data")

# ColorBrewer YlOrRd, written out again here: the reference the overlay's colours must match.
YLORRD = [(255, 237, 160), (254, 178, 76), (253, 141, 60), (240, 59, 32), (189, 0, 38)]


def _photo(name: str) -> torch.Tensor:
    image = np.asarray(getattr(data, name)(), dtype=np.float32)
    x = torch.from_numpy(image)
    return x[None, None] if x.ndim == 2 else x.permute(2, 0, 1)[None]


def _checker(shape) -> torch.Tensor:
    i, j = torch.meshgrid(torch.arange(shape[-2]), torch.arange(shape[-1]), indexing="ij")
    return (-1.0) ** (i + j)


@pytest.mark.parametrize("name", ["camera", "astronaut"])
def test_clean_photograph_is_clean_and_a_uniform_pattern_reads_its_amplitude(name):
    x = _photo(name)
    assert checkerboard_heatmap(x).max().item() < DEFAULT_THRESHOLD
    for a in (2.0, 8.0):   # a +-a/2 checkerboard: a grey levels peak to peak, everywhere
        heat = checkerboard_heatmap(x + a / 2 * _checker(x.shape))[0]
        assert heat.mean().item() == pytest.approx(a, rel=0.15)
        assert (heat > 0).float().mean().item() > 0.9


def test_the_raw_map_paints_what_the_gate_removes():
    # Without the two tests the chance excess of the camera's edges reads grey levels: the
    # gate is what keeps the picture clean, not a map that is zero anyway.
    raw = checkerboard_heatmap(_photo("camera"), threshold=0, significance=None)
    assert raw.max().item() > 2 * DEFAULT_THRESHOLD


def _reference_colour(value: float) -> np.ndarray:
    t = min(max(value / FULL_SCALE, 0.0), 1.0) * (len(YLORRD) - 1)
    return np.array([np.interp(t, range(len(YLORRD)), [c[k] for c in YLORRD]) for k in range(3)])


def test_one_fixed_colour_scale_across_images():
    grey = np.full((1, 40, 300), 90.0, dtype=np.float32)
    faint = np.zeros((40, 300), np.float32)
    strong = np.zeros((40, 300), np.float32)
    faint[10, 10], faint[10, 20] = 1.0, 2.0      # a faint image: its largest value is 2
    strong[10, 10], strong[10, 20] = 1.0, 16.0   # a strong one: 16, beyond full scale
    a = np.asarray(heatmap_overlay(grey, faint)).astype(int)
    b = np.asarray(heatmap_overlay(grey, strong)).astype(int)
    np.testing.assert_array_equal(a[10, 10], b[10, 10])   # the same value, the same colour
    for image, value, col in ((a, 1.0, 10), (a, 2.0, 20), (b, 16.0, 20)):
        expected = 90 * (1 - OPACITY) + _reference_colour(value) * OPACITY
        np.testing.assert_allclose(image[10, col], expected, atol=1)
    np.testing.assert_array_equal(a[30, 100], [90, 90, 90])   # zero: the picture, unpainted
    np.testing.assert_array_equal(colour_scale(np.array([0.0, FULL_SCALE])).round(),
                                  np.array([YLORRD[0], YLORRD[-1]], dtype=float))


def test_colour_bar_in_the_legend_strip():
    grey = np.full((1, 30, 100), 120.0, dtype=np.float32)
    picture = heatmap_overlay(grey, np.zeros((30, 100), np.float32), score=1.25, flagged=True,
                              period=4, threshold=0.55)
    assert picture.size == (MIN_WIDTH, 30 + LEGEND_HEIGHT)   # a small picture, a legible legend
    rgb = np.asarray(picture).astype(int)
    bar = rgb[30 + 43, 8:158]   # a row through the colour bar (its unit to the right)
    values = np.linspace(0.0, FULL_SCALE, len(bar))
    expected = np.array([128 * (1 - OPACITY) + _reference_colour(v) * OPACITY for v in values])
    # The threshold's mark is a white column; elsewhere the bar is the scale over mid-grey.
    mark = round(0.55 / FULL_SCALE * (len(bar) - 1))
    keep = np.ones(len(bar), bool)
    keep[[0, mark]] = False
    np.testing.assert_allclose(bar[keep], expected[keep], atol=1.5)
    np.testing.assert_array_equal(bar[mark], [255, 255, 255])
    # Text is written on the strip (the score line): light pixels on the dark background.
    assert (rgb[30 : 30 + 14, :120] > 200).any()
    with pytest.raises(InvalidArgumentError):
        heatmap_overlay(grey, np.zeros((30, 99), np.float32))
    with pytest.raises(InvalidArgumentError):
        heatmap_overlay(grey, np.zeros((30, 100), np.float32), full_scale=0)


def test_legend_of_a_128_pixel_picture_is_readable():
    # Before: 240 wide, the key "local amplitude, grey levels; | threshold 0.55" ran to 6
    # pixels from the right edge, and the "8+" tick label to 5.
    grey = np.full((1, 128, 128), 120.0, dtype=np.float32)
    picture = heatmap_overlay(grey, np.zeros((128, 128), np.float32), score=12.34,
                              flagged=True, period=16, threshold=0.55)
    strip = np.asarray(picture).astype(int)[128:]
    width = strip.shape[1]
    ink = (strip > 200).all(-1)          # text, ticks and marks: near white on the dark strip
    ink[38:48] = False                   # the colour bar's rows (its threshold mark is white)
    rows, cols = np.nonzero(ink)
    assert cols.min() >= 6 and cols.max() <= width - 7, (cols.min(), cols.max(), width)
    assert rows.max() <= strip.shape[0] - 3  # the tick labels are not cut at the bottom
    # The second row holds two keys (amplitude, threshold) with a wide blank between them.
    second = ink[19:34].any(0)
    blank = max(len(run) for run in "".join("x" if c else " " for c in second).strip().split("x"))
    assert blank >= 16, blank


def test_hotspot_finds_a_local_patch_on_photographs():
    # A seeded set: 64x64 random sub-kernel patches of period 2 and 4 at 4 grey levels p-p on
    # 256x256 crops of four photographs, rounded to 8 bits, as benchmarks/calibration.py.
    rng = np.random.default_rng(5)
    hits, total = 0, 0
    for name in ("camera", "astronaut", "coffee", "chelsea"):
        image = np.asarray(getattr(data, name)(), dtype=np.float64)
        image = image.mean(-1) if image.ndim == 3 else image
        for s in (2, 4):
            top, left = rng.integers(0, 256 - 64, size=2)
            crop = image[:256, :256].copy()
            tile = rng.normal(size=(s, s))
            tile = (tile - tile.mean()) * 4 / (tile.max() - tile.min())
            crop[top : top + 64, left : left + 64] += np.tile(tile, (64 // s, 64 // s))
            x = torch.from_numpy(np.clip(np.round(crop), 0, 255).astype(np.float32))
            row, col = heat_maps(x[None, None], (2, 4, 8))[2][0].tolist()
            hits += bool(top <= row < top + 64 and left <= col < left + 64)
            total += 1
    assert hits >= total - 1, f"{hits}/{total}"


def test_gate_arguments():
    x = torch.rand(1, 1, 32, 32)
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(InvalidArgumentError):
            checkerboard_heatmap(x, significance=bad)
    with pytest.raises(InvalidArgumentError):
        checkerboard_heatmap(x, threshold=-1.0)
