"""ZeroOrderHold1d/2d/3d, zero_order_hold and HeldConvTranspose against brute force."""

import numpy as np
import pytest
import torch
import torch.nn as nn
from hypothesis import given
from hypothesis import strategies as st

from checkerfree.errors import InvalidArgumentError, InvalidTypeError, SpecError
from checkerfree.layers import (
    HeldConvTranspose1d,
    HeldConvTranspose2d,
    ZeroOrderHold1d,
    ZeroOrderHold2d,
    ZeroOrderHold3d,
    zero_order_hold,
    zero_order_hold_kernel,
)

CLASSES = {1: ZeroOrderHold1d, 2: ZeroOrderHold2d, 3: ZeroOrderHold3d}


def brute_hold_1d(x: np.ndarray, s: int, order: int) -> np.ndarray:
    """Box of s taps applied order+1 times as explicit averages, edges replicated."""
    taps = np.array([1.0])
    for _ in range(order + 1):
        taps = np.convolve(taps, np.ones(s) / s)
    k = len(taps)
    before = (k - 1) // 2
    padded = np.pad(x, (before, k - 1 - before), mode="edge")
    return np.array([sum(taps[i] * padded[n + i] for i in range(k)) for n in range(len(x))])


class TestZeroOrderHold:
    def test_smoke(self):
        m = ZeroOrderHold2d(2)
        assert m(torch.randn(2, 3, 5, 6)).shape == (2, 3, 5, 6)
        assert m.state_dict() == {} and "kernel" in dict(m.named_buffers())

    @pytest.mark.parametrize("s,order", [(1, 0), (2, 0), (2, 1), (3, 0), (3, 2), (4, 1)])
    def test_kernel_gain_and_size(self, s, order):
        k = zero_order_hold_kernel(s, order, dims=2, dtype=torch.float64)
        assert k.shape == (order * (s - 1) + s,) * 2
        assert abs(float(k.sum()) - 1.0) < 1e-12

    @given(st.integers(1, 4), st.integers(0, 2), st.integers(1, 12))
    def test_matches_brute_force_1d(self, s, order, n):
        x = np.random.default_rng(n).standard_normal(n)
        y = zero_order_hold(torch.tensor(x).view(1, 1, -1), s, order)
        np.testing.assert_allclose(y.view(-1).numpy(), brute_hold_1d(x, s, order), atol=1e-12)

    @given(st.integers(1, 3), st.integers(2, 4), st.integers(0, 2), st.integers(0, 5))
    def test_period_s_pattern_becomes_constant(self, dims, s, order, seed):
        g = torch.Generator().manual_seed(seed)
        tile = torch.randn((1, 2) + (s,) * dims, generator=g, dtype=torch.float64)
        reps = 3 + order
        x = tile.repeat(1, 1, *(reps,) * dims)
        y = zero_order_hold(x, s, order)
        margin = order * (s - 1) + s
        inner = y[(Ellipsis, *(slice(margin, -margin),) * dims)]
        expected = tile.mean(dim=tuple(range(2, 2 + dims)), keepdim=True)
        torch.testing.assert_close(inner, expected.expand_as(inner))
        assert (x - expected).abs().max() > 1e-3  # the input did carry the pattern

    @pytest.mark.parametrize("dims", [1, 2, 3])
    def test_module_matches_function_and_keeps_constants(self, dims):
        m = CLASSES[dims](3, order=1)
        x = torch.randn(2, 3, *(7,) * dims)
        torch.testing.assert_close(m(x), zero_order_hold(x, 3, 1))
        torch.testing.assert_close(m(torch.full_like(x, 2.5)), torch.full_like(x, 2.5))

    def test_zero_padding_and_trim(self):
        m = ZeroOrderHold1d(2, padding_mode="zeros", trim=[(1, -1)])
        y = m(torch.ones(1, 1, 4))
        assert y.tolist() == [[[1.0, 1.0, 0.5, 0.0]]]

    def test_follows_input_dtype_and_reset_parameters(self):
        m = ZeroOrderHold2d(2)
        assert m(torch.ones(1, 1, 3, 3, dtype=torch.float64)).dtype == torch.float64
        m.kernel.zero_()
        m.reset_parameters()
        assert float(m.kernel.sum()) == pytest.approx(1.0)

    def test_gradcheck(self):
        x = torch.randn(1, 2, 4, 5, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(lambda t: zero_order_hold(t, 2, 1), (x,))

    @pytest.mark.parametrize(
        "kwargs,error,word",
        [
            ({"scale": 0}, InvalidArgumentError, "scale"),
            ({"scale": 1.5}, InvalidArgumentError, "scale"),
            ({"scale": "2"}, InvalidTypeError, "scale"),
            ({"scale": 2, "order": -1}, InvalidArgumentError, "order"),
            ({"scale": 2, "padding_mode": "edge"}, InvalidArgumentError, "padding_mode"),
        ],
    )
    def test_exception(self, kwargs, error, word):
        with pytest.raises(error, match=word):
            ZeroOrderHold2d(**kwargs)


class TestHeldConvTranspose:
    def test_from_conv_transpose_keeps_weights_and_state_dict(self):
        m = nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1).eval()
        before = {k: v.clone() for k, v in m.state_dict().items()}
        held = ZeroOrderHold2d.from_conv_transpose(m, order=1)
        assert isinstance(held, HeldConvTranspose2d) and not held.training
        assert held.state_dict().keys() == m.state_dict().keys()
        for k, v in m.state_dict().items():
            assert torch.equal(v, before[k]) and torch.equal(held.state_dict()[k], v)
            assert held.state_dict()[k].data_ptr() != v.data_ptr()
        x = torch.randn(1, 4, 5, 6)
        assert held(x).shape == m(x).shape
        torch.testing.assert_close(held(x), zero_order_hold(m(x), 2, 1))

    def test_removes_the_checkerboard_of_uneven_overlap(self):
        m = nn.ConvTranspose1d(2, 2, 3, stride=2, padding=1, output_padding=1)
        x = torch.ones(1, 2, 12)
        plain = m(x)[..., 2:-2]
        assert (plain - plain[..., :1]).abs().max() > 1e-4
        held = HeldConvTranspose1d.from_conv_transpose(m)(x)[..., 2:-2]
        torch.testing.assert_close(held, held[..., :1].expand_as(held))

    def test_exception(self):
        with pytest.raises(InvalidTypeError, match="ConvTranspose2d"):
            ZeroOrderHold2d.from_conv_transpose(nn.Conv2d(1, 1, 3))
        with pytest.raises(InvalidTypeError, match="ConvTranspose1d"):
            ZeroOrderHold1d.from_conv_transpose(nn.ConvTranspose2d(1, 1, 3))
        assert issubclass(SpecError, ValueError)


