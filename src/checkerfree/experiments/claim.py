"""The record every experiment returns: a claim, the numbers measured, and the verdict.

``holds`` is computed from ``measured`` by the rule stated in ``rule`` (never set by hand),
so a claim that our measurement does not support is reported as not holding, with its
numbers.

>>> c = Claim("x", "A claim.", {"ratio": 2.0}, holds=2.0 == 2, rule="ratio is 2")
>>> c.to_dict()["holds"], Claim.from_dict(c.to_dict()) == c
(True, True)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

__all__ = ["Claim", "headline", "jsonable", "summary"]


@dataclass
class Claim:
    """One claim: ``id``, ``statement``, ``measured`` (JSON-able numbers), ``holds``, ``rule``,
    ``figures`` (paths relative to the report folder), the ``seconds`` it took, and
    ``headline``: the 1-6 numbers a reader sees first, each ``{"name", "value", "unit"}``
    (made by :func:`headline`, taken from ``measured``)."""

    id: str
    statement: str
    measured: dict
    holds: bool
    rule: str
    figures: list[str] = field(default_factory=list)
    seconds: float = 0.0
    seeds: list[int] = field(default_factory=list)
    headline: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.holds = bool(self.holds)
        self.measured = jsonable(self.measured)
        self.headline = jsonable(self.headline)

    def to_dict(self) -> dict:
        """A JSON-ready dict with the keys of ``report.json``."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Claim:
        """The inverse of :meth:`to_dict` (used when reading the cache)."""
        return cls(**data)


def headline(name: str, value, unit: str = "") -> dict:
    """One headline number: a human ``name``, its ``value`` and its ``unit`` ("" if none).

    >>> headline("period-8 score at init", 31.04, "grey levels")
    {'name': 'period-8 score at init', 'value': 31.04, 'unit': 'grey levels'}
    """
    return {"name": str(name), "value": jsonable(value), "unit": str(unit)}


def summary(values, digits: int = 4) -> dict:
    """Mean, standard deviation (n - 1), min, max and count of some numbers, rounded.

    >>> summary([1.0, 2.0, 3.0])
    {'mean': 2.0, 'std': 1.0, 'min': 1.0, 'max': 3.0, 'n': 3}
    """
    a = np.asarray(list(values), dtype=float).ravel()
    std = float(a.std(ddof=1)) if a.size > 1 else 0.0
    return {"mean": round(float(a.mean()), digits), "std": round(std, digits),
            "min": round(float(a.min()), digits), "max": round(float(a.max()), digits),
            "n": int(a.size)}


def jsonable(value, digits: int = 6):
    """Numbers, tensors and arrays turned into plain JSON values (floats rounded, NaN -> None).

    >>> import torch
    >>> jsonable({"a": torch.tensor([1.5]), 2: np.float32(0.25), "b": (1, True)})
    {'a': [1.5], '2': 0.25, 'b': [1, True]}
    """
    if isinstance(value, dict):
        return {str(k): jsonable(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v, digits) for v in value]
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist(), digits)
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return None if not math.isfinite(v) else round(v, digits)
    return value
