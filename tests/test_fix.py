"""fix_sites and convert(to="blur"): a fix for every kind of resampling site, shapes kept."""

import warnings

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from checkerfree import checkerboard_score
from checkerfree.audit.attribution import advice_for
from checkerfree.audit.inventory import ResamplingSite, find_resampling
from checkerfree.convert import convert, nothing_to_convert, plan_conversion
from checkerfree.errors import InvalidArgumentError, InvalidTypeError
from checkerfree.fix import fix_sites, plan_fix
from checkerfree.layers import (
    BlurConv2d,
    BlurPool1d,
    BlurPool2d,
    HeldConvTranspose2d,
    ResizeConv2d,
    ZeroOrderHold2d,
)
from checkerfree.zoo import espcn


def site(name, kind, direction, shape_in, shape_out, *, module_type=None, output_module=None,
         stride=(2, 2), **extra):
    """A ResamplingSite as the inventory reports it, for kinds it may not detect yet."""
    return ResamplingSite(name=name, kind=kind, direction=direction, dims=len(stride),
                          stride=stride, module_type=module_type, input_shape=shape_in,
                          output_shape=shape_out, output_module=output_module, **extra)


def gradient_score(model: nn.Module, shape) -> float:
    """Checkerboard score (period 2) of the input gradient of sum(output), near-constant input.

    The interior gradient is scaled to a mean magnitude of 64 grey levels (see
    tests/layers/test_blur_pool.py).
    """
    g = torch.Generator().manual_seed(0)
    x = (0.5 + 0.01 * torch.randn(shape, generator=g)).requires_grad_()
    model(x).sum().backward()
    grad = x.grad[..., 6:-6, 6:-6]
    grad = grad / grad.abs().mean() * 64
    return float(checkerboard_score(grad, periods=(2,)).score.max())


def constant_response_spread(model: nn.Module, shape, margin: int = 4) -> float:
    """Max minus min of the output's interior for a constant input (0 when artifact-free)."""
    with torch.no_grad():
        y = model(torch.full(shape, 0.7))
    inner = y[..., margin:-margin, margin:-margin]
    return float(inner.amax(dim=(-2, -1)).sub(inner.amin(dim=(-2, -1))).max())


def same_shapes(a: nn.Module, b: nn.Module, shapes) -> bool:
    with torch.no_grad():
        return all(a(torch.randn(s)).shape == b(torch.randn(s)).shape for s in shapes)


def untouched(model: nn.Module):
    """A snapshot to compare the model with after a fix: types, state, mode."""
    return ([type(m) for m in model.modules()],
            {k: v.clone() for k, v in model.state_dict().items()}, model.training)


def assert_untouched(model, snapshot):
    types, state, training = snapshot
    assert [type(m) for m in model.modules()] == types and model.training == training
    for k, v in model.state_dict().items():
        assert torch.equal(v, state[k])


