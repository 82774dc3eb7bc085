"""Artifact-free resampling layers: resize-convolution, sub-pixel convolution, zero-order hold,
blurred downsampling.

Each upsampling class has ``from_conv_transpose(m)``, and the blurred downsampling has
``from_conv(m)`` and ``from_pool(m)``, returning a new module whose output shape equals ``m``'s
for every input size.

>>> from torch import nn
>>> m = nn.ConvTranspose2d(8, 4, 4, stride=2, padding=1)
>>> [type(c.from_conv_transpose(m)).__name__ for c in (ResizeConv2d, SubPixelConv2d,
...                                                      ZeroOrderHold2d)]
['ResizeConv2d', 'SubPixelConv2d', 'HeldConvTranspose2d']
"""

from checkerfree.layers.blur_pool import (
    BlurConv1d,
    BlurConv2d,
    BlurConv3d,
    BlurPool1d,
    BlurPool2d,
    BlurPool3d,
    blur_kernel,
    blur_pool,
)
from checkerfree.layers.hold import (
    HeldConvTranspose1d,
    HeldConvTranspose2d,
    HeldConvTranspose3d,
    ZeroOrderHold1d,
    ZeroOrderHold2d,
    ZeroOrderHold3d,
    zero_order_hold,
    zero_order_hold_kernel,
)
from checkerfree.layers.icnr import icnr_, icnr_bias_
from checkerfree.layers.pixel_shuffle import pixel_shuffle_nd, pixel_unshuffle_nd
from checkerfree.layers.resize_conv import (
    ResizeConv1d,
    ResizeConv2d,
    ResizeConv3d,
    nearest_resize_conv,
    tied_transposed_kernel,
)
from checkerfree.layers.subpixel import SubPixelConv1d, SubPixelConv2d, SubPixelConv3d

__all__ = [
    "BlurConv1d",
    "BlurConv2d",
    "BlurConv3d",
    "BlurPool1d",
    "BlurPool2d",
    "BlurPool3d",
    "blur_kernel",
    "blur_pool",
    "ResizeConv1d",
    "ResizeConv2d",
    "ResizeConv3d",
    "nearest_resize_conv",
    "tied_transposed_kernel",
    "SubPixelConv1d",
    "SubPixelConv2d",
    "SubPixelConv3d",
    "icnr_",
    "icnr_bias_",
    "pixel_shuffle_nd",
    "pixel_unshuffle_nd",
    "ZeroOrderHold1d",
    "ZeroOrderHold2d",
    "ZeroOrderHold3d",
    "zero_order_hold",
    "zero_order_hold_kernel",
    "HeldConvTranspose1d",
    "HeldConvTranspose2d",
    "HeldConvTranspose3d",
]
