"""Small reference architectures, with and without checkerboard artifacts.

Used by the demo, the tests, the audit's built-in examples and the experiments. Every
factory takes ``upsample`` to choose how it upsamples, so the same network can be built
with and without the artifact's cause. :data:`EXAMPLES` maps the names the command line
accepts to a factory and an input shape.

>>> g = dcgan_generator(width=8)
>>> g(torch.randn(2, 100, 1, 1)).shape
torch.Size([2, 3, 64, 64])
>>> sorted(EXAMPLES)[:3]
['audio-decoder', 'audio-decoder-resize', 'classifier-pool']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn as nn

from checkerfree.errors import InvalidArgumentError

__all__ = ["dcgan_generator", "unet", "espcn", "decoder", "classifier", "EXAMPLES", "Example"]

_UPSAMPLE = ("deconv", "resize")


def _check(name: str, value, allowed) -> None:
    if value not in allowed:
        raise InvalidArgumentError(f"{name} must be one of {allowed}, got {value!r}")


def _up(dims: int, cin: int, cout: int, upsample: str, kernel_size: int = 3,
        bias: bool = True) -> nn.Module:
    """One x2 upsampling layer: a transposed convolution or a nearest resize-convolution."""
    from checkerfree.layers import ResizeConv1d, ResizeConv2d, ResizeConv3d

    if upsample == "deconv":
        ct = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)[dims - 1]
        # Output exactly twice the input: (n-1)*2 - 2p + k + op = 2n.
        p = (kernel_size - 1) // 2
        return ct(cin, cout, kernel_size, 2, p, output_padding=2 + 2 * p - kernel_size,
                  bias=bias)
    rc = (ResizeConv1d, ResizeConv2d, ResizeConv3d)[dims - 1]
    return rc(cin, cout, 3, padding=1, bias=bias, scale_factor=2)


def dcgan_generator(latent: int = 100, width: int = 64, channels: int = 3,
                    kernel_size: int = 4, padding: int | None = None,
                    output_padding: int | None = None, upsample: str = "deconv") -> nn.Sequential:
    """A DCGAN generator (Radford et al. 2016): latent (N, latent, 1, 1) to 64x64 images.

    A 4x4 projection, then four x2 upsampling layers with batch norm and ReLU between them,
    tanh at the end. With ``upsample="deconv"``, ``kernel_size=4`` (the paper's) overlaps
    evenly and 3 or 5 unevenly; padding and output padding default to the values that keep
    the output 64x64. ``upsample="resize"`` uses nearest resize-convolutions (3x3) instead.
    """
    _check("upsample", upsample, _UPSAMPLE)
    if padding is None:
        padding = (kernel_size - 1) // 2
    if output_padding is None:
        output_padding = 2 + 2 * padding - kernel_size
    layers: list[nn.Module] = [
        nn.ConvTranspose2d(latent, width * 8, 4, 1, 0, bias=False),
        nn.BatchNorm2d(width * 8),
        nn.ReLU(True),
    ]
    c = width * 8
    for i in range(4):
        last = i == 3
        out = channels if last else c // 2
        if upsample == "deconv":
            layers.append(nn.ConvTranspose2d(c, out, kernel_size, 2, padding,
                                             output_padding=output_padding, bias=last))
        else:
            layers.append(_up(2, c, out, "resize", bias=last))
        layers += [nn.Tanh()] if last else [nn.BatchNorm2d(out), nn.ReLU(True)]
        c = out
    return nn.Sequential(*layers)


class _UNet(nn.Module):
    def __init__(self, dims: int, in_channels: int, out_channels: int, width: int, depth: int,
                 upsample: str):
        super().__init__()
        conv = (nn.Conv1d, nn.Conv2d, nn.Conv3d)[dims - 1]
        pool = (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)[dims - 1]

        def block(cin, cout):
            return nn.Sequential(conv(cin, cout, 3, padding=1), nn.ReLU(True),
                                 conv(cout, cout, 3, padding=1), nn.ReLU(True))

        chans = [width * 2**i for i in range(depth + 1)]
        self.inc = block(in_channels, chans[0])
        self.down = nn.ModuleList(nn.Sequential(pool(2), block(chans[i], chans[i + 1]))
                                  for i in range(depth))
        self.up = nn.ModuleList(_up(dims, chans[i + 1], chans[i], upsample)
                                for i in reversed(range(depth)))
        self.dec = nn.ModuleList(block(2 * chans[i], chans[i]) for i in reversed(range(depth)))
        self.out = conv(chans[0], out_channels, 1)

    def forward(self, x):
        skips = [self.inc(x)]
        for down in self.down:
            skips.append(down(skips[-1]))
        y = skips.pop()
        for up, dec in zip(self.up, self.dec):
            y = dec(torch.cat([up(y), skips.pop()], dim=1))
        return self.out(y)


def unet(dims: int = 2, in_channels: int = 1, out_channels: int = 1, width: int = 8,
         depth: int = 2, upsample: str = "deconv") -> nn.Module:
    """A small U-Net (Ronneberger et al. 2015): max-pool down, x2 up (k=3 s=2 or resize).

    Input sizes must be divisible by ``2**depth``.
    """
    _check("upsample", upsample, _UPSAMPLE)
    _check("dims", dims, (1, 2, 3))
    return _UNet(dims, in_channels, out_channels, width, depth, upsample)


def espcn(scale: int = 3, channels: int = 3, init: str = "default") -> nn.Sequential:
    """ESPCN super-resolution (Shi et al. 2016): 5x5 and 3x3 convs, then a pixel shuffle.

    ``init="icnr"`` initialises the last convolution with ICNR (Aitken et al. 2017), so the
    net starts as a nearest-neighbour resize of a convolution: artifact-free at init.
    """
    _check("init", init, ("default", "icnr"))
    last = nn.Conv2d(32, channels * scale**2, 3, padding=1)
    if init == "icnr":
        from checkerfree.layers import icnr_, icnr_bias_

        icnr_(last.weight, scale)
        icnr_bias_(last.bias, scale)  # equal bias over the phases of each channel
    return nn.Sequential(nn.Conv2d(channels, 64, 5, padding=2), nn.Tanh(),
                         nn.Conv2d(64, 32, 3, padding=1), nn.Tanh(), last,
                         nn.PixelShuffle(scale))


def decoder(dims: int = 1, latent_channels: int = 16, channels: int = 1, width: int = 16,
            layers: int = 3, upsample: str = "deconv") -> nn.Sequential:
    """A small decoder for 1D signals (audio) or 3D volumes: ``layers`` x2 upsamplings.

    Input (N, latent_channels, *spatial), output ``2**layers`` times larger per axis.
    """
    _check("upsample", upsample, _UPSAMPLE)
    _check("dims", dims, (1, 2, 3))
    conv = (nn.Conv1d, nn.Conv2d, nn.Conv3d)[dims - 1]
    mods: list[nn.Module] = []
    c = latent_channels
    for _ in range(layers):
        mods += [_up(dims, c, width, upsample), nn.ReLU(True)]
        c = width
    mods.append(conv(c, channels, 3, padding=1))
    return nn.Sequential(*mods)


def classifier(dims: int = 2, in_channels: int = 3, classes: int = 10, width: int = 16,
               downsample: str = "strided") -> nn.Sequential:
    """A small classifier whose downsampling is strided convolution (k=3 s=2) or pooling.

    With ``downsample="strided"`` its input gradients carry a checkerboard (the backward
    pass of a strided convolution is a transposed convolution); ``"pool"`` uses 3x3 stride-1
    convolutions followed by 2x2 average pooling.
    """
    _check("downsample", downsample, ("strided", "pool"))
    conv = (nn.Conv1d, nn.Conv2d, nn.Conv3d)[dims - 1]
    avg = (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)[dims - 1]
    gap = (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d)[dims - 1]
    mods: list[nn.Module] = []
    c = in_channels
    for i in range(3):
        out = width * 2**i
        if downsample == "strided":
            mods += [conv(c, out, 3, stride=2, padding=1), nn.ReLU(True)]
        else:
            mods += [conv(c, out, 3, padding=1), nn.ReLU(True), avg(2)]
        c = out
    mods += [gap(1), nn.Flatten(), nn.Linear(c, classes)]
    return nn.Sequential(*mods)


@dataclass(frozen=True)
class Example:
    """A built-in example model: how to build it, an input shape, and what it should show."""

    factory: Callable[[], nn.Module]
    input_shape: tuple[int, ...]
    artifacts: bool
    description: str


EXAMPLES: dict[str, Example] = {
    "dcgan": Example(lambda: dcgan_generator(width=16, kernel_size=3), (4, 100, 1, 1), True,
                     "DCGAN generator with k=3 s=2 deconvolutions (uneven overlap)"),
    "dcgan-k4": Example(lambda: dcgan_generator(width=16, kernel_size=4), (4, 100, 1, 1), True,
                        "DCGAN generator with k=4 s=2 deconvolutions (even overlap, "
                        "unbalanced weights)"),
    "dcgan-resize": Example(lambda: dcgan_generator(width=16, upsample="resize"),
                            (4, 100, 1, 1), False,
                            "DCGAN generator with nearest resize-convolutions"),
    "unet": Example(lambda: unet(), (2, 1, 64, 64), True,
                    "U-Net with k=3 s=2 transposed convolutions in the decoder"),
    "unet-resize": Example(lambda: unet(upsample="resize"), (2, 1, 64, 64), False,
                           "U-Net with nearest resize-convolutions in the decoder"),
    "espcn": Example(lambda: espcn(), (2, 3, 32, 32), True,
                     "ESPCN x3 super-resolution, pixel shuffle with default init"),
    "espcn-icnr": Example(lambda: espcn(init="icnr"), (2, 3, 32, 32), False,
                          "ESPCN x3 super-resolution, pixel shuffle with ICNR init"),
    "audio-decoder": Example(lambda: decoder(dims=1), (2, 16, 64), True,
                             "1D decoder with k=3 s=2 transposed convolutions"),
    "audio-decoder-resize": Example(lambda: decoder(dims=1, upsample="resize"), (2, 16, 64),
                                    False, "1D decoder with nearest resize-convolutions"),
    "volume-decoder": Example(lambda: decoder(dims=3, width=8), (1, 16, 4, 4, 4), True,
                              "3D decoder with k=3 s=2 transposed convolutions"),
    "volume-decoder-resize": Example(lambda: decoder(dims=3, width=8, upsample="resize"),
                                     (1, 16, 4, 4, 4), False,
                                     "3D decoder with nearest resize-convolutions"),
    "classifier-strided": Example(lambda: classifier(), (2, 3, 64, 64), True,
                                  "classifier downsampling with k=3 s=2 convolutions "
                                  "(gradient artifacts)"),
    "classifier-pool": Example(lambda: classifier(downsample="pool"), (2, 3, 64, 64), False,
                               "classifier downsampling with average pooling"),
}
