"""The inventory on real MONAI and diffusers models (random init, nothing downloaded).

Each model is built small and its sites are checked against what its architecture is known
to contain (counted from its modules where possible); the static verdicts against a
constant input pushed through the real layers.
"""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn as nn

from checkerfree.audit.inventory import find_resampling

monai = pytest.importorskip("monai")
diffusers = pytest.importorskip("diffusers")


@pytest.fixture(autouse=True)
def _seeded():
    # Seeded for reproducible random inits; the global RNG is put back for later tests.
    with torch.random.fork_rng(), warnings.catch_warnings():
        torch.manual_seed(0)
        warnings.simplefilter("ignore")  # deprecation chatter from the libraries
        yield


def _sites(model, *shape):
    return find_resampling(model.eval(), torch.randn(*shape))


def _interior_spread(y: torch.Tensor, margin: int) -> float:
    """Largest per-channel peak-to-peak of ``y`` away from its borders, relative to |y|."""
    dims = y.dim() - 2
    inner = y[(slice(None), slice(None), *([slice(margin, -margin)] * dims))].flatten(2)
    return float((inner.amax(-1) - inner.amin(-1)).amax() / y.abs().amax())


def _count(model, *types, stride_above_one=True):
    return sum(1 for m in model.modules() if isinstance(m, types)
               and (not stride_above_one or max(m.stride) > 1))


# -- MONAI ------------------------------------------------------------------------------------


def test_monai_unet():
    from monai.networks.nets import UNet

    net = UNet(2, 1, 1, channels=(4, 8, 16), strides=(2, 2))
    sites = _sites(net, 1, 1, 16, 16)
    assert [(s.kind, s.direction) for s in sites] == [
        ("strided_conv", "down"), ("strided_conv", "down"),
        ("conv_transpose", "up"), ("conv_transpose", "up")]
    assert all(s.uneven for s in sites if s.direction == "up")  # k=3 s=2: 4:1 overlap


def test_monai_basicunet_each_upsample_mode():
    from monai.networks.nets import BasicUNet

    verdicts = {}
    for mode in ("deconv", "pixelshuffle", "nontrainable"):
        net = BasicUNet(spatial_dims=2, in_channels=1, out_channels=1,
                        features=(4, 4, 8, 8, 16, 4), upsample=mode)
        sites = _sites(net, 1, 1, 32, 32)
        up = [s for s in sites if s.direction == "up"]
        assert len(up) == 4
        assert [s.kind for s in sites if s.direction == "down"] == ["pool"] * 4
        verdicts[mode] = {s.kind: s.uneven for s in up}
    # MONAI's pixel shuffle upsampler has ICNR weights and pads + average-pools after the
    # shuffle, which evens its random per-phase bias too.
    assert verdicts == {"deconv": {"conv_transpose": True}, "pixelshuffle": {"subpixel": False},
                        "nontrainable": {"interpolate": False}}


@pytest.mark.parametrize("mode", ["deconv", "pixelshuffle"])
def test_monai_segresnet_3d(mode):
    from monai.networks.nets import SegResNet

    net = SegResNet(3, init_filters=8, in_channels=1, out_channels=1, blocks_down=(1, 2),
                    blocks_up=(1,), upsample_mode=mode)
    sites = _sites(net, 1, 1, 16, 16, 16)
    assert [(s.kind, s.direction, s.stride) for s in sites] == [
        ("strided_conv", "down", (2, 2, 2)),
        ("conv_transpose" if mode == "deconv" else "subpixel", "up", (2, 2, 2))]
    up = sites[1]
    assert up.dims == 3
    if mode == "pixelshuffle":
        assert up.followed_by is not None and not up.uneven


def test_monai_unetr_2d_has_no_linear_sites():
    from monai.networks.nets import UNETR

    net = UNETR(1, 1, (32, 32), feature_size=4, hidden_size=24, mlp_dim=48, num_heads=2,
                spatial_dims=2)
    sites = _sites(net, 1, 1, 32, 32)
    assert [s.kind for s in sites if s.direction == "down"] == ["strided_conv"]  # patch embed
    up = [s for s in sites if s.direction == "up"]
    assert {s.kind for s in up} == {"conv_transpose"}
    assert len(up) == _count(net, nn.ConvTranspose2d)
    assert {max(s.stride) for s in sites if s.direction == "up"} == {2}  # no spurious 3


def test_monai_swinunetr_patch_merging_is_strided_slicing():
    from monai.networks.nets import SwinUNETR
    from monai.networks.nets.swin_unetr import PatchMerging, PatchMergingV2

    net = SwinUNETR(in_channels=1, out_channels=1, feature_size=12, spatial_dims=2,
                    depths=(1, 1, 1, 1), num_heads=(1, 1, 1, 1))
    sites = _sites(net, 1, 1, 64, 64)
    merges = [s for s in sites if s.kind == "strided_slice"]
    assert len(merges) == _count(net, PatchMerging, PatchMergingV2, stride_above_one=False) == 4
    for s in merges:
        assert (s.direction, s.stride, s.spatial_axes) == ("down", (2, 2), (1, 2))
        assert s.name.endswith("downsample") and "all phases" in s.reason
    assert not [s for s in sites if s.kind == "upsample"]  # qkv Linear layers are not sites


def test_monai_quicknat_pool_with_indices_and_unpool():
    from monai.networks.nets import Quicknat

    net = Quicknat(num_classes=2, num_channels=1, num_filters=4)
    sites = _sites(net, 1, 1, 32, 32)
    pools = [s for s in sites if s.kind == "pool"]
    unpools = [s for s in sites if s.kind == "max_unpool"]
    assert len(pools) == len(unpools) == 4
    assert all("indices" in s.reason and s.mode == "max" for s in pools)
    assert all(s.direction == "up" and s.uneven and s.stride == (2, 2) for s in unpools)


