"""BlurPool1d/2d/3d, blur_pool and BlurConv against brute force and the layers they replace."""

import numpy as np
import pytest
import torch
import torch.nn as nn
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from checkerfree import checkerboard_score
from checkerfree.errors import InvalidArgumentError, InvalidTypeError, ShapeError
from checkerfree.layers import (
    BlurConv1d,
    BlurConv2d,
    BlurConv3d,
    BlurPool1d,
    BlurPool2d,
    BlurPool3d,
    blur_kernel,
    blur_pool,
)
from checkerfree.layers.blur_pool import dense_pool
from checkerfree.score.checkerboard import DEFAULT_THRESHOLD

POOLS = {1: BlurPool1d, 2: BlurPool2d, 3: BlurPool3d}
CONVS = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
MAX = {1: nn.MaxPool1d, 2: nn.MaxPool2d, 3: nn.MaxPool3d}
AVG = {1: nn.AvgPool1d, 2: nn.AvgPool2d, 3: nn.AvgPool3d}


def brute_blur_pool_1d(x: np.ndarray, s: int, filter: str) -> np.ndarray:
    """Explicit taps (box, or box convolved with box), edges replicated, every s-th kept."""
    box = np.ones(s) / s
    taps = box if filter == "box" else np.convolve(box, box)
    k = len(taps)
    before = (k - 1) // 2
    padded = np.pad(x, (before, k - 1 - before), mode="edge")
    full = np.array([sum(taps[i] * padded[n + i] for i in range(k)) for n in range(len(x))])
    return full[::s]


def gradient_score(module: nn.Module, shape, period: int = 2, seed: int = 0):
    """Checkerboard score of the input gradient of ``sum(output)`` on a near-constant input.

    The gradient's interior is scaled to a mean magnitude of 64 grey levels, so the score
    reads like one of a picture whatever the layer's gain. Returns ``(score, flagged)``.
    """
    g = torch.Generator().manual_seed(seed)
    x = (0.5 + 0.01 * torch.randn(shape, generator=g, dtype=torch.float64)).requires_grad_()
    module(x).sum().backward()
    dims = len(shape) - 2
    grad = x.grad[(Ellipsis, *(slice(6, -6),) * dims)]
    grad = grad / grad.abs().mean() * 64
    r = checkerboard_score(grad, periods=(period,))
    return float(r.score.max()), bool(r.flagged.any())


class TestBlurKernel:
    @pytest.mark.parametrize("s", [1, 2, 3, 4])
    @pytest.mark.parametrize("filter", ["box", "binomial"])
    def test_gain_size_and_equal_phase_sums(self, s, filter):
        k = blur_kernel(s, filter, dims=1, dtype=torch.float64)
        assert k.shape == ((s if filter == "box" else 2 * s - 1),)
        assert abs(float(k.sum()) - 1.0) < 1e-12
        sums = [float(k[r::s].sum()) for r in range(s)]
        np.testing.assert_allclose(sums, [1.0 / s] * s, atol=1e-12)

    def test_binomial_for_stride_2_is_zhangs(self):
        k = blur_kernel(2, "binomial", dims=2, dtype=torch.float64)
        expected = np.outer([1, 2, 1], [1, 2, 1]) / 16
        np.testing.assert_allclose(k.numpy(), expected)

    def test_exception(self):
        with pytest.raises(InvalidArgumentError, match="filter must be one of.*'gauss'"):
            blur_kernel(2, "gauss")


