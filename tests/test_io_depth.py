"""Every sample read at its stored depth, against files written by pypng, tifffile and Pillow.

The expected grey levels are computed here from the written integers by the documented rule
(:mod:`checkerfree.bitdepth`): unsigned ``n``-bit samples times ``255 / (2**n - 1)``,
signed and 32-bit samples as they are. Random 16-bit values make a high-byte decoder fail:
its levels would all be multiples of 257 / 257 = 1 and differ by up to 255/257.
"""

from __future__ import annotations

import numpy as np
import png
import pytest
import tifffile
import torch
from PIL import Image

from checkerfree import checkerboard_score
from checkerfree.io import ImageFileError, read_image

RNG = np.random.default_rng(7)
H, W = 6, 10


def levels16(values: np.ndarray) -> np.ndarray:
    """The documented 16-bit rule, in float64 then rounded once to float32."""
    return (values.astype(np.float64) / 257).astype(np.float32)


def write_png(path, values: np.ndarray, *, greyscale: bool, alpha: bool, bitdepth: int = 16):
    h, w = values.shape[:2]
    planes = 1 if values.ndim == 2 else values.shape[2]
    writer = png.Writer(w, h, greyscale=greyscale, alpha=alpha, bitdepth=bitdepth)
    with open(path, "wb") as f:
        writer.write(f, values.reshape(h, w * planes).tolist())
    return path


def check_levels(got: np.ndarray, expected: np.ndarray, values: np.ndarray | None = None):
    # float32 division may differ from the float64 rounding by one unit in the last place.
    np.testing.assert_allclose(got, expected, rtol=2e-7, atol=0)
    if values is not None:  # and the stored integers come back exactly
        np.testing.assert_array_equal(np.rint(got.astype(np.float64) * 257), values)


@pytest.mark.parametrize(
    "name, planes, greyscale, alpha, mode, channels",
    [("rgb", 3, False, False, "RGB;16", 3), ("rgba", 4, False, True, "RGBA;16", 3),
     ("la", 2, True, True, "LA;16", 1), ("grey", 1, True, False, "I;16", 1)],
)
def test_png16_every_colour_type(tmp_path, name, planes, greyscale, alpha, mode, channels):
    values = RNG.integers(0, 65536, (H, W, planes)).astype(np.uint16)
    path = write_png(tmp_path / f"{name}.png", values if planes > 1 else values[..., 0],
                     greyscale=greyscale, alpha=alpha)
    pixels, info = read_image(path)
    kept = values[..., :channels].transpose(2, 0, 1)
    assert (info.bit_depth, info.mode, info.channels, info.alpha_dropped) == (16, mode, channels,
                                                                              alpha)
    assert pixels.shape == (channels, H, W) and pixels.dtype == np.float32
    check_levels(pixels, levels16(kept), kept)


