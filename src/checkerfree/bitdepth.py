"""Samples at their stored depth for the files Pillow narrows: 16-bit colour PNG, deep TIFF.

Pillow opens 16-bit RGB, RGBA and grey-with-alpha PNG and TIFF files as their high byte
(8 bits), turns LA16 into RGBA, and reads every signed or 32-bit integer TIFF as mode ``I``.
:func:`~checkerfree.io.read_image` sends those files here instead, after Pillow has
identified the format and checked the size from the header:

- PNG with 16-bit colour: decoded by pypng (``png``), which keeps the 16 bits.
- TIFF with more than 8 bits per sample: decoded by tifffile, which keeps the dtype.

Both return ``(H, W, C)`` float32 *grey levels*, the score's unit (:mod:`checkerfree.io`),
by one rule for every depth:

- unsigned samples of ``n <= 16`` bits: full scale is white, ``v * 255 / (2**n - 1)``
  (16 bits: ``v / 257``; 8 bits: ``v``), computed as one float32 division;
- signed samples and 32-bit samples: the stored integers as they are, one level per unit
  (such an image has no fixed white; an 8-level pattern stored as int32 scores 8). float32
  holds them exactly up to ``2**24`` in magnitude and rounds beyond.

Alpha and other extra samples are dropped (the score measures colours, not masks).

>>> import tempfile, pathlib, numpy as np, png
>>> path = pathlib.Path(tempfile.mkdtemp()) / "rgb16.png"
>>> with open(path, "wb") as f:
...     _ = png.Writer(2, 1, greyscale=False, bitdepth=16).write(f, [[0, 257, 65535] * 2])
>>> pixels, depth, alpha, mode = read_png16(path)
>>> pixels[0, 0].tolist(), depth, alpha, mode
([0.0, 1.0, 255.0], 16, False, 'RGB;16')
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings

import numpy as np

from checkerfree.errors import CheckerfreeError, require

__all__ = ["DecodeError", "png_header", "read_png16", "is_tiff", "tiff_needs_depth", "read_tiff"]

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Colour types of the PNG specification (ISO/IEC 15948, 11.2.2): samples per pixel, alpha.
_PNG_COLOUR = {0: (1, False), 2: (3, False), 3: (1, False), 4: (2, True), 6: (4, True)}


class DecodeError(Exception):
    """Raised here with a reason; :func:`~checkerfree.io.read_image` adds the file name."""


@contextlib.contextmanager
def _silenced():
    """No warnings and no tifffile log lines on stderr (they would break one-line output;
    what matters about a file becomes our error)."""
    log = logging.getLogger("tifffile")
    level = log.level
    log.setLevel(logging.CRITICAL + 1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        log.setLevel(level)


def png_header(path: str | os.PathLike) -> tuple[int, int] | None:
    """``(bit depth, colour type)`` from a PNG's IHDR chunk, or None if it has none."""
    with open(path, "rb") as f:
        head = f.read(26)
    if len(head) < 26 or head[:8] != _PNG_SIGNATURE or head[12:16] != b"IHDR":
        return None
    return head[24], head[25]


def _scale(array: np.ndarray, bits: int, signed: bool) -> np.ndarray:
    """Grey levels by the module's rule (unsigned up to 16 bits: full scale = 255)."""
    out = array.astype(np.float32)
    if not signed and bits <= 16:
        full = np.float32(2**bits - 1)
        if full != 255:
            out *= np.float32(255)  # exact: v * 255 < 2**24 for v < 2**16
            out /= full
    return out


