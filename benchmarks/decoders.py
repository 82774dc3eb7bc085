"""Outputs of real random-init decoders, with and without transposed convolutions.

Each family is one architecture built twice from the same seed, differing only in how it
upsamples (random init, nothing downloaded):

- ``monai AutoEncoder``: :class:`monai.networks.nets.AutoEncoder` (2-D, channels 8/16/32,
  strides 2/2/2), whose decoder upsamples with ``ConvTranspose2d`` (positive), against the
  same model converted to resize-convolutions by ``checkerfree.convert(..., to="resize")``
  (negative);
- ``monai BasicUNet``: ``upsample="deconv"`` (``ConvTranspose2d``, positive) against
  ``upsample="nontrainable"`` (interpolation then convolutions, negative);
- ``diffusers AutoencoderKL``: a small :class:`diffusers.AutoencoderKL` (three blocks of
  16/32/32 channels, latent 4) whose decoder upsamples by nearest neighbour + convolution
  (its own design, negative), against the same weights with each ``Upsample2D`` replaced by
  diffusers' ``Upsample2D(use_conv_transpose=True)`` (``ConvTranspose2d(4, stride 2)``,
  positive).

The inputs are grey 64x64 crops of the scikit-image photographs in ``0..1`` (the
AutoencoderKL decodes its own encoder's latent mean of them); each output is
contrast-stretched to ``0..255`` as the audit shows a model's output
(:func:`checkerfree.audit.probes.display_scale`), then scored as an 8-bit picture would be.

>>> FAMILIES
('monai AutoEncoder', 'monai BasicUNet', 'diffusers AutoencoderKL')
"""

from __future__ import annotations

import numpy as np
import torch

from checkerfree.errors import InvalidArgumentError

__all__ = ["FAMILIES", "SIZE", "crops", "decoder_outputs"]

FAMILIES = ("monai AutoEncoder", "monai BasicUNet", "diffusers AutoencoderKL")
#: Side of the input crops and of the outputs.
SIZE = 64


def crops(image: np.ndarray, count: int, rng: np.random.Generator) -> list[np.ndarray]:
    """``count`` random ``SIZE x SIZE`` crops of a grey uint8 image, in ``0..1``."""
    h, w = image.shape
    out = []
    for _ in range(count):
        top, left = int(rng.integers(0, h - SIZE + 1)), int(rng.integers(0, w - SIZE + 1))
        out.append(image[top : top + SIZE, left : left + SIZE].astype(np.float32) / 255)
    return out


def _pair(family: str, seed: int):
    """(positive, negative) modules of one family, both from ``seed``, in eval mode."""
    import warnings

    from checkerfree import convert

    if family == "monai AutoEncoder":
        from monai.networks.nets import AutoEncoder

        torch.manual_seed(seed)
        pos = AutoEncoder(spatial_dims=2, in_channels=1, out_channels=1, channels=(8, 16, 32),
                          strides=(2, 2, 2))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            neg = convert(pos, to="resize")
    elif family == "monai BasicUNet":
        from monai.networks.nets import BasicUNet

        config = {"spatial_dims": 2, "in_channels": 1, "out_channels": 1,
                  "features": (8, 8, 16, 16, 32, 8)}
        torch.manual_seed(seed)
        pos = BasicUNet(upsample="deconv", **config)
        torch.manual_seed(seed)
        neg = BasicUNet(upsample="nontrainable", **config)
    elif family == "diffusers AutoencoderKL":
        import copy

        from diffusers import AutoencoderKL
        from diffusers.models.upsampling import Upsample2D

        torch.manual_seed(seed)
        neg = AutoencoderKL(in_channels=1, out_channels=1,
                            down_block_types=("DownEncoderBlock2D",) * 3,
                            up_block_types=("UpDecoderBlock2D",) * 3,
                            block_out_channels=(16, 32, 32), latent_channels=4,
                            norm_num_groups=8, layers_per_block=1)
        pos = copy.deepcopy(neg)
        for block in pos.decoder.up_blocks:
            if block.upsamplers is not None:
                block.upsamplers = torch.nn.ModuleList(
                    Upsample2D(u.channels, use_conv_transpose=True, out_channels=u.channels)
                    for u in block.upsamplers
                )
    else:
        raise InvalidArgumentError(f"family must be one of {FAMILIES}, got {family!r}")
    return pos.eval(), neg.eval()


def _forward(family: str, model, x: torch.Tensor) -> torch.Tensor:
    if family == "diffusers AutoencoderKL":
        return model.decode(model.encode(x).latent_dist.mean).sample
    return model(x)


def decoder_outputs(family: str, seed: int, inputs: list[np.ndarray]):
    """(positive outputs, negative outputs): lists of float64 ``SIZE x SIZE`` in ``0..255``."""
    from checkerfree.audit.probes import display_scale

    pos, neg = _pair(family, seed)
    x = torch.from_numpy(np.stack(inputs))[:, None]
    out = []
    with torch.no_grad():
        for model in (pos, neg):
            y = display_scale(_forward(family, model, x).float())
            out.append([item.mean(0).double().numpy() for item in y])
    return out[0], out[1]
