"""ResizeConv1d/2d/3d and nearest_resize_conv against naive interpolate-then-convolve."""

from unittest import mock

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from checkerfree.errors import InvalidArgumentError, InvalidTypeError
from checkerfree.layers import ResizeConv1d, ResizeConv2d, ResizeConv3d, nearest_resize_conv
from checkerfree.overlap import phase_imbalance

CLASSES = {1: ResizeConv1d, 2: ResizeConv2d, 3: ResizeConv3d}
CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


def reference(x, weight, bias, scale, padding, dilation, groups, trim=None, mode="nearest",
              stride=1):
    """Upsample, convolve, then crop/zero-pad by hand: the operator by its definition."""
    dims = weight.dim() - 2
    kw = {} if mode == "nearest" else {"align_corners": False}
    up = F.interpolate(x, scale_factor=scale, mode=mode, **kw)
    y = CONV[dims](up, weight, bias, stride=stride, padding=padding, dilation=dilation,
                   groups=groups)
    for a, (before, after) in enumerate(trim or []):
        axis = 2 + a
        y = y.narrow(axis, max(before, 0), y.shape[axis] - max(before, 0) - max(after, 0))
        shape = list(y.shape)
        shape[axis] = max(-before, 0)
        lead = y.new_zeros(shape)
        shape[axis] = max(-after, 0)
        y = torch.cat([lead, y, y.new_zeros(shape)], dim=axis)
    return y


@st.composite
def configs(draw, max_dims=3):
    dims = draw(st.integers(1, max_dims))
    k = draw(st.integers(1, 5 if dims < 3 else 3))
    s = draw(st.integers(1, 3 if dims < 3 else 2))
    d = draw(st.integers(1, 2))
    # Padding wider than the kernel's reach (bias-only border outputs) takes the naive path,
    # tested separately; here every example must go through the fused one.
    p = draw(st.integers(0, d * (k - 1)))
    groups = draw(st.sampled_from([1, 2]))
    size = draw(st.integers(1, 6 if dims < 3 else 3))
    if s * size + 2 * p - d * (k - 1) < 1:
        size = (d * (k - 1) - 2 * p) // s + 1
    out_len = s * size + 2 * p - d * (k - 1)
    trim = None
    if draw(st.booleans()):
        trim = []
        for _ in range(dims):
            before = draw(st.integers(-2, min(2, out_len - 1)))
            after = draw(st.integers(-2, min(2, out_len - 1 - max(before, 0))))
            trim.append((before, after))
    return dims, k, s, p, d, groups, size, trim


