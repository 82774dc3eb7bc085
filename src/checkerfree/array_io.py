"""Array files in: ``.npy``, ``.npz`` (every array) and NIfTI volumes (``nibabel``, extra ``medical``).

Nothing is ever unpickled: ``.npy`` data is read with ``allow_pickle=False`` and an object
array is refused; so are complex, boolean, string and structured arrays, 0-d arrays and
arrays with no values. Sizes are read from the header and checked against ``max_values``
before any data is (a small compressed ``.npz`` member or ``.nii.gz`` can expand to
gigabytes). Values keep their own units and dtype (the caller converts: the score works in
float32).

A NIfTI image is stored with its spatial axes first (``x, y, z``, then time and vector
components); :func:`read_nifti` returns it as stored, with the scaling of its header applied
(``scl_slope``, ``scl_inter``) and its voxel size.

>>> import tempfile, pathlib, numpy as np
>>> path = pathlib.Path(tempfile.mkdtemp()) / "a.npz"
>>> np.savez(path, x=np.zeros((4, 4), np.int16), y=np.ones(8))
>>> [(key, a.shape, a.dtype.name) for key, a in read_npz(path)]
[('x', (4, 4), 'int16'), ('y', (8,), 'float64')]

A member that cannot be scored is its own :class:`~checkerfree.errors.InputFileError` in the
list, named ``path:key``; the others are read.
"""

from __future__ import annotations

import ast
import math
import os
import zipfile
import zlib
from typing import BinaryIO

import numpy as np

from checkerfree.errors import InputFileError, require

__all__ = ["check_dtype", "read_npy", "read_npz", "read_nifti"]


def check_dtype(dtype: np.dtype, shape: tuple[int, ...], name: str,
                max_values: int | None) -> None:
    """Refuse what the score cannot measure: raise :class:`InputFileError` naming it.

    >>> check_dtype(np.dtype(complex), (4,), "a.npy", None)
    Traceback (most recent call last):
    ...
    checkerfree.errors.InputFileError: a.npy: complex dtype complex128: expected real numbers (integers or floats); score the real and imaginary parts (or the magnitude) as arrays of their own
    """
    if dtype.hasobject:
        raise InputFileError(name, f"object dtype {dtype}: refused (it would need unpickling); "
                             "save numbers only")
    if dtype.kind == "c":
        raise InputFileError(name, f"complex dtype {dtype}: expected real numbers (integers "
                             "or floats); score the real and imaginary parts (or the "
                             "magnitude) as arrays of their own")
    if dtype.kind not in "iuf":
        raise InputFileError(name, f"dtype {dtype} ({_KINDS.get(dtype.kind, dtype.kind)}): "
                             "expected real numbers (integers or floats)")
    if len(shape) == 0:
        raise InputFileError(name, "a 0-d array (a single number): expected at least one "
                             "axis of samples")
    if math.prod(shape) == 0:
        raise InputFileError(name, f"an empty array of shape {tuple(shape)}")
    if max_values is not None and math.prod(shape) > max_values:
        raise InputFileError(name, f"refused: shape {tuple(shape)} has {math.prod(shape)} "
                             f"values > limit {max_values} (raise it with --max-pixels)")


_KINDS = {"b": "boolean", "S": "bytes", "U": "text", "V": "structured or raw", "M": "datetime",
          "m": "timedelta"}


def _header(fh: BinaryIO) -> tuple[tuple[int, ...], bool, np.dtype]:
    """``(shape, fortran_order, dtype)`` of an ``.npy`` header, versions 1 to 3.

    Format (numpy NEP 1): ``\\x93NUMPY``, major and minor version bytes, the header length
    (``<u2`` in 1.0, ``<u4`` in 2.0 and 3.0), then a Python dict literal (latin-1; UTF-8 in
    3.0), read with :func:`ast.literal_eval`, which evaluates literals only.
    """
    magic = fh.read(8)
    if len(magic) < 8 or magic[:6] != b"\x93NUMPY":
        raise ValueError("no .npy magic")
    major = magic[6]
    if major not in (1, 2, 3):
        raise ValueError(f"unknown .npy version {major}.{magic[7]}")
    size_bytes = fh.read(2 if major == 1 else 4)
    length = int.from_bytes(size_bytes, "little")
    raw = fh.read(length)
    if len(size_bytes) < (2 if major == 1 else 4) or len(raw) < length:
        raise ValueError("truncated header")
    header = ast.literal_eval(raw.decode("utf-8" if major == 3 else "latin-1"))
    if not isinstance(header, dict) or set(header) != {"descr", "fortran_order", "shape"}:
        raise ValueError(f"expected the keys descr, fortran_order, shape, got {header!r}")
    shape = header["shape"]
    if not isinstance(shape, tuple) or not all(
            isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape):
        raise ValueError(f"bad shape {shape!r}")
    return shape, bool(header["fortran_order"]), np.lib.format.descr_to_dtype(header["descr"])