@pytest.mark.parametrize("dims", [1, 2, 3])
@pytest.mark.parametrize("order", [0, 1, 2])
@pytest.mark.parametrize("mode", ["replicate", "zeros", "reflect", "circular"])
def test_separable_passes_equal_one_convolution_with_the_kernel(dims, order, mode):
    """Reference: pad, then one convolution with zero_order_hold_kernel (float64)."""
    import math

    import torch.nn.functional as F

    from checkerfree.layers import zero_order_hold, zero_order_hold_kernel

    scale = (3, 2, 4)[:dims]
    x = torch.randn(2, 3, *([11, 9, 10][:dims]), dtype=torch.float64)
    kernel = zero_order_hold_kernel(scale, order, dims, dtype=torch.float64)
    pads = []
    for k in reversed(kernel.shape):
        pads += [(k - 1) // 2, k - 1 - (k - 1) // 2]
    padded = F.pad(x.reshape(6, 1, *x.shape[2:]), pads,
                   mode={"zeros": "constant"}.get(mode, mode))
    conv = (F.conv1d, F.conv2d, F.conv3d)[dims - 1]
    ref = conv(padded, kernel[None, None]).reshape(x.shape)
    got = zero_order_hold(x, scale, order, padding_mode=mode)
    torch.testing.assert_close(got, ref)
    assert math.isclose(float(kernel.sum()), 1.0)