class TestBlurPool:
    def test_smoke(self):
        m = BlurPool2d(2)
        assert m(torch.randn(2, 3, 8, 7)).shape == (2, 3, 4, 4)
        assert m.state_dict() == {} and dict(m.named_buffers())["kernel"].shape == (3, 3)

    @settings(deadline=None, max_examples=40)
    @given(st.integers(1, 4), st.sampled_from(["box", "binomial"]), st.integers(1, 13))
    def test_matches_brute_force_1d(self, s, filter, n):
        x = np.random.default_rng(n).standard_normal(n)
        y = blur_pool(torch.tensor(x).view(1, 1, -1), s, filter)
        np.testing.assert_allclose(y.view(-1).numpy(), brute_blur_pool_1d(x, s, filter),
                                   atol=1e-12)

    def test_separable_2d_matches_brute_force(self):
        x = np.random.default_rng(1).standard_normal((6, 9))
        y = blur_pool(torch.tensor(x)[None, None], (2, 3), "binomial")[0, 0].numpy()
        rows = np.stack([brute_blur_pool_1d(r, 3, "binomial") for r in x])
        ref = np.stack([brute_blur_pool_1d(c, 2, "binomial") for c in rows.T]).T
        np.testing.assert_allclose(y, ref, atol=1e-12)

    @pytest.mark.parametrize("dims", [1, 2, 3])
    def test_cardinality_is_strided_slicing(self, dims):
        x = torch.randn(2, 3, *(7,) * dims)
        for s in (1, 2, 3):
            assert POOLS[dims](s)(x).shape == x[(Ellipsis, *(slice(None, None, s),) * dims)].shape

    @pytest.mark.parametrize("dims", [1, 2, 3])
    def test_module_matches_function_and_keeps_constants(self, dims):
        m = POOLS[dims](2, "box")
        x = torch.randn(2, 3, *(6,) * dims)
        torch.testing.assert_close(m(x), blur_pool(x, 2, "box"))
        c = torch.full((1, 2, *(5,) * dims), 1.5)
        torch.testing.assert_close(m(c), torch.full_like(m(c), 1.5))

    def test_period_s_pattern_becomes_constant(self):
        tile = torch.randn(1, 2, 3, 3, dtype=torch.float64)
        x = tile.repeat(1, 1, 6, 6)
        y = blur_pool(x, 3, "box", padding_mode="circular")
        torch.testing.assert_close(y, tile.mean((2, 3), keepdim=True).expand_as(y))

    def test_unbatched_input(self):
        x = torch.randn(3, 8, 8)
        torch.testing.assert_close(BlurPool2d(2)(x), BlurPool2d(2)(x[None])[0])

    def test_exception(self):
        with pytest.raises(ShapeError, match=r"2 spatial axes, got shape \(8,\)"):
            BlurPool2d(2)(torch.randn(8))
        with pytest.raises(InvalidTypeError, match="floating-point"):
            BlurPool1d(2)(torch.ones(1, 1, 4, dtype=torch.long))
        with pytest.raises(InvalidArgumentError, match="pool must be"):
            BlurPool2d(2, pool="lp")
        with pytest.raises(InvalidArgumentError, match="kernel_size and padding need pool"):
            BlurPool2d(2, kernel_size=3)
        with pytest.raises(InvalidTypeError, match="expects nn.MaxPool2d or nn.AvgPool2d"):
            BlurPool2d.from_pool(nn.MaxPool1d(2))
        with pytest.raises(InvalidArgumentError, match="returns its indices"):
            BlurPool2d.from_pool(nn.MaxPool2d(2, return_indices=True))

    def test_gradcheck_float64(self):
        x = torch.randn(1, 2, 7, 6, dtype=torch.float64, requires_grad=True)
        for m in (BlurPool2d(2), BlurPool2d.from_pool(nn.AvgPool2d(3, 2, 1, ceil_mode=True)),
                  BlurPool2d.from_pool(nn.MaxPool2d(3, 2, 1))):
            assert torch.autograd.gradcheck(m, (x,))

    def test_follows_input_dtype_and_device_and_reset_parameters(self):
        m = BlurPool2d(2, dtype=torch.float32)
        assert m(torch.ones(1, 1, 4, 4, dtype=torch.float64)).dtype == torch.float64
        m.kernel.zero_()
        m.reset_parameters()
        assert abs(float(m.kernel.sum()) - 1.0) < 1e-6
        assert m.to(torch.float64).kernel.dtype == torch.float64

    def test_compile(self):
        m = BlurPool1d(2)
        x = torch.randn(1, 2, 9)
        torch.testing.assert_close(torch.compile(m, backend="eager")(x), m(x))