def read_png16(path: str | os.PathLike) -> tuple[np.ndarray, int, bool, str]:
    """``(H, W, C)`` float32 grey levels of a 16-bit PNG, bit depth, alpha dropped, mode.

    The mode is Pillow's notation with the depth: ``RGB;16``, ``RGBA;16``, ``LA;16``.
    """
    png = require("png", "image")
    try:
        width, height, rows, info = png.Reader(filename=os.fspath(path)).asDirect()
        planes = int(info["planes"])
        array = np.vstack([np.asarray(row, dtype=np.uint16).reshape(1, width * planes)
                           for row in rows])
    except MemoryError:
        raise
    except Exception as exc:  # pypng reports bad data with many types (FormatError, zlib)
        raise DecodeError(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
    if array.shape[0] != height:
        raise DecodeError(f"{array.shape[0]} rows of pixels, the header says {height}")
    array = array.reshape(height, width, planes)
    alpha = bool(info.get("alpha"))
    keep = planes - 1 if alpha else planes
    bits = int(info["bitdepth"])  # sBIT may make pypng report fewer significant bits
    mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[planes] + f";{bits}"
    return _scale(array[..., :keep], bits, False), bits, alpha, mode


def is_tiff(path: str | os.PathLike) -> bool:
    """Whether a file starts like a TIFF or BigTIFF (``II*\\0``, ``MM\\0*``, ``II+\\0``,
    ``MM\\0+``)."""
    with open(path, "rb") as f:
        return f.read(4) in (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+")


def tiff_needs_depth(image) -> bool:
    """Whether a TIFF Pillow has opened stores more than 8 bits per sample."""
    bits = image.tag_v2.get(258, (1,))
    bits = bits if isinstance(bits, tuple) else (bits,)
    return max(bits, default=1) > 8


def read_tiff(path: str | os.PathLike, check=None) -> tuple[np.ndarray, int, bool, str]:
    """``(H, W, C)`` float32 grey levels of a TIFF's first page, bit depth, alpha dropped, mode.

    The mode is Pillow's notation with the depth and an ``S`` for signed samples:
    ``L;16``, ``RGB;16``, ``L;16S``, ``L;32S``, ``RGBA;16``. ``check(width, height)``, if
    given, runs before any pixel is decoded (it raises to refuse).
    """
    tifffile = require("tifffile", "image")
    try:
        with _silenced(), tifffile.TiffFile(os.fspath(path)) as tif:
            page = tif.pages[0]
            photometric = int(page.photometric)
            bits = int(page.bitspersample)
            if check is not None:
                check(int(page.imagewidth), int(page.imagelength))
            array = page.asarray()
            axes = page.axes
    except (MemoryError, DecodeError, CheckerfreeError):
        raise  # ours (the caller's size check) or out of memory: not a decoding failure
    except Exception as exc:  # tifffile reports bad data with many types
        raise DecodeError(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
    kind = array.dtype.kind
    if kind not in "ui":
        raise DecodeError(f"{array.dtype} samples are not supported (integers only)")
    if "S" in axes and axes.index("S") < axes.index("Y"):
        array = np.moveaxis(array, axes.index("S"), -1)  # planar (separate) -> interleaved
    array = array.reshape(array.shape[0], array.shape[1], -1) if array.ndim >= 2 else array
    if array.ndim != 3:
        raise DecodeError(f"unexpected sample layout {axes} {array.shape}")
    # TIFF 6.0 Photometric: 0 white is zero, 1 black is zero, 2 RGB.
    colours = {0: 1, 1: 1, 2: 3}.get(photometric)
    if colours is None or array.shape[2] < colours:
        raise DecodeError(
            f"photometric interpretation {photometric} with {array.shape[2]} samples is not "
            "supported at more than 8 bits (grey or RGB only)"
        )
    signed = kind == "i"
    grey = _scale(array[..., :colours], bits, signed)
    if photometric == 0:  # white is zero: flip into the usual black-is-zero levels
        grey = np.float32(255) - grey if not signed and bits <= 16 else -grey
    alpha = array.shape[2] > colours
    mode = ("L" if colours == 1 else "RGB") + ("A" if alpha else "") + f";{bits}"
    return grey, bits, alpha, mode + ("S" if signed else "")