@pytest.mark.parametrize("bitdepth", [1, 2, 4, 8])
def test_png_low_bit_grey_spreads_over_0_255_and_reports_its_depth(tmp_path, bitdepth):
    top = 2**bitdepth - 1
    values = RNG.integers(0, top + 1, (H, W))
    pixels, info = read_image(write_png(tmp_path / "g.png", values, greyscale=True, alpha=False,
                                        bitdepth=bitdepth))
    assert info.bit_depth == bitdepth
    np.testing.assert_array_equal(pixels[0], values * (255 // top))


@pytest.mark.parametrize(
    "name, shape, kwargs, mode, channels, alpha",
    [("rgb", (H, W, 3), {"photometric": "rgb"}, "RGB;16", 3, False),
     ("rgba", (H, W, 4), {"photometric": "rgb", "extrasamples": ["unassalpha"]}, "RGBA;16", 3,
      True),
     ("la", (H, W, 2), {"photometric": "minisblack", "extrasamples": ["unassalpha"]}, "LA;16", 1,
      True),
     ("grey", (H, W), {}, "L;16", 1, False),
     ("planar", (3, H, W), {"photometric": "rgb", "planarconfig": "separate"}, "RGB;16", 3,
      False)],
)
def test_tiff16_every_layout(tmp_path, name, shape, kwargs, mode, channels, alpha):
    values = RNG.integers(0, 65536, shape).astype(np.uint16)
    tifffile.imwrite(tmp_path / f"{name}.tif", values, **kwargs)
    pixels, info = read_image(tmp_path / f"{name}.tif")
    chw = values.transpose(2, 0, 1) if name != "planar" and values.ndim == 3 else values
    chw = chw.reshape(-1, H, W)[:channels]
    assert (info.format, info.bit_depth, info.mode, info.channels, info.alpha_dropped) == (
        "TIFF", 16, mode, channels, alpha)
    check_levels(pixels, levels16(chw), chw)


@pytest.mark.parametrize("dtype, depth, mode", [(np.int16, 16, "L;16S"), (np.int32, 32, "L;32S"),
                                               (np.uint32, 32, "L;32")])
def test_integer_tiffs_keep_their_values_as_levels(tmp_path, dtype, depth, mode):
    info_ = np.iinfo(dtype)
    # Within float32's exact integers (2**24) so that the values can come back exactly.
    values = RNG.integers(max(info_.min, -2**24), min(info_.max, 2**24), (H, W)).astype(dtype)
    tifffile.imwrite(tmp_path / "i.tif", values)
    pixels, info = read_image(tmp_path / "i.tif")
    assert (info.bit_depth, info.mode, info.channels) == (depth, mode, 1)
    np.testing.assert_array_equal(pixels[0], values.astype(np.float64))


def test_an_8_level_pattern_in_int32_scores_8_levels(tmp_path):
    i, j = np.indices((64, 64))
    values = (1000 + 4 * (-1) ** (i + j)).astype(np.int32)  # peak to peak 8 levels
    tifffile.imwrite(tmp_path / "c.tif", values)
    pixels, _ = read_image(tmp_path / "c.tif")
    score = checkerboard_score(torch.from_numpy(pixels[None]), periods=(2,))
    assert float(score.score[0]) == pytest.approx(8, rel=1e-3)


def test_16_and_8_bit_copies_score_the_same(tmp_path):
    i, j = np.indices((64, 64))
    eight = (120 + 4 * (-1) ** (i + j)).astype(np.uint8)
    rgb8 = np.repeat(eight[..., None], 3, axis=2)
    Image.fromarray(rgb8).save(tmp_path / "c8.png")
    write_png(tmp_path / "c16.png", rgb8.astype(np.uint16) * 257, greyscale=False, alpha=False)
    a, _ = read_image(tmp_path / "c8.png")
    b, info = read_image(tmp_path / "c16.png")
    assert info.bit_depth == 16
    np.testing.assert_array_equal(a, b)  # v * 257 / 257 is exact


def test_float_tiff_is_refused_with_a_reason(tmp_path):
    tifffile.imwrite(tmp_path / "f.tif", np.zeros((4, 4), np.float32))
    with pytest.raises(ImageFileError, match="not supported"):
        read_image(tmp_path / "f.tif")


def test_size_limits_hold_on_the_deep_paths(tmp_path):
    tifffile.imwrite(tmp_path / "la.tif", np.zeros((40, 50, 2), np.uint16),
                     photometric="minisblack", extrasamples=["unassalpha"])
    with pytest.raises(ImageFileError, match="decompression bomb"):
        read_image(tmp_path / "la.tif", max_pixels=100)
    write_png(tmp_path / "rgb.png", np.zeros((40, 50, 3), np.uint16), greyscale=False,
              alpha=False)
    with pytest.raises(ImageFileError, match="decompression bomb"):
        read_image(tmp_path / "rgb.png", max_pixels=100)
    with pytest.raises(ImageFileError, match="too small"):
        read_image(tmp_path / "la.tif", min_size=64)


def test_truncated_16_bit_files_give_a_typed_error(tmp_path):
    path = write_png(tmp_path / "rgb.png", RNG.integers(0, 65536, (32, 32, 3)), greyscale=False,
                     alpha=False)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageFileError, match="cannot decode"):
        read_image(path)
    tifffile.imwrite(tmp_path / "t.tif", RNG.integers(0, 65536, (32, 32, 3)).astype(np.uint16),
                     photometric="rgb")
    data = (tmp_path / "t.tif").read_bytes()
    (tmp_path / "t.tif").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageFileError):
        read_image(tmp_path / "t.tif")
