"""convert / plan_conversion: shapes against the original model, surgery, errors, real models.

References: the original ConvTranspose (its output shape for every input size; its weights for
"hold"), and a brute-force artifact check (a constant input through the layer, the spread of
the interior of the output).
"""

import warnings

import pytest
import torch
import torch.nn as nn
from hypothesis import given, settings
from hypothesis import strategies as st

from checkerfree.convert import KINDS, Conversion, convert, plan_conversion
from checkerfree.errors import InvalidArgumentError, InvalidTypeError

CT = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}
STRIDED_CT = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)


def ct_length(n, k, s, p, op, d):
    return (n - 1) * s - 2 * p + d * (k - 1) + op + 1


def plain_strided_sites(model):
    """Names of the original kind of site: exact ConvTranspose classes with stride > 1."""
    return [
        n for n, m in model.named_modules(remove_duplicate=False)
        if type(m) in STRIDED_CT and any(s > 1 for s in m.stride)
    ]


def interior_spread(layer, old, dims, dtype=torch.float64):
    """Relative max-min spread, per channel, of ``layer``'s response to a constant input,
    away from the borders (margins that cover the kernel, padding, trim and hold)."""
    axes = list(zip(old.kernel_size, old.stride, old.padding, old.output_padding, old.dilation))
    margins = [s * (d * (k - 1) + 2) + p + op + 2 for k, s, p, op, d in axes]
    sizes = []
    for (k, s, p, op, d), m in zip(axes, margins):
        n = 1
        while ct_length(n, k, s, p, op, d) < 2 * m + 3:
            n += 1
        sizes.append(n)
    c = torch.rand(old.in_channels, dtype=dtype) + 0.5
    x = c.view(1, -1, *[1] * dims).expand(1, -1, *sizes).contiguous()
    with torch.no_grad():
        y = layer(x)
    inner = y[(..., *(slice(m, -m) for m in margins))].flatten(2)
    spread = (inner.max(-1).values - inner.min(-1).values).max()
    return float(spread / y.abs().max().clamp_min(1e-12))


# --------------------------------------------------------------------- random geometries


@st.composite
def geometries(draw, max_dims=3):
    dims = draw(st.integers(1, max_dims))
    axes = []
    for _ in range(dims):
        k = draw(st.integers(1, 5))
        s = draw(st.integers(1, 4))
        d = draw(st.integers(1, 3))
        p = draw(st.integers(0, 4))
        op = draw(st.integers(0, max(s, d) - 1))  # PyTorch: output_padding < max(s, d)
        axes.append((k, s, p, op, d))
    if all(s == 1 for _, s, *_ in axes):
        k, _, p, op, d = axes[0]
        axes[0] = (k, 2, p, op, d)
    groups = draw(st.sampled_from([1, 2]))
    return dims, axes, groups


def make_ct(dims, axes, groups, bias=True, dtype=torch.float32):
    k, s, p, op, d = (tuple(a[i] for a in axes) for i in range(5))
    return CT[dims](2 * groups, groups * 3 if groups > 1 else 3, k, s, p, op, groups, bias, d,
                    dtype=dtype)


def accepted_sizes(axes, dims):
    """A few input sizes per axis that the transposed convolution accepts (output >= 1)."""
    budget = {1: 12, 2: 7, 3: 4}[dims]
    out = []
    for n in (1, 2, 3, budget):
        if all(ct_length(n, *a) >= 1 for a in axes):
            out.append(n)
    return out


@settings(max_examples=80, deadline=None)
@given(geometries(), st.sampled_from(KINDS), st.booleans())
def test_shape_matches_original_for_every_size(geom, kind, bias):
    dims, axes, groups = geom
    ct = make_ct(dims, axes, groups, bias)
    new = convert(nn.Sequential(ct), to=kind)[0]
    assert not isinstance(new, STRIDED_CT) or kind == "hold"
    sizes = accepted_sizes(axes, dims)
    for n in sizes:
        # A different length per axis, so that swapped axes are caught.
        shape = [n + a % 2 if ct_length(n + a % 2, *axes[a]) >= 1 else n for a in range(dims)]
        x = torch.randn(2, ct.in_channels, *shape)
        with torch.no_grad():
            assert new(x).shape == ct(x).shape, (axes, groups, kind, shape)
    if sizes:  # unbatched input, as ConvTranspose accepts it
        x = torch.randn(ct.in_channels, *[sizes[-1]] * dims)
        with torch.no_grad():
            assert new(x).shape == ct(x).shape


