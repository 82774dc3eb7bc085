"""The one writer: every output is planned, checked before any work, and written atomically.

A command first lists every file it will write in an :class:`OutputSet` (a report folder's
``index.html``, ``report.json`` and every figure; weights; tables; heat maps) and calls
:meth:`OutputSet.check` before it starts working. The check refuses, naming the first few
files, when any of them exists (unless ``force``), is a folder, lies under a regular file, or
is one of the command's inputs (same resolved path or same inode: never written over, even
with ``force``).

Each file is then written by :func:`write_atomic`: into a hidden temporary file beside its
destination, then renamed into place (``os.replace`` is atomic on one file system), so a
crash never leaves half a file. The temporary file is created by ``mkstemp`` with mode 0600;
it is given the mode a plain ``open()`` would create, ``0o666 & ~umask``, before the rename.
It is removed on any exception, ``KeyboardInterrupt`` included; the command line turns
SIGTERM into one too (:mod:`checkerfree.interrupts`), so ``kill`` leaves no ``.tmp`` file.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> outputs = OutputSet().add(d / "a.txt").check()
>>> outputs.write(d / "a.txt", b"hello")
PosixPath('...a.txt')
>>> OutputSet().add(d / "a.txt").add(d / "b.txt").check()
Traceback (most recent call last):
...
checkerfree.errors.OutputExistsError: ...a.txt exists; pass --force (force=True) to overwrite it
>>> OutputSet(inputs=[d / "a.txt"], force=True).add(d / "a.txt").check()
Traceback (most recent call last):
...
checkerfree.errors.OutputError: ...a.txt is an input of this command; it is never written over
"""

from __future__ import annotations

import fnmatch
import os
import tempfile
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO

from checkerfree.errors import OutputError, OutputExistsError

__all__ = ["OutputSet", "write_atomic", "check_writable", "file_mode", "current_umask"]

# How many existing files a refusal names before it says "and N more".
_NAMED = 3

_umask_lock = threading.Lock()


