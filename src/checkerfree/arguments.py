"""Checks of the measurement API's scalar arguments: threshold, window, eps, on/off flags.

Each check returns the value as the type the computation uses, or raises a typed error from
:mod:`checkerfree.errors` naming the argument, what it accepts and what arrived, so a bad
argument never surfaces as a builtin error from deep inside torch. Real numbers are Python
``int``/``float``, numpy scalars and one-element tensors; ``bool`` is not a number here.

>>> check_threshold(None, 0.55), check_threshold(2), check_threshold(float("inf"))
(0.55, 2.0, inf)
>>> check_window(0)
Traceback (most recent call last):
...
checkerfree.errors.InvalidArgumentError: window must be a finite number of samples > 0, got 0
"""

from __future__ import annotations

import math
import numbers

import torch

from checkerfree.errors import InvalidArgumentError, InvalidTypeError

__all__ = ["real_number", "check_threshold", "check_window", "check_eps", "check_flag"]


def real_number(value, name: str, accepts: str) -> float:
    """``value`` as a Python float, or :class:`~checkerfree.errors.InvalidTypeError`.

    >>> real_number(3, "window", "a number")
    3.0
    """
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not (
        value.is_complex() or value.dtype == torch.bool
    ):
        value = value.item()
    # numpy.bool_ is no numbers.Real; Python's bool is, and True is not a threshold.
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidTypeError(f"{name} must be {accepts}, got {value!r}")
    return float(value)


def check_threshold(threshold, default: float | None = None) -> float:
    """The flag threshold: ``None`` -> ``default``; else a number ``>= 0``, not NaN.

    ``inf`` is accepted and flags nothing (no value exceeds it); NaN would silently flag
    nothing too (every comparison is false), so it is refused.

    >>> check_threshold(float("nan"))
    Traceback (most recent call last):
    ...
    checkerfree.errors.InvalidArgumentError: threshold must be a number >= 0 (inf flags nothing), got nan
    """
    if threshold is None and default is not None:
        return float(default)
    accepts = "a number >= 0 (inf flags nothing)"
    value = real_number(threshold, "threshold", accepts)
    if math.isnan(value) or value < 0:
        raise InvalidArgumentError(f"threshold must be {accepts}, got {threshold!r}")
    return value


def check_window(window) -> float:
    """The heat map's Gaussian standard deviation in samples: a finite number ``> 0``.

    >>> check_window(8)
    8.0
    """
    accepts = "a finite number of samples > 0"
    value = real_number(window, "window", accepts)
    if not (math.isfinite(value) and value > 0):
        raise InvalidArgumentError(f"window must be {accepts}, got {window!r}")
    return value


def check_eps(eps) -> float:
    """The spectrum's floor added before the logarithm: a finite number ``> 0``.

    With ``eps = 0`` an empty bin would read ``-inf`` dB.

    >>> check_eps(1e-10)
    1e-10
    """
    accepts = "a finite number > 0 (added to the power before log10)"
    value = real_number(eps, "eps", accepts)
    if not (math.isfinite(value) and value > 0):
        raise InvalidArgumentError(f"eps must be {accepts}, got {eps!r}")
    return value


def check_flag(value, name: str) -> bool:
    """An on/off argument: ``True`` or ``False`` (numpy booleans too), nothing truthy.

    >>> check_flag("no", "hotspot")
    Traceback (most recent call last):
    ...
    checkerfree.errors.InvalidTypeError: hotspot must be True or False, got 'no'
    """
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return bool(value)
    raise InvalidTypeError(f"{name} must be True or False, got {value!r}")