@settings(max_examples=50, deadline=None)
@given(geometries(max_dims=2), st.sampled_from(KINDS))
def test_replacement_starts_artifact_free(geom, kind):
    dims, axes, groups = geom
    ct = make_ct(dims, axes, groups, dtype=torch.float64)
    new = convert(ct, to=kind)
    assert interior_spread(new, ct, dims) < 1e-9


def support_midpoint(y):
    nz = (y.reshape(-1).abs() > 1e-12).nonzero().flatten().double()
    return float(nz.min() + nz.max()) / 2


@settings(max_examples=50, deadline=None)
@given(geometries(max_dims=1), st.sampled_from(["resize", "subpixel"]))
def test_replacement_is_aligned_with_the_original(geom, kind):
    # An impulse lands where the transposed convolution puts it, up to the (s - 1) / 2 by which
    # nearest resizing centres a block; the trim splits the surplus by position, not at one end.
    _, axes, _ = geom
    k, s, p, op, d = axes[0]
    ct = nn.ConvTranspose1d(1, 1, k, s, p, op, dilation=d, bias=False, dtype=torch.float64)
    new = convert(ct, kind)
    with torch.no_grad():
        ct.weight.fill_(1.0)
        new.weight.fill_(1.0)
        x = torch.zeros(1, 1, 15, dtype=torch.float64)
        x[..., 7] = 1.0
        diff = support_midpoint(new(x)) - support_midpoint(ct(x))
    # An even low-resolution sub-pixel kernel (k // s taps) reads half a low-resolution
    # position off centre, s / 2 here, which a crop-or-pad trim cannot always take back.
    assert abs(diff) <= ((s - 1) / 2 if kind == "resize" else s / 2), (axes, kind, diff)


@pytest.mark.parametrize("kind", KINDS)
def test_replacement_starts_artifact_free_3d(kind):
    ct = nn.ConvTranspose3d(2, 3, (3, 4, 2), (2, 2, 3), (1, 1, 0), (1, 0, 2), dtype=torch.float64)
    assert interior_spread(convert(ct, to=kind), ct, 3) < 1e-9


def test_artifact_check_can_fail():
    # The check above flags the original uneven layer (k=3, s=2: phase sums 2:1).
    ct = nn.ConvTranspose2d(2, 3, 3, 2, 1, 1, bias=False, dtype=torch.float64)
    assert interior_spread(ct, ct, 2) > 1e-2


# --------------------------------------------------------------------- surgery


class Nested(nn.Module):
    def __init__(self):
        super().__init__()
        shared = nn.ConvTranspose2d(4, 4, 4, 2, 1)
        self.seq = nn.Sequential(nn.ConvTranspose2d(4, 4, 3, 2, 1, 1), nn.ReLU())
        self.lst = nn.ModuleList([nn.ConvTranspose2d(4, 4, 2, 2), nn.Conv2d(4, 4, 3, padding=1)])
        self.dct = nn.ModuleDict({"up": nn.ConvTranspose2d(4, 4, 4, 2, 1)})
        self.inner = nn.Module()
        self.inner.deep = nn.Sequential(nn.Sequential(nn.ConvTranspose2d(4, 4, 5, 3, 1)))
        self.a = shared
        self.b = shared
        self.same = nn.ConvTranspose2d(4, 4, 3, 1, 1)  # stride 1: one phase, left alone

    def forward(self, x):
        return [self.seq(x), self.lst[1](self.lst[0](x)), self.dct["up"](x),
                self.inner.deep(x), self.b(self.a(x)), self.same(x)]


CONVERTED = ["seq.0", "lst.0", "dct.up", "inner.deep.0.0", "a", "b"]


