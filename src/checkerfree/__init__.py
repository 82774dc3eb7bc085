"""checkerfree: find, explain, measure and remove checkerboard artifacts.

>>> import checkerfree
>>> checkerfree.overlap([(3, 2)], dims=2).ratio
4.0
"""

from checkerfree.errors import (
    CheckerfreeError,
    InvalidArgumentError,
    InvalidTypeError,
    MissingDependencyError,
    ShapeError,
    SpecError,
)
from checkerfree.overlap import OverlapResult, overlap, phase_imbalance, phase_sums
from checkerfree.spec import TransposedConvSpec

__version__ = "0.1.0"

__all__ = [
    "CheckerfreeError",
    "InvalidArgumentError",
    "InvalidTypeError",
    "MissingDependencyError",
    "OverlapResult",
    "ShapeError",
    "SpecError",
    "TransposedConvSpec",
    "overlap",
    "phase_imbalance",
    "phase_sums",
]
