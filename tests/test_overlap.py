"""Overlap analysis against brute force: all-ones transposed convolutions applied to ones."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from hypothesis import assume, given
from hypothesis import strategies as st

from checkerfree import overlap
from checkerfree.errors import InvalidArgumentError, LimitError, ShapeError, SpecError
from checkerfree.spec import TransposedConvSpec

_CONV_T = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


def brute_force(specs, size, dims):
    """Counts by running single-channel all-ones transposed convolutions on ones (float64)."""
    x = torch.ones(1, 1, *size, dtype=torch.float64)
    for spec in specs:
        spec = TransposedConvSpec.coerce(spec, dims)
        w = torch.ones(1, 1, *spec.kernel_size, dtype=torch.float64)
        x = _CONV_T[dims](x, w, stride=spec.stride, padding=spec.padding,
                          output_padding=spec.output_padding, dilation=spec.dilation)
    return x[0, 0].numpy()


@st.composite
def layer(draw, dims=1):
    def axis():
        k = draw(st.integers(1, 6))
        s = draw(st.integers(1, 4))
        d = draw(st.integers(1, 3))
        p = draw(st.integers(0, d * (k - 1)))
        op = draw(st.integers(0, max(s, d) - 1))
        return k, s, p, op, d

    axes = [axis() for _ in range(dims)]
    return TransposedConvSpec(*zip(*axes))


@st.composite
def stack(draw, dims):
    return draw(st.lists(layer(dims), min_size=1, max_size=3))


# ---------------------------------------------------------------- the article's numbers


def test_article_1d_k3_s2_is_2_to_1():
    r = overlap([(3, 2)], dims=1)
    assert (r.max, r.min, r.ratio, r.uneven, r.period) == (2, 1, 2.0, True, (2,))


def test_article_2d_k3_s2_is_4_to_1():
    r = overlap([(3, 2)], dims=2)
    assert (r.max, r.min, r.ratio) == (4, 1, 4.0)
    assert sorted(r.interior.ravel().tolist()) == [1, 2, 2, 4]


def test_two_stacked_k3_s2_are_3_to_1_with_period_4():
    r = overlap([(3, 2), (3, 2)], dims=1)
    assert (r.ratio, r.period) == (3.0, (4,))


@pytest.mark.parametrize("n_layers, period", [(1, 2), (2, 4), (3, 8)])
def test_stacked_stride2_periods_double(n_layers, period):
    r = overlap([(3, 2)] * n_layers, dims=2)
    assert r.period == (period, period)
    assert r.uneven


def test_even_kernel_is_flat():
    r = overlap([(4, 2, 1)], dims=2)
    assert (r.uneven, r.ratio, r.period) == (False, 1.0, (1, 1))
    assert r.explanation.startswith("even")


def test_holes_give_ratio_none():
    r = overlap([(1, 2)], dims=1)
    assert (r.min, r.ratio, r.uneven) == (0, None, True)
    assert "holes" in r.explanation


def test_stride1_layer_evens_out_uneven_layer():
    # [2, 1] periodic, then a 2-tap stride-1 sum: every output gets 3.
    r = overlap([(3, 2), (2, 1)], dims=1)
    assert not r.uneven
    assert "even the counts out" in r.explanation


def test_explanation_names_the_offending_layer():
    r = overlap([(4, 2, 1), (3, 2, 1)], dims=2)
    assert "layer 2" in r.explanation and "layer 1" not in r.explanation


# ---------------------------------------------------------------- brute force, property-based


@pytest.mark.parametrize("dims", [1, 2, 3])
@given(data=st.data())
def test_finite_map_equals_brute_force(dims, data):
    specs = data.draw(stack(dims))
    size = tuple(data.draw(st.integers(1, 9 if dims < 3 else 5)) for _ in range(dims))
    try:
        expected = brute_force(specs, size, dims)
    except RuntimeError:
        # PyTorch refuses (output would be empty); we must refuse too, with a typed error.
        with pytest.raises(ShapeError):
            overlap(specs, dims=dims, size=size)
        return
    got = overlap(specs, dims=dims, size=size).finite
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)


@given(specs=stack(1))
def test_interior_equals_the_middle_of_a_long_input(specs):
    r = overlap(specs, dims=1)
    lattice = r.lattice_period[0]
    # Borders reach at most sum(d*(k-1)+p+op) positions inwards, magnified by later strides.
    # output_padding appends up to op border positions at the end, so it counts too.
    margin = sum((s.dilation[0] * (s.kernel_size[0] - 1) + s.padding[0] + s.output_padding[0]
                  + 1) for s in specs)
    margin *= math.prod(s.stride[0] for s in specs)
    n = 2 * margin // max(1, math.prod(s.stride[0] for s in specs)) + 4 * lattice + 4
    finite = brute_force(specs, (n,), 1)
    lo, hi = margin, finite.shape[0] - margin
    assume(hi - lo >= lattice)
    positions = np.arange(lo, hi)
    np.testing.assert_array_equal(finite[lo:hi], r.axis_interior[0][positions % r.period[0]])
    np.testing.assert_array_equal(finite[lo:hi], r.interior[positions % lattice])


@given(specs=stack(2))
def test_2d_interior_is_product_of_axes(specs):
    r = overlap(specs, dims=2)
    a, b = r.axis_interior
    np.testing.assert_array_equal(r.tile(1), np.outer(a, b))
    (la, lb), (qa, qb) = r.lattice_period, r.period
    np.testing.assert_array_equal(r.interior, np.outer(a[np.arange(la) % qa], b[np.arange(lb) % qb]))
    assert r.max == a.max() * b.max() and r.min == a.min() * b.min()
    assert r.uneven == (r.interior.max() != r.interior.min())


@given(specs=stack(1))
def test_period_is_fundamental(specs):
    r = overlap(specs, dims=1)
    v, q = r.axis_interior[0], r.period[0]
    assert np.array_equal(v, np.roll(v, q))
    assert all(not np.array_equal(v, np.roll(v, d)) for d in range(1, q) if len(v) % d == 0)


# ---------------------------------------------------------------- inputs and speed


def test_modules_are_taken_in_order():
    model = nn.Sequential(nn.ConvTranspose2d(8, 4, 4, 2, 1), nn.ReLU(),
                          nn.ConvTranspose2d(4, 3, 3, 2, 1, output_padding=1))
    r = overlap(model)
    assert r.dims == 2
    assert r.layers[1] == TransposedConvSpec(3, 2, 1, 1).broadcast(2)
    assert r.ratio == overlap([(4, 2, 1), (3, 2, 1, 1)], dims=2).ratio


def test_module_dims_and_per_axis_kernels():
    r = overlap(nn.ConvTranspose2d(1, 1, (3, 4), stride=2))
    assert r.period == (2, 1) and r.ratio == 2.0


def test_strings_and_dicts():
    assert overlap("3:2", dims=1).ratio == overlap({"kernel_size": 3, "stride": 2}, dims=1).ratio


def test_deep_stack_is_exact_without_huge_tensors():
    r = overlap([(3, 2)] * 20, dims=3)
    a = r.axis_interior[0]
    assert a.shape == (2**20,)
    assert r.max == int(a.max()) ** 3
    with pytest.raises(LimitError):
        r.interior  # 2**60 entries: refused, not attempted


def test_huge_counts_stay_exact():
    r = overlap([(9, 1)] * 22, dims=1)  # 9**22 > 2**62: falls back to Python integers
    assert r.max == 9**22 and not r.uneven


@pytest.mark.parametrize(
    "bad",
    [(0, 2), (3, 0), (3, 2, -1), (3, 2, 0, 2), (3, 2, 0, 0, 0), "3:x", "3", "", "3:2:1:1:1:1"],
)
def test_exception_invalid_specs(bad):
    with pytest.raises(SpecError):
        overlap(bad, dims=1)


def test_exception_mixed_dims_and_bad_size():
    with pytest.raises(SpecError):
        overlap([nn.ConvTranspose1d(1, 1, 3, 2), nn.ConvTranspose2d(1, 1, 3, 2)])
    with pytest.raises(SpecError):
        overlap(nn.ConvTranspose3d(1, 1, 3, 2), dims=2)
    with pytest.raises(InvalidArgumentError):
        overlap((3, 2), dims=2, size=(4,))
    with pytest.raises(InvalidArgumentError):
        overlap((3, 2), dims=1).finite
    with pytest.raises(SpecError):
        overlap(nn.Sequential(nn.Conv2d(1, 1, 3)))
    with pytest.raises(SpecError):
        overlap((3, 2), dims=4)


def test_to_dict_is_json_ready():
    import json

    d = overlap([(3, 2)], dims=2, size=4).to_dict()
    assert json.loads(json.dumps(d))["ratio"] == 4.0
    assert d["period"] == [2, 2] and d["output_size"] == [9, 9]
