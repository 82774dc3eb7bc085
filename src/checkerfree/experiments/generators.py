"""A small DCGAN-like generator whose upsampling layers are chosen one by one.

Latent ``(N, latent)`` -> linear to ``(width, 4, 4)`` -> four x2 upsampling layers (channels
halving) with batch norm (optional) and ReLU between them -> 3 channels, tanh: 64x64 images
in ``[-1, 1]``. ``kinds`` names each layer's upsampler (see
:mod:`checkerfree.experiments.upsamplers`), first layer first, so "deconvolution only in the
last two layers" is ``["resize-nearest"] * 2 + ["deconv-k3"] * 2``.

>>> g = Generator(["resize-nearest"] * 3 + ["deconv-k3"])
>>> g(torch.randn(2, g.latent)).shape
torch.Size([2, 3, 64, 64])
"""

from __future__ import annotations

import torch
from torch import nn

from checkerfree.experiments.upsamplers import make_upsampler

__all__ = ["DESIGNS", "Generator", "to_grey_levels"]

#: Generator designs of the init-artifacts claim: name -> the four layers' upsamplers.
DESIGNS = {
    "resize everywhere": ["resize-nearest"] * 4,
    "deconv in last layer": ["resize-nearest"] * 3 + ["deconv-k3"],
    "deconv in last two layers": ["resize-nearest"] * 2 + ["deconv-k3"] * 2,
    "deconv everywhere": ["deconv-k3"] * 4,
}


class Generator(nn.Module):
    """The generator described in the module docstring."""

    def __init__(self, kinds, latent: int = 32, width: int = 64, norm: bool = True,
                 activation: str = "relu", channels: int = 3):
        super().__init__()
        self.latent, self.width = latent, width
        self.project = nn.Linear(latent, width * 16)
        layers: list[nn.Module] = [nn.BatchNorm2d(width) if norm else nn.Identity(), _act(activation)]
        c = width
        for i, kind in enumerate(kinds):
            last = i == len(kinds) - 1
            out = channels if last else max(c // 2, 8)
            layers.append(make_upsampler(kind, c, out))
            if not last:
                layers += [nn.BatchNorm2d(out) if norm else nn.Identity(), _act(activation)]
            c = out
        self.body = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.project(z).view(z.shape[0], self.width, 4, 4)
        return torch.tanh(self.body(x))


def _act(name: str) -> nn.Module:
    return {"relu": nn.ReLU(), "linear": nn.Identity(), "tanh": nn.Tanh()}[name]


def to_grey_levels(x: torch.Tensor) -> torch.Tensor:
    """``[-1, 1]`` images to ``0..255`` (the score's unit is then grey levels)."""
    return (x.clamp(-1, 1) + 1) * 127.5
