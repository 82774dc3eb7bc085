"""Strict JSON out: never ``NaN`` or ``Infinity``, always valid UTF-8 text.

Python's ``json`` writes ``NaN``, ``Infinity`` and ``-Infinity``, which are not JSON (RFC 8259)
and which most parsers refuse. Every JSON document checkerfree writes goes through
:func:`dumps`: a non-finite float becomes ``null`` (for instance the threshold of
``--threshold inf``), and a string holding an undecodable file-name byte (Python's
surrogate escape, ``\\udcff``) gets that byte as the four characters ``\\xff``
(``backslashreplace``); rows keep the exact name in ``path_bytes``
(:func:`checkerfree.score.results.portable_row`).

>>> dumps({"threshold": float("inf"), "score": float("nan"), "ok": [1.5, None]})
'{"threshold": null, "score": null, "ok": [1.5, null]}'
>>> dumps({"path": "caf\\udce9.png"})
'{"path": "caf\\\\\\\\xe9.png"}'
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping

__all__ = ["dumps", "strict", "text"]


def text(value: str) -> str:
    """``value`` with surrogate-escaped bytes written as ``\\xNN`` (valid UTF-8 text).

    >>> text("a\\udcffb")
    'a\\\\xffb'
    """
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def strict(value):
    """A copy of ``value`` with non-finite floats as ``None`` and strings made UTF-8 safe.

    >>> strict({"a": (float("-inf"), 2)})
    {'a': [None, 2]}
    """
    if isinstance(value, bool) or value is None or isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return text(value)
    if isinstance(value, Mapping):
        return {text(str(k)): strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict(v) for v in value]
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:  # numpy / torch scalars
        return strict(value.item())
    return value


def dumps(value, **kwargs) -> str:
    """``json.dumps`` of :func:`strict` ``(value)`` with ``allow_nan=False``."""
    return json.dumps(strict(value), allow_nan=False, **kwargs)