@st.composite
def pool_geometry(draw):
    dims = draw(st.integers(1, 2))
    mode = draw(st.sampled_from(["max", "avg"]))
    k = draw(st.integers(1, 4))
    s = draw(st.integers(1, 4))
    p = draw(st.integers(0, k // 2))
    d = draw(st.integers(1, 2)) if mode == "max" else 1
    ceil = draw(st.booleans())
    include_pad = draw(st.booleans())
    divisor = draw(st.sampled_from([None, None, 3]))
    sizes = tuple(draw(st.integers(1, 11)) for _ in range(dims))
    return dims, mode, k, s, p, d, ceil, include_pad, divisor, sizes


class TestFromPool:
    @settings(deadline=None, max_examples=120)
    @given(pool_geometry())
    def test_shape_exact_and_dense_pool_is_the_pool(self, geometry):
        dims, mode, k, s, p, d, ceil, include_pad, divisor, sizes = geometry
        if mode == "max":
            pool = MAX[dims](k, s, p, d, ceil_mode=ceil)
        else:
            pool = AVG[dims](k, s, p, ceil_mode=ceil, count_include_pad=include_pad,
                             **({"divisor_override": divisor} if dims > 1 else {}))
        x = torch.randn(2, 3, *sizes, dtype=torch.float64)
        try:
            ref = pool(x)
        except RuntimeError:
            assume(False)  # an input size the original rejects
        new = POOLS[dims].from_pool(pool)
        assert new(x).shape == ref.shape
        # Brute-force reference for the stride-1 stage: every s-th window is the pool's.
        dense, lengths = dense_pool(x, new.pool, new.kernel_size, new.stride, new.padding,
                                    new.dilation, new.ceil_mode, new.count_include_pad,
                                    new.divisor_override)
        picked = dense[(Ellipsis, *(slice(0, (n - 1) * s + 1, s) for n in lengths))]
        torch.testing.assert_close(picked, ref)

    def test_3d_and_training_flag(self):
        pool = nn.MaxPool3d(2).eval()
        new = BlurPool3d.from_pool(pool)
        x = torch.randn(1, 2, 5, 6, 7)
        assert new(x).shape == pool(x).shape and not new.training

    def test_average_pool_gradient_checkerboard_removed(self):
        pool, shape = nn.AvgPool2d(3, 2, 1), (1, 3, 48, 48)
        assert gradient_score(pool, shape)[0] > 20
        assert gradient_score(BlurPool2d.from_pool(pool), shape)[0] < DEFAULT_THRESHOLD

    def test_max_pool_gradient_checkerboard_removed(self):
        # Max pooling routes each gradient to its window's argmax, so on a noisy input the
        # blurred pool's gradient has chance peaks (a few grey levels, never significant);
        # the strided pool's overlapping windows give a systematic pattern on every draw.
        pool, shape = nn.MaxPool2d(3, 2, 1), (1, 3, 48, 48)
        plain = [gradient_score(pool, shape, seed=k) for k in range(4)]
        blurred = [gradient_score(BlurPool2d.from_pool(pool), shape, seed=k) for k in range(4)]
        assert all(flagged and score > 20 for score, flagged in plain)
        assert not any(flagged for _, flagged in blurred)
        assert sum(v for v, _ in blurred) < sum(v for v, _ in plain) / 4


@st.composite
def conv_geometry(draw):
    dims = draw(st.integers(1, 2))
    k = tuple(draw(st.integers(1, 5)) for _ in range(dims))
    s = tuple(draw(st.integers(1, 3)) for _ in range(dims))
    p = tuple(draw(st.integers(0, 2)) for _ in range(dims))
    d = tuple(draw(st.integers(1, 2)) for _ in range(dims))
    groups = draw(st.sampled_from([1, 2]))
    mode = draw(st.sampled_from(["zeros", "zeros", "reflect", "circular"]))
    sizes = tuple(draw(st.integers(1, 12)) for _ in range(dims))
    return dims, k, s, p, d, groups, mode, sizes


class TestBlurConv:
    @settings(deadline=None, max_examples=80)
    @given(conv_geometry(), st.sampled_from(["box", "binomial"]))
    def test_shape_exact_and_weights_copied(self, geometry, filter):
        dims, k, s, p, d, groups, mode, sizes = geometry
        conv = CONVS[dims](4, 6, k, s, p, d, groups, padding_mode=mode).double()
        x = torch.randn(2, 4, *sizes, dtype=torch.float64)
        try:
            ref = conv(x)
        except RuntimeError:
            assume(False)
        new = POOLS[dims].from_conv(conv, filter)
        assert new(x).shape == ref.shape
        assert torch.equal(new.weight, conv.weight) and torch.equal(new.bias, conv.bias)
        assert new.weight is not conv.weight
        # Reference: the same convolution applied to the explicitly blurred input.
        blurred = x
        for a in range(dims):
            blurred = _blur_axis(blurred, 2 + a, s[a], filter)
        torch.testing.assert_close(new(x), conv(blurred))

    def test_state_dict_and_flags_kept(self):
        conv = nn.Conv2d(3, 4, 3, 2, 1).eval()
        conv.bias.requires_grad_(False)
        new = BlurConv2d.from_conv(conv)
        assert sorted(new.state_dict()) == ["bias", "weight"] and not new.training
        new.load_state_dict(conv.state_dict())
        assert isinstance(new, nn.Conv2d)

    def test_3d_and_1d(self):
        for cls, conv, shape in ((BlurConv3d, nn.Conv3d(2, 2, 3, 2), (1, 2, 7, 8, 9)),
                                 (BlurConv1d, nn.Conv1d(2, 2, 3, 3), (1, 2, 10))):
            x = torch.randn(shape)
            assert cls.from_conv(conv)(x).shape == conv(x).shape

    def test_exception(self):
        with pytest.raises(InvalidTypeError, match=r"expects an nn.Conv2d.*got ConvTranspose2d"):
            BlurConv2d.from_conv(nn.ConvTranspose2d(2, 2, 3, 2))
        with pytest.raises(InvalidTypeError, match="not already blurred"):
            BlurConv2d.from_conv(BlurConv2d.from_conv(nn.Conv2d(2, 2, 3, 2)))
        with pytest.raises(InvalidArgumentError, match="lazy"):
            BlurConv2d.from_conv(nn.LazyConv2d(2, 3, 2))

    def test_gradcheck_float64(self):
        m = BlurConv2d.from_conv(nn.Conv2d(2, 3, 3, 2, 1).double(), "box")
        x = torch.randn(1, 2, 7, 6, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(m, (x,))

    def test_reset_parameters_refills_the_kernel(self):
        m = BlurConv2d(2, 2, 3, 2)
        m.blur_kernel.zero_()
        m.reset_parameters()
        assert abs(float(m.blur_kernel.sum()) - 1.0) < 1e-6

    @pytest.mark.parametrize("k,s", [(3, 2), (1, 2), (4, 2), (3, 3)])
    def test_gradient_checkerboard_removed(self, k, s):
        conv = nn.Conv2d(3, 8, k, s, k // 2).double()
        shape = (1, 3, 48, 48)
        assert gradient_score(conv, shape, s)[0] > 20
        assert gradient_score(BlurPool2d.from_conv(conv), shape, s)[0] < DEFAULT_THRESHOLD


def _blur_axis(x: torch.Tensor, axis: int, s: int, filter: str) -> torch.Tensor:
    """Numpy reference blur of one axis at full rate (edges replicated)."""
    arr = np.moveaxis(x.numpy(), axis, -1)
    box = np.ones(s) / s
    taps = box if filter == "box" else np.convolve(box, box)
    k = len(taps)
    before = (k - 1) // 2
    pad = [(0, 0)] * (arr.ndim - 1) + [(before, k - 1 - before)]
    padded = np.pad(arr, pad, mode="edge")
    n = arr.shape[-1]
    out = sum(taps[i] * padded[..., i:i + n] for i in range(k))
    return torch.from_numpy(np.ascontiguousarray(np.moveaxis(out, -1, axis)))
