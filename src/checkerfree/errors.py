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
    "MissingDependencyError",
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
