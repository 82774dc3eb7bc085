"""Inventory of resampling operations: found in order, named, judged from geometry and weights."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

from checkerfree.audit.inventory import find_resampling, subpixel_transposed_weight
from checkerfree.errors import InvalidTypeError
from checkerfree.overlap import phase_imbalance



@pytest.fixture(autouse=True)
def _global_rng_as_found():
    # These tests draw (and seed) at will; later tests and doctests see the RNG untouched.
    with torch.random.fork_rng():
        yield

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


# -- every kind of resampling ---------------------------------------------------------------


def _kinds(model, x):
    return [(s.kind, s.direction, s.stride) for s in find_resampling(model, x)]


def test_pixel_unshuffle_is_a_down_site():
    model = nn.Sequential(nn.PixelUnshuffle(2), nn.Conv2d(12, 8, 3, padding=1), nn.Conv2d(8, 1, 1))
    (site,) = find_resampling(model, torch.randn(1, 3, 16, 16))
    assert (site.name, site.kind, site.direction, site.stride) == (
        "0", "pixel_unshuffle", "down", (2, 2))
    assert site.output_module == "0" and site.output_shape == (1, 12, 8, 8)

    class Functional(nn.Module):
        def forward(self, x):
            return F.pixel_unshuffle(x, 4)

    assert _kinds(Functional(), torch.randn(1, 1, 8, 8)) == [("pixel_unshuffle", "down", (4, 4))]


@pytest.mark.parametrize(("mode", "dims"), [
    ("nearest", 2), ("nearest-exact", 2), ("linear", 1), ("bilinear", 2), ("bicubic", 2),
    ("trilinear", 3), ("area", 2)])
def test_interpolate_in_every_mode(mode, dims):
    model = nn.Upsample(scale_factor=2, mode=mode)
    x = torch.randn(1, 2, *([4] * dims))
    (site,) = find_resampling(model, x)
    assert (site.kind, site.direction, site.stride, site.mode, site.dims) == (
        "interpolate", "up", (2,) * dims, mode, dims)
    assert not site.uneven
    (down,) = find_resampling(nn.Upsample(scale_factor=0.5, mode=mode), x)
    assert (down.direction, down.stride) == ("down", (2,) * dims)
    assert find_resampling(nn.Upsample(size=(4,) * dims, mode=mode), x) == []


def test_pool_with_indices_and_unpool():
    class PoolUnpool(nn.Module):
        def __init__(self):
            super().__init__()
            self.pool = nn.MaxPool2d(2, return_indices=True)
            self.unpool = nn.MaxUnpool2d(2)

        def forward(self, x):
            y, idx = self.pool(x)
            return self.unpool(y, idx)

    model = PoolUnpool()
    sites = find_resampling(model, torch.randn(1, 2, 8, 8))
    assert [(s.name, s.kind, s.direction, s.stride) for s in sites] == [
        ("pool", "pool", "down", (2, 2)), ("unpool", "max_unpool", "up", (2, 2))]
    assert sites[1].uneven and "holes" in sites[1].reason
    # Brute force: a constant comes out of pool + unpool as a sparse, periodic pattern.
    y = model(torch.full((1, 2, 8, 8), 3.0))
    assert y.amax() == 3.0 and y.amin() == 0.0


def test_adaptive_pools_only_when_they_downsample():
    x = torch.randn(1, 2, 8, 8)
    assert _kinds(nn.AdaptiveAvgPool2d(4), x) == [("pool", "down", (2, 2))]
    assert _kinds(nn.AdaptiveMaxPool2d(2, return_indices=True), x) == [("pool", "down", (4, 4))]
    assert _kinds(nn.AdaptiveAvgPool2d(1), x) == []  # global pooling: no lattice left
    assert _kinds(nn.AdaptiveAvgPool2d(8), x) == []


def test_lp_pool_and_unfold_fold():
    x = torch.randn(1, 2, 8, 8)
    assert _kinds(nn.LPPool2d(2, 2), x) == [("pool", "down", (2, 2))]

    class Patches(nn.Module):
        def forward(self, x):
            p = F.unfold(x, 2, stride=2)  # (N, C*4, 16)
            return F.fold(p, (8, 8), 2, stride=2)

    assert _kinds(Patches(), x) == [("space_to_depth", "down", (2, 2)),
                                    ("depth_to_space", "up", (2, 2))]


class _Slicer(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


def test_strided_slicing_channels_first_and_last():
    sites = find_resampling(_Slicer(lambda x: x[..., ::2, ::2]), torch.randn(1, 3, 8, 8))
    assert [(s.kind, s.direction, s.stride, s.spatial_axes) for s in sites] == [
        ("strided_slice", "down", (2, 2), None)]
    assert "1 of 4 phases" in sites[0].reason

    # SwinUNETR's PatchMerging: four phases of a channels-last tensor, concatenated.
    def merge(x):
        return torch.cat([x[:, j::2, i::2, :] for i in range(2) for j in range(2)], -1)

    (site,) = find_resampling(_Slicer(merge), torch.randn(1, 8, 8, 3))
    assert (site.kind, site.stride, site.spatial_axes) == ("strided_slice", (2, 2), (1, 2))
    assert "all phases" in site.reason
    assert find_resampling(_Slicer(lambda x: x[:, ::2]), torch.randn(1, 4, 8, 8)) == []
    assert find_resampling(_Slicer(lambda x: x[:, :, 1:-1, ::1]), torch.randn(1, 4, 8, 8)) == []
    assert find_resampling(_Slicer(lambda x: x[::2]), torch.randn(4, 4, 8, 8)) == []


def test_grid_sample_upsampler():
    class Warp(nn.Module):
        def __init__(self, size):
            super().__init__()
            self.size = size

        def forward(self, x):
            theta = torch.eye(2, 3).unsqueeze(0).expand(x.shape[0], 2, 3)
            grid = F.affine_grid(theta, (x.shape[0], x.shape[1], self.size, self.size),
                                 align_corners=False)
            return F.grid_sample(x, grid, align_corners=False)

    x = torch.randn(1, 2, 8, 8)
    assert _kinds(Warp(16), x) == [("grid_sample", "up", (2, 2))]
    assert _kinds(Warp(8), x) == []


def test_linear_on_tokens_is_not_a_resampler():
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.qkv = nn.Linear(8, 24)
            self.mlp = nn.Sequential(nn.Linear(8, 32), nn.GELU(), nn.Linear(32, 8))

        def forward(self, x):  # x: (N, L, C)
            n, length, c = x.shape
            q, k, v = self.qkv(x).reshape(n, length, 3, 2, c // 2).permute(2, 0, 3, 1, 4)
            a = (q @ k.transpose(-1, -2)).softmax(-1) @ v
            x = x + a.transpose(1, 2).reshape(n, length, c)
            return x + self.mlp(x)

    assert find_resampling(nn.Sequential(Block(), Block()), torch.randn(2, 16, 8)) == []


def test_a_1d_module_upsampling_by_repeat_is_still_found():
    class Repeat(nn.Module):
        def forward(self, x):
            return x.repeat_interleave(2, dim=-1)

    assert _kinds(nn.Sequential(Repeat()), torch.randn(1, 2, 8)) == [("upsample", "up", (2,))]


# -- rearrangements by reshape and permute ----------------------------------------------------


def test_patch_embedding_by_einops_is_space_to_depth():
    from einops.layers.torch import Rearrange

    model = nn.Sequential(Rearrange("b c (h p) (w q) -> b (h w) (p q c)", p=4, q=4),
                          nn.Linear(48, 16))
    (site,) = find_resampling(model, torch.randn(2, 3, 16, 16))
    assert (site.name, site.kind, site.direction, site.stride, site.dims) == (
        "0", "space_to_depth", "down", (4, 4), 2)
    assert site.output_module == "0" and site.spatial_axes is None


def test_channels_last_patch_merging_by_reshape():
    def merge(x):  # timm's PatchMerging: (N, H, W, C) -> (N, H/2, W/2, 4C)
        n, h, w, c = x.shape
        return x.reshape(n, h // 2, 2, w // 2, 2, c).permute(0, 1, 3, 4, 2, 5).flatten(3)

    (site,) = find_resampling(_Slicer(merge), torch.randn(1, 8, 8, 3))
    assert (site.kind, site.stride, site.spatial_axes) == ("space_to_depth", (2, 2), (1, 2))


def test_layout_chains_that_do_not_resample():
    def windows(x):  # Swin's window partition: blocks go to the batch
        n, h, w, c = x.shape
        return x.view(n, h // 4, 4, w // 4, 4, c).permute(0, 1, 3, 2, 4, 5).reshape(-1, 16, c)

    def tokens(x):  # a ViT's conv patch embedding output to tokens, and back
        t = x.flatten(2).transpose(1, 2)
        return t.transpose(1, 2).reshape(x.shape)

    def heads(x):  # (N, L, C) -> (N, heads, L, C / heads)
        return x.reshape(x.shape[0], x.shape[1], 2, -1).transpose(1, 2).contiguous()

    for fn, shape in ((windows, (1, 8, 8, 3)), (tokens, (1, 3, 8, 8)), (heads, (1, 16, 8))):
        assert find_resampling(_Slicer(fn), torch.randn(*shape)) == [], fn.__name__


def test_unpatchify_after_linear_is_a_subpixel_site_with_the_right_weight():
    """The (p q c) channel order of an unpatchify is read off the index map, not assumed."""
    from einops import rearrange

    class Head(nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = nn.Linear(5, 2 * 2 * 3)

        def forward(self, t):  # t: (N, 16 tokens, 5)
            return rearrange(self.proj(t), "b (h w) (p q c) -> b c (h p) (w q)", h=4, p=2, q=2)

    head = Head().double()
    t = torch.randn(1, 16, 5, dtype=torch.float64)
    (site,) = find_resampling(head, t)
    assert (site.name, site.kind, site.stride, site.kernel) == ("proj", "subpixel", (2, 2), (1, 1))
    assert site.output_module == ""  # the model itself
    # Brute force: the equivalent transposed convolution on the token grid, plus the
    # per-phase bias, is the layer.
    grid = t.transpose(1, 2).reshape(1, 5, 4, 4)
    ref = F.conv_transpose2d(grid, site.weight, stride=2)
    ref = ref + site.phase_bias.repeat(1, 4, 4).unsqueeze(0)
    torch.testing.assert_close(ref, head(t))
    assert site.uneven and site.bias_imbalance > 0.01


def test_depth_to_space_without_a_convolution_in_front():
    def shuffle(x):
        return (x * 2).reshape(1, 2, 2, 2, 4, 4).permute(0, 1, 4, 2, 5, 3).reshape(1, 2, 8, 8)

    (site,) = find_resampling(_Slicer(shuffle), torch.randn(1, 8, 4, 4))
    assert (site.kind, site.direction, site.stride, site.uneven) == (
        "depth_to_space", "up", (2, 2), False)


# -- fixed filters after a site, per-phase biases ---------------------------------------------


class _Fixed(nn.Module):
    """A depthwise convolution with a fixed kernel (a buffer), as a FIR."""

    def __init__(self, channels: int, taps, dims: int = 2):
        super().__init__()
        k = torch.as_tensor(taps, dtype=torch.float64)
        if dims == 2:
            k = torch.outer(k, k)
        self.register_buffer("kernel", k.expand(channels, 1, *k.shape).clone())
        self.dims, self.channels = dims, channels

    def forward(self, x):
        conv = F.conv1d if self.dims == 1 else F.conv2d
        return conv(x, self.kernel.to(x.dtype), groups=self.channels)


def test_fir_after_transposed_conv_evens_it():
    ct = nn.ConvTranspose2d(2, 3, 3, stride=2)
    (bare,) = find_resampling(ct, torch.randn(1, 2, 8, 8))
    assert bare.uneven and bare.followed_by is None
    model = nn.Sequential(ct, _Fixed(3, [1.0, 3.0, 3.0, 1.0]), nn.ReLU())
    (site,) = find_resampling(model, torch.randn(1, 2, 8, 8))
    assert not site.uneven and "evens" in site.reason and site.composed_imbalance < 1e-6
    assert site.followed_by.startswith("conv2d, 4x4 taps")
    random_fir = nn.Sequential(ct, _Fixed(3, [1.0, 2.0, 0.5]), nn.ReLU())
    (site,) = find_resampling(random_fir, torch.randn(1, 2, 8, 8))
    assert site.uneven and site.composed_imbalance > 0.01 and "leaves" in site.reason
    # A trainable filter is not fixed: training can undo it, so the site is judged alone.
    learnt = nn.Sequential(ct, nn.Conv2d(3, 3, 4, groups=3))
    (site,) = find_resampling(learnt, torch.randn(1, 2, 8, 8))
    assert site.uneven and site.followed_by is None


def test_a_nonlinearity_ends_the_fixed_filter():
    ct = nn.ConvTranspose2d(2, 3, 3, stride=2)
    model = nn.Sequential(ct, nn.ReLU(), _Fixed(3, [1.0, 3.0, 3.0, 1.0]))
    (site,) = find_resampling(model, torch.randn(1, 2, 8, 8))
    assert site.uneven and site.followed_by is None


class _Shuffle1d(nn.Module):
    """A 1-D pixel shuffle by reshape and permute (as MONAI and checkerfree write it)."""

    def __init__(self, s: int):
        super().__init__()
        self.s = s

    def forward(self, x):
        n, cs, length = x.shape
        y = x.reshape(n, cs // self.s, self.s, length).permute(0, 1, 3, 2)
        return y.reshape(n, cs // self.s, length * self.s)


def _up_site(dims, kind, s, k, cin, cout, balanced, equal_bias):
    """A random up site in float64; ``balanced`` builds equal phase sums where possible."""
    if kind == "conv_transpose":
        ct = (nn.ConvTranspose1d, nn.ConvTranspose2d)[dims - 1](cin, cout, k * s if balanced
                                                                 else k, stride=s)
        if balanced:  # taps j and j' with j // s equal share one value: equal phase sums
            with torch.no_grad():
                base = torch.randn(cin, cout, *([k] * dims))
                for a in range(dims):
                    base = base.repeat_interleave(s, dim=2 + a)
                ct.weight.copy_(base)
        return ct.double()
    conv = (nn.Conv1d, nn.Conv2d)[dims - 1](cin, cout * s**dims, k, padding=k // 2)
    with torch.no_grad():
        if balanced:  # ICNR: every phase of a channel is one copy
            conv.weight.copy_(torch.randn(cout, cin, *([k] * dims)).repeat_interleave(
                s**dims, dim=0))
        if equal_bias:
            conv.bias.copy_(torch.randn(cout).repeat_interleave(s**dims))
    shuffle = _Shuffle1d(s) if dims == 1 else nn.PixelShuffle(s)
    return nn.Sequential(conv, shuffle).double()


def _filter(kind, s, channels, dims):
    if kind == "none":
        return []
    if kind == "padpool":  # MONAI SubpixelUpsample's apply_pad_pool, for any stride
        pad = (nn.ReplicationPad1d((s - 1, 0)) if dims == 1
               else nn.ReplicationPad2d((s - 1, 0, s - 1, 0)))
        return [pad, (nn.AvgPool1d, nn.AvgPool2d)[dims - 1](s, stride=1)]
    taps = {"box": [1.0] * s, "binomial": [1.0, 3.0, 3.0, 1.0],
            "random": [1.0, 2.0 + float(torch.rand(())), 0.5]}[kind]  # phase sums differ
    return [_Fixed(channels, taps, dims)]


def _constant_out_is_constant(model, dims, cin, n, margin) -> bool:
    # Nonzero per-channel values: a zero input hides every weight pattern.
    value = torch.randint(1, 4, (cin,)) * (torch.randint(0, 2, (cin,)) * 2 - 1)
    x = value.double().reshape(1, cin, *([1] * dims)).expand(1, cin, *([n] * dims))
    y = model(x.contiguous())
    inner = y[(slice(None), slice(None), *([slice(margin, -margin)] * dims))]
    spread = inner.flatten(2).amax(-1) - inner.flatten(2).amin(-1)
    return bool((spread <= 1e-9 * (1 + y.abs().amax())).all())


@settings(max_examples=60, deadline=None)
@given(dims=st.sampled_from([1, 2]), kind=st.sampled_from(["conv_transpose", "subpixel"]),
       s=st.sampled_from([2, 3]), k=st.integers(1, 4), cin=st.integers(1, 2),
       cout=st.integers(1, 2), balanced=st.booleans(), equal_bias=st.booleans(),
       fir=st.sampled_from(["none", "box", "binomial", "random", "padpool"]),
       seed=st.integers(0, 10**6))
def test_static_verdict_is_whether_a_constant_stays_constant(
        dims, kind, s, k, cin, cout, balanced, equal_bias, fir, seed):
    """Brute force: ``uneven`` iff a constant input gives a non-constant output (interior)."""
    torch.manual_seed(seed)
    if kind == "subpixel":
        k = (1, 3)[k % 2]
    model = nn.Sequential(_up_site(dims, kind, s, k, cin, cout, balanced, equal_bias),
                          *_filter(fir, s, cout, dims), nn.Tanh()).double()
    n = 16
    sites = [x for x in find_resampling(model, torch.randn(1, cin, *([n] * dims)).double())
             if x.direction == "up"]
    assert len(sites) == 1
    site = sites[0]
    assert site.kind == kind and (site.followed_by is not None) == (fir != "none")
    # Borders reach in by at most the high-rate kernel plus the filter.
    kernel = s * k if kind == "subpixel" or balanced else k
    margin = kernel + 6
    # Random weights almost never land within a tolerance of balance; skip those that do
    # (the verdict's tolerance, not the rule, would decide them).
    for value in (site.phase_imbalance, site.bias_imbalance, site.composed_imbalance,
                  site.composed_bias_imbalance):
        assume(value is None or not 1e-6 < value < 1e-2)
    event(f"uneven={site.uneven}")
    # Measured before the nonlinearity that ends the filter (tanh would saturate patterns).
    linear = model[:-1]
    assert site.uneven == (not _constant_out_is_constant(linear, dims, cin, n, margin)), \
        site.reason


def test_fixed_filter_on_a_side_branch_does_not_even_the_site():
    class Branch(nn.Module):
        def __init__(self):
            super().__init__()
            self.up = nn.ConvTranspose2d(2, 3, 3, stride=2)
            self.fir = _Fixed(3, [1.0, 3.0, 3.0, 1.0])

        def forward(self, x):
            y = self.up(x)
            side = self.fir(y)  # filtered copy ...
            return torch.relu(y)[..., 2:-1, 2:-1] + side  # ... and the raw output too

    (site,) = find_resampling(Branch(), torch.randn(1, 2, 8, 8))
    assert site.uneven and site.followed_by is None


def test_reshaping_weights_is_not_resampling():
    class Weights(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.randn(2, 12, 4, 4))

        def forward(self, x):
            w = self.w.reshape(2, 3, 2, 2, 4, 4).permute(0, 1, 4, 2, 5, 3).reshape(2, 3, 8, 8)
            return x * w[:, :, ::2, ::2].sum()

    assert find_resampling(Weights(), torch.randn(2, 3, 8, 8)) == []


def test_noise_sampled_in_forward_is_data():
    class Sampler(nn.Module):
        def forward(self, x):
            z = torch.randn(x.shape[0], 8, 4, 4)
            return z.reshape(-1, 2, 2, 2, 4, 4).permute(0, 1, 4, 2, 5, 3).reshape(-1, 2, 8, 8)

    assert _kinds(Sampler(), torch.randn(1, 1)) == [("depth_to_space", "up", (2, 2))]


def test_einsum_unpatchify_after_linear_is_subpixel():
    class DiTHead(nn.Module):  # diffusers' DiT / PixArt unpatchify
        def __init__(self):
            super().__init__()
            self.proj_out = nn.Linear(6, 2 * 2 * 3)

        def forward(self, t):
            x = self.proj_out(t).reshape(-1, 4, 4, 2, 2, 3)
            return torch.einsum("nhwpqc->nchpwq", x).reshape(-1, 3, 8, 8)

    (site,) = find_resampling(DiTHead(), torch.randn(2, 16, 6))
    assert (site.name, site.kind, site.stride) == ("proj_out", "subpixel", (2, 2))


def test_a_shuffle_checkerfree_cannot_see_is_still_folded_with_its_conv():
    class NumpyShuffle(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(2, 4, 3, padding=1)

        def forward(self, x):
            y = self.conv(x).numpy()  # leaves torch: no function is recorded
            n, _, h, w = y.shape
            y = y.reshape(n, 1, 2, 2, h, w).transpose(0, 1, 4, 2, 5, 3).reshape(n, 1, 2 * h, 2 * w)
            return torch.from_numpy(y.copy())

    (site,) = find_resampling(nn.Sequential(NumpyShuffle()), torch.randn(1, 2, 4, 4))
    assert (site.kind, site.name, site.output_module, site.stride) == (
        "subpixel", "0.conv", "0", (2, 2))
    assert site.uneven and site.bias_imbalance > 0.01  # four random biases, one channel


def test_patches_by_tensor_unfold():
    def patchify(x):  # (N, C, H, W) -> (N, L, C*p*p) through non-overlapping windows
        p = x.unfold(2, 4, 4).unfold(3, 4, 4)  # (N, C, h, w, 4, 4)
        return p.permute(0, 2, 3, 1, 4, 5).reshape(x.shape[0], -1, x.shape[1] * 16)

    assert _kinds(_Slicer(patchify), torch.randn(1, 3, 16, 16)) == [
        ("space_to_depth", "down", (4, 4))]
    # Overlapping windows (step < size) are a filter bank, not a rearrangement.
    assert _kinds(_Slicer(lambda x: x.unfold(2, 4, 2).permute(0, 2, 1, 3, 4).flatten(2)),
                  torch.randn(1, 3, 16, 16)) == []


def test_merging_heads_of_one_token_is_not_depth_to_space():
    from einops.layers.torch import Rearrange

    merge = Rearrange("b h l d -> b l (h d)")  # MONAI SABlock's out_rearrange
    for tokens in (1, 16):
        assert find_resampling(merge, torch.randn(1, 2, tokens, 12)) == []


def test_a_cast_inside_a_rearrangement():
    def patchify(x):
        return x.to(torch.float64).reshape(1, 3, 4, 2, 4, 2).permute(0, 3, 5, 1, 2, 4).reshape(
            1, 12, 4, 4)

    assert _kinds(_Slicer(patchify), torch.randn(1, 3, 8, 8)) == [
        ("space_to_depth", "down", (2, 2))]
