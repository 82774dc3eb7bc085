"""Small reference architectures used by the demo, the tests and (later) the audit.

>>> g = dcgan_generator()
>>> g(torch.randn(2, 100, 1, 1)).shape
torch.Size([2, 3, 64, 64])
"""

from __future__ import annotations

import torch
import torch.nn as nn

__all__ = ["dcgan_generator"]


def dcgan_generator(latent: int = 100, width: int = 64, channels: int = 3,
                    kernel_size: int = 4, padding: int | None = None,
                    output_padding: int | None = None) -> nn.Sequential:
    """A DCGAN generator (Radford et al. 2016): latent (N, latent, 1, 1) to 64x64 images.

    Four stride-2 transposed convolutions after a 4x4 projection, batch norm and ReLU
    between them, tanh at the end. ``kernel_size=4`` (the paper's) overlaps evenly;
    ``kernel_size=3`` or ``5`` overlaps unevenly. Padding and output padding default to the
    values that keep the output exactly 64x64 for ``kernel_size`` 3, 4 or 5.
    """
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
        layers.append(nn.ConvTranspose2d(c, out, kernel_size, 2, padding,
                                         output_padding=output_padding, bias=last))
        layers += [nn.Tanh()] if last else [nn.BatchNorm2d(out), nn.ReLU(True)]
        c = out
    return nn.Sequential(*layers)