def outputs_shapes(model, x):
    with torch.no_grad():
        return [y.shape for y in model(x)]


@pytest.mark.parametrize("kind", KINDS)
def test_nested_containers_and_original_untouched(kind):
    model = Nested()
    children = dict(model.named_modules(remove_duplicate=False))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    new = convert(model, to=kind)
    assert new is not model
    # the original: same objects, same values, still plain ConvTranspose
    assert dict(model.named_modules(remove_duplicate=False)).keys() == children.keys()
    for name, m in model.named_modules(remove_duplicate=False):
        assert m is children[name]
    after = model.state_dict()
    assert after.keys() == before.keys()
    assert all(torch.equal(after[k], before[k]) for k in before)
    assert sorted(plain_strided_sites(model)) == sorted(CONVERTED)
    # the copy: no strided ConvTranspose site left, stride-1 kept, sharing kept
    assert plain_strided_sites(new) == []
    assert type(new.same) is nn.ConvTranspose2d
    assert new.a is new.b and new.a is not model.a
    assert new.lst[1] is not model.lst[1]  # a deep copy, not shared parts
    for n in (3, 5, 8):
        x = torch.randn(1, 4, n, n + 1)
        assert outputs_shapes(new, x) == outputs_shapes(model, x)


def test_inplace_modifies_and_returns_the_same_object():
    model = Nested()
    seq = model.seq
    out = convert(model, "subpixel", inplace=True)
    assert out is model and model.seq is seq
    assert plain_strided_sites(model) == []
    assert model.a is model.b


def test_inplace_failure_leaves_the_model_whole():
    model = Nested()
    types = [type(m) for m in model.modules()]
    # the last layer refuses `mode` (a hold has none), after the first ones were built
    with pytest.raises(InvalidArgumentError):
        convert(model, "resize", inplace=True, mapping={"inner.deep.0.0": "hold"}, mode="nearest")
    assert [type(m) for m in model.modules()] == types


def test_root_conv_transpose_is_returned_converted():
    ct = nn.ConvTranspose1d(2, 2, 4, 2, 1)
    new = convert(ct, "resize", inplace=True)
    assert type(new).__name__ == "ResizeConv1d" and type(ct) is nn.ConvTranspose1d


@pytest.mark.parametrize("kind", KINDS)
def test_training_flag_and_dtype_kept(kind):
    model = Nested().double()
    model.train()
    model.seq.eval()  # a mixed model: flags are per module
    new = convert(model, kind)
    assert new.training and not new.seq.training and not new.seq[0].training
    assert new.dct.up.training
    assert all(p.dtype == torch.float64 for p in new.parameters())
    assert all(b.dtype == torch.float64 for b in new.buffers() if b.is_floating_point())
    x = torch.randn(1, 4, 6, 6, dtype=torch.float64)
    assert all(y.dtype == torch.float64 for y in new(x))
    assert not convert(model.eval(), kind).dct.up.training


@pytest.mark.parametrize("kind", KINDS)
def test_device_kept(kind):
    # meta stands in for an accelerator: a second device that CPU tests can reach
    model = nn.Sequential(nn.ConvTranspose2d(2, 2, 4, 2, 1, device="meta"))
    new = convert(model, kind)
    assert {t.device.type for t in [*new.parameters(), *new.buffers()]} == {"meta"}
    assert new(torch.empty(1, 2, 5, 5, device="meta")).shape == (1, 2, 10, 10)


def test_hooks_are_dropped_with_a_warning():
    model = nn.Sequential(nn.ConvTranspose1d(1, 1, 4, 2, 1))
    model[0].register_forward_hook(lambda *args: None)
    with pytest.warns(UserWarning, match="'0'.*hooks"):
        convert(model, "resize")


def test_hold_keeps_weights_and_state_dict_keys():
    model = Nested()
    new = convert(model, "hold")
    assert new.state_dict().keys() == model.state_dict().keys()
    for k, v in model.state_dict().items():
        assert torch.equal(new.state_dict()[k], v), k
    # so a checkpoint of the original loads into the converted model
    new.load_state_dict(model.state_dict())


