"""icnr_ and icnr_bias_: interleaved rows, any scale and dims, typed errors."""

import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from checkerfree.errors import ShapeError
from checkerfree.layers import icnr_, icnr_bias_, pixel_shuffle_nd


class TestIcnr:
    @pytest.mark.parametrize("dims,scale", [(1, 2), (1, 3), (2, 2), (2, 3), (2, (2, 3)), (3, 2)])
    def test_rows_interleaved(self, dims, scale):
        phases = math.prod(scale) if isinstance(scale, tuple) else scale**dims
        w = icnr_(torch.empty(3 * phases, 2, *(3,) * dims), scale)
        blocks = w.view(3, phases, -1)
        assert torch.equal(blocks, blocks[:, :1].expand_as(blocks))
        assert not torch.equal(blocks[0, 0], blocks[1, 0])  # channels differ: not tiled

    def test_returns_the_same_tensor_and_uses_initializer(self):
        w = torch.empty(8, 1, 3)
        assert icnr_(w, 2, nn.init.zeros_, dims=2) is w
        assert bool((w == 0).all())

    def test_default_scale_is_pytorchs_conv_init(self):
        w = icnr_(torch.empty(4 * 64, 16, 3, 3), 2)
        bound = 1 / math.sqrt(16 * 9)
        assert w.abs().max() <= bound and w.abs().max() > 0.9 * bound

    def test_is_nearest_resize_of_a_conv(self):
        """A shuffled ICNR conv equals nearest upsampling of the sub-kernel's conv (2 outputs)."""
        w = icnr_(torch.empty(2 * 9, 3, 3, 3), 3)
        x = torch.randn(1, 3, 5, 5)
        y = pixel_shuffle_nd(F.conv2d(x, w, padding=1), 3)
        ref = F.interpolate(F.conv2d(x, w[::9], padding=1), scale_factor=3)
        torch.testing.assert_close(y, ref)

    def test_bias_equalised_to_block_means(self):
        b = torch.arange(8.0)
        assert icnr_bias_(b, 2, dims=2).tolist() == [1.5] * 4 + [5.5] * 4

    def test_exception(self):
        with pytest.raises(ShapeError, match=r"divisible by .*prod\(scale\) = 4"):
            icnr_(torch.empty(6, 1, 3, 3), 2)
        with pytest.raises(ShapeError, match="1 to 3 kernel axes"):
            icnr_(torch.empty(4), 2)
        with pytest.raises(ShapeError, match="divisible"):
            icnr_bias_(torch.empty(6), 2, dims=2)
