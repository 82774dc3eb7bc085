"""Any input to score, read as ``(C, *S)`` float32 items: images, audio, arrays, volumes.

:func:`read_signals` looks at the first bytes (:func:`checkerfree.sniff.sniff`, never the
file name) and hands the file to its reader:

==========================  =========  ==================  ==============================
format                      kind       default layout      unit of the score
==========================  =========  ==================  ==============================
PNG, JPEG, WebP, TIFF       image      ``(C, H, W)``       grey levels (``0..255``)
WAV, FLAC, Ogg              audio      ``(C, L)``          full scale (``-1..1``)
``.npy``, ``.npz`` members  array      from the shape      the array's own units
NIfTI ``.nii``, ``.nii.gz``  array      ``(C, X, Y, Z)``    the volume's own units
==========================  =========  ==================  ==============================

``spatial_dims`` (the CLI's ``--spatial-dims``) says how many axes of an array are spatial;
images always have 2 and audio 1 (it does not apply to them, so one run can score a folder of
images, audio and feature maps). For ``.npy``/``.npz`` arrays the
*trailing* ``d`` axes are spatial: ``ndim == d`` is one single-channel item, ``d + 1`` one
item ``(C, *S)``, ``d + 2`` a batch ``(N, C, *S)`` with one row per item (``path[i]``).
Without ``spatial_dims`` an array's layout follows :mod:`checkerfree.score.layout` where the
shape says it: 1-D ``(L)`` a signal, 2-D ``(H, W)`` an image, 4-D ``(N, C, H, W)``, 5-D
``(N, C, D, H, W)``; a 3-D array (an image ``(C, H, W)``, a volume ``(D, H, W)`` or a feature
map ``(768, 32, 32)``?) and any other rank is refused, asking for ``--spatial-dims``. NIfTI
stores its spatial axes first: the leading ``d`` (default ``min(3, ndim)``) are spatial, the
axes after them (time, components) are channels.

>>> import tempfile, pathlib, numpy as np
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> np.save(folder / "batch.npy", np.zeros((2, 3, 16, 16), np.float32))
>>> [(s.name[-12:], s.values.shape, s.kind) for s in read_signals(folder / "batch.npy")]
[('batch.npy[0]', (3, 16, 16), 'array'), ('batch.npy[1]', (3, 16, 16), 'array')]
"""

from __future__ import annotations

import os
import stat
import tempfile
from dataclasses import dataclass

import numpy as np

from checkerfree.errors import InputFileError
from checkerfree import io as image_io
from checkerfree.io import DEFAULT_MAX_PIXELS, ImageFileError
from checkerfree.sniff import HEAD_BYTES, kind_of, sniff

__all__ = ["Signal", "read_signals", "read_signal_bytes", "SIGNAL_EXTENSIONS",
           "DEFAULT_SPATIAL_DIMS"]

#: File name endings picked up in folders: the images' and these.
SIGNAL_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".wav", ".flac",
                     ".ogg", ".npy", ".npz", ".nii", ".nii.gz")

#: Spatial axes per kind when ``spatial_dims`` is not given (arrays: from the shape).
DEFAULT_SPATIAL_DIMS = {"image": 2, "audio": 1, "nifti": 3}

_BY_RANK = {1: 1, 2: 2, 4: 2, 5: 3}

_UNRECOGNISED = ("not a PNG, JPEG, WebP or TIFF image, WAV, FLAC or Ogg audio, .npy/.npz "
                 "array or NIfTI volume (unrecognised or unsupported format)")