def test_resize_and_subpixel_copy_the_bias():
    ct = nn.ConvTranspose2d(3, 2, 4, 2, 1)
    assert torch.equal(convert(ct, "resize").bias, ct.bias)
    # One shared bias per output channel (equal on every phase by construction), or a copy
    # on every phase when asked.
    assert torch.equal(convert(ct, "subpixel").bias, ct.bias)
    own = convert(ct, "subpixel", shared_bias=False).bias
    assert torch.equal(own.view(2, 4), ct.bias[:, None].expand(2, 4))


def test_frozen_flags():
    ct = nn.ConvTranspose2d(3, 2, 4, 2, 1).requires_grad_(False)
    held = convert(ct, "hold")
    assert not held.weight.requires_grad and not held.bias.requires_grad
    fresh = convert(ct, "resize")  # a fresh weight must stay trainable; the copied bias not
    assert fresh.weight.requires_grad and not fresh.bias.requires_grad


@pytest.mark.parametrize("legacy", [True, False])
def test_hold_keeps_weight_norm(legacy):
    ct = nn.ConvTranspose1d(3, 2, 4, 2, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        if legacy:
            ct = torch.nn.utils.weight_norm(ct)
        else:
            ct = torch.nn.utils.parametrizations.weight_norm(ct)
    model = nn.Sequential(ct)
    new = convert(model, "hold")  # the legacy one also needs our deepcopy workaround
    assert new.state_dict().keys() == model.state_dict().keys()
    x = torch.randn(1, 3, 9)
    with torch.no_grad():
        assert torch.allclose(new[0].weight, ct.weight)
        assert new(x).shape == model(x).shape
    # resize/subpixel build a fresh weight; they still convert a weight-normed model
    assert convert(model, "resize")(x).shape == model(x).shape


def test_converting_twice_changes_nothing():
    held = convert(Nested(), "hold")
    with pytest.warns(UserWarning, match="nothing to convert"):
        again = convert(held, "hold")
    assert [type(m) for m in again.modules()] == [type(m) for m in held.modules()]


def test_nothing_to_convert_warns_and_returns_a_copy():
    model = nn.Sequential(nn.Conv2d(1, 1, 3), nn.ConvTranspose2d(1, 1, 3, 1))
    with pytest.warns(UserWarning, match="nothing to convert"):
        new = convert(model)
    assert new is not model and type(new[1]) is nn.ConvTranspose2d
    with pytest.warns(UserWarning, match="nothing to convert"):
        assert convert(model, inplace=True) is model


# --------------------------------------------------------------------- mapping and plan


def test_mapping_dict_chooses_per_layer():
    model = Nested()
    mapping = {"seq.0": "hold", "dct.up": None, "a": "subpixel", "same": None}
    new = convert(model, "resize", mapping=mapping)
    assert type(new.seq[0]).__name__ == "HeldConvTranspose2d"
    assert type(new.dct.up) is nn.ConvTranspose2d
    assert type(new.a).__name__ == "SubPixelConv2d" and new.a is new.b
    assert type(new.lst[0]).__name__ == "ResizeConv2d"
    only = convert(model, None, mapping={"lst.0": "hold"})
    assert plain_strided_sites(only) == sorted(set(CONVERTED) - {"lst.0"}, key=CONVERTED.index)


def test_mapping_callable_is_asked_once_per_module():
    calls = []

    def choose(name, module):
        calls.append(name)
        return "subpixel" if module.kernel_size[0] % module.stride[0] == 0 else "resize"

    new = convert(Nested(), mapping=choose)
    assert sorted(calls) == sorted(set(CONVERTED) - {"b"})
    assert type(new.dct.up).__name__ == "SubPixelConv2d"
    assert type(new.seq[0]).__name__ == "ResizeConv2d"


def test_plan_conversion_lists_every_name():
    model = Nested()
    plan = plan_conversion(model, "hold", mapping={"dct.up": "resize", "lst.0": None})
    assert all(isinstance(row, Conversion) for row in plan)
    assert [(r.name, r.to) for r in plan] == [
        ("seq.0", "hold"), ("dct.up", "resize"), ("inner.deep.0.0", "hold"),
        ("a", "hold"), ("b", "hold"),
    ]
    assert plan[0].old is model.seq[0] and plan[3].old is plan[4].old
    assert plain_strided_sites(model)  # untouched


# --------------------------------------------------------------------- errors


@pytest.mark.parametrize("bad", ["Resize", "bilinear", 3, ""])
def test_bad_to(bad):
    with pytest.raises(InvalidArgumentError, match=r"to must be one of 'resize', 'subpixel', "
                       r"'hold'.*got " + repr(bad)):
        convert(Nested(), bad)
    with pytest.raises(ValueError):
        plan_conversion(Nested(), bad)


def test_bad_arguments():
    with pytest.raises(InvalidTypeError, match="torch.nn.Module"):
        convert(torch.zeros(3))
    with pytest.raises(InvalidTypeError, match="mapping"):
        convert(Nested(), mapping=["seq.0"])
    with pytest.raises(InvalidArgumentError, match="'seq.9'.*not a submodule.*seq.0"):
        convert(Nested(), mapping={"seq.9": "hold"})
    with pytest.raises(InvalidArgumentError, match="'same'.*ConvTranspose2d.*stride > 1"):
        convert(Nested(), mapping={"same": "hold"})
    with pytest.raises(InvalidArgumentError, match=r"mapping\['seq.0'\].*'nope'"):
        convert(Nested(), mapping={"seq.0": "nope"})
    with pytest.raises(InvalidArgumentError, match="shared module"):
        convert(Nested(), mapping={"a": "hold", "b": "resize"})
    with pytest.raises(InvalidArgumentError, match=r"mapping\('seq.0'"):
        convert(Nested(), mapping=lambda name, m: "deconv")
    with pytest.raises(InvalidTypeError, match="inplace"):
        convert(Nested(), inplace="yes")


def test_errors_name_the_layer():
    with pytest.raises(InvalidArgumentError, match=r"layer 'seq.0'.*'hold'.*\['mode'\]"):
        convert(Nested(), "hold", mode="bilinear")
    with pytest.raises(InvalidArgumentError, match=r"layer 'seq.0'.*'resize'.*kernel_size"):
        convert(Nested(), "resize", kernel_size=0)
    lazy = nn.Sequential(nn.LazyConvTranspose2d(2, 4, 2))
    with pytest.raises(InvalidArgumentError, match="'0'.*Lazy.*forward"):
        convert(lazy)


# --------------------------------------------------------------------- real models


def check_real_model(model, inputs, kinds=KINDS, call=None):
    """Converted shapes equal the original's for every input; sites gone; layers clean."""
    call = call or (lambda m, x: m(x))
    model.eval()
    sites = plain_strided_sites(model)
    assert sites, "the model has no strided ConvTranspose: nothing tested"
    plan = {r.name: r.old for r in plan_conversion(model)}
    for kind in kinds:
        new = convert(model, kind)
        assert plain_strided_sites(new) == []
        assert sorted(plain_strided_sites(model)) == sorted(sites)
        with torch.no_grad():
            for x in inputs:
                assert call(new, x).shape == call(model, x).shape, (kind, x.shape)
        for name, old in plan.items():  # old: only its geometry is read
            layer = new.get_submodule(name).double()
            assert interior_spread(layer, old, len(old.stride)) < 1e-9, (kind, name)
    return sites


class DCGANGenerator(nn.Module):
    """Radford et al. 2016, with few channels: z (N, nz, 1, 1) -> (N, 3, 32, 32)."""

    def __init__(self, nz=8, ngf=4):
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False),
            nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf), nn.ReLU(True),
            nn.ConvTranspose2d(ngf, 3, 4, 2, 1, bias=False), nn.Tanh(),
        )

    def forward(self, z):
        return self.main(z)


