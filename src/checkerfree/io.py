"""Image files in: decoded to float32 grey levels, refused with a typed error when unsafe or bad.

:func:`read_image` opens PNG, JPEG, WebP and TIFF files (1- to 16-bit; grey, RGB, RGBA,
grey + alpha, palette; TIFF also signed and 32-bit integers) and returns a float32
``(C, H, W)`` array in ``0..255`` grey levels, the unit of
:func:`~checkerfree.score.checkerboard.checkerboard_score`: 16-bit files are divided by 257 (65535 -> 255),
so a score reads the same whether a picture was saved with 8 or 16 bits. Every sample keeps
its stored depth: 16-bit colour goes through pypng or tifffile, which Pillow would cut to the
high byte; signed and 32-bit integer TIFFs keep their values as they are, one level per unit
(:mod:`checkerfree.bitdepth` has the rule for every depth). Grey stays one
channel; alpha is dropped (the score measures the colours, not the mask; the returned
:class:`ImageInfo` says it was); palettes are expanded to RGB.

Only those four formats are ever decoded, whatever the file name says: Pillow has plugins
(EPS, for instance, which runs Ghostscript) that no batch of untrusted files should reach.
Images with more than ``max_pixels`` pixels are refused from their header, before any pixel
is decoded (a decompression bomb: a few kilobytes that expand to gigabytes).

:func:`find_images` walks files and folders into the list of inputs. Later issues add safe
model loading (safetensors, ``torch.load(weights_only=True)``) to this module.

>>> import tempfile, pathlib, numpy as np
>>> from PIL import Image
>>> path = pathlib.Path(tempfile.mkdtemp()) / "grey16.png"
>>> Image.fromarray(np.full((8, 12), 65535, dtype=np.uint16)).save(path)
>>> pixels, info = read_image(path)
>>> pixels.shape, pixels.dtype.name, float(pixels.max()), info.bit_depth, info.mode
((1, 8, 12), 'float32', 255.0, 16, 'I;16')
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from checkerfree.bitdepth import (
    DecodeError,
    is_tiff,
    png_header,
    read_png16,
    read_tiff,
    tiff_needs_depth,
)
from checkerfree.errors import InputFileError, require

__all__ = [
    "IMAGE_EXTENSIONS",
    "DEFAULT_MAX_PIXELS",
    "ImageFileError",
    "ImageInfo",
    "read_image",
    "find_images",
    "walk_inputs",
]

#: File name endings :func:`find_images` picks up in folders (compared case-insensitively).
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff")

#: Pixel count above which an image is refused (8192 x 8192): below Pillow's own warning
#: limit, and about 0.8 GB as float32 RGB, which is what one such image costs to score.
DEFAULT_MAX_PIXELS = 8192 * 8192

# Pillow format names; MPO (camera JPEGs with a second picture) opens through the JPEG plugin.
_FORMATS = ("PNG", "JPEG", "WEBP", "TIFF")
_SIXTEEN_BIT = {"I;16", "I;16L", "I;16B", "I;16N", "I"}


class ImageFileError(InputFileError):
    """An image file that cannot be scored: missing, empty, truncated, not an image, too big
    or too small. ``path`` and ``reason`` are kept apart for tables and JSON rows (the other
    kinds of input raise :class:`~checkerfree.errors.InputFileError` itself).

    >>> str(ImageFileError("a.png", "empty file"))
    'a.png: empty file'
    """


@dataclass(frozen=True)
class ImageInfo:
    """What a file was before decoding: ``format``, Pillow ``mode``, ``bit_depth`` per sample,
    ``size`` ``(H, W)``, ``channels`` kept, and whether an alpha channel was dropped.

    ``bit_depth`` is the depth stored in the file (1, 2, 4, 8, 16, 32). For files decoded at
    full depth outside Pillow, ``mode`` is Pillow's notation with that depth (``RGB;16``,
    ``LA;16``, ``L;32S`` for signed 32-bit)."""

    format: str
    mode: str
    bit_depth: int
    size: tuple[int, int]
    channels: int
    alpha_dropped: bool


def _pixels(image, path, planar: bool = False) -> tuple[np.ndarray, int, bool]:
    """Decoded ``(H, W, C)`` grey levels (uint8, float32 at 16 bits), bit depth, and whether
    alpha was dropped; with ``planar``, 8-bit samples as a contiguous ``(C, H, W)`` array."""
    mode = image.mode
    if mode in _SIXTEEN_BIT:
        # 16-bit grey PNG ("I" in some Pillow versions; TIFFs beyond 8 bits never get here).
        array = np.asarray(image, dtype=np.float32) / np.float32(257)
        return array[..., None], 16, False
    if mode == "F":
        raise ImageFileError(path, "32-bit float images are not supported (8- or 16-bit only)")
    alpha = mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
        mode == "P" and "transparency" in image.info
    )
    if mode in ("L", "1", "LA", "La"):
        target = "L"
    else:  # RGB(A), palette, CMYK, YCbCr, LAB, ...: compared in RGB
        target = "RGB"
    if mode != target:
        image = image.convert(target)
    if planar:
        # One contiguous plane per band, copied out by Pillow: cheaper than an (H, W, C)
        # array and a transposing copy of it (the scorer's batch copy is then a plain one).
        return np.stack([np.asarray(band) for band in image.split()]), 8, alpha
    # Kept as uint8 here: _chw converts to float32 while it transposes, one pass, not two.
    array = np.asarray(image)
    if array.ndim == 2:
        array = array[..., None]
    return array, 8, alpha


def _chw(array: np.ndarray) -> np.ndarray:
    """``(H, W, C)`` samples as a contiguous float32 ``(C, H, W)`` array, in one pass.

    >>> _chw(np.arange(6, dtype=np.uint8).reshape(1, 2, 3)).tolist()
    [[[0.0, 3.0]], [[1.0, 4.0]], [[2.0, 5.0]]]
    """
    out = np.empty((array.shape[2], *array.shape[:2]), dtype=np.float32)
    np.copyto(out, array.transpose(2, 0, 1), casting="unsafe")
    return out


@contextlib.contextmanager
def _quiet():
    """No library warnings: Pillow warns about corrupt EXIF, skipped tags and large sizes on
    stderr; what matters becomes our error, the rest would be noise in a batch's output."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def read_image(
    path: str | os.PathLike,
    *,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    min_size: int = 1,
    native: bool = False,
) -> tuple[np.ndarray, ImageInfo]:
    """Decode one image file to a float32 ``(C, H, W)`` array in ``0..255`` grey levels.

    Raises :class:`ImageFileError` (naming the file and the reason) for a missing, empty,
    truncated or unreadable file, a format other than PNG/JPEG/WebP/TIFF, more than
    ``max_pixels`` pixels (``None``: no limit of ours; Pillow's ``Image.MAX_IMAGE_PIXELS``
    still applies, and a larger ``max_pixels`` raises it to match), or a side shorter than
    ``min_size`` (the score needs two periods of the largest period per axis).
    Multi-frame files (TIFF pages, animated WebP) are read at their first frame.
    ``native``: 8-bit samples stay ``uint8``, a contiguous ``(C, H, W)`` array (one Pillow
    band per channel; no conversion pass: a batch of them is converted once, when it is
    scored, ``checkerfree.score.batch``); other depths are float32 as without it.

    >>> import tempfile, pathlib
    >>> empty = pathlib.Path(tempfile.mkdtemp()) / "empty.png"
    >>> _ = empty.write_bytes(b"")
    >>> read_image(empty)
    Traceback (most recent call last):
    ...
    checkerfree.io.ImageFileError: ...empty.png: empty file
    """
    Image = require("PIL.Image", "image")
    path = Path(path)
    if not path.exists():
        raise ImageFileError(path, "no such file")
    if path.is_dir():
        raise ImageFileError(path, "is a directory, expected an image file")
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):  # a FIFO would block or read as empty
            raise ImageFileError(path, "not a regular file")
        if info.st_size == 0:
            raise ImageFileError(path, "empty file")
    except OSError as exc:
        raise ImageFileError(path, f"cannot read: {exc.strerror or exc}") from None
    if max_pixels is not None and Image.MAX_IMAGE_PIXELS is not None:
        # Pillow refuses on its own at 2x its limit before we see the header; follow the
        # caller when they deliberately allow more (a process-wide setting of Pillow's).
        Image.MAX_IMAGE_PIXELS = max(Image.MAX_IMAGE_PIXELS, max_pixels)

    def check(width: int, height: int) -> None:
        if max_pixels is not None and width * height > max_pixels:
            raise ImageFileError(
                path,
                f"refused as a possible decompression bomb: {width}x{height} = "
                f"{width * height} pixels > limit {max_pixels} (raise it with --max-pixels)",
            )
        if min(width, height) < min_size:
            raise ImageFileError(
                path,
                f"too small: {width}x{height}, the periods asked need at least "
                f"{min_size} pixels per side",
            )

    planar = False  # (C, H, W) from _pixels rather than (H, W, C)
    try:
        with _quiet(), Image.open(path, formats=_FORMATS) as image:
            width, height = image.size
            check(width, height)
            fmt, mode = image.format or "?", image.mode
            header = png_header(path) if fmt == "PNG" else None
            if header is not None and header[0] == 16 and header[1] in (2, 4, 6):
                # 16-bit colour: Pillow would keep the high byte only.
                array, depth, alpha, mode = read_png16(path)
            elif fmt == "TIFF" and tiff_needs_depth(image):
                # Pillow narrows 16-bit colour and reads signed / 32-bit integers as "I".
                array, depth, alpha, mode = read_tiff(path, check)
            else:
                image.load()
                array, depth, alpha = _pixels(image, path, planar=native)
                planar = native and array.dtype == np.uint8
                if header is not None and header[1] == 0 and header[0] < 8:
                    depth = header[0]  # 1, 2 or 4-bit grey, which Pillow spreads over 0..255
    except ImageFileError:
        raise
    except DecodeError as exc:
        raise ImageFileError(path, f"cannot decode ({exc})") from None
    except Image.DecompressionBombError as exc:
        raise ImageFileError(path, f"refused as a possible decompression bomb: {exc}") from None
    except Image.UnidentifiedImageError:
        if is_tiff(path):  # a TIFF layout Pillow does not know (grey + alpha at 16 bits, ...)
            try:
                array, depth, alpha, mode = read_tiff(path, check)
            except DecodeError as exc:
                raise ImageFileError(path, f"cannot decode ({exc})") from None
            chw = _chw(array)
            info = ImageInfo("TIFF", mode, depth, chw.shape[1:], chw.shape[0], alpha)
            return chw, info
        raise ImageFileError(
            path, "not a PNG, JPEG, WebP or TIFF image (unrecognised or unsupported format)"
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        # Pillow reports truncated or corrupt data as OSError / SyntaxError / ValueError.
        reason = str(exc) or type(exc).__name__
        raise ImageFileError(path, f"cannot decode ({reason})") from None
    except MemoryError:
        raise ImageFileError(path, "not enough memory to decode") from None
    if native and array.dtype == np.uint8:
        # Planar already (_pixels), or an (H, W, C) array of another reader: a view of it.
        chw = array if planar else array.transpose(2, 0, 1)
    else:
        chw = _chw(array)
    info = ImageInfo(fmt, mode, depth, (height, width), chw.shape[0], alpha)
    return chw, info


def find_images(
    paths: Iterable[str | os.PathLike], extensions: Iterable[str] = IMAGE_EXTENSIONS
) -> list[str]:
    """Expand files and folders into the list of inputs, in order.

    A file (or a path that does not exist) is kept as given, whatever its extension, so that
    it gets its own row and error; a folder is walked recursively, sorted, picking the files
    whose name ends in one of ``extensions`` (case-insensitive). Hidden files and folders
    (names starting with ``.``: editor and macOS ``._`` copies, half-written temporaries)
    are skipped; symbolic links to folders are not followed (no loops). The paths of
    :func:`walk_inputs`, without their errors.

    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for name in ("b/x.PNG", "a.jpg", "notes.txt", ".hidden.png"):
    ...     (root / name).parent.mkdir(exist_ok=True); _ = (root / name).write_bytes(b"")
    >>> [pathlib.Path(p).relative_to(root).as_posix() for p in find_images([root])]
    ['a.jpg', 'b/x.PNG']
    """
    return [path for path, _ in walk_inputs(paths, extensions)]


def walk_inputs(
    paths: Iterable[str | os.PathLike], extensions: Iterable[str] = IMAGE_EXTENSIONS
) -> list[tuple[str, str | None]]:
    """Like :func:`find_images`, each path with the error met while walking to it, or None.

    Walking never stops at one bad entry: a folder that cannot be listed is an entry with
    error ``cannot list folder: ...``; an image-named symbolic link that is dangling or part
    of a loop, or an image-named entry that is not a regular file (a FIFO), is an entry with
    that error; the walk goes on.

    >>> import tempfile, pathlib, os
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> os.symlink("gone.png", root / "dangling.png"); os.symlink("loop.png", root / "loop.png")
    >>> [(pathlib.Path(p).name, e) for p, e in walk_inputs([root])]
    [('dangling.png', 'broken symbolic link (its target does not exist)'),
     ('loop.png', 'symbolic link loop')]
    """
    suffixes = tuple(e.lower() if e.startswith(".") else f".{e.lower()}" for e in extensions)
    found: list[tuple[str, str | None]] = []
    for item in paths:
        item = os.fspath(item)
        if os.path.isdir(item):
            found.extend(_walk(item, suffixes))
        else:
            found.append((item, _link_problem(item)))
    return found


def _link_problem(path: str) -> str | None:
    """Why a symbolic link cannot be followed (None: not a link, or a good one)."""
    if not os.path.islink(path):
        return None
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symbolic link loop"
        if exc.errno == errno.ENOENT:
            return "broken symbolic link (its target does not exist)"
        return f"cannot follow symbolic link: {exc.strerror or exc}"
    return None


def _walk(root: str, suffixes: tuple[str, ...]) -> Iterator[tuple[str, str | None]]:
    """Entries under ``root`` ending in ``suffixes``, depth-first in sorted order."""
    try:
        with os.scandir(root) as listing:
            entries = sorted(listing, key=lambda e: e.name)
    except OSError as exc:
        yield root, f"cannot list folder: {exc.strerror or exc}"
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        try:
            is_dir = entry.is_dir(follow_symlinks=False)
        except OSError:
            is_dir = False
        if is_dir:
            yield from _walk(entry.path, suffixes)
            continue
        if not entry.name.lower().endswith(suffixes):
            continue
        try:
            if entry.is_file():
                yield entry.path, None
                continue
            if entry.is_dir():  # a symbolic link to a folder: not followed
                continue
        except OSError:
            pass  # a loop: reported below
        yield entry.path, _link_problem(entry.path) or "not a regular file"
