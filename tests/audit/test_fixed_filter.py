"""The fixed filter after a site: its kernel read by impulses, composed with the site's."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from checkerfree.audit import fixed_filter as ff
from checkerfree.overlap import phase_sums



@pytest.fixture(autouse=True)
def _global_rng_as_found():
    # These tests draw (and seed) at will; later tests and doctests see the RNG untouched.
    with torch.random.fork_rng():
        yield

def test_impulse_response_of_a_depthwise_fir_is_its_kernel():
    k = torch.rand(3, 1, 3, 4, dtype=torch.float64)
    h = ff.impulse_response(lambda t: F.conv2d(F.pad(t, (1, 2, 1, 1)), k, groups=3),
                            (2, 3, 16, 16), dtype=torch.float64)
    assert h.shape == (3, 3, 3, 4)
    for o in range(3):  # correlation: the impulse response is the flipped kernel
        torch.testing.assert_close(h[o, o], k[o, 0].flip(0, 1))
        assert all(float(h[o, c].abs().sum()) == 0 for c in range(3) if c != o)


def test_impulse_response_of_a_channel_mixing_filter():
    k = torch.rand(2, 3, 1, 2, dtype=torch.float64)
    h = ff.impulse_response(lambda t: F.conv2d(t, k), (1, 3, 12, 12), dtype=torch.float64)
    torch.testing.assert_close(h, k.flip(2, 3))


def test_maps_that_are_not_one_local_filter_are_refused():
    mask = torch.rand(1, 1, 16, 16, dtype=torch.float64)
    assert ff.impulse_response(lambda t: t * mask, (1, 2, 16, 16), dtype=torch.float64) is None
    assert ff.impulse_response(lambda t: t.mean((2, 3), keepdim=True).expand_as(t),
                               (1, 2, 16, 16), dtype=torch.float64) is None
    assert ff.impulse_response(lambda t: t.flatten(1), (1, 2, 16, 16),
                               dtype=torch.float64) is None


def test_composed_kernel_is_the_site_then_the_filter():
    w = torch.randn(2, 3, 3, 3, dtype=torch.float64)  # ConvTranspose2d(2, 3, 3, stride=2)
    h = torch.rand(3, 3, 4, 2, dtype=torch.float64)   # a channel-mixing fixed filter
    x = torch.randn(1, 2, 5, 5, dtype=torch.float64)
    # Full convolution with h after the transposed convolution ...
    ref = F.conv2d(F.conv_transpose2d(x, w, stride=2), h.flip(2, 3), padding=(3, 1))
    # ... is one transposed convolution with the composed kernel.
    torch.testing.assert_close(F.conv_transpose2d(x, ff.compose(w, h), stride=2), ref)


def test_composed_bias_is_the_filtered_periodic_pattern():
    s = (2, 3)
    bias = torch.randn(2, *s, dtype=torch.float64)
    h = torch.rand(2, 2, 3, 2, dtype=torch.float64)
    pattern = bias.repeat(1, 8, 8).unsqueeze(0)
    filtered = F.conv2d(pattern, h.flip(2, 3))[0]  # valid part, periodic again
    got = ff.compose_bias(bias, h)
    torch.testing.assert_close(got, filtered[:, :2, :3])
    assert got.shape == bias.shape


def test_dense_transposed_matches_groups_and_dilation():
    w = torch.randn(4, 3, 2, 2, dtype=torch.float64)  # groups=2: in 4, out 6
    x = torch.randn(1, 4, 5, 5, dtype=torch.float64)
    ref = F.conv_transpose2d(x, w, stride=2, groups=2, dilation=2)
    dense = ff.dense_transposed(w, dilation=2, groups=2)
    torch.testing.assert_close(F.conv_transpose2d(x, dense, stride=2), ref)


def test_a_box_of_the_stride_evens_any_kernel_and_bias():
    w = torch.randn(2, 2, 3, dtype=torch.float64)
    box = torch.eye(2, dtype=torch.float64).reshape(2, 2, 1).expand(2, 2, 2)
    composed = ff.compose(w, box)
    sums = phase_sums(composed, 2)
    torch.testing.assert_close(sums[..., 0], sums[..., 1])
    bias = ff.compose_bias(torch.randn(2, 2, dtype=torch.float64), box)
    assert ff.bias_imbalance(bias, sums) == 0.0
