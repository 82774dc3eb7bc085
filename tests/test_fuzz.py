"""Fuzzing, bounded in time: random and mutated files for the image reader, random layer specs
for ``overlap``. Every input gives a result or a typed checkerfree error, never another
exception type and never a long wait (hypothesis' ``deadline`` fails a slow example)."""

from __future__ import annotations

import io
import os
import struct
import tempfile
import time
import zlib
from contextlib import redirect_stderr, redirect_stdout

import numpy as np
import png
import pytest
import tifffile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from checkerfree import overlap
from checkerfree.cli import main
from checkerfree.errors import CheckerfreeError
from checkerfree.io import ImageFileError, read_image
from checkerfree.overlap import OverlapResult

# deadline: a hang fails at once; 10 s, not less, because the test machine may be shared.
FUZZ = settings(max_examples=150, deadline=10_000, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _seeds() -> dict[str, bytes]:
    """Small valid files of each decoder path: Pillow PNG/JPEG/TIFF, pypng 16-bit, tifffile."""
    rng = np.random.default_rng(0)
    out = {}
    for fmt in ("PNG", "JPEG", "TIFF", "WEBP"):
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)).save(buf, fmt)
        out[fmt.lower()] = buf.getvalue()
    buf = io.BytesIO()
    png.Writer(16, 12, greyscale=False, alpha=True, bitdepth=16).write(
        buf, rng.integers(0, 65536, (12, 16 * 4)).tolist())
    out["png16"] = buf.getvalue()
    for name, array, kw in (("tif16", rng.integers(0, 65536, (12, 16, 3)).astype(np.uint16),
                             {"photometric": "rgb"}),
                            ("tif32", rng.integers(-9, 9, (12, 16)).astype(np.int32), {}),
                            ("tifla", rng.integers(0, 65536, (12, 16, 2)).astype(np.uint16),
                             {"photometric": "minisblack", "extrasamples": ["unassalpha"]})):
        buf = io.BytesIO()
        tifffile.imwrite(buf, array, **kw)
        out[name] = buf.getvalue()
    return out


SEEDS = _seeds()
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _read(data: bytes):
    """read_image on ``data`` in a temporary file: an array or an ImageFileError, in time."""
    fd, path = tempfile.mkstemp(suffix=".png")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        start = time.perf_counter()
        try:
            pixels, info = read_image(path, max_pixels=1 << 20)
        except ImageFileError as exc:
            assert str(exc).startswith(path) and "\n" not in str(exc)
            return None
        finally:
            assert time.perf_counter() - start < 60  # "returns", not a speed test
        assert pixels.dtype == np.float32 and pixels.ndim == 3
        assert pixels.shape[0] == info.channels and pixels.shape[1:] == info.size
        return pixels
    finally:
        os.unlink(path)


@FUZZ
@given(st.binary(max_size=2048))
def test_random_bytes(data):
    _read(data)


@FUZZ
@given(st.sampled_from(sorted(SEEDS)), st.binary(max_size=512))
def test_valid_header_then_garbage(name, garbage):
    seed = SEEDS[name]
    _read(seed[: 8 + 25 if name.startswith("png") else 16] + garbage)


@FUZZ
@given(st.sampled_from(sorted(SEEDS)), st.floats(0, 1))
def test_truncated_files(name, fraction):
    seed = SEEDS[name]
    _read(seed[: int(len(seed) * fraction)])


@FUZZ
@given(st.sampled_from(sorted(SEEDS)),
       st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1,
                max_size=12))
def test_mutated_bytes(name, edits):
    data = bytearray(SEEDS[name])
    for where, value in edits:
        data[int(where * len(data))] = value
    _read(bytes(data))


@FUZZ
@given(width=st.integers(0, 2**32 - 1), height=st.integers(0, 2**32 - 1),
       depth=st.sampled_from([0, 1, 2, 3, 4, 8, 16, 32]), colour=st.integers(0, 7),
       body=st.binary(max_size=256))
def test_random_png_headers(width, height, depth, colour, body):
    header = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    _read(PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(body))
          + _chunk(b"IEND", b""))


# ---------------------------------------------------------------- overlap layer specs

_INTS = st.one_of(st.integers(-3, 9), st.integers(-(10**30), 10**30),
                  st.sampled_from([4096, 4097, 2**31, 2**63, 10**5000]))
_FIELD = st.one_of(_INTS, st.floats(allow_nan=True), st.text(max_size=4), st.none(),
                   st.lists(st.integers(-2, 6), max_size=4).map(tuple), st.booleans())
_TEXT = st.one_of(
    st.text(max_size=24),
    st.lists(st.one_of(st.integers(-5, 12).map(str), st.text("0123456789", min_size=1,
                                                               max_size=40), st.just("3x4")),
             min_size=1, max_size=6).map(":".join),
)
_LAYER = st.one_of(st.tuples(*[_FIELD] * 2), st.tuples(*[_FIELD] * 5),
                   st.tuples(st.integers(1, 9), st.integers(1, 4)), _TEXT,
                   st.dictionaries(st.sampled_from(["kernel_size", "stride", "padding", "x"]),
                                   _FIELD, max_size=3), _FIELD)


@FUZZ
@given(layers=st.one_of(_LAYER, st.lists(_LAYER, max_size=5),
                        st.lists(st.sampled_from(["3:2", "3:2:1:1", "4:2:1", "5:3"]),
                                 max_size=40)),
       dims=st.one_of(st.none(), st.integers(-1, 4), st.floats(), st.sampled_from([1.0, True])),
       size=st.one_of(st.none(), _INTS, st.lists(_INTS, max_size=3), st.text(max_size=3)))
def test_overlap_specs(layers, dims, size):
    start = time.perf_counter()
    try:
        result = overlap(layers, dims=dims, size=size)
    except CheckerfreeError as exc:
        assert isinstance(exc, (ValueError, TypeError)) and str(exc)
    else:
        assert isinstance(result, OverlapResult)
        assert result.min <= result.max and len(result.period) == result.dims
    assert time.perf_counter() - start < 60  # "returns", not a speed test


@FUZZ
@given(st.lists(_TEXT, min_size=1, max_size=4),
       st.sampled_from([[], ["--dims", "1"], ["--dims", "3"], ["--json"]]),
       st.one_of(st.none(), st.integers(-5, 10**12).map(str), st.text(max_size=6)))
def test_overlap_cli(texts, extra, size):
    argv = ["overlap", *[a for t in texts for a in ("--layer", t)], *extra]
    if size is not None:
        argv += ["--size", size]
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse's own refusal
            code = exc.code
    assert code in (0, 2)
    if code == 2:
        lines = err.getvalue().strip().splitlines()
        assert len(lines) == 1 and "error" in lines[0], err.getvalue()


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_seeds_themselves_decode(name):
    # The fuzz starts from valid files of every decoder path: they must read.
    assert _read(SEEDS[name]) is not None
