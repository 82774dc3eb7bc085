"""SubPixelConv1d/2d/3d: ICNR init is nearest resize of a conv; phase balance; weight norm."""

import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from checkerfree.errors import InvalidArgumentError, InvalidTypeError
from checkerfree.layers import SubPixelConv1d, SubPixelConv2d, SubPixelConv3d
from checkerfree.overlap import phase_imbalance

CLASSES = {1: SubPixelConv1d, 2: SubPixelConv2d, 3: SubPixelConv3d}
CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
CONV_T = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


@st.composite
def layers(draw):
    dims = draw(st.integers(1, 3))
    s = draw(st.integers(1, 3 if dims < 3 else 2))
    k = draw(st.integers(1, 4 if dims < 3 else 3))
    d = draw(st.integers(1, 2))
    p = draw(st.integers(0, d * (k - 1)))
    groups = draw(st.sampled_from([1, 2]))
    low = max(1, d * (k - 1) - 2 * p + 1)
    size = draw(st.integers(low, max(low, 5 if dims < 3 else 3)))
    return dims, s, k, d, p, groups, size


class TestSubPixelConv:
    def test_smoke(self):
        m = SubPixelConv2d(3, 5, 3, padding=1)
        assert isinstance(m, nn.Conv2d) and m.out_channels == 5 and m.weight.shape[0] == 20
        assert m(torch.randn(2, 3, 4, 4)).shape == (2, 5, 8, 8)
        assert "scale_factor=(2, 2)" in repr(m)

    @pytest.mark.parametrize("dims", [1, 2, 3])
    @pytest.mark.parametrize("scale", [1, 2, 3])
    def test_cardinality(self, dims, scale):
        m = CLASSES[dims](2, 3, 3, padding=1, scale_factor=scale)
        size = (4, 5, 3)[:dims]
        assert m(torch.randn(1, 2, *size)).shape == (1, 3, *(scale * n for n in size))

    @given(layers())
    def test_icnr_init_is_nearest_resize_of_a_conv(self, cfg):
        dims, s, k, d, p, groups, size = cfg
        m = CLASSES[dims](2, 4, k, padding=p, dilation=d, groups=groups, scale_factor=s,
                          dtype=torch.float64)
        x = torch.randn(2, 2, *(size,) * dims, dtype=torch.float64)
        phases = s**dims
        conv = CONV[dims](x, m.weight[::phases], m.bias[::phases], padding=p, dilation=d,
                          groups=groups)
        torch.testing.assert_close(m(x), F.interpolate(conv, scale_factor=s))
        assert phase_imbalance(m.equivalent_transposed_weight(), s, groups=groups) == 0.0

    @given(layers())
    def test_equivalent_transposed_weight_reproduces_the_layer(self, cfg):
        """For any (trained-looking) weight, not only ICNR: the rearrangement is exact."""
        dims, s, k, d, p, groups, size = cfg
        m = CLASSES[dims](2, 4, k, padding=p, dilation=d, groups=groups, scale_factor=s,
                          bias=False, init="default", dtype=torch.float64)
        x = torch.randn(1, 2, *(size,) * dims, dtype=torch.float64)
        full = CONV_T[dims](x, m.equivalent_transposed_weight(), stride=s, groups=groups)
        y = m(x)
        shift = s * (d * (k - 1) - p)
        for a in range(dims):
            full = full.narrow(2 + a, shift, y.shape[2 + a])
        torch.testing.assert_close(full, y)

    def test_random_init_is_not_balanced(self):
        """The check can fail: a plain-initialised sub-pixel conv has unequal phase sums."""
        m = SubPixelConv2d(4, 4, 3, padding=1, init="default")
        assert phase_imbalance(m.equivalent_transposed_weight(), 2) > 0.1

    @pytest.mark.parametrize("scale", [2, 3, (2, 3)])
    def test_constant_input_gives_constant_output(self, scale):
        m = SubPixelConv2d(3, 4, 3, padding=1, scale_factor=scale)
        y = m(torch.full((1, 3, 6, 6), 0.7))[..., 3:-3, 3:-3]
        torch.testing.assert_close(y, y[..., :1, :1].expand_as(y))
        m_bad = SubPixelConv2d(3, 4, 3, padding=1, scale_factor=scale, init="default")
        y = m_bad(torch.full((1, 3, 6, 6), 0.7))[..., 3:-3, 3:-3]
        assert (y - y[..., :1, :1]).abs().max() > 1e-3

    def test_weight_norm_parametrisation_keeps_effective_weight_icnr(self):
        m = SubPixelConv2d(3, 2, 3, padding=1, scale_factor=3)
        nn.utils.parametrizations.weight_norm(m)
        m.reset_parameters()
        w = m.weight.detach()
        blocks = w.view(2, 9, -1)
        torch.testing.assert_close(blocks, blocks[:, :1].expand_as(blocks))
        assert phase_imbalance(m.equivalent_transposed_weight(), 3) == 0.0
        g = m.parametrizations.weight.original0
        torch.testing.assert_close(g.view(2, 9), g.view(2, 9)[:, :1].expand(2, 9))

    def test_legacy_weight_norm_hook(self):
        import warnings

        m = SubPixelConv1d(2, 2, 3, padding=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nn.utils.weight_norm(m)
        with torch.no_grad():
            m.weight_v.normal_()
        m.reset_parameters()
        m(torch.randn(1, 2, 4))  # the pre-hook recomputes weight from g, v
        blocks = m.weight.detach().view(2, 2, -1)
        torch.testing.assert_close(blocks, blocks[:, :1].expand_as(blocks))

    def test_gradcheck(self):
        m = SubPixelConv2d(2, 2, 3, padding=1, dtype=torch.float64)
        x = torch.randn(1, 2, 3, 3, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(m, (x,), fast_mode=True)

    def test_trim(self):
        m = SubPixelConv1d(1, 1, 3, padding=1, trim=[(1, -2)])
        x = torch.randn(1, 1, 4)
        y = m(x)
        full = F.interpolate(F.conv1d(x, m.weight[::2], m.bias[::2], padding=1), scale_factor=2)
        torch.testing.assert_close(y, torch.cat([full[..., 1:], torch.zeros(1, 1, 2)], -1))

    @pytest.mark.parametrize(
        "kwargs,error,word",
        [
            ({"scale_factor": 2.5}, InvalidArgumentError, "scale_factor"),
            ({"scale_factor": None}, InvalidTypeError, "scale_factor"),
            ({"init": "orthogonal"}, InvalidArgumentError, "init"),
            ({"groups": 2}, InvalidArgumentError, "out_channels"),
            ({"padding_mode": "nope"}, InvalidArgumentError, "padding_mode"),
        ],
    )
    def test_exception(self, kwargs, error, word):
        with pytest.raises(error, match=word):
            SubPixelConv2d(2, 3, 3, **kwargs)

    def test_follows_dtype(self):
        m = SubPixelConv3d(1, 1, 1, dtype=torch.float64)
        assert m(torch.ones(1, 1, 2, 2, 2, dtype=torch.float64)).dtype == torch.float64
        assert math.prod(m.scale_factor) == 8