def _tensors(dims, k, groups, size, dtype=torch.float64, cin=2, cout=4):
    x = torch.randn(2, cin, *(size,) * dims, dtype=dtype, requires_grad=True)
    w = torch.randn(cout, cin // groups, *(k,) * dims, dtype=dtype, requires_grad=True)
    b = torch.randn(cout, dtype=dtype, requires_grad=True)
    return x, w, b


class TestResizeConv:
    def test_smoke(self):
        m = ResizeConv2d(3, 5, 3, padding=1)
        assert m.fused and isinstance(m, nn.Conv2d)
        assert m(torch.randn(2, 3, 4, 4)).shape == (2, 5, 8, 8)

    @pytest.mark.parametrize("dims", [1, 2, 3])
    @pytest.mark.parametrize("scale", [1, 2, 3])
    def test_cardinality(self, dims, scale):
        m = CLASSES[dims](2, 3, 3, padding=1, scale_factor=scale)
        size = (4, 5, 3)[:dims]
        assert m(torch.randn(1, 2, *size)).shape == (1, 3, *(scale * n for n in size))
        assert m(torch.randn(2, *size)).shape == (3, *(scale * n for n in size))  # unbatched

    @given(configs())
    def test_fused_matches_naive_values_and_gradients(self, cfg):
        dims, k, s, p, d, groups, size, trim = cfg
        x, w, b = _tensors(dims, k, groups, size)
        ref = reference(x, w, b, s, p, d, groups, trim)
        with mock.patch.object(F, "interpolate", side_effect=AssertionError("not fused")):
            out = nearest_resize_conv(x, w, b, s, p, d, groups, trim=trim)
        assert out.shape == ref.shape
        torch.testing.assert_close(out, ref, atol=1e-10, rtol=1e-10)
        g = torch.randn_like(ref)
        got = torch.autograd.grad(out, (x, w, b), g)
        want = torch.autograd.grad(ref, (x, w, b), g)
        for a, e in zip(got, want, strict=True):
            torch.testing.assert_close(a, e, atol=1e-10, rtol=1e-10)

    @given(configs(max_dims=2))
    def test_module_float32_within_1e5(self, cfg):
        dims, k, s, p, d, groups, size, trim = cfg
        m = CLASSES[dims](2, 4, k, padding=p, dilation=d, groups=groups, scale_factor=s,
                          trim=trim)
        x = torch.randn(2, 2, *(size,) * dims, requires_grad=True)
        out = m(x)
        ref = reference(x, m.weight, m.bias, s, p, d, groups, trim)
        torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
        g = torch.randn_like(ref)
        got = torch.autograd.grad(out, (x, m.weight, m.bias), g)
        want = torch.autograd.grad(ref, (x, m.weight, m.bias), g)
        for a, e in zip(got, want, strict=True):
            torch.testing.assert_close(a, e, atol=1e-5, rtol=1e-5)

    @pytest.mark.parametrize("dims", [1, 2])
    @pytest.mark.parametrize("p", [3, 4, 7])
    def test_padding_wider_than_the_kernel(self, dims, p):
        x, w, b = _tensors(dims, 3, 1, 3)
        out = nearest_resize_conv(x, w, b, 2, p, 1, trim=[(1, -2)] * dims)
        torch.testing.assert_close(out, reference(x, w, b, 2, p, 1, 1, [(1, -2)] * dims))

    def test_fused_never_materialises_the_upsampled_tensor(self, monkeypatch):
        def forbidden(*args, **kwargs):
            raise AssertionError("interpolate called on the fused path")

        monkeypatch.setattr(F, "interpolate", forbidden)
        m = ResizeConv2d(4, 4, 3, padding=1, scale_factor=2)
        assert m(torch.randn(1, 4, 6, 6)).shape == (1, 4, 12, 12)

    @pytest.mark.parametrize("mode", ["linear", "bilinear"])
    def test_linear_mode_is_interpolate_then_conv(self, mode):
        m = ResizeConv2d(2, 3, 3, padding=1, scale_factor=2, mode=mode, trim=[(1, 0), (0, -1)])
        assert m.mode == "bilinear" and not m.fused
        x = torch.randn(1, 2, 5, 6)
        ref = reference(x, m.weight, m.bias, 2, 1, 1, 1, [(1, 0), (0, -1)], mode="bilinear")
        torch.testing.assert_close(m(x), ref)

    @pytest.mark.parametrize("padding_mode", ["reflect", "replicate", "circular"])
    def test_padding_modes_take_the_naive_path(self, padding_mode):
        m = ResizeConv1d(2, 3, 3, padding=1, padding_mode=padding_mode, scale_factor=2)
        x = torch.randn(1, 2, 5)
        up = F.interpolate(x, scale_factor=2)
        ref = F.conv1d(F.pad(up, (1, 1), mode=padding_mode), m.weight, m.bias)
        assert not m.fused
        torch.testing.assert_close(m(x), ref)

    def test_conv_stride_takes_the_naive_path(self):
        m = ResizeConv2d(2, 3, 3, stride=2, padding=1, scale_factor=3)
        x = torch.randn(1, 2, 5, 5)
        torch.testing.assert_close(m(x), reference(x, m.weight, m.bias, 3, 1, 1, 1, stride=2))

    @pytest.mark.filterwarnings("ignore:Using padding='same'")
    def test_same_padding_string(self):
        m = ResizeConv1d(2, 3, 4, padding="same", scale_factor=2)
        x = torch.randn(1, 2, 5)
        ref = F.conv1d(F.interpolate(x, scale_factor=2), m.weight, m.bias, padding="same")
        torch.testing.assert_close(m(x), ref)

    @pytest.mark.parametrize("s,k,p,d", [(2, 3, 1, 1), (3, 2, 0, 1), (2, 3, 2, 2)])
    def test_gradcheck(self, s, k, p, d):
        x, w, b = _tensors(2, k, 1, 3, cin=2, cout=2)
        assert torch.autograd.gradcheck(
            lambda x, w, b: nearest_resize_conv(x, w, b, s, p, d), (x, w, b), fast_mode=True
        )

    def test_gradients_flow_to_weight(self):
        m = ResizeConv2d(2, 2, 3, padding=1)
        m(torch.randn(1, 2, 4, 4)).square().sum().backward()
        assert m.weight.grad is not None and m.weight.grad.abs().sum() > 0

    def test_device_and_dtype_follow_input(self):
        m = ResizeConv2d(2, 2, 3, padding=1, dtype=torch.float64)
        assert m.weight.dtype == torch.float64
        assert m(torch.randn(1, 2, 3, 3, dtype=torch.float64)).dtype == torch.float64

    def test_artifact_free_constant_in_constant_out(self):
        m = ResizeConv2d(3, 4, 3, padding=1, scale_factor=2)
        y = m(torch.ones(1, 3, 8, 8))[..., 1:-1, 1:-1]
        torch.testing.assert_close(y, y[..., :1, :1].expand_as(y))
        assert phase_imbalance(m.equivalent_transposed_weight(), 2) == 0.0

    def test_equivalent_transposed_weight_is_the_operator(self):
        m = ResizeConv2d(2, 3, 3, padding=1, bias=False)
        x = torch.randn(1, 2, 4, 4)
        y = F.conv_transpose2d(x, m.equivalent_transposed_weight(), stride=2, padding=1)
        torch.testing.assert_close(y, m(x))

    @pytest.mark.parametrize(
        "kwargs,error",
        [
            ({"scale_factor": 1.5}, InvalidArgumentError),
            ({"scale_factor": 0}, InvalidArgumentError),
            ({"scale_factor": "2"}, InvalidTypeError),
            ({"scale_factor": (2, 2, 2)}, InvalidArgumentError),
            ({"mode": "bicubic"}, InvalidArgumentError),
            ({"mode": "trilinear"}, InvalidArgumentError),
            ({"padding_mode": "mirror"}, InvalidArgumentError),
            ({"trim": [(1, 1)]}, InvalidArgumentError),
        ],
    )
    def test_exception(self, kwargs, error):
        with pytest.raises(error) as info:
            ResizeConv2d(2, 2, 3, **kwargs)
        assert next(iter(kwargs)) in str(info.value)
        assert isinstance(info.value, ValueError | TypeError)

    def test_integral_float_scale_is_accepted(self):
        assert ResizeConv1d(1, 1, 1, scale_factor=2.0).scale_factor == (2,)


@pytest.fixture
def forced(monkeypatch):
    """Set ``resize_conv.form`` for one test; ``benchmark`` and the choices stay untouched."""
    from checkerfree.layers import resize_conv

    def force(name):
        monkeypatch.setattr(resize_conv, "form", name)

    return force


class TestFusedForms:
    """Every exact form of the fused path, the tied kernel's own backward, and the choice."""

    @pytest.mark.parametrize("form", ["transposed", "phases", "sliced", "chunked", "box",
                                      "channels_last"])
    @given(cfg=configs())
    def test_every_form_matches_naive_values_and_gradients(self, form, cfg):
        from checkerfree.layers import resize_conv

        dims, k, s, p, d, groups, size, trim = cfg
        x, w, b = _tensors(dims, k, groups, size)
        ref = reference(x, w, b, s, p, d, groups, trim)
        with mock.patch.object(resize_conv, "form", form), \
                mock.patch.object(F, "interpolate", side_effect=AssertionError("not fused")):
            out = nearest_resize_conv(x, w, b, s, p, d, groups, trim=trim)
        assert out.shape == ref.shape
        torch.testing.assert_close(out, ref, atol=1e-10, rtol=1e-10)
        g = torch.randn_like(ref)
        got = torch.autograd.grad(out, (x, w, b), g)
        want = torch.autograd.grad(ref, (x, w, b), g)
        for a, e in zip(got, want, strict=True):
            torch.testing.assert_close(a, e, atol=1e-10, rtol=1e-10)

    @pytest.mark.parametrize("form", ["phases", "sliced"])
    def test_phase_form_is_taken_when_forced(self, forced, monkeypatch, form):
        # The test above would pass with the transposed form everywhere; make sure it is not.
        forced(form)
        monkeypatch.setattr(F, "conv_transpose2d", mock.Mock(side_effect=AssertionError))
        x, w, b = _tensors(2, 3, 1, 4)
        torch.testing.assert_close(nearest_resize_conv(x, w, b, 2, 1),
                                   reference(x, w, b, 2, 1, 1, 1))

    @pytest.mark.parametrize("grad", [False, True])
    def test_box_form_builds_no_tied_kernel(self, forced, monkeypatch, grad):
        # The box form convolves with the weight itself (flipped, k taps), then sums s shifts
        # of the output per axis: never the (k + 1)-tap tied kernel.
        from checkerfree.layers import _transposed_form

        forced("box")
        monkeypatch.setattr(_transposed_form, "_to_kernel", mock.Mock(side_effect=AssertionError))
        taps = []
        real = _transposed_form._CONV_TRANSPOSE[2]
        monkeypatch.setitem(_transposed_form._CONV_TRANSPOSE, 2,
                            lambda x, k, *a, **kw: taps.append(k.shape[2:]) or real(x, k, *a, **kw))
        x, w, b = _tensors(2, 3, 1, 4)
        with torch.set_grad_enabled(grad):
            out = nearest_resize_conv(x, w, b, 2, 1)
        assert taps == [(3, 3)]
        ref = reference(x, w, b, 2, 1, 1, 1)
        torch.testing.assert_close(out, ref)
        if grad:
            g = torch.randn_like(ref)
            for a, e in zip(torch.autograd.grad(out, (x, w, b), g),
                            torch.autograd.grad(ref, (x, w, b), g), strict=True):
                torch.testing.assert_close(a, e)

    def test_phase_form_covers_every_geometry_with_affine_shifts(self):
        from checkerfree.layers._phase_form import phase_plan

        # s <= 2: two phases, always affine; s = 3, p = 1: shifts (0, 1, 1), not affine.
        assert all(phase_plan((k,), (2,), (d,), (p,)) is not None
                   for k in range(1, 6) for d in (1, 2) for p in range(d * (k - 1) + 1))
        assert phase_plan((3,), (3,), (1,), (1,)) is None
        assert phase_plan((3,), (3,), (1,), (0,)) is not None

    @pytest.mark.parametrize("form", ["phases", "sliced"])
    def test_forced_phase_form_falls_back_where_not_offered(self, forced, form):
        forced(form)
        x, w, b = _tensors(1, 3, 1, 5)
        torch.testing.assert_close(nearest_resize_conv(x, w, b, 3, 1),
                                   reference(x, w, b, 3, 1, 1, 1))

    def test_unknown_form_is_a_typed_error(self, forced):
        forced("winograd")
        with pytest.raises(InvalidArgumentError, match="winograd"):
            ResizeConv2d(2, 2, 3, padding=1)(torch.randn(1, 2, 3, 3))

    @pytest.mark.parametrize("dims", [1, 2, 3])
    @pytest.mark.parametrize("groups", [1, 2])
    def test_tied_kernel_backward_is_the_adjoint(self, dims, groups):
        # The custom backward against autograd through the per-axis definition (einsum with
        # each axis' 0/1 matrix), in float64.
        from checkerfree.layers.resize_conv import _axis_map, tied_transposed_kernel

        k, s, p = (3, 2, 1)
        w = torch.randn(4, 4 // groups, *(k,) * dims, dtype=torch.float64, requires_grad=True)
        got, _ = tied_transposed_kernel(w, s, p, 1, groups)
        ref = w
        m = torch.tensor(_axis_map(k, s, 1, p)[0], dtype=torch.float64)
        for a in range(dims):
            ref = torch.movedim(torch.movedim(ref, 2 + a, -1) @ m.T, -1, 2 + a)
        ref = ref.reshape(groups, 4 // groups, 4 // groups, *ref.shape[2:]).transpose(1, 2)
        ref = ref.reshape(4, 4 // groups, *ref.shape[3:])
        torch.testing.assert_close(got, ref)
        g = torch.randn_like(ref)
        torch.testing.assert_close(torch.autograd.grad(got, w, g)[0],
                                   torch.autograd.grad(ref, w, g)[0])
        assert torch.autograd.gradcheck(
            lambda w: tied_transposed_kernel(w, s, p, 1, groups)[0], (w,), fast_mode=True)

    @pytest.mark.parametrize("form", ["transposed", "phases", "sliced", "chunked", "box",
                                      "channels_last"])
    @pytest.mark.parametrize("dims", [1, 2])
    @pytest.mark.parametrize(("s", "k", "p", "groups"), [(2, 3, 1, 1), (3, 2, 0, 2)])
    def test_gradcheck_and_gradgradcheck(self, forced, form, dims, s, k, p, groups):
        # Second derivatives too: a gradient penalty differentiates through the upsampler,
        # so a form's own backward must itself be differentiable in every input.
        forced(form)
        x, w, b = _tensors(dims, k, groups, 3, cin=2, cout=2)
        args = (x, w, b)

        def f(x, w, b):
            return nearest_resize_conv(x, w, b, s, p, 1, groups)

        assert torch.autograd.gradcheck(f, args, fast_mode=True)
        assert torch.autograd.gradgradcheck(f, args, fast_mode=True)

    @pytest.mark.parametrize("form", ["transposed", "phases", "sliced", "chunked", "box",
                                      "channels_last"])
    @pytest.mark.parametrize("dims", [2, 3])
    def test_channels_last_in_channels_last_out(self, forced, form, dims):
        forced(form)
        fmt = torch.channels_last if dims == 2 else torch.channels_last_3d
        m = CLASSES[dims](4, 6, 3, padding=1)
        x = torch.randn(2, 4, *(5,) * dims).contiguous(memory_format=fmt).requires_grad_()
        y = m(x)
        assert y.is_contiguous(memory_format=fmt)
        ref = reference(x, m.weight, m.bias, 2, 1, 1, 1)
        torch.testing.assert_close(y, ref, atol=1e-5, rtol=1e-5)
        g = torch.randn_like(ref)
        # The bias too: on a channels-last input the transposed forms sum it apart.
        for a, e in zip(torch.autograd.grad(y, (x, m.weight, m.bias), g),
                        torch.autograd.grad(ref, (x, m.weight, m.bias), g), strict=True):
            torch.testing.assert_close(a, e, atol=1e-4, rtol=1e-4)

    @pytest.mark.parametrize("form", ["transposed", "phases", "sliced", "chunked", "box",
                                      "channels_last"])
    @pytest.mark.parametrize("dims", [1, 2, 3])
    def test_bfloat16_within_its_rounding(self, forced, form, dims):
        forced(form)
        m = CLASSES[dims](8, 8, 3, padding=1, dtype=torch.bfloat16)
        x = torch.randn(2, 8, *(6,) * dims, dtype=torch.bfloat16)
        y = m(x)
        assert y.dtype == torch.bfloat16
        ref = reference(x.double(), m.weight.double(), m.bias.double(), 2, 1, 1, 1)
        # bfloat16 keeps 8 bits: about 0.4% of the magnitude of each of the 72 products' sum.
        assert (y.double() - ref).abs().max() <= 0.02 * ref.abs().max()

    def test_benchmark_times_once_per_key_and_keeps_the_choice(self, monkeypatch):
        from checkerfree.layers import resize_conv

        monkeypatch.setattr(resize_conv, "benchmark", True)
        monkeypatch.setattr(resize_conv, "choices", {})
        trials = []
        real = resize_conv._trial

        def counting(forms, args):
            trials.append(sorted(forms))
            return real(forms, args)

        monkeypatch.setattr(resize_conv, "_trial", counting)
        m = ResizeConv2d(3, 3, 3, padding=1)
        x = torch.randn(1, 3, 6, 6)
        for _ in range(3):
            y = m(x)
        with torch.no_grad():
            m(x)
        m(torch.randn(1, 3, 7, 6))
        every = ["box", "channels_last", "phases", "sliced", "transposed"]
        assert trials == [every] * 3  # grad, no grad, new shape
        assert len(resize_conv.choices) == 3
        assert set(resize_conv.choices.values()) <= set(every)
        # A channels-last input runs "transposed" in channels-last already: not offered twice.
        m(x.contiguous(memory_format=torch.channels_last))
        assert trials[-1] == ["box", "phases", "sliced", "transposed"]
        torch.testing.assert_close(y, reference(x, m.weight, m.bias, 2, 1, 1, 1))
        # The trial ran on detached copies: the caller's tensors have no gradients from it.
        assert m.weight.grad is None

    @pytest.mark.parametrize("dims", [1, 2, 3])
    @pytest.mark.parametrize("grad", [False, True])
    def test_channels_last_form_runs_and_returns_channels_last(self, forced, monkeypatch, dims,
                                                              grad):
        # A contiguous input: the transposed call gets a channels-last copy (1D: as 2D with
        # a unit axis), the output is channels-last (documented), the input's gradient has
        # the input's layout, and the values are the operator's.
        forced("channels_last")
        from checkerfree.layers import _transposed_form

        fmt = {2: torch.channels_last, 3: torch.channels_last_3d}
        seen = []
        for lifted in (2, 3):
            real = _transposed_form._CONV_TRANSPOSE[lifted]
            monkeypatch.setitem(
                _transposed_form._CONV_TRANSPOSE, lifted,
                lambda x, *a, real=real, **k: seen.append(
                    x.is_contiguous(memory_format=fmt[x.dim() - 2])) or real(x, *a, **k))
        m = CLASSES[dims](4, 6, 3, padding=1).double()
        x = torch.randn(2, 4, *(5, 4, 3)[:dims], dtype=torch.float64, requires_grad=grad)
        with torch.set_grad_enabled(grad):
            y = m(x)
        ref = reference(x, m.weight, m.bias, 2, 1, 1, 1)
        assert seen == [True]
        torch.testing.assert_close(y, ref, atol=1e-10, rtol=1e-10)
        assert not y.is_contiguous()
        c, length = y.shape[1], y.shape[-1]
        if dims == 1:
            assert y.stride() == (c * length, 1, c)
        else:
            assert y.is_contiguous(memory_format=fmt[dims])
        if grad:
            g = torch.randn_like(ref)  # contiguous: the backward converts it
            (gx,) = torch.autograd.grad(y, x, g, retain_graph=True)
            torch.testing.assert_close(gx, torch.autograd.grad(ref, x, g)[0])
            y.backward(g)
            assert x.grad.is_contiguous()

    def test_channels_last_form_skips_the_output_copy(self, forced):
        # On a contiguous CPU input conv_transpose copies its output out of channels-last:
        # three output-sized buffers at once without autograd. The channels-last form skips
        # that copy; in training too, with the gradient in the output's layout (as the next
        # layer hands it back), it peaks below the transposed form.
        import sys
        from pathlib import Path

        sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
        from upsample import _cpu_peak as peak
        from upsample import like_output

        m = ResizeConv2d(16, 16, 3, padding=1)
        x = torch.randn(8, 16, 24, 24, requires_grad=True)
        g = torch.randn(8, 16, 48, 48)
        out = g.nbytes
        peaks = {}
        for name in ("transposed", "channels_last"):
            forced(name)
            gm = like_output(m, x, g)

            def fwd():
                with torch.no_grad():
                    m(x)

            def train(gm=gm):
                m(x).backward(gm)

            fwd()
            train()  # warm: the kernel cache, the allocator
            peaks[name] = (peak(fwd), peak(train))
        assert peaks["transposed"][0] >= 2.9 * out  # the copy this form is for
        assert peaks["channels_last"][0] < 2.5 * out
        assert peaks["channels_last"][1] < peaks["transposed"][1]

    def test_channels_last_form_under_tracing_is_the_transposed_call(self, forced):
        # Exporters and compilers see plain operations in the input's layout.
        forced("channels_last")
        m = ResizeConv2d(3, 3, 3, padding=1)
        x = torch.randn(1, 3, 4, 4)
        traced = torch.jit.trace(m, x)
        y = traced(x)
        assert y.is_contiguous()
        torch.testing.assert_close(y, reference(x, m.weight, m.bias, 2, 1, 1, 1))

    @pytest.mark.parametrize(("n", "calls"), [(8, 4), (2, 4), (1, 4), (3, 6)])
    def test_chunked_form_runs_by_blocks(self, forced, monkeypatch, n, calls):
        forced("chunked")
        from checkerfree.layers import _transposed_form

        real = F.conv_transpose2d
        seen = []
        monkeypatch.setitem(_transposed_form._CONV_TRANSPOSE, 2,
                            lambda x, *a, **k: seen.append(x.shape[0]) or real(x, *a, **k))
        m = ResizeConv2d(8, 8, 3, padding=1)
        x = torch.randn(n, 8, 4, 4)
        torch.testing.assert_close(m(x), reference(x, m.weight, m.bias, 2, 1, 1, 1),
                                   atol=1e-5, rtol=1e-5)
        # Batch blocks from 4 samples on; below, each sample's output channels are split.
        assert len(seen) == calls and sum(seen) == (n if n >= 4 else calls)

    @pytest.mark.parametrize("grad", [False, True])
    def test_chunked_form_never_holds_two_outputs(self, forced, grad):
        # Every allocation the profiler sees, in time order, operators' temporaries included:
        # the benchmark's own measure (benchmarks/upsample.py), so the two count alike.
        import sys
        from pathlib import Path

        sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
        from upsample import _cpu_peak as peak

        m = ResizeConv2d(16, 16, 3, padding=1)
        x = torch.randn(8, 16, 24, 24, requires_grad=grad)
        g = torch.randn(8, 16, 48, 48)
        out = g.nbytes

        def step():
            with torch.set_grad_enabled(grad):
                y = m(x)
                if grad:
                    y.backward(g)

        peaks = {}
        for name in ("transposed", "chunked"):
            forced(name)
            step()  # warm: the kernel cache, the allocator
            peaks[name] = peak(step)
        # Never two output-sized tensors at once: the output, then one block's temporaries
        # (three block-sized buffers on this backend: 1.75x the output, 3x unchunked).
        assert peaks["chunked"] < 2 * out
        assert peaks["chunked"] < peaks["transposed"]

    def test_no_grad_kernel_is_cached_until_the_weight_changes(self, forced, monkeypatch):
        from checkerfree.layers import _transposed_form

        forced("transposed")
        builds = []
        real = _transposed_form._to_kernel
        monkeypatch.setattr(_transposed_form, "_to_kernel",
                            lambda *a: builds.append(1) or real(*a))
        m = ResizeConv2d(3, 3, 3, padding=1).double()
        x = torch.randn(1, 3, 5, 5, dtype=torch.float64)

        def check():
            torch.testing.assert_close(m(x), reference(x, m.weight, m.bias, 2, 1, 1, 1))

        with torch.no_grad():
            check()
            check()
            assert len(builds) == 1
            m.weight.mul_(-2.0)  # in place: the version counter moves
            check()
            assert len(builds) == 2
            m.weight.data = torch.randn_like(m.weight)  # a new storage
            check()
            assert len(builds) == 3
        m(x).sum().backward()  # with autograd the kernel is built for the graph, not cached
        assert len(builds) == 4 and m.weight.grad is not None

    def test_cache_entries_die_with_their_weight(self, forced):
        from checkerfree.layers import _transposed_form

        forced("transposed")
        m = ResizeConv1d(2, 2, 3, padding=1)
        with torch.no_grad():
            m(torch.randn(1, 2, 4))
        ident = id(m.weight)

        def entries():  # by identity: other tests' entries may be collected meanwhile
            return [k for k in _transposed_form._CACHE if k[0] == ident]

        assert len(entries()) == 1
        del m
        import gc

        gc.collect()
        assert entries() == []

    def test_benchmark_off_is_always_transposed(self, monkeypatch):
        from checkerfree.layers import resize_conv

        monkeypatch.setattr(resize_conv, "choices", {})
        monkeypatch.setattr(resize_conv, "_trial", mock.Mock(side_effect=AssertionError))
        ResizeConv1d(2, 2, 3, padding=1)(torch.randn(1, 2, 5))
        assert resize_conv.benchmark is False and resize_conv.choices == {}