def test_dcgan_generator():
    g = DCGANGenerator()
    sites = check_real_model(g, [torch.randn(2, 8, 1, 1), torch.randn(1, 8, 2, 3)])
    assert sites == ["main.3", "main.6", "main.9"]  # the stride-1 stem stays


@pytest.mark.parametrize("dims, sizes", [(2, [(16, 16), (24, 32)]), (3, [(8, 8, 8), (8, 16, 8)])])
def test_monai_unet(dims, sizes):
    nets = pytest.importorskip("monai.networks.nets")
    net = nets.UNet(spatial_dims=dims, in_channels=1, out_channels=2, channels=(2, 4, 4),
                    strides=(2, 2), num_res_units=0)
    check_real_model(net, [torch.randn(1, 1, *s) for s in sizes])


def test_monai_basic_unet_deconv():
    nets = pytest.importorskip("monai.networks.nets")
    net = nets.BasicUNet(spatial_dims=2, in_channels=1, out_channels=1,
                         features=(2, 2, 2, 2, 2, 2), upsample="deconv")
    check_real_model(net, [torch.randn(1, 1, 32, 32), torch.randn(1, 1, 32, 48)])


def test_diffusers_upsample_blocks():
    upsampling = pytest.importorskip("diffusers.models.upsampling")
    up2 = upsampling.Upsample2D(4, use_conv_transpose=True)
    check_real_model(up2, [torch.randn(1, 4, 5, 5), torch.randn(2, 4, 3, 8)])
    up1 = upsampling.Upsample1D(4, use_conv_transpose=True)
    check_real_model(up1, [torch.randn(1, 4, 5), torch.randn(2, 4, 11)])