class TestFixSites:
    def test_conv_transpose_uneven_to_resize_even_to_hold(self):
        model = nn.Sequential(nn.ConvTranspose2d(4, 4, 3, 2, 1, 1), nn.ReLU(),
                              nn.ConvTranspose2d(4, 2, 4, 2, 1))
        snap = untouched(model)
        sites = find_resampling(model, torch.randn(1, 4, 6, 6))
        result = fix_sites(model, sites)
        assert type(result.model[0]) is ResizeConv2d
        assert type(result.model[2]) is HeldConvTranspose2d
        assert torch.equal(result.model[2].weight, model[2].weight)
        assert [n for n, _ in result.applied] == ["0", "2"] and not result.skipped
        assert same_shapes(model, result.model, [(1, 4, 5, 7), (2, 4, 8, 3)])
        assert constant_response_spread(result.model, (1, 4, 8, 8)) < 1e-5
        assert constant_response_spread(model, (1, 4, 8, 8)) > 1e-3
        assert_untouched(model, snap)

    def test_strided_conv_and_pools_are_blurred_shape_exact(self):
        model = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1), nn.ReLU(), nn.MaxPool2d(3, 2, 1),
                              nn.AvgPool2d(3, 2, ceil_mode=True), nn.Conv2d(8, 1, 1)).eval()
        snap = untouched(model)
        sites = find_resampling(model, torch.randn(1, 3, 32, 32))
        assert {s.kind for s in sites} == {"strided_conv", "pool"}
        result = fix_sites(model, sites, torch.randn(1, 3, 32, 32))
        new = result.model
        assert type(new[0]) is BlurConv2d and type(new[2]) is BlurPool2d
        assert type(new[3]) is BlurPool2d and not new.training and not new[2].training
        assert torch.equal(new[0].weight, model[0].weight)
        assert same_shapes(model, new, [(1, 3, 32, 32), (2, 3, 29, 37), (1, 3, 17, 16)])
        assert gradient_score(model, (1, 3, 48, 48)) > 5
        assert gradient_score(new, (1, 3, 48, 48)) < gradient_score(model, (1, 3, 48, 48)) / 4
        assert_untouched(model, snap)

    def test_pixel_unshuffle_is_blurred_and_its_gradient_checkerboard_drops(self):
        # The example: period-2 gradient artifacts that no layer was blamed for.
        model = nn.Sequential(nn.PixelUnshuffle(2), nn.Conv2d(12, 8, 3, padding=1),
                              nn.Conv2d(8, 1, 1))
        shape = (1, 3, 48, 48)
        s = site("0", "pixel_unshuffle", "down", shape, (1, 12, 24, 24),
                 module_type="PixelUnshuffle", output_module="0")
        result = fix_sites(model, [s], torch.randn(shape))
        assert isinstance(result.model[0], nn.Sequential)
        assert type(result.model[0][0]) is ZeroOrderHold2d and result.model[0][0].order == 1
        assert same_shapes(model, result.model, [shape, (2, 3, 16, 10)])
        before, after = gradient_score(model, shape), gradient_score(result.model, shape)
        assert before > 20 and after < 1
        assert "blur" in advice_for(s) and "--fix auto" in advice_for(s)

    def test_functional_unshuffle_inside_a_module_is_blurred(self):
        # diffusers' DCDownBlock2d: F.pixel_unshuffle on its input inside forward. The
        # channel axis grows while the spatial axes shrink; the blur goes before the module.
        class Down(nn.Module):
            def forward(self, x):
                return F.pixel_unshuffle(x, 2)

        model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), Down(), nn.Conv2d(16, 1, 1))
        shape = (1, 3, 48, 48)
        sites = [s for s in find_resampling(model, torch.randn(shape))
                 if s.kind == "pixel_unshuffle"]
        assert [s.name for s in sites] == ["1"]
        result = fix_sites(model, sites, torch.randn(shape))
        assert [name for name, _ in result.applied] == ["1"], result.skipped
        assert same_shapes(model, result.model, [shape, (2, 3, 16, 10)])
        before, after = gradient_score(model, shape), gradient_score(result.model, shape)
        assert before > 20 and after < 1

    def test_strided_slicing_inside_a_module_gets_a_blur_before_it(self):
        class Patchify(nn.Module):
            def __init__(self):
                super().__init__()
                self.proj = nn.Conv2d(3, 4, 1)

            def forward(self, x):
                return self.proj(x[..., ::2, ::2])

        model = nn.Sequential(Patchify(), nn.Conv2d(4, 1, 3, padding=1))
        shape = (1, 3, 48, 48)
        s = site("0", "strided_slice", "down", shape, (1, 3, 24, 24), module_type="Patchify")
        result = fix_sites(model, [s], torch.randn(shape))
        assert [type(m).__name__ for m in result.model[0]] == ["ZeroOrderHold2d", "Patchify"]
        assert same_shapes(model, result.model, [shape, (1, 3, 9, 14)])
        assert gradient_score(model, shape) > 20 and gradient_score(result.model, shape) < 1

    def test_channel_last_slicing_is_reported_not_fixed(self):
        class PatchMerging(nn.Module):  # SwinUNETR's layout: (B, H, W, C)
            def forward(self, x):
                return torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 1::2]], -1)

        model = nn.Sequential(PatchMerging())
        s = site("0", "strided_slice", "down", (1, 8, 8, 4), (1, 4, 4, 4),
                 module_type="PatchMerging")
        result = fix_sites(model, [s], torch.randn(1, 8, 8, 4))
        assert not result.applied and type(result.model[0]).__name__ == "PatchMerging"
        (name, reason), = result.skipped
        assert name == "0" and "cannot be fixed automatically" in reason
        assert "axes [1, 2]" in reason

    def test_blur_before_a_module_whose_input_is_not_the_downsampled_tensor(self):
        class Body(nn.Module):
            def __init__(self):
                super().__init__()
                self.pre = nn.Conv2d(3, 5, 3, padding=1)

            def forward(self, x):
                return F.avg_pool2d(self.pre(x), 3, 2)

        model = nn.Sequential(Body())
        s = site("0", "pool", "down", (1, 5, 16, 16), (1, 5, 7, 7), module_type="Body")
        result = fix_sites(model, [s], torch.randn(1, 3, 16, 16))
        assert not result.applied
        assert "not the downsampled tensor" in result.skipped[0][1]

    def test_subpixel_icnr_makes_a_constant_input_constant(self):
        torch.manual_seed(0)
        model = espcn()
        sites = find_resampling(model, torch.randn(1, 3, 16, 16))
        assert [s.kind for s in sites] == ["subpixel"]
        # Margin: the 5x5, 3x3, 3x3 receptive field reaches 4 inputs, 12 outputs at x3.
        assert constant_response_spread(model, (1, 3, 16, 16), 12) > 1e-3
        result = fix_sites(model, sites)
        assert constant_response_spread(result.model, (1, 3, 16, 16), 12) < 1e-5
        assert not torch.equal(result.model[4].weight, model[4].weight)
        held = fix_sites(model, sites, subpixel="hold").model
        assert type(held[5][1]) is ZeroOrderHold2d  # after the pixel shuffle
        assert torch.equal(held[4].weight, model[4].weight)
        assert constant_response_spread(held, (1, 3, 16, 16), 14) < 1e-5  # + the hold

    def test_monai_subpixel_upsample_gets_equal_phase_bias(self):
        monai_blocks = pytest.importorskip("monai.networks.blocks")
        torch.manual_seed(0)
        model = monai_blocks.SubpixelUpsample(2, 8, 8, apply_pad_pool=False)
        sites = find_resampling(model, torch.randn(1, 8, 8, 8))
        assert [s.kind for s in sites] == ["subpixel"]
        assert constant_response_spread(model, (1, 8, 8, 8)) > 1e-3  # random per-phase bias
        result = fix_sites(model, sites)
        assert constant_response_spread(result.model, (1, 8, 8, 8)) < 1e-5
        bias = result.model.conv_block.bias.view(-1, 4)
        assert torch.equal(bias, bias[:, :1].expand_as(bias))
        torch.testing.assert_close(bias[:, 0], model.conv_block.bias.view(-1, 4).mean(1))
        assert same_shapes(model, result.model, [(1, 8, 8, 8), (2, 8, 5, 7)])

    def test_upsampler_without_weights_gets_a_hold_after_it(self):
        class Painter(nn.Module):  # nearest x2, then a fixed period-2 pattern
            def forward(self, x):
                y = F.interpolate(x, scale_factor=2)
                return y + torch.tensor([[1.0, 0.0], [0.0, 0.0]]).repeat(
                    y.shape[-2] // 2, y.shape[-1] // 2)

        model = nn.Sequential(Painter(), nn.Conv2d(2, 2, 3, padding=1))
        sites = find_resampling(model, torch.randn(1, 2, 8, 8))
        assert sites[0].kind == "interpolate" and sites[0].output_module == "0"
        result = fix_sites(model, sites)
        assert [type(m).__name__ for m in result.model[0]] == ["Painter", "ZeroOrderHold2d"]
        assert constant_response_spread(model, (1, 2, 8, 8)) > 0.1
        assert constant_response_spread(result.model, (1, 2, 8, 8)) < 1e-5

    def test_root_shared_and_repeated_sites(self):
        conv = nn.Conv2d(2, 2, 3, 2, 1)
        new = fix_sites(conv, find_resampling(conv, torch.randn(1, 2, 8, 8))).model
        assert type(new) is BlurConv2d
        shared = nn.Conv1d(2, 2, 3, 2, 1)
        model = nn.ModuleDict({"a": shared, "b": shared})
        s = site("a", "strided_conv", "down", (1, 2, 9), (1, 2, 5), module_type="Conv1d",
                 stride=(2,))
        result = fix_sites(model, [s, s])
        assert result.model["a"] is result.model["b"]
        assert len(result.applied) == 2 and type(result.model["a"]).__name__ == "BlurConv1d"

    def test_nothing_automatic_is_reported(self):
        pool = nn.MaxPool2d(2, return_indices=True)
        model = nn.Sequential(pool)
        s = site("0", "pool", "down", (1, 1, 4, 4), (1, 1, 2, 2), module_type="MaxPool2d")
        result = fix_sites(model, [s])
        assert not result.applied and "MaxUnpool" in result.skipped[0][1]
        up = site("<functional>", "grid_sample", "up", (1, 1, 4, 4), (1, 1, 8, 8))
        assert "cannot be fixed automatically" in fix_sites(model, [up]).skipped[0][1]
        held = site("0", "held_conv_transpose", "up", (1, 1, 4, 4), (1, 1, 8, 8))
        assert "already" in plan_fix(held).description

    def test_bad_arguments(self):
        model = nn.Sequential(nn.Conv2d(1, 1, 3, 2))
        with pytest.raises(InvalidTypeError, match="ResamplingSite"):
            fix_sites(model, ["0"])
        with pytest.raises(InvalidArgumentError, match="subpixel must be"):
            fix_sites(model, find_resampling(model, torch.randn(1, 1, 8, 8)), subpixel="x")
        with pytest.raises(InvalidArgumentError, match="filter must be one of"):
            fix_sites(model, [], filter="gauss")
        with pytest.raises(InvalidTypeError, match="nn.Module"):
            fix_sites("model", [])


class TestAdvice:
    @pytest.mark.parametrize("s,expected", [
        (site("0", "strided_conv", "down", (1, 3, 8, 8), (1, 3, 4, 4), module_type="Conv2d"),
         "BlurConv2d"),
        (site("0", "pool", "down", (1, 3, 8, 8), (1, 3, 4, 4), module_type="MaxPool2d"),
         "BlurPool2d.from_pool"),
        (site("0", "subpixel", "up", (1, 12, 4, 4), (1, 3, 8, 8), module_type="Conv2d"),
         "ICNR"),
        (site("0", "interpolate", "up", (1, 3, 4, 4), (1, 3, 8, 8), module_type="Upsample",
              output_module="0"), "ZeroOrderHold2d(2) after `0`"),
        (site("0", "strided_slice", "down", (1, 3, 8, 8), (1, 3, 4, 4), module_type="M"),
         "blur"),
    ])
    def test_advice_names_the_fix_auto_applies(self, s, expected):
        text = advice_for(s)
        assert expected in text and "--fix auto applies it" in text
        assert text.endswith("applies it") and plan_fix(s).description.split(" -> ")[-1] in text


class TestConvertBlur:
    def test_blur_converts_every_downsampler_shape_exact(self):
        model = nn.Sequential(nn.Conv2d(3, 4, 3, 2, 1), nn.MaxPool2d(2, ceil_mode=True),
                              nn.AvgPool2d(3, 2), nn.PixelUnshuffle(2), nn.Conv2d(16, 2, 1),
                              nn.ConvTranspose2d(2, 2, 4, 2, 1))
        new = convert(model, "blur")
        assert [type(m).__name__ for m in new] == [
            "BlurConv2d", "BlurPool2d", "BlurPool2d", "Sequential", "Conv2d", "ConvTranspose2d"]
        assert new.state_dict().keys() == model.state_dict().keys()
        assert same_shapes(model, new, [(1, 3, 34, 50), (2, 3, 66, 82)])
        assert [r.name for r in plan_conversion(model, "blur")] == ["0", "1", "2", "3"]
        assert type(new[0]) is BlurConv2d and torch.equal(new[0].weight, model[0].weight)

    def test_blur_and_resize_in_one_mapping(self):
        model = nn.Sequential(nn.Conv1d(2, 2, 3, 2), nn.ConvTranspose1d(2, 2, 3, 2))
        new = convert(model, None, mapping={"0": "blur", "1": "resize"})
        assert [type(m).__name__ for m in new] == ["BlurConv1d", "ResizeConv1d"]
        with pytest.raises(InvalidArgumentError, match="'1' is a ConvTranspose1d, not a strided"):
            convert(model, None, mapping={"1": "blur"})
        with pytest.raises(InvalidArgumentError, match="'0' is a Conv1d, not a ConvTranspose"):
            convert(model, None, mapping={"0": "hold"})
        # A callable is asked only about the layers ``to`` applies to.
        asked = []
        convert(model, "resize", mapping=lambda n, m: asked.append(n) or "resize")
        assert asked == ["1"]

    def test_blur_options_and_requires_grad_kept(self):
        model = nn.Sequential(nn.Conv2d(1, 1, 3, 2), nn.MaxPool1d(3, 2))
        model[0].weight.requires_grad_(False)
        new = convert(model, "blur", filter="box")
        assert new[0].filter == "box" and new[1].filter == "box"
        assert not new[0].weight.requires_grad and new[0].bias.requires_grad
        assert type(new[1]) is BlurPool1d

    def test_nothing_to_convert_is_a_message_not_only_a_warning(self):
        classifier = nn.Sequential(nn.Conv2d(3, 4, 3, 2), nn.ReLU())
        assert nothing_to_convert(classifier, "resize") == (
            "Sequential has no ConvTranspose1d/2d/3d with stride > 1; nothing to convert")
        assert nothing_to_convert(classifier, "blur") is None
        up = nn.Sequential(nn.ConvTranspose2d(1, 1, 3, 2), nn.MaxPool2d(2, return_indices=True))
        assert "no strided Conv1d/2d/3d" in nothing_to_convert(up, "blur")
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            convert(classifier, "blur")  # something to convert: no warning
        with pytest.warns(UserWarning, match="nothing to convert"):
            convert(up, "blur")


def test_convert_auto_picks_resize_for_uneven_and_hold_for_even_overlap():
    model = nn.Sequential(nn.ConvTranspose2d(2, 2, 3, 2, 1, 1), nn.ConvTranspose2d(2, 2, 4, 2, 1),
                          nn.ConvTranspose2d(2, 2, 3, 1, 1), nn.Conv2d(2, 2, 3, 2))
    assert [(r.name, r.to) for r in plan_conversion(model, "auto")] == [("0", "resize"),
                                                                        ("1", "hold")]
    new = convert(model, "auto")
    assert [type(m).__name__ for m in new] == ["ResizeConv2d", "HeldConvTranspose2d",
                                               "ConvTranspose2d", "Conv2d"]
    assert same_shapes(model, new, [(1, 2, 5, 6), (2, 2, 9, 4)])
    assert constant_response_spread(new, (1, 2, 12, 12)) < 1e-5


def test_the_layout_check_leaves_batch_norm_statistics_and_rng_alone():
    class Down(nn.Module):
        def forward(self, x):
            return x[..., ::2, ::2]

    model = nn.Sequential(nn.BatchNorm2d(3), Down()).train()
    s = site("1", "strided_slice", "down", (2, 3, 8, 8), (2, 3, 4, 4), module_type="Down")
    example = torch.randn(2, 3, 8, 8) * 5 + 3
    state = torch.random.get_rng_state()
    result = fix_sites(model, [s], example)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert result.applied and result.model.training
    assert torch.equal(result.model[0].running_mean, model[0].running_mean)
    assert int(result.model[0].num_batches_tracked) == 0
