"""pixel_shuffle_nd / pixel_unshuffle_nd against torch's 2D op and a brute-force index map."""

import itertools
import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from checkerfree.errors import InvalidArgumentError, ShapeError
from checkerfree.layers import pixel_shuffle_nd, pixel_unshuffle_nd


def brute_shuffle(x, s):
    """y[n, c, s*q + r] = x[n, c * S + flat(r), q], one element at a time."""
    n, c, *sizes = x.shape
    phases = math.prod(s)
    y = torch.empty(n, c // phases, *(a * f for a, f in zip(sizes, s)), dtype=x.dtype)
    for ch in range(c):
        out_c, flat = divmod(ch, phases)
        r = []
        for f in reversed(s):
            flat, rem = divmod(flat, f)
            r.insert(0, rem)
        for q in itertools.product(*(range(a) for a in sizes)):
            pos = tuple(f * qq + rr for f, qq, rr in zip(s, q, r))
            y[(slice(None), out_c, *pos)] = x[(slice(None), ch, *q)]
    return y


@st.composite
def shuffles(draw):
    dims = draw(st.integers(1, 3))
    s = tuple(draw(st.integers(1, 3)) for _ in range(dims))
    sizes = tuple(draw(st.integers(1, 3)) for _ in range(dims))
    c = draw(st.integers(1, 2)) * math.prod(s)
    return s, torch.randn(2, c, *sizes)


class TestPixelShuffleNd:
    def test_smoke(self):
        assert pixel_shuffle_nd(torch.zeros(1, 8, 2, 2, 2), 2).shape == (1, 1, 4, 4, 4)

    @pytest.mark.parametrize("s", [1, 2, 3])
    def test_matches_torch_2d(self, s):
        x = torch.randn(2, 3 * s * s, 4, 5)
        assert torch.equal(pixel_shuffle_nd(x, s), F.pixel_shuffle(x, s))
        y = torch.randn(2, 3, 4 * s, 5 * s)
        assert torch.equal(pixel_unshuffle_nd(y, s), F.pixel_unshuffle(y, s))

    @given(shuffles())
    def test_matches_brute_force_and_inverts(self, case):
        s, x = case
        y = pixel_shuffle_nd(x, s)
        assert torch.equal(y, brute_shuffle(x, s))
        assert torch.equal(pixel_unshuffle_nd(y, s), x)

    def test_batchless_and_extra_leading_axes(self):
        x = torch.randn(2, 3, 8, 2, 2, 2)
        y = pixel_shuffle_nd(x, (2, 2, 2))
        assert y.shape == (2, 3, 1, 4, 4, 4)
        assert torch.equal(y[1, 2], pixel_shuffle_nd(x[1, 2:3], 2, dims=3)[0])

    def test_gradcheck(self):
        x = torch.randn(1, 8, 2, 3, 2, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(lambda t: pixel_shuffle_nd(t, 2), (x,))

    def test_exception(self):
        with pytest.raises(ShapeError, match="divisible by prod"):
            pixel_shuffle_nd(torch.zeros(1, 6, 2, 2, 2), 2)
        with pytest.raises(ShapeError, match="divisible by scale"):
            pixel_unshuffle_nd(torch.zeros(1, 1, 5), 2)
        with pytest.raises(InvalidArgumentError, match="scale"):
            pixel_shuffle_nd(torch.zeros(1, 4, 2), 0)
