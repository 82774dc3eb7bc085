"""audit() on real MONAI and diffusers models (random init, small, nothing downloaded).

Each row gives the expected verdict of the probe that theory predicts and the culprits'
names. Theory per row: a transposed convolution whose kernel does not divide its stride
overlaps unevenly, and one that does still has random per-phase kernel sums (phase
imbalance) at random init, so both paint a pattern (Odena et al.; Sugawara et al.); ICNR
sub-pixel weights with a random per-phase bias paint the bias's pattern on a constant input,
and MONAI's pad-pool (a 2x2 box) after it equalises the phases; a nearest resize followed by
a convolution has equal phase sums, but the phases' variances differ and the nonlinearity
after it makes a pattern of them at random init; a strided convolution or a pixel unshuffle
imprints its backward pass (a transposed convolution, a pixel shuffle) on the input gradient.
Culprits are also checked against the blame's own rule: each named site's share is at least
MIN_SHARE, every other site's below it.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from checkerfree.audit import audit
from checkerfree.audit.attribution import MIN_SHARE

pytest.importorskip("monai")
pytest.importorskip("diffusers")


def _monai(name, **kw):
    from monai.networks import nets

    return getattr(nets, name)(**kw)


def _subpixel(pad_pool):
    from monai.networks.blocks import SubpixelUpsample

    return SubpixelUpsample(2, 8, 8, apply_pad_pool=pad_pool)


def _diffusers_vae():
    from diffusers import AutoencoderKL

    return AutoencoderKL(block_out_channels=(8, 16), down_block_types=("DownEncoderBlock2D",) * 2,
                         up_block_types=("UpDecoderBlock2D",) * 2, norm_num_groups=4,
                         latent_channels=2)


def _upsample2d():
    from diffusers.models.upsampling import Upsample2D

    return Upsample2D(8, use_conv_transpose=True, out_channels=8)


_BUNET = dict(spatial_dims=2, in_channels=1, out_channels=1, features=(8, 8, 16, 16, 32, 8))

# name: (factory, input shape, probe, expected verdict of that probe, expected up culprits
# (forward) or down culprits (gradient); None: not checked, "suffix:..." names ending so)
CASES = {
    "monai-autoencoder": (lambda: _monai("AutoEncoder", spatial_dims=2, in_channels=1,
                                         out_channels=1, channels=(8, 16), strides=(2, 2)),
                          (2, 1, 32, 32), "forward", "artifacts", "suffix:.conv"),
    "monai-unet": (lambda: _monai("UNet", spatial_dims=2, in_channels=1, out_channels=1,
                                  channels=(8, 16, 32), strides=(2, 2)),
                   (2, 1, 32, 32), "forward", "artifacts", "suffix:.conv"),
    "monai-basicunet-deconv": (lambda: _monai("BasicUNet", upsample="deconv", **_BUNET),
                               (2, 1, 64, 64), "forward", "artifacts",
                               "suffix:upsample.deconv"),
    "monai-basicunet-pixelshuffle": (lambda: _monai("BasicUNet", upsample="pixelshuffle",
                                                    **_BUNET),
                                     (2, 1, 64, 64), "forward", "clean", []),
    "monai-basicunet-nontrainable": (lambda: _monai("BasicUNet", upsample="nontrainable",
                                                    **_BUNET),
                                     (2, 1, 64, 64), "forward", "clean", []),
    "monai-segresnet-3d-deconv": (lambda: _monai("SegResNet", spatial_dims=3, init_filters=8,
                                                 in_channels=1, out_channels=1,
                                                 blocks_down=(1, 2), blocks_up=(1,),
                                                 upsample_mode="deconv"),
                                  (1, 1, 32, 32, 32), "forward", "artifacts",
                                  ["up_samples.0.1.deconv"]),
    "monai-unetr": (lambda: _monai("UNETR", in_channels=1, out_channels=1, img_size=(32, 32),
                                   spatial_dims=2, feature_size=8, hidden_size=48,
                                   mlp_dim=96, num_heads=4),
                    (1, 1, 32, 32), "forward", "artifacts", None),
    "monai-subpixel": (lambda: _subpixel(False), (2, 8, 16, 16), "forward", "artifacts",
                       ["conv_block"]),
    "monai-subpixel-padpool": (lambda: _subpixel(True), (2, 8, 16, 16), "forward", "clean", []),
    "monai-autoencoderkl": (lambda: _monai("AutoencoderKL", spatial_dims=2, in_channels=1,
                                           out_channels=1, channels=(16, 32), latent_channels=2,
                                           num_res_blocks=1, norm_num_groups=4,
                                           attention_levels=(False, False)),
                            (2, 1, 64, 64), "forward", "artifacts",
                            ["decoder.blocks.5.upsample_non_trainable"]),
    "diffusers-autoencoderkl": (_diffusers_vae, (1, 3, 32, 32), "forward", "artifacts",
                                ["decoder.up_blocks.0.upsamplers.0"]),
    "diffusers-upsample2d-transposed": (_upsample2d, (2, 8, 16, 16), "forward", "artifacts",
                                        ["conv"]),
    "pixel-unshuffle": (lambda: nn.Sequential(nn.PixelUnshuffle(2), nn.Conv2d(12, 8, 3, padding=1),
                                              nn.Conv2d(8, 1, 1)),
                        (2, 3, 32, 32), "gradient", "artifacts", ["0"]),
}


# UNETR runs 12 transformer blocks and (until the inventory stops listing token-wise Linear
# layers as upsamplers) ablates 35 sites: seconds to minutes on a shared CPU.
_SLOW = {"monai-unetr"}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in _SLOW else n
                                  for n in sorted(CASES)])
def test_third_party_verdict_and_culprits(name):
    factory, shape, probe, verdict, expected = CASES[name]
    torch.manual_seed(0)
    model = factory()
    report = audit(model, input_shape=shape, seeds=1)
    measured = report.forward if probe == "forward" else report.gradient
    assert measured.verdict == verdict, str(report)
    direction = "up" if probe == "forward" else "down"
    named = [f.site.name for f in report.layers if f.culprit and f.site.direction == direction]
    if isinstance(expected, list):
        assert named == expected, str(report)
    elif isinstance(expected, str):
        assert named and all(n.endswith(expected.split(":", 1)[1]) for n in named), str(report)
    # The rule behind every name: the share its ablation removes.
    for f in report.layers:
        assert f.culprit == any(v >= MIN_SHARE for v in f.shares.values()), (f.site.name,
                                                                             f.shares)
    # No transposed convolution, no advice to convert transposed convolutions.
    if not any(f.site.kind == "conv_transpose" for f in report.layers):
        assert not any("to='resize'" in a for a in report.advice), report.advice