@dataclass
class Signal:
    """One item to score: ``values`` ``(C, *S)`` float32 (``uint8`` for 8-bit images read
    ``native``), or the ``error`` that stopped it.

    ``name`` is the row's path (``a.npz:key``, ``b.npy[3]`` for items of one file);
    ``kind`` ``image``/``audio``/``array``; ``format`` the sniffed format; ``mode`` Pillow's
    mode, libsndfile's subtype or the array's dtype; ``bit_depth`` bits per stored sample;
    ``sample_rate`` (Hz) and ``duration`` (s) for audio; ``spacing`` the voxel size of NIfTI.
    """

    name: str
    kind: str
    format: str
    values: np.ndarray | None = None
    spatial_dims: int | None = None
    mode: str | None = None
    bit_depth: int | None = None
    alpha_dropped: bool | None = None
    sample_rate: int | None = None
    duration: float | None = None
    spacing: tuple[float, ...] | None = None
    error: str | None = None

    @property
    def channels(self) -> int | None:
        return None if self.values is None else int(self.values.shape[0])


def _head(path: str | os.PathLike) -> bytes:
    """The first bytes of a regular, readable file; ``b""`` otherwise (its reader says why)."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return b""
        with open(path, "rb") as fh:
            return fh.read(HEAD_BYTES)
    except OSError:
        return b""


def read_signals(
    path: str | os.PathLike,
    *,
    spatial_dims: int | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    min_size: int = 1,
    shown: str | None = None,
    native: bool = False,
) -> list[Signal]:
    """The items of one file, in order; raises :class:`~checkerfree.errors.InputFileError`
    when the file cannot be read at all (an item that cannot be scored, an ``.npz`` member
    too small for the periods, carries its own ``error``).

    ``max_pixels`` bounds images (pixels, :func:`checkerfree.io.read_image`) and, times 4, the
    values of audio and arrays (all channels). ``min_size``: the shortest spatial side an item
    may have. ``shown``: the name rows and errors give (``-`` for standard input).
    ``native``: 8-bit images keep their ``uint8`` samples (``read_image(native=True)``).
    """

    shown = os.fspath(path) if shown is None else shown
    head = _head(path)
    fmt = sniff(head)
    kind = kind_of(fmt)
    max_values = None if max_pixels is None else 4 * max_pixels
    if kind is None or kind == "image":
        if kind is None and head:
            raise InputFileError(shown, _UNRECOGNISED)
        try:
            # Looked up at call time, so a test (or a caller) can stand in for the reader.
            pixels, info = image_io.read_image(path, max_pixels=max_pixels, min_size=min_size,
                                               native=native)
        except ImageFileError as exc:  # named after the shown path (a temporary file for -)
            raise InputFileError(shown, exc.reason) from None
        return [Signal(shown, "image", info.format, pixels, 2, info.mode, info.bit_depth,
                       info.alpha_dropped)]
    if kind == "audio":
        from checkerfree.audio_io import read_audio

        samples, info = read_audio(path, max_values=max_values, shown=shown)
        item = Signal(shown, "audio", info.format, samples, 1, info.subtype, info.bit_depth,
                      sample_rate=info.sample_rate, duration=info.duration)
        return [_sized(item, min_size)]
    from checkerfree.array_io import read_nifti, read_npy, read_npz

    if fmt == "NIFTI":
        data, spacing, dtype = read_nifti(path, max_values=max_values, shown=shown)
        item = _nifti_item(data, spacing, spatial_dims, shown)
        item.mode, item.bit_depth = dtype.name, dtype.itemsize * 8
        return [_sized(item, min_size)]
    if fmt == "NPY":
        members = [(shown, read_npy(path, max_values=max_values, shown=shown))]
    else:
        members = [(f"{shown}:{key}", array)
                   for key, array in read_npz(path, max_values=max_values, shown=shown)]
    items = []
    for name, array in members:
        try:
            if isinstance(array, InputFileError):
                raise array
            items.extend(_array_items(array, spatial_dims, name, fmt))
        except InputFileError as exc:
            items.append(Signal(name, "array", fmt, error=exc.reason))
    return [_sized(item, min_size) for item in items]


def read_signal_bytes(data: bytes, **kwargs) -> list[Signal]:
    """:func:`read_signals` of bytes (standard input): written to a temporary file, since
    the image and audio decoders read files; the rows are named ``-`` (or ``shown``).

    >>> import io, numpy as np
    >>> buffer = io.BytesIO(); np.save(buffer, np.zeros(64, np.float32))
    >>> [(s.name, s.values.shape) for s in read_signal_bytes(buffer.getvalue())]
    [('-', (1, 64))]
    """
    kwargs.setdefault("shown", "-")
    if not data:
        raise InputFileError(kwargs["shown"], "empty standard input")
    with tempfile.TemporaryDirectory(prefix="checkerfree-stdin-") as folder:
        path = os.path.join(folder, "stdin")
        with open(path, "wb") as fh:
            fh.write(data)
        return read_signals(path, **kwargs)


def _sized(item: Signal, min_size: int) -> Signal:
    """``item``, with an error when a spatial side is shorter than ``min_size``."""
    if item.error is None and min(item.values.shape[1:]) < min_size:
        item.error = (f"too small: spatial shape {tuple(item.values.shape[1:])}, the periods "
                      f"asked need at least {min_size} samples per axis")
        item.values = None
    return item


def _array_items(array: np.ndarray, spatial_dims: int | None, name: str,
                 fmt: str) -> list[Signal]:
    """Split an array into ``(C, *S)`` items by its trailing ``spatial_dims`` axes."""
    shape = tuple(array.shape)
    if spatial_dims is None:
        if array.ndim not in _BY_RANK:
            raise InputFileError(
                name, f"cannot tell which axes of an array of shape {shape} are spatial: "
                "pass --spatial-dims 1, 2 or 3 (how many trailing axes are spatial; a 3-D "
                "array is an image (C, H, W) with 2, a volume (D, H, W) with 3)")
        spatial_dims = _BY_RANK[array.ndim]
    extra = array.ndim - spatial_dims
    if extra < 0 or extra > 2:
        raise InputFileError(
            name, f"an array of shape {shape} with --spatial-dims {spatial_dims}: expected "
            f"{spatial_dims} to {spatial_dims + 2} axes ((N, C, *S), (C, *S) or (*S))")
    if array.dtype.kind == "f" and array.dtype.itemsize > 4 and array.size:
        # The score computes in float32: a finite value beyond its range would read as +inf
        # and the file be called non-finite.
        finite = np.abs(array[np.isfinite(array)])
        limit = float(np.finfo(np.float32).max)
        if finite.size and float(finite.max()) > limit:
            raise InputFileError(
                name, f"a {array.dtype.name} array with values up to {float(finite.max()):.3g}: "
                f"expected values within float32's range (|x| <= {limit:.3g}), which the "
                "score computes in; rescale the array")
    if extra < 2:
        items = [(name, array.reshape((1,) * (1 - extra) + shape))]
    else:
        items = [(f"{name}[{i}]", array[i]) for i in range(shape[0])]
    return [Signal(n, "array", fmt, np.ascontiguousarray(v, dtype=np.float32), spatial_dims,
                   array.dtype.name, array.dtype.itemsize * 8) for n, v in items]


def _nifti_item(data: np.ndarray, spacing: tuple[float, ...], spatial_dims: int | None,
                name: str) -> Signal:
    """A NIfTI image ``(x, y, z, ...)`` as one item ``(C, x, y, z)``: later axes are channels."""
    d = min(3, data.ndim) if spatial_dims is None else spatial_dims
    if d > data.ndim:
        raise InputFileError(name, f"a NIfTI image of shape {tuple(data.shape)} has fewer "
                             f"than --spatial-dims {d} axes")
    spatial = data.shape[:d]
    values = np.moveaxis(data.reshape(spatial + (-1,)), -1, 0)
    return Signal(name, "array", "NIFTI", np.ascontiguousarray(values), d,
                  spacing=spacing[:d])
