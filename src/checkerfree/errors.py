"""Typed errors: every one says what was expected and what arrived.

Each error also subclasses the matching built-in (``ValueError``, ``TypeError``,
``ImportError``), so ``except ValueError`` keeps working for callers who do not know us.

>>> from checkerfree.errors import SpecError
>>> issubclass(SpecError, ValueError)
True
"""

from __future__ import annotations

__all__ = [
    "CheckerfreeError",
    "SpecError",
    "ShapeError",
    "InvalidArgumentError",
    "InvalidTypeError",
    "InputFileError",
    "MissingDependencyError",
    "NonFiniteError",
    "LimitError",
    "OutputError",
    "OutputExistsError",
]


class CheckerfreeError(Exception):
    """Base class of every error raised on purpose by checkerfree."""


class SpecError(CheckerfreeError, ValueError):
    """A layer specification (kernel, stride, padding, ...) that no convolution can have."""


class ShapeError(CheckerfreeError, ValueError):
    """A tensor whose shape is not the one expected."""


class InvalidArgumentError(CheckerfreeError, ValueError):
    """An argument with a value outside the ones accepted."""


class InvalidTypeError(CheckerfreeError, TypeError):
    """An argument of a type that is not accepted."""


class NonFiniteError(CheckerfreeError, ValueError):
    """NaN or infinite values (or a float overflow) where a measurement needs finite numbers.

    The message says how many values and where, so a NaN is never read as "no artifact".
    """


class InputFileError(InvalidArgumentError):
    """An input file (image, audio, array, volume) that cannot be scored; ``path`` and
    ``reason`` are kept apart for tables and JSON rows.

    >>> str(InputFileError("a.wav", "truncated"))
    'a.wav: truncated'
    """

    def __init__(self, path, reason: str):
        import os

        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class LimitError(InvalidArgumentError):
    """A size (kernel, stride, layer count, output size, probe shape) beyond a stated limit.

    Raised before any allocation; the message names the limit and the value that arrived.
    """


class OutputError(CheckerfreeError, ValueError):
    """A file a command would write that it must not: an input, a folder, or under a file."""


class OutputExistsError(OutputError, FileExistsError):
    """Files a command would write already exist and ``--force`` (``force=True``) was not given.

    Also a ``FileExistsError``, so callers catching that keep working.
    """


class MissingDependencyError(CheckerfreeError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""


def require(module: str, extra: str):
    """Import an optional dependency or raise :class:`MissingDependencyError` naming its extra.

    >>> require("math", "none").sqrt(4.0)
    2.0
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingDependencyError(
            f"{module} is needed here but is not installed; "
            f"install it with: pip install 'checkerfree[{extra}]'"
        ) from exc
