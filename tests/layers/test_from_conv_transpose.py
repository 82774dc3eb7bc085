"""from_conv_transpose: new module, same channels/groups/dtype/training, same output shapes."""

import pytest
import torch
import torch.nn as nn
from hypothesis import given
from hypothesis import strategies as st

from checkerfree.errors import InvalidTypeError, SpecError
from checkerfree.layers import (
    HeldConvTranspose1d,
    HeldConvTranspose2d,
    HeldConvTranspose3d,
    ResizeConv1d,
    ResizeConv2d,
    ResizeConv3d,
    SubPixelConv1d,
    SubPixelConv2d,
    SubPixelConv3d,
    ZeroOrderHold1d,
    ZeroOrderHold2d,
    ZeroOrderHold3d,
)

CONV_T = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}
FAMILIES = {
    "resize": {1: ResizeConv1d, 2: ResizeConv2d, 3: ResizeConv3d},
    "subpixel": {1: SubPixelConv1d, 2: SubPixelConv2d, 3: SubPixelConv3d},
    "hold": {1: ZeroOrderHold1d, 2: ZeroOrderHold2d, 3: ZeroOrderHold3d},
}
HELD = {1: HeldConvTranspose1d, 2: HeldConvTranspose2d, 3: HeldConvTranspose3d}


@st.composite
def conv_transposes(draw):
    dims = draw(st.integers(1, 3))
    k = draw(st.integers(1, 5 if dims < 3 else 4))
    s = draw(st.integers(2, 4 if dims < 3 else 3))
    d = draw(st.integers(1, 2))
    p = draw(st.integers(0, (d * (k - 1)) // 2 + 1))
    op = draw(st.integers(0, max(s, d) - 1))
    groups = draw(st.sampled_from([1, 2]))
    family = draw(st.sampled_from(sorted(FAMILIES)))
    mode = draw(st.sampled_from(["nearest", "linear"]))
    return dims, k, s, p, op, d, groups, family, mode


def _make(dims, k, s, p, op, d, groups):
    return CONV_T[dims](4, 2, k, stride=s, padding=p, output_padding=op, dilation=d,
                        groups=groups)


def _convert(m, family, dims, mode="nearest"):
    cls = FAMILIES[family][dims]
    return cls.from_conv_transpose(m, mode=mode) if family == "resize" else \
        cls.from_conv_transpose(m)


class TestFromConvTranspose:
    @given(conv_transposes())
    def test_output_shape_equal_for_every_input_size(self, cfg):
        dims, k, s, p, op, d, groups, family, mode = cfg
        m = _make(dims, k, s, p, op, d, groups).train(False)
        before = {n: t.clone() for n, t in m.state_dict().items()}
        new = _convert(m, family, dims, mode)
        assert new is not m and not new.training
        assert (new.in_channels, new.out_channels, new.groups) == (4, 2, groups)
        for size in (1, 2, 3, 5):
            x = torch.randn(1, 4, *(size + a for a in range(dims)))
            try:
                want = m(x).shape
            except RuntimeError:
                continue  # the original refuses this size (output would be empty)
            assert new(x).shape == want, (size, new)
        for n, t in m.state_dict().items():
            assert torch.equal(t, before[n])  # m untouched

    @pytest.mark.parametrize("family", sorted(FAMILIES))
    @pytest.mark.parametrize("k,s,p,op", [(4, 2, 1, 0), (3, 2, 1, 1), (5, 3, 1, 0),
                                          (2, 2, 0, 0), (6, 4, 1, 0)])
    def test_constant_input_gives_constant_output_away_from_borders(self, family, k, s, p, op):
        m = nn.ConvTranspose2d(3, 2, k, stride=s, padding=p, output_padding=op)
        new = _convert(m, family, 2)
        y = new(torch.full((1, 3, 9, 9), 0.5))
        margin = k + s
        inner = y[..., margin:-margin, margin:-margin]
        torch.testing.assert_close(inner, inner[..., :1, :1].expand_as(inner))

    def test_resize_defaults_and_bias(self):
        m = nn.ConvTranspose2d(4, 2, 4, stride=2, padding=1)
        new = ResizeConv2d.from_conv_transpose(m)
        assert new.kernel_size == (3, 3) and new.padding == (1, 1) and new.trim is None
        assert new.scale_factor == (2, 2) and new.mode == "nearest"
        assert torch.equal(new.bias, m.bias) and new.bias.data_ptr() != m.bias.data_ptr()
        assert ResizeConv1d.from_conv_transpose(nn.ConvTranspose1d(1, 1, 2, 2)).kernel_size == (1,)
        assert ResizeConv2d.from_conv_transpose(m, kernel_size=5).kernel_size == (5, 5)

    def test_subpixel_bias_is_phase_equal_copy(self):
        m = nn.ConvTranspose1d(2, 3, 3, stride=3)
        new = SubPixelConv1d.from_conv_transpose(m, shared_bias=False)
        assert torch.equal(new.bias, m.bias.repeat_interleave(3))
        assert torch.equal(SubPixelConv1d.from_conv_transpose(m).bias, m.bias)

    def test_dtype_and_no_bias(self):
        m = nn.ConvTranspose3d(2, 2, 2, stride=2, bias=False, dtype=torch.float64)
        for family in FAMILIES:
            new = _convert(m, family, 3)
            assert new.weight.dtype == torch.float64 and new.bias is None
        assert isinstance(_convert(m, "hold", 3), HELD[3])

    @pytest.mark.parametrize("family", sorted(FAMILIES))
    def test_exception(self, family):
        cls = FAMILIES[family][2]
        with pytest.raises(InvalidTypeError, match="ConvTranspose2d"):
            cls.from_conv_transpose(nn.Conv2d(2, 2, 3))
        with pytest.raises(InvalidTypeError, match="ConvTranspose2d"):
            cls.from_conv_transpose(nn.ConvTranspose1d(2, 2, 3))
        m = nn.ConvTranspose2d(2, 2, 3, 2)
        m.padding_mode = "reflect"  # PyTorch refuses it at construction; a model could set it
        with pytest.raises(SpecError, match="padding_mode"):
            cls.from_conv_transpose(m)