def test_diffusers_unet1d():
    diffusers = pytest.importorskip("diffusers")
    net = diffusers.UNet1DModel(
        block_out_channels=(8, 16, 32), in_channels=2, out_channels=2, extra_in_channels=0,
        time_embedding_type="positional", use_timestep_embedding=True, flip_sin_to_cos=False,
        freq_shift=1, down_block_types=("DownResnetBlock1D",) * 3,
        up_block_types=("UpResnetBlock1D",) * 2, mid_block_type="MidResTemporalBlock1D",
        out_block_type="OutConv1DBlock", act_fn="mish", norm_num_groups=8, layers_per_block=1,
    )
    t = torch.tensor([3])
    check_real_model(net, [torch.randn(1, 2, 16), torch.randn(2, 2, 32)],
                     call=lambda m, x: m(x, t).sample)


def test_diffusers_oobleck_weight_norm():
    diffusers = pytest.importorskip("diffusers")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        vae = diffusers.AutoencoderOobleck(
            encoder_hidden_size=4, downsampling_ratios=[2, 4], decoder_channels=4,
            decoder_input_channels=4, audio_channels=1, channel_multiples=[1, 2],
        )
    sites = check_real_model(vae.decoder, [torch.randn(1, 4, 5), torch.randn(2, 4, 9)])
    assert len(sites) == 2
    held = convert(vae, "hold")
    assert held.state_dict().keys() == vae.state_dict().keys()  # weight_g / weight_v kept


def test_diffusers_autoencoder_kl_has_nothing_to_convert():
    # diffusers' image VAE upsamples by interpolation and a convolution: nothing to replace.
    diffusers = pytest.importorskip("diffusers")
    vae = diffusers.AutoencoderKL(
        block_out_channels=(4, 4), down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2, latent_channels=2, norm_num_groups=2,
    )
    with pytest.warns(UserWarning, match="AutoencoderKL has no ConvTranspose"):
        assert convert(vae) is not vae


def test_sizes_helper_is_exact():
    # guards the reference formula the shape tests rely on
    for k, s, p, op, d in [(3, 2, 1, 1, 1), (4, 3, 2, 0, 2), (1, 4, 0, 3, 1)]:
        ct = nn.ConvTranspose1d(1, 1, k, s, p, op, dilation=d)
        for n in range(1, 6):
            if ct_length(n, k, s, p, op, d) >= 1:
                assert ct(torch.zeros(1, 1, n)).shape[-1] == ct_length(n, k, s, p, op, d)
