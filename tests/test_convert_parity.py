"""convert at the cost of what it replaces: parameters and multiply-adds, shapes kept exactly.

References are independent of the code under test: parameters counted from ``parameters()``,
multiply-adds counted by ``torch.utils.flop_counter.FlopCounterMode`` on real tensors, and the
ConvTranspose's own output shape.
"""

import math

import pytest
import torch
import torch.nn as nn
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.flop_counter import FlopCounterMode

from checkerfree.convert import KINDS, PROBE_LENGTH, convert, plan_conversion

CT = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}


@st.composite
def geometries(draw, min_k_over_s=False):
    """A strided ConvTranspose of random k, s, p, op, dilation, groups and bias."""
    dims = draw(st.integers(1, 3))
    axes = []
    for _ in range(dims):
        s = draw(st.integers(1, 4))
        k = draw(st.integers(s if min_k_over_s else 1, 8))
        d = draw(st.integers(1, 2))
        p = draw(st.integers(0, (d * (k - 1)) // 2))
        op = draw(st.integers(0, max(s, d) - 1))
        axes.append((k, s, p, op, d))
    if all(a[1] == 1 for a in axes):
        k, _, p, _, d = axes[0]
        axes[0] = (max(k, 2) if min_k_over_s else k, 2, p, 0, d)
    groups = draw(st.sampled_from([1, 2]))
    bias = draw(st.booleans())
    k, s, p, op, d = zip(*axes, strict=True)
    return CT[dims](2 * groups, 3 * groups, k, s, p, op, groups, bias, d)


def params(m):
    return sum(p.numel() for p in m.parameters())


def counted_macs(m, x):
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        m(x)
    return counter.get_total_flops() // 2


@settings(max_examples=60, deadline=None)
@given(geometries(), st.sampled_from(KINDS))
def test_parameter_parity_for_every_kind(ct, kind):
    new = convert(ct, kind)
    if kind == "subpixel" and any(k < s for k, s in zip(ct.kernel_size, ct.stride, strict=True)):
        # k < s: one tap per phase is s^d > k^d; the minimum is what it gets.
        conv = new.weight.shape
        assert conv[2:] == (1,) * len(ct.kernel_size)
        return
    assert params(new) <= params(ct), (ct, new)


@settings(max_examples=40, deadline=None)
@given(geometries(min_k_over_s=True), st.sampled_from(["subpixel", "hold"]),
       st.integers(1, 6))
def test_multiply_add_parity_for_subpixel_and_hold(ct, kind, length):
    new = convert(ct, kind)
    x = torch.randn(1, ct.in_channels, *(length,) * len(ct.kernel_size))
    before, after = counted_macs(ct, x), counted_macs(new, x)
    # The original's count is the textbook one: every input position meets every tap.
    assert before == ct.in_channels * ct.out_channels // ct.groups * math.prod(
        ct.kernel_size) * length ** len(ct.kernel_size)
    assert after <= before, (ct, new, before, after)


@settings(max_examples=60, deadline=None)
@given(geometries(), st.sampled_from(KINDS), st.lists(st.integers(1, 7), min_size=3,
                                                      max_size=3))
def test_output_shape_exact_for_every_size_the_original_accepts(ct, kind, sizes):
    new = convert(ct, kind)
    x = torch.randn(1, ct.in_channels, *sizes[:len(ct.kernel_size)])
    try:
        want = ct(x).shape
    except RuntimeError:  # an input the original refuses (an output length <= 0)
        return
    assert new(x).shape == want, (ct, new)


@pytest.mark.parametrize("geometry", [(4, 2, 1, 0), (3, 2, 1, 1), (5, 3, 1, 0), (8, 4, 2, 0)])
def test_subpixel_default_is_k_over_s_taps_and_starts_artifact_free(geometry):
    k, s, p, op = geometry
    ct = nn.ConvTranspose2d(4, 3, k, s, p, op)
    new = convert(ct, "subpixel")
    assert new.kernel_size == (max(k // s, 1),) * 2
    y = new(torch.ones(1, 4, 12, 12)).detach()[..., k:-k, k:-k].flatten(2)
    # ICNR and the shared bias: each channel is constant away from the borders.
    assert float((y.amax(-1) - y.amin(-1)).max()) < 1e-6
    assert torch.equal(new.bias, ct.bias)


def test_kernel_size_overrides_the_default():
    ct = nn.ConvTranspose2d(4, 4, 4, 2, 1)
    assert convert(ct, "subpixel", kernel_size=3).kernel_size == (3, 3)
    assert params(convert(ct, "subpixel", kernel_size=3)) > params(ct)  # no parity asked


@settings(max_examples=25, deadline=None)
@given(geometries(min_k_over_s=True), st.sampled_from(KINDS))
def test_plan_conversion_numbers_equal_counted_ones(ct, kind):
    row, = plan_conversion(ct, kind)
    new = convert(ct, kind)
    x = torch.randn(1, ct.in_channels, *(PROBE_LENGTH,) * len(ct.kernel_size))
    assert (row.params_before, row.params_after) == (params(ct), params(new))
    assert (row.macs_before, row.macs_after) == (counted_macs(ct, x), counted_macs(new, x))


def test_plan_conversion_counts_blur_too():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.MaxPool2d(2))
    rows = plan_conversion(model, "blur")
    new = convert(model, "blur")
    assert [r.params_after for r in rows] == [params(new[0]), params(new[1])]
    x = torch.randn(1, 3, PROBE_LENGTH, PROBE_LENGTH)
    assert rows[0].macs_after == counted_macs(new[0], x)


def test_shared_bias_equals_the_same_bias_on_every_phase():
    from checkerfree.layers import SubPixelConv3d

    torch.manual_seed(0)
    shared = SubPixelConv3d(2, 3, 2, padding="same", scale_factor=(1, 2, 3), shared_bias=True)
    own = SubPixelConv3d(2, 3, 2, padding="same", scale_factor=(1, 2, 3))
    with torch.no_grad():
        own.weight.copy_(shared.weight)
        own.bias.copy_(shared.bias.repeat_interleave(6))
    x = torch.randn(2, 2, 3, 4, 5)
    assert shared.bias.shape == (3,)
    torch.testing.assert_close(shared(x), own(x))


def test_bad_arguments_are_typed_errors():
    from checkerfree.cost import multiply_adds, parameter_count
    from checkerfree.errors import InvalidArgumentError, InvalidTypeError
    from checkerfree.layers import SubPixelConv2d

    with pytest.raises(InvalidTypeError, match="shared_bias must be a bool, got str"):
        SubPixelConv2d(2, 2, 1, shared_bias="yes")
    with pytest.raises(InvalidTypeError, match="torch.nn.Module, got int"):
        parameter_count(3)
    with pytest.raises(InvalidArgumentError, match="input_shape must be a sequence"):
        multiply_adds(nn.Conv1d(1, 1, 1), (1, -1, 4))
