"""The x2 upsamplers compared by the experiments, by name.

- ``deconv-k3``: ConvTranspose k=3, s=2 (uneven overlap, the article's culprit);
- ``deconv-k4``: ConvTranspose k=4, s=2 (even overlap, unconstrained phases);
- ``subpixel``: 3x3 convolution to 4C channels + pixel shuffle, PyTorch's default init;
- ``subpixel-icnr``: the same, ICNR init (Aitken et al. 2017);
- ``resize-nearest`` / ``resize-bilinear``: upsample then 3x3 convolution (Odena et al.);
- ``deconv-k3-hold``: ConvTranspose k=3 s=2 followed by a zero-order hold (Sugawara et al.).

>>> make_upsampler("deconv-k3", 4, 2)(torch.zeros(1, 4, 5, 5)).shape
torch.Size([1, 2, 10, 10])
"""

from __future__ import annotations

import torch
from torch import nn

from checkerfree.errors import InvalidArgumentError

__all__ = ["UPSAMPLERS", "equivalent_transposed_weight", "make_upsampler"]

UPSAMPLERS = ("deconv-k3", "deconv-k4", "subpixel", "subpixel-icnr", "resize-nearest",
              "resize-bilinear", "deconv-k3-hold")


def make_upsampler(kind: str, cin: int, cout: int, bias: bool = True) -> nn.Module:
    """A x2 upsampling layer ``(N, cin, H, W) -> (N, cout, 2H, 2W)`` of the named kind."""
    from checkerfree.layers import HeldConvTranspose2d, ResizeConv2d, SubPixelConv2d

    if kind == "deconv-k3":
        return nn.ConvTranspose2d(cin, cout, 3, 2, 1, output_padding=1, bias=bias)
    if kind == "deconv-k4":
        return nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=bias)
    if kind == "deconv-k3-hold":
        return HeldConvTranspose2d(cin, cout, 3, 2, 1, output_padding=1, bias=bias)
    if kind in ("subpixel", "subpixel-icnr"):
        init = "icnr" if kind == "subpixel-icnr" else "default"
        return SubPixelConv2d(cin, cout, 3, padding=1, bias=bias, scale_factor=2, init=init)
    if kind in ("resize-nearest", "resize-bilinear"):
        mode = kind.split("-")[1]
        return ResizeConv2d(cin, cout, 3, padding=1, bias=bias, scale_factor=2, mode=mode)
    raise InvalidArgumentError(f"upsampler must be one of {UPSAMPLERS}, got {kind!r}")


def equivalent_transposed_weight(module: nn.Module) -> torch.Tensor | None:
    """The stride-2 ConvTranspose weight of an upsampler whose phases are free, else None.

    Resize-convolutions tie their phases by construction (always balanced) and the hold
    rebalances them, so only plain transposed and sub-pixel convolutions are returned.
    """
    if type(module) is nn.ConvTranspose2d:
        return module.weight
    if hasattr(module, "equivalent_transposed_weight"):
        return module.equivalent_transposed_weight()
    return None