def current_umask() -> int:
    """The process's umask, read without changing it where the system allows.

    Linux reports it in ``/proc/self/status``; elsewhere it can only be read by setting it
    (``os.umask``) and setting it back, done under a lock so that our own threads never see
    the temporary value.

    >>> 0 <= current_umask() <= 0o777
    True
    """
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _umask_lock:  # pragma: no cover - not on Linux
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode a new file gets from ``open()``: ``0o666 & ~umask`` (0o644 for umask 022).

    >>> file_mode() == 0o666 & ~current_umask()
    True
    """
    return 0o666 & ~current_umask()


def _exists(path: Path) -> bool:
    """True if ``path`` names anything, a dangling symbolic link included."""
    return os.path.lexists(path)


def check_writable(path: str | os.PathLike, force: bool = False) -> Path:
    """Check one output file (see :meth:`OutputSet.check`); return it as a Path.

    >>> import tempfile, pathlib
    >>> check_writable(pathlib.Path(tempfile.mkdtemp()) / "new.png").name
    'new.png'
    """
    OutputSet(force=force).add(path).check()
    return Path(path)


def write_atomic(
    path: str | os.PathLike,
    data: bytes | Callable[[BinaryIO], None],
    *,
    force: bool = False,
) -> Path:
    """Write ``data`` (bytes, or a function writing to a binary file) to ``path`` atomically.

    Refuses (:class:`~checkerfree.errors.OutputExistsError`) when ``path`` exists and
    ``force`` is false; the file gets :func:`file_mode`; nothing is left behind on failure.

    >>> import tempfile, pathlib, stat
    >>> p = write_atomic(pathlib.Path(tempfile.mkdtemp()) / "x" / "y.bin", b"1")
    >>> stat.S_IMODE(p.stat().st_mode) == file_mode(), p.read_bytes()
    (True, b'1')
    """
    path = check_writable(path, force)
    tmp = None
    try:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        except OSError as exc:  # name the user's file, not our hidden temporary one
            raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
        with os.fdopen(fd, "wb") as fh:
            # mkstemp's 0600 would survive the rename: give the mode open() would have.
            os.fchmod(fh.fileno(), file_mode())
            if callable(data):
                data(fh)
            else:
                fh.write(data)
        os.replace(tmp, path)
        tmp = None
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
    return path


def _identity(path: Path) -> tuple[str, tuple[int, int] | None]:
    """Resolved path and (device, inode) of an existing file, for "is it an input?"."""
    resolved = os.path.realpath(path)
    try:
        st = os.stat(path)
        return resolved, (st.st_dev, st.st_ino)
    except OSError:
        return resolved, None


def _refusal(existing: list[Path]) -> str:
    """``a exists[, as do b, c and 4 more]; pass --force ...``: the first few named."""
    first, others = existing[0], existing[1:]
    if not others:
        return f"{first} exists; pass --force (force=True) to overwrite it"
    named = [str(p) for p in others[: _NAMED - 1]]
    if len(others) > len(named):
        named.append(f"{len(others) - len(named)} more")
    listed = named[0] if len(named) == 1 else ", ".join(named[:-1]) + " and " + named[-1]
    return f"{first} exists, as do {listed}; pass --force (force=True) to overwrite them"


class OutputSet:
    """Every file one command will write: planned first, checked once, then written.

    ``inputs`` are the files the command reads (weights, model files, images): a planned
    file that is one of them is refused even with ``force``. ``owned`` files (passed to
    :meth:`add`) may be replaced without ``force``: a resumed run's own figures.
    """

    def __init__(self, *, force: bool = False, inputs: Iterable[str | os.PathLike] = ()):
        self.force = force
        self.inputs = [Path(p) for p in inputs if p is not None]
        self.planned: dict[Path, bool] = {}  # path -> owned
        self.folders: list[Path] = []
        self.families: list[tuple[Path, str]] = []
        self.written: set[Path] = set()

    def folder(self, path: str | os.PathLike) -> Path:
        """Plan a folder that will hold outputs (refused if a non-folder has its name)."""
        path = Path(path)
        self.folders.append(path)
        return path

    def add(self, path: str | os.PathLike, *, owned: bool = False) -> OutputSet:
        """Plan one file; returns ``self`` so calls chain."""
        path = Path(path)
        self.planned[path] = self.planned.get(path, False) or owned
        return self

    def add_family(self, folder: str | os.PathLike, pattern: str) -> OutputSet:
        """Plan every file of ``folder`` whose name matches ``pattern`` (``fnmatch``, e.g.
        ``overlap_*.png``): for outputs whose count is only known after the work."""
        self.families.append((Path(folder), pattern))
        return self

    def _family_files(self) -> list[Path]:
        found = []
        for folder, pattern in self.families:
            self._check_folder(folder)
            try:
                names = sorted(os.listdir(folder))
            except FileNotFoundError:
                continue
            found.extend(folder / n for n in names if fnmatch.fnmatchcase(n, pattern))
        return found

    def _in_family(self, path: Path) -> bool:
        return any(path.parent == folder and fnmatch.fnmatchcase(path.name, pattern)
                   for folder, pattern in self.families)

    def extend(self, paths: Iterable[str | os.PathLike]) -> OutputSet:
        """Plan several files."""
        for path in paths:
            self.add(path)
        return self

    def check(self) -> OutputSet:
        """Refuse before any work: raise :class:`~checkerfree.errors.OutputError` (an input,
        a folder, a path under a regular file) or :class:`~checkerfree.errors.OutputExistsError`
        (existing files, without ``force``, the first few named)."""
        for folder in self.folders:
            self._check_folder(folder)
        if not self.planned and not self.families:
            return self
        inputs = [_identity(p) for p in self.inputs]
        taken_paths = {resolved for resolved, _ in inputs}
        taken_nodes = {node for _, node in inputs if node is not None}
        existing = []
        for path in self._family_files():
            if path not in self.planned:
                self.planned[path] = False
        for path, owned in self.planned.items():
            self._check_folder(path.parent)
            resolved, node = _identity(path)
            if resolved in taken_paths or (node is not None and node in taken_nodes):
                raise OutputError(f"{path} is an input of this command; it is never written over")
            if os.path.isdir(path):
                raise OutputError(f"{path} is a folder, expected a file path")
            if not owned and _exists(path):
                existing.append(path)
        if existing and not self.force:
            raise OutputExistsError(_refusal(existing))
        return self

    @staticmethod
    def _check_folder(folder: Path) -> None:
        # The nearest existing ancestor must be a folder (not a file, nor a dangling link).
        for part in (folder, *folder.parents):
            if _exists(part):
                if not os.path.isdir(part):
                    raise OutputError(f"{part} exists and is not a folder")
                if not os.access(part, os.W_OK | os.X_OK):  # refused now, not after the work
                    raise OutputError(f"cannot write into {part}: permission denied")
                return

    def write(self, path: str | os.PathLike, data: bytes | Callable[[BinaryIO], None]) -> Path:
        """Write one file of the set; an unplanned one is checked on its own first."""
        path = Path(path)
        if path not in self.planned and self._in_family(path):
            self.planned[path] = False  # absent at the check (existing ones were planned)
        if path not in self.planned:
            # A name the plan missed is still never written over without force.
            OutputSet(force=self.force, inputs=self.inputs).add(path).check()
            self.planned[path] = False
        # A file this run already wrote may be written again; anything else that appeared
        # since the check (another process) is refused like any existing file.
        again = path in self.written
        written = write_atomic(path, data, force=self.force or self.planned[path] or again)
        if not again:
            self.written.add(path)
        return written

    def __iter__(self):
        return iter(self.planned)

    def __len__(self) -> int:
        return len(self.planned)