def test_monai_subpixel_upsample_bias_and_pad_pool():
    from monai.networks.blocks import SubpixelUpsample

    bare = SubpixelUpsample(2, 8, 8, apply_pad_pool=False).eval()
    (site,) = _sites(bare, 1, 8, 16, 16)
    # ICNR weights are balanced; the random per-phase bias is not.
    assert site.kind == "subpixel" and site.phase_imbalance < 1e-6
    assert site.uneven and site.bias_imbalance > 1e-2 and "biases differ" in site.reason
    const = torch.randn(1, 8, 1, 1).expand(1, 8, 16, 16)
    with torch.no_grad():
        assert _interior_spread(bare(const), 4) > 1e-3  # brute force: patterned

    padded = SubpixelUpsample(2, 8, 8, apply_pad_pool=True).eval()
    (site,) = _sites(padded, 1, 8, 16, 16)
    assert not site.uneven and site.followed_by is not None and "evens" in site.reason
    assert site.composed_bias_imbalance < 1e-6
    with torch.no_grad():
        assert _interior_spread(padded(const), 4) < 1e-5  # brute force: constant


def test_monai_patch_embedding_by_einops():
    from monai.networks.blocks import PatchEmbeddingBlock

    block = PatchEmbeddingBlock(in_channels=1, img_size=(16, 16), patch_size=(4, 4),
                                hidden_size=16, num_heads=2, proj_type="perceptron",
                                spatial_dims=2)
    (site,) = _sites(block, 1, 1, 16, 16)
    assert (site.kind, site.direction, site.stride) == ("space_to_depth", "down", (4, 4))


# -- diffusers --------------------------------------------------------------------------------


def test_diffusers_autoencoder_kl():
    from diffusers import AutoencoderKL

    vae = AutoencoderKL(block_out_channels=(8, 16), down_block_types=("DownEncoderBlock2D",) * 2,
                        up_block_types=("UpDecoderBlock2D",) * 2, norm_num_groups=4,
                        latent_channels=2)
    sites = _sites(vae, 1, 3, 16, 16)
    assert [(s.kind, s.direction) for s in sites] == [
        ("strided_conv", "down"), ("interpolate", "up")]


def test_diffusers_autoencoder_dc_pixel_unshuffle():
    from diffusers import AutoencoderDC

    dc = AutoencoderDC(
        in_channels=3, latent_channels=4, encoder_block_out_channels=(8, 16),
        decoder_block_out_channels=(8, 16), encoder_layers_per_block=(1, 1),
        decoder_layers_per_block=(1, 1), encoder_block_types="ResBlock",
        decoder_block_types="ResBlock", encoder_qkv_multiscales=((), ()),
        decoder_qkv_multiscales=((), ()), decoder_norm_types="rms_norm",
        decoder_act_fns="silu", upsample_block_type="pixel_shuffle",
        downsample_block_type="pixel_unshuffle")
    sites = _sites(dc, 1, 3, 16, 16)
    # DCDownBlock2d unshuffles its conv's output and, on the shortcut, its input.
    down = [s for s in sites if s.direction == "down"]
    assert [(s.name, s.kind, s.stride) for s in down] == [
        ("encoder.down_blocks.0.1", "pixel_unshuffle", (2, 2))] * 2
    assert [s.kind for s in sites if s.direction == "up"] == ["subpixel", "pixel_shuffle"]


def test_diffusers_fir_upsample_is_evened_by_its_fir():
    from diffusers.models.upsampling import FirUpsample2D

    fir = FirUpsample2D(4, 4, use_conv=True).eval()
    (site,) = _sites(fir, 1, 4, 16, 16)
    assert site.kind == "conv_transpose" and site.kernel == (3, 3)
    assert site.overlap.uneven  # k=3 s=2 alone overlaps 4:1 ...
    assert not site.uneven and "evens" in site.reason  # ... the FIR [1, 3, 3, 1] evens it
    assert site.followed_by.startswith("conv2d, 4x4 taps")
    with torch.no_grad():
        y = fir(torch.randn(1, 4, 1, 1).expand(1, 4, 16, 16))
    assert _interior_spread(y, 4) < 1e-5  # brute force: constant for these random weights
    (plain,) = _sites(FirUpsample2D(4, 4, use_conv=False), 1, 4, 8, 8)
    assert plain.kind == "upsample"  # zero insertion by pad inside upfirdn2d: not judged


def test_diffusers_k_upsample_and_conv_transpose_upsample():
    from diffusers.models.upsampling import KUpsample2D, Upsample2D

    (k,) = _sites(KUpsample2D(), 1, 4, 8, 8)
    assert k.kind == "conv_transpose" and not k.uneven and k.phase_imbalance < 1e-6
    (t,) = _sites(Upsample2D(4, use_conv_transpose=True), 1, 4, 8, 8)
    assert (t.kind, t.kernel, t.stride) == ("conv_transpose", (4, 4), (2, 2))
    assert not t.overlap.uneven and t.uneven and t.phase_imbalance > 1e-2


def test_diffusers_fir_downsample():
    from diffusers.models.downsampling import FirDownsample2D

    (conv,) = _sites(FirDownsample2D(4, 4, use_conv=True), 1, 4, 16, 16)
    assert (conv.kind, conv.direction, conv.stride) == ("strided_conv", "down", (2, 2))
    (sl,) = _sites(FirDownsample2D(4, 4, use_conv=False), 1, 4, 16, 16)
    # upfirdn2d subsamples a (N*C, H, W, 1) tensor by slicing.
    assert (sl.kind, sl.direction, sl.stride, sl.spatial_axes) == (
        "strided_slice", "down", (2, 2), (1, 2))
