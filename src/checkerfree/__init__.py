"""checkerfree: find, explain, measure and remove checkerboard artifacts.

>>> import checkerfree
>>> checkerfree.overlap([(3, 2)], dims=2).ratio
4.0
"""

from checkerfree.convert import convert, plan_conversion
from checkerfree.errors import (
    CheckerfreeError,
    InvalidArgumentError,
    InvalidTypeError,
    MissingDependencyError,
    ShapeError,
    SpecError,
)
from checkerfree.layers import (
    BlurConv1d,
    BlurConv2d,
    BlurConv3d,
    BlurPool1d,
    BlurPool2d,
    BlurPool3d,
    blur_pool,
    HeldConvTranspose1d,
    HeldConvTranspose2d,
    HeldConvTranspose3d,
    ResizeConv1d,
    ResizeConv2d,
    ResizeConv3d,
    SubPixelConv1d,
    SubPixelConv2d,
    SubPixelConv3d,
    ZeroOrderHold1d,
    ZeroOrderHold2d,
    ZeroOrderHold3d,
    icnr_,
    pixel_shuffle_nd,
    pixel_unshuffle_nd,
    zero_order_hold,
)
from checkerfree.score.heatmap import checkerboard_heatmap
from checkerfree.overlap import OverlapResult, overlap, phase_imbalance, phase_sums
from checkerfree.score.checkerboard import ScoreResult, checkerboard_loss, checkerboard_score
from checkerfree.score.spectrum import average_spectrum
from checkerfree.spec import TransposedConvSpec

__version__ = "0.1.0"

__all__ = [
    "BlurConv1d",
    "BlurConv2d",
    "BlurConv3d",
    "BlurPool1d",
    "BlurPool2d",
    "BlurPool3d",
    "CheckerboardScore",
    "CheckerfreeError",
    "HeldConvTranspose1d",
    "HeldConvTranspose2d",
    "HeldConvTranspose3d",
    "ResizeConv1d",
    "ResizeConv2d",
    "ResizeConv3d",
    "SubPixelConv1d",
    "SubPixelConv2d",
    "SubPixelConv3d",
    "ZeroOrderHold1d",
    "ZeroOrderHold2d",
    "ZeroOrderHold3d",
    "convert",
    "icnr_",
    "pixel_shuffle_nd",
    "pixel_unshuffle_nd",
    "plan_conversion",
    "zero_order_hold",
    "InvalidArgumentError",
    "InvalidTypeError",
    "MissingDependencyError",
    "OverlapResult",
    "ScoreResult",
    "ShapeError",
    "SpecError",
    "TransposedConvSpec",
    "average_spectrum",
    "blur_pool",
    "checkerboard_heatmap",
    "checkerboard_loss",
    "checkerboard_score",
    "overlap",
    "phase_imbalance",
    "phase_sums",
]


def __getattr__(name: str):
    # torchmetrics is an optional extra: import the metric only when it is asked for.
    if name == "CheckerboardScore":
        from checkerfree.score.metric import CheckerboardScore

        return CheckerboardScore
    raise AttributeError(f"module 'checkerfree' has no attribute {name!r}")