def _read_npy(fh: BinaryIO, name: str, max_values: int | None) -> np.ndarray:
    """One ``.npy`` stream: header checked, then the data read without pickle."""
    try:
        shape, fortran, dtype = _header(fh)
    except (ValueError, OSError, EOFError, SyntaxError, TypeError, KeyError,
            MemoryError, RecursionError) as exc:
        raise InputFileError(name, f"not a valid .npy header ({exc})") from None
    check_dtype(dtype, shape, name, max_values)
    count = math.prod(shape)
    data = fh.read(count * dtype.itemsize)
    if len(data) < count * dtype.itemsize:
        raise InputFileError(name, f"truncated .npy: shape {tuple(shape)} of {dtype} needs "
                             f"{count * dtype.itemsize} bytes of data, the file holds "
                             f"{len(data)}")
    array = np.frombuffer(bytearray(data), dtype=dtype, count=count)  # writable, for torch
    array = array.reshape(shape[::-1]).T if fortran else array.reshape(shape)
    return array


def read_npy(path: str | os.PathLike, *, max_values: int | None = None,
             shown: str | None = None) -> np.ndarray:
    """The array of a ``.npy`` file, its own dtype and units (no pickle, ever).

    >>> import tempfile, pathlib, numpy as np
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "o.npy"
    >>> np.save(path, np.array([1, "a"], dtype=object))
    >>> read_npy(path)
    Traceback (most recent call last):
    ...
    checkerfree.errors.InputFileError: ...o.npy: object dtype object: refused (it would need unpickling); save numbers only
    """
    shown = os.fspath(path) if shown is None else shown
    with open(path, "rb") as fh:
        return _read_npy(fh, shown, max_values)


def read_npz(path: str | os.PathLike, *, max_values: int | None = None,
             shown: str | None = None) -> list[tuple[str, np.ndarray | InputFileError]]:
    """Every array of an ``.npz`` archive, ``(key, array)`` in archive order.

    A bad member (object dtype, complex, truncated) is ``(key, InputFileError)`` naming it
    ``path:key``; a file that is no zip archive, or one with no members, raises.
    ``max_values`` bounds every member and their total.
    """
    shown = os.fspath(path) if shown is None else shown
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise InputFileError(shown, f"not a valid .npz (zip) archive ({exc})") from None
    arrays = []
    total = 0
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        if not members:
            raise InputFileError(shown, "an .npz archive with no arrays")
        for member in members:
            key = member.filename[:-4] if member.filename.endswith(".npy") else member.filename
            name = f"{shown}:{key}"
            left = None if max_values is None else max_values - total
            try:
                with archive.open(member) as fh:
                    array = _read_npy(fh, name, left)
            except InputFileError as exc:
                arrays.append((key, exc))
                continue
            except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError,
                    zlib.error) as exc:
                arrays.append((key, InputFileError(name, f"cannot read archive member "
                                                   f"({exc})")))
                continue
            total += array.size
            arrays.append((key, array))
    return arrays


def read_nifti(path: str | os.PathLike, *, max_values: int | None = None,
               shown: str | None = None) -> tuple[np.ndarray, tuple[float, ...], np.dtype]:
    """A NIfTI-1/2 image (``.nii``, ``.nii.gz``) as stored (spatial axes first), float32 in
    the units of its header's scaling, its voxel size (``pixdim`` of the spatial axes) and
    the dtype stored in the file.

    Read from its bytes (``Nifti1Image.from_bytes``), not its name, so a renamed file or
    standard input works; a gzip stream is decompressed to at most the size ``max_values``
    float64 values and a header could need, so a small file cannot expand without bound.
    """
    nibabel = require("nibabel", "medical")
    shown = os.fspath(path) if shown is None else shown
    with open(path, "rb") as fh:
        raw = fh.read()
    if raw[:2] == b"\x1f\x8b":
        limit = None if max_values is None else 8 * max_values + (1 << 16)
        raw = _gunzip(raw, limit, shown)
    kind = nibabel.Nifti2Image if raw[4:8] == b"n+2\0" else nibabel.Nifti1Image
    try:
        image = kind.from_bytes(raw)
        shape = tuple(int(n) for n in image.header.get_data_shape())
        dtype = np.dtype(image.header.get_data_dtype())
    except Exception as exc:  # noqa: BLE001 - nibabel raises many types for a bad header
        raise InputFileError(shown, f"not a valid NIfTI image ({_one_line(exc)})") from None
    # The stored dtype decides (RGB NIfTI is structured, complex is refused); scaled integer
    # data becomes float.
    check_dtype(dtype, shape, shown, max_values)
    try:
        data = np.asarray(image.dataobj, dtype=np.float32)
    except MemoryError:
        raise InputFileError(shown, "not enough memory to decode") from None
    except Exception as exc:  # noqa: BLE001 - truncated or corrupt data
        raise InputFileError(shown, f"cannot read NIfTI data ({_one_line(exc)})") from None
    zooms = tuple(float(z) for z in image.header.get_zooms()[: min(3, len(shape))])
    return np.ascontiguousarray(data), zooms, dtype


def _gunzip(data: bytes, limit: int | None, shown: str) -> bytes:
    """Decompress a gzip stream, refusing one that ends early or expands past ``limit``."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, 0 if limit is None else limit + 1)
    except zlib.error as exc:
        raise InputFileError(shown, f"cannot decompress (gzip: {exc})") from None
    if limit is not None and len(out) > limit:
        raise InputFileError(shown, f"refused: the gzip stream expands past {limit} bytes "
                             "(raise the limit with --max-pixels)")
    if not inflater.eof:
        raise InputFileError(shown, "truncated gzip stream (it ends before its end marker)")
    return out


def _one_line(exc: Exception) -> str:
    """A library's message as one line (rows and tables are one line per input)."""
    return f"{type(exc).__name__}: " + " ".join(str(exc).split())
