"""Image decoding: every format, bit depth and mode to float32 grey levels; typed refusals."""

from __future__ import annotations

import numpy as np
import pytest
from image_fixtures import bad_files, checkerboard, good_files, photo
from PIL import Image

from checkerfree.errors import CheckerfreeError
from checkerfree.io import DEFAULT_MAX_PIXELS, ImageFileError, find_images, read_image


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    return good_files(tmp_path_factory.mktemp("good"))


@pytest.mark.parametrize(
    "name, channels, exact",
    [("grey8.png", 1, "grey"), ("grey16.png", 1, "grey"), ("grey16.tif", 1, "grey"),
     ("rgb.png", 3, "rgb"), ("rgba.png", 3, "rgb"), ("lossless.webp", 3, "rgb"),
     ("rgb.tiff", 3, "rgb"), ("photo.jpg", 3, None), ("palette.png", 3, None)],
)
def test_decodes_to_float32_chw_grey_levels(good, name, channels, exact):
    pixels, info = read_image(good[name])
    assert pixels.dtype == np.float32 and pixels.shape == (channels, 64, 80)
    assert info.size == (64, 80) and info.channels == channels
    if exact == "grey":  # 16-bit v * 257 reads back as v: the same grey levels as 8-bit
        np.testing.assert_allclose(pixels[0], checkerboard(), atol=1e-4)
    elif exact == "rgb":
        np.testing.assert_array_equal(pixels, photo().transpose(2, 0, 1))
    else:  # lossy or quantised: Pillow's own RGB decoding, and close to the picture
        with Image.open(good[name]) as image:
            reference = np.asarray(image.convert("RGB")).transpose(2, 0, 1)
        np.testing.assert_array_equal(pixels, reference)
        assert np.abs(pixels - photo().transpose(2, 0, 1)).mean() < 10


def test_metadata_says_bit_depth_mode_and_dropped_alpha(good):
    assert read_image(good["grey16.png"])[1].bit_depth == 16
    assert read_image(good["grey8.png"])[1].bit_depth == 8
    info = read_image(good["rgba.png"])[1]
    assert (info.mode, info.alpha_dropped, info.format) == ("RGBA", True, "PNG")
    assert read_image(good["rgb.png"])[1].alpha_dropped is False
    assert read_image(good["palette.png"])[1].mode == "P"


@pytest.mark.parametrize(
    "name, reason",
    [("truncated.png", "cannot decode"), ("empty.png", "empty file"),
     ("text.png", "not a PNG, JPEG, WebP or TIFF"), ("tiny.png", "too small"),
     ("missing.png", "no such file"), ("bomb.png", "decompression bomb")],
)
def test_bad_files_raise_a_typed_error_naming_file_and_reason(tmp_path, name, reason):
    path = bad_files(tmp_path)[name]
    with pytest.raises(ImageFileError) as info:
        read_image(path, min_size=16)
    assert isinstance(info.value, CheckerfreeError) and isinstance(info.value, ValueError)
    assert reason in info.value.reason and str(path) in str(info.value)
    assert info.value.path == str(path)


def test_truncated_jpeg_and_directory(tmp_path, good):
    data = good["photo.jpg"].read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageFileError, match="cannot decode"):
        read_image(cut)
    with pytest.raises(ImageFileError, match="is a directory"):
        read_image(tmp_path)


def test_max_pixels_refuses_from_the_header_and_can_be_raised(good):
    with pytest.raises(ImageFileError, match="64x80|80x64"):
        read_image(good["rgb.png"], max_pixels=64 * 80 - 1)
    assert read_image(good["rgb.png"], max_pixels=64 * 80)[0].shape == (3, 64, 80)
    assert DEFAULT_MAX_PIXELS <= Image.MAX_IMAGE_PIXELS  # ours refuses before Pillow warns


def test_other_formats_are_never_decoded(tmp_path):
    # An EPS file would reach Ghostscript through Pillow's EPS plugin: refused by format.
    eps = tmp_path / "picture.png"
    eps.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 20 20\nshowpage\n")
    with pytest.raises(ImageFileError, match="not a PNG"):
        read_image(eps)
    gif = tmp_path / "anim.gif"
    Image.fromarray(photo()).save(gif)
    with pytest.raises(ImageFileError, match="not a PNG"):
        read_image(gif)


def test_find_images_walks_sorted_recursive_case_insensitive(tmp_path):
    for name in ("b/z.PNG", "b/a.Tif", "a.jpeg", "c/d/e.webp", "notes.txt", ".hidden/x.png",
                 "b/.x.png", "anim.gif"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    found = [p[len(str(tmp_path)) + 1 :] for p in find_images([tmp_path])]
    assert found == ["a.jpeg", "b/a.Tif", "b/z.PNG", "c/d/e.webp"]
    # Files are kept as given (even unknown extensions and missing ones), in argument order.
    explicit = [str(tmp_path / "notes.txt"), str(tmp_path / "missing.png")]
    assert find_images(explicit) == explicit
    assert find_images([tmp_path / "c", tmp_path / "a.jpeg"]) == [
        str(tmp_path / "c/d/e.webp"), str(tmp_path / "a.jpeg")]


def test_a_fifo_given_directly_is_not_a_regular_file(tmp_path):
    import os

    from checkerfree.io import ImageFileError, read_image

    fifo = tmp_path / "f.png"
    os.mkfifo(fifo)
    with pytest.raises(ImageFileError, match="not a regular file"):
        read_image(fifo)
