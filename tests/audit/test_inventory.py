"""Inventory of resampling operations: found in order, named, judged from geometry and weights."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from checkerfree.audit.inventory import find_resampling, subpixel_transposed_weight
from checkerfree.errors import InvalidTypeError
from checkerfree.overlap import phase_imbalance


def test_finds_every_kind_in_order():
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, 2, 1), nn.ConvTranspose2d(8, 8, 3, 2, 1, 1), nn.Upsample(scale_factor=2),
        nn.Conv2d(8, 12, 3, padding=1), nn.PixelShuffle(2), nn.MaxPool2d(2), nn.AvgPool2d(2),
        nn.AvgPool2d(3, stride=1, padding=1))
    sites = find_resampling(model, torch.randn(1, 3, 16, 16))
    assert [(s.name, s.kind, s.direction) for s in sites] == [
        ("0", "strided_conv", "down"), ("1", "conv_transpose", "up"), ("2", "interpolate", "up"),
        ("3", "subpixel", "up"), ("5", "pool", "down"), ("6", "pool", "down")]
    ct = sites[1]
    assert ct.uneven and ct.overlap.ratio == 4.0 and ct.kernel == (3, 3)
    assert ct.output_shape == (1, 8, 16, 16)


def test_functional_calls_are_attributed_to_the_running_module():
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(2, 2, 3, padding=1)

        def forward(self, x):
            return self.conv(F.interpolate(x, scale_factor=2, mode="bilinear"))

    model = nn.Sequential(nn.Identity(), Block())
    (site,) = find_resampling(model, torch.randn(1, 2, 4, 4))
    assert (site.name, site.kind, site.mode, site.stride) == ("1", "interpolate", "bilinear", (2, 2))


def test_even_geometry_with_unbalanced_weights_is_flagged():
    m = nn.ConvTranspose2d(4, 4, 4, 2, 1)
    (site,) = find_resampling(m, torch.randn(1, 4, 5, 5))
    assert not site.overlap.uneven and site.uneven
    assert site.phase_imbalance == pytest.approx(phase_imbalance(m))
    with torch.no_grad():
        m.weight.fill_(0.1)
    (site,) = find_resampling(m, torch.randn(1, 4, 5, 5))
    assert not site.uneven and site.phase_imbalance == 0.0


def test_subpixel_weight_view_matches_the_layer():
    """The transposed-conv view of conv+shuffle computes the same function."""
    conv = nn.Conv2d(3, 2 * 4, 3, padding=1, bias=False).double()
    x = torch.randn(1, 3, 6, 6, dtype=torch.float64)
    y = F.pixel_shuffle(conv(x), 2)
    tw = subpixel_transposed_weight(conv.weight, 2)  # (3, 2, 6, 6)
    # Transposed conv with stride 2: output o = 2i + j - p; the 3x3 'same' conv shifts by 1
    # input pixel = 2 output pixels, hence padding 2.
    z = F.conv_transpose2d(x, tw, stride=2, padding=2)
    torch.testing.assert_close(z[..., : y.shape[-2], : y.shape[-1]], y)


def test_icnr_like_subpixel_is_balanced_and_random_is_not():
    model = nn.Sequential(nn.Conv2d(2, 3 * 4, 3, padding=1), nn.PixelShuffle(2))
    (site,) = find_resampling(model, torch.randn(1, 2, 4, 4))
    assert site.kind == "subpixel" and site.uneven
    with torch.no_grad():
        base = torch.randn(3, 2, 3, 3)
        model[0].weight.copy_(base.repeat_interleave(4, dim=0))  # interleaved copies
    (site,) = find_resampling(model, torch.randn(1, 2, 4, 4))
    # Balanced weights, but the 4 phases of each channel still have their own random bias.
    assert site.uneven and site.phase_imbalance == 0.0 and site.bias_imbalance > 0.01
    assert "biases differ" in site.reason
    with torch.no_grad():
        model[0].bias.copy_(torch.randn(3).repeat_interleave(4))
    (site,) = find_resampling(model, torch.randn(1, 2, 4, 4))
    assert not site.uneven and site.phase_imbalance == 0.0 and site.bias_imbalance == 0.0


def test_reshape_shuffle_inside_a_module_is_found():
    class ShuffleByReshape(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(2, 4, 1)

        def forward(self, x):
            y = self.conv(x)
            n, c, h, w = y.shape
            y = y.reshape(n, 1, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3)
            return y.reshape(n, 1, 2 * h, 2 * w)

    (site,) = find_resampling(nn.Sequential(ShuffleByReshape()), torch.randn(1, 2, 4, 4))
    assert (site.kind, site.name, site.stride) == ("subpixel", "0.conv", (2, 2))


@pytest.mark.parametrize("dims", [1, 3])
def test_1d_and_3d(dims):
    ct = [None, nn.ConvTranspose1d, None, nn.ConvTranspose3d][dims]
    conv = [None, nn.Conv1d, None, nn.Conv3d][dims]
    model = nn.Sequential(conv(1, 2, 3, stride=2), ct(2, 1, 3, stride=2))
    sites = find_resampling(model, torch.randn(1, 1, *([9] * dims)))
    assert [s.kind for s in sites] == ["strided_conv", "conv_transpose"]
    assert sites[1].dims == dims and sites[1].overlap.ratio == 2.0**dims


def test_hooks_are_removed_and_mode_kept():
    model = nn.Sequential(nn.ConvTranspose2d(1, 1, 3, 2)).train()
    find_resampling(model, torch.randn(1, 1, 4, 4))
    assert model.training
    assert not model[0]._forward_hooks and not model[0]._forward_pre_hooks


def test_hooks_removed_when_forward_fails():
    model = nn.Sequential(nn.Conv2d(3, 1, 3))
    with pytest.raises(RuntimeError):
        find_resampling(model, torch.randn(1, 1, 8, 8))
    assert not model[0]._forward_hooks


def test_exception():
    with pytest.raises(InvalidTypeError):
        find_resampling(lambda x: x, torch.randn(1))


def test_monai_basicunet_each_upsample_mode():
    from monai.networks.nets import BasicUNet

    verdicts = {}
    for mode in ("deconv", "pixelshuffle", "nontrainable"):
        net = BasicUNet(spatial_dims=2, in_channels=1, out_channels=1,
                        features=(4, 4, 8, 8, 16, 4), upsample=mode)
        up = [s for s in find_resampling(net, torch.randn(1, 1, 32, 32)) if s.direction == "up"]
        assert len(up) == 4
        verdicts[mode] = {s.kind: s.uneven for s in up}
    assert verdicts == {"deconv": {"conv_transpose": True}, "pixelshuffle": {"subpixel": False},
                        "nontrainable": {"interpolate": False}}


def test_diffusers_autoencoder():
    from diffusers import AutoencoderKL

    vae = AutoencoderKL(block_out_channels=(8, 16), down_block_types=("DownEncoderBlock2D",) * 2,
                        up_block_types=("UpDecoderBlock2D",) * 2, norm_num_groups=4,
                        latent_channels=2)
    sites = find_resampling(vae, torch.randn(1, 3, 16, 16))
    kinds = [(s.kind, s.direction) for s in sites]
    assert ("strided_conv", "down") in kinds and ("interpolate", "up") in kinds
