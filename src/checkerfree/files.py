"""Safe output files: written atomically, never overwriting without ``force``.

A file is first written beside its destination under a temporary name, then renamed
into place (``os.replace`` is atomic on one filesystem), so a crash never leaves half a file
and an existing file is only replaced when the caller said ``force=True``.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> write_atomic(d / "a.txt", b"hello")
PosixPath('...a.txt')
>>> write_atomic(d / "a.txt", b"again")
Traceback (most recent call last):
...
FileExistsError: ...a.txt exists; pass --force (force=True) to overwrite it
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

__all__ = ["write_atomic", "check_writable"]


def check_writable(path: str | os.PathLike, force: bool = False) -> Path:
    """Raise ``FileExistsError`` if ``path`` exists and ``force`` is false; return it as a Path."""
    path = Path(path)
    if path.exists() and not force:
        raise FileExistsError(f"{path} exists; pass --force (force=True) to overwrite it")
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory, expected a file path")
    return path


def write_atomic(
    path: str | os.PathLike,
    data: bytes | Callable[[BinaryIO], None],
    *,
    force: bool = False,
) -> Path:
    """Write ``data`` (bytes, or a function writing to a binary file) to ``path`` atomically."""
    path = check_writable(path, force)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            if callable(data):
                data(fh)
            else:
                fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
