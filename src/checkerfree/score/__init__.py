"""The calibrated checkerboard score: lattice spectra, the score, heat maps, batches.

One package for every measurement of an image (or any signal) the score makes; data flows
``layout`` → ``lattice`` → ``periods`` → ``checkerboard`` / ``heatmap`` → ``results`` / ``batch``.
The public names are re-exported here and at the top of :mod:`checkerfree`.

>>> import torch
>>> from checkerfree.score import checkerboard_score
>>> i, j = torch.meshgrid(torch.arange(32), torch.arange(32), indexing="ij")
>>> round(checkerboard_score(100 + 2.0 * (-1.0) ** (i + j)).score.item(), 1)
4.0
"""

from checkerfree.score.checkerboard import (
    DEFAULT_THRESHOLD,
    MIN_SIGNIFICANCE,
    ScoreResult,
    checkerboard_loss,
    checkerboard_score,
)
from checkerfree.score.heatmap import checkerboard_heatmap
from checkerfree.score.periods import find_periods
from checkerfree.score.spectrum import average_spectrum

__all__ = [
    "DEFAULT_THRESHOLD",
    "MIN_SIGNIFICANCE",
    "CheckerboardScore",
    "ScoreResult",
    "average_spectrum",
    "checkerboard_heatmap",
    "checkerboard_loss",
    "checkerboard_score",
    "find_periods",
]


def __getattr__(name: str):
    # torchmetrics is an optional extra: import the metric only when it is asked for.
    if name == "CheckerboardScore":
        from checkerfree.score.metric import CheckerboardScore

        return CheckerboardScore
    raise AttributeError(f"module 'checkerfree.score' has no attribute {name!r}")
