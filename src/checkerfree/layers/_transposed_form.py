"""The transposed form of the fused resize-convolution as one autograd node, and its kernel cache.

``y = conv_transpose(x, W(w))`` with the tied kernel ``W(w)`` (:mod:`checkerfree.layers.
_tied_kernel`). Left to autograd this is two nodes: the kernel's build and the convolution, each
with its own backward call, saved tensors and gradient hand-over. :class:`_FusedTransposed`
is one: forward builds ``W`` without recording it and runs the convolution; backward is the
convolution's own backward (``aten.convolution_backward``, what ``ConvTranspose`` runs) for
``x``, ``W`` and the bias (on a channels-last input, the bias gradient as a plain sum:
cheaper there than asking the backend for it), then the adjoint of the build for ``w``. Its
variant :func:`channels_last_transposed` runs the same call in channels-last. With
``create_graph`` the backward rebuilds ``W`` from the saved ``w`` under autograd, so second
derivatives (gradient penalties) see its dependence on ``w``.

Without autograd the kernel is cached per weight (:func:`cached_kernel`): rebuilt only when the
weight's storage, in-place version counter (``tensor._version``) or the geometry changes, so an
``eval()`` loop pays for it once. Entries die with their weight (weak references).

>>> import torch, torch.nn.functional as F
>>> from checkerfree.layers.resize_conv import tied_transposed_kernel, _kron_matrix
>>> w = torch.randn(3, 2, 3, requires_grad=True)
>>> x = torch.randn(1, 2, 5, requires_grad=True)
>>> spec = Spec(_kron_matrix((3,), (2,), (1,), (1,), w.device, w.dtype), 1, (4,), (2,), (1,),
...             (0,))
>>> y = fused_transposed(x, w, None, spec)
>>> ref = F.conv_transpose1d(x, tied_transposed_kernel(w, 2, 1)[0], stride=2, padding=1)
>>> bool(torch.allclose(y, ref, atol=1e-6)), y.shape
(True, torch.Size([1, 3, 10]))
"""

from __future__ import annotations

import weakref
from typing import NamedTuple

import torch
import torch.nn.functional as F

from checkerfree.layers._tied_kernel import _to_kernel, _to_weight, tied_kernel

__all__ = ["Spec", "cached_kernel", "channels_last_transposed", "chunked_transposed",
           "fused_transposed"]

_CONV_TRANSPOSE = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


class Spec(NamedTuple):
    """Everything but the tensors: the 0/1 matrix, groups, kernel size, and the call's geometry."""

    matrix: torch.Tensor
    groups: int
    big: tuple
    stride: tuple
    padding: tuple
    output_padding: tuple


def _convolve(x, kernel, bias, spec):
    return _CONV_TRANSPOSE[x.dim() - 2](x, kernel, bias, stride=spec.stride,
                                        padding=spec.padding,
                                        output_padding=spec.output_padding, groups=spec.groups)


def _save(ctx, x, weight, bias, spec) -> torch.Tensor:
    """Build the tied kernel and keep what the backward needs; returns the kernel."""
    kernel = _to_kernel(weight, spec.matrix, spec.groups, spec.big)
    ctx.save_for_backward(x, weight, kernel)
    ctx.spec, ctx.has_bias = spec, bias is not None
    return kernel


def _restore(ctx):
    """``(x, weight, kernel, spec)`` for a backward; under ``create_graph`` the kernel is
    rebuilt by autograd ops, so that its dependence on the weight is seen."""
    x, weight, kernel = ctx.saved_tensors
    spec = ctx.spec
    if torch.is_grad_enabled():
        kernel = tied_kernel(weight, spec.matrix, spec.groups, spec.big)
    return x, weight, kernel, spec


class _FusedTransposed(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, spec):
        kernel = _save(ctx, x, weight, bias, spec)
        return _convolve(x, kernel, bias, spec)

    @staticmethod
    def backward(ctx, grad):
        x, weight, kernel, spec = _restore(ctx)
        # A channels-last input (not contiguous): the channels-last backward, bias apart.
        return (*_backward(ctx, grad, x, weight, kernel, spec,
                           bias_apart=not x.is_contiguous()), None)


def _backward(ctx, grad, x, weight, kernel, spec, bias_apart=False):
    """``(gx, gw, gb)``: the convolution's own backward, then the adjoint of the build.

    ``bias_apart``: the bias gradient as a plain sum of ``grad``, not asked of the backend's
    backward, which on channels-last CPU tensors spends 1.2-1.8x the time of the input and
    weight gradients alone plus that sum where the activations outweigh the weight (about
    1x at 2 x 384 x 20 x 20; on contiguous ones 0.87-1.24x over two runs, no consistent
    gain: asked there; ``benchmarks/upsample_profile.py``, "bias in bwd").
    """
    need_x, need_w, need_b = ctx.needs_input_grad[:3]
    dims = x.dim() - 2
    inside = need_b and not bias_apart
    gx, gk, gb = torch.ops.aten.convolution_backward(
        grad, x, kernel, [kernel.shape[1] * spec.groups] if ctx.has_bias and inside else None,
        list(spec.stride), list(spec.padding), [1] * dims, True, list(spec.output_padding),
        spec.groups, [need_x, need_w, inside])
    if need_b and bias_apart:
        gb = grad.sum([0, *range(2, grad.dim())])
    gw = _to_weight(gk.contiguous(), spec.matrix, spec.groups, tuple(weight.shape[2:])) \
        if need_w else None
    return gx, gw, gb


_CHANNELS_LAST = {4: torch.channels_last, 5: torch.channels_last_3d}


def _lift(spec: Spec) -> Spec:
    """A 1D spec as the 2D one with a unit first axis, which has a channels-last layout."""
    return spec._replace(big=(1, *spec.big), stride=(1, *spec.stride),
                         padding=(0, *spec.padding), output_padding=(0, *spec.output_padding))


class _ChannelsLastTransposed(torch.autograd.Function):
    """:class:`_FusedTransposed` on a channels-last copy of the input, output channels-last.

    The backward makes the copy again rather than keeping it (the input is saved, which is
    alive anyway, and under ``create_graph`` the copy is then differentiable in it), and
    hands the backend a channels-last gradient (a copy only when the incoming one is in
    another layout): with mixed layouts its backward is slower than the conversion. A 1D
    input runs as 2D with a unit first spatial axis (``spec`` already lifted by the caller).
    """

    @staticmethod
    def forward(ctx, x, weight, bias, spec):
        ctx.lifted = x.dim() == 3
        kernel = _save(ctx, x, weight, bias, spec)
        return _drop(_channels_last(_convolve(_channels_last(x), kernel, bias, spec)),
                     ctx.lifted)

    @staticmethod
    def backward(ctx, grad):
        x, weight, kernel, spec = _restore(ctx)
        gx, gw, gb = _backward(ctx, _channels_last(grad), _channels_last(x), weight, kernel,
                               spec, bias_apart=True)
        return (gx.squeeze(2) if ctx.lifted and gx is not None else gx), gw, gb, None


def _channels_last(t: torch.Tensor) -> torch.Tensor:
    """``t`` in channels-last, a no-op where it already is (the backend's output in float32;
    not always in float64); a 1D ``(N, C, L)`` as ``(N, C, 1, L)`` first."""
    t = t.unsqueeze(2) if t.dim() == 3 else t
    return t.contiguous(memory_format=_CHANNELS_LAST[t.dim()])


def _drop(y: torch.Tensor, lifted: bool) -> torch.Tensor:
    return y.squeeze(2) if lifted else y


#: Blocks of the chunked form: its temporaries are about ``1 / _CHUNKS`` of the output's size.
_CHUNKS = 4


def _blocks(n: int, out: int, groups: int) -> list[tuple[slice, slice]]:
    """``(batch, output channel)`` slices, about :data:`_CHUNKS` of them: the batch first, then
    output channels of each sample when the batch is smaller (not across groups)."""
    if n >= _CHUNKS or groups > 1:
        step = -(-n // _CHUNKS)
        return [(slice(i, min(n, i + step)), slice(None)) for i in range(0, n, step)]
    step = max(1, -(-out // -(-_CHUNKS // n)))
    return [(slice(i, i + 1), slice(j, min(out, j + step)))
            for i in range(n) for j in range(0, out, step)]


def _chunked_forward(x, kernel, bias, spec, memory_format):
    out = kernel.shape[1] * spec.groups
    lengths = [(n - 1) * st - 2 * p + k - 1 + op + 1 for n, st, p, k, op in
               zip(x.shape[2:], spec.stride, spec.padding, spec.big, spec.output_padding,
                   strict=True)]
    y = torch.empty((x.shape[0], out, *lengths), dtype=x.dtype, device=x.device,
                    memory_format=memory_format)
    for rows, cols in _blocks(x.shape[0], out, spec.groups):
        part = _convolve(x[rows], kernel[:, cols], None if bias is None else bias[cols], spec)
        y[rows, cols] = part
        del part  # before the next block allocates its own
    return y


class _ChunkedTransposed(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, spec, memory_format):
        kernel = _save(ctx, x, weight, bias, spec)
        return _chunked_forward(x, kernel, bias, spec, memory_format)

    @staticmethod
    def backward(ctx, grad):
        x, weight, kernel, spec = _restore(ctx)
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        dims = x.dim() - 2
        out = kernel.shape[1] * spec.groups
        gx = torch.zeros_like(x) if need_x else None
        gk = torch.zeros_like(kernel) if need_w else None
        gb = grad.new_zeros(out) if need_b else None
        for rows, cols in _blocks(x.shape[0], out, spec.groups):
            k = kernel[:, cols]
            a, b, c = torch.ops.aten.convolution_backward(
                grad[rows, cols], x[rows], k,
                [k.shape[1] * spec.groups] if ctx.has_bias else None, list(spec.stride),
                list(spec.padding), [1] * dims, True, list(spec.output_padding), spec.groups,
                [need_x, need_w, need_b])
            if need_x:
                gx[rows] += a  # channel blocks of one sample each add their share
            if need_w:
                gk[:, cols] += b
            if need_b:
                gb[cols] += c
            del a, b, c  # before the next block allocates its own
        gw = _to_weight(gk, spec.matrix, spec.groups, tuple(weight.shape[2:])) \
            if need_w else None
        return gx, gw, gb, None, None


_CACHE: dict = {}


def cached_kernel(weight: torch.Tensor, spec: Spec) -> torch.Tensor:
    """The tied kernel of ``weight``, built once per (storage, version, geometry); no autograd."""
    key = (id(weight), weight.data_ptr(), weight._version, weight.dtype, weight.device,
           tuple(weight.shape), spec.groups, spec.big, id(spec.matrix))
    hit = _CACHE.get(key)
    if hit is not None and hit[0]() is weight:
        return hit[1]
    for old in [k for k in _CACHE if k[0] == id(weight)]:  # a stale version of this weight
        del _CACHE[old]
    kernel = _to_kernel(weight, spec.matrix, spec.groups, spec.big)
    ident = id(weight)
    ref = weakref.ref(weight, lambda _r: [_CACHE.pop(k, None) for k in list(_CACHE)
                                          if k[0] == ident])
    _CACHE[key] = (ref, kernel)
    return kernel


def chunked_transposed(x, weight, bias, spec: Spec,
                       memory_format=torch.contiguous_format) -> torch.Tensor:
    """:func:`fused_transposed` by blocks of the batch (or of one sample's output channels).

    Each block's ``conv_transpose`` and its temporaries are about ``1 / _CHUNKS`` of the
    output, written into one preallocated output; backward goes by the same blocks. The
    least memory of the fused forms (output plus about a quarter of it, forward or backward)
    for a few more calls and one more copy of the output.
    """
    if torch.jit.is_tracing() or torch.compiler.is_compiling():
        return fused_transposed(x, weight, bias, spec)
    if torch.is_grad_enabled() and any(t is not None and t.requires_grad
                                       for t in (x, weight, bias)):
        return _ChunkedTransposed.apply(x, weight, bias, spec, memory_format)
    return _chunked_forward(x, cached_kernel(weight, spec), bias, spec, memory_format)


def channels_last_transposed(x, weight, bias, spec: Spec) -> torch.Tensor:
    """:func:`fused_transposed` computed, and returned, in channels-last (1D, 2D and 3D).

    On a contiguous CPU input ``conv_transpose`` computes in channels-last internally and
    copies its output back (``aten::clone``: a third output-sized buffer at its peak, 3-17%
    of its forward+backward time); run on a channels-last copy of the input (a quarter of
    the output's size in 2D, an eighth in 3D) it skips that copy. The output stays
    channels-last, as every PyTorch layer's does for a channels-last input: same values,
    other strides (``y.contiguous()`` restores the usual layout, at the cost of that copy).
    A 1D input ``(N, C, L)`` runs as the 2D call on ``(N, C, 1, L)`` (a unit axis: kernel,
    stride and padding 1, 1, 0 there; the same products in the same order, so the same
    values): its output is that call's with the unit axis dropped, strides ``(L C, 1, C)``
    (channels last in 1D). Under tracing or compiling it is :func:`fused_transposed` (same
    values, the input's layout), which every exporter and compiler understands.

    >>> import torch
    >>> from checkerfree.layers.resize_conv import _kron_matrix
    >>> m = _kron_matrix((3, 3), (2, 2), (1, 1), (1, 1), torch.device("cpu"), torch.float32)
    >>> spec = Spec(m, 1, (4, 4), (2, 2), (1, 1), (0, 0))
    >>> x, w = torch.randn(1, 2, 5, 5), torch.randn(3, 2, 3, 3)
    >>> y = channels_last_transposed(x, w, None, spec)
    >>> y.shape, y.is_contiguous(memory_format=torch.channels_last)
    (torch.Size([1, 3, 10, 10]), True)
    >>> bool(torch.allclose(y, fused_transposed(x, w, None, spec), atol=1e-5))
    True
    """
    if torch.jit.is_tracing() or torch.compiler.is_compiling():
        return fused_transposed(x, weight, bias, spec)
    lifted = x.dim() == 3
    if lifted:
        spec = _lift(spec)
    if torch.is_grad_enabled() and any(t is not None and t.requires_grad
                                       for t in (x, weight, bias)):
        return _ChannelsLastTransposed.apply(x, weight, bias, spec)
    return _drop(_channels_last(_convolve(_channels_last(x), cached_kernel(weight, spec), bias,
                                          spec)), lifted)


def fused_transposed(x, weight, bias, spec: Spec) -> torch.Tensor:
    """``conv_transpose(x, tied kernel of weight, bias)`` with ``spec``'s geometry.

    One autograd node when gradients are wanted; the cached kernel when not; plain operations
    under tracing or compiling, which every exporter and compiler understands.
    """
    if torch.jit.is_tracing() or torch.compiler.is_compiling():
        return _convolve(x, tied_kernel(weight, spec.matrix, spec.groups, spec.big), bias, spec)
    if torch.is_grad_enabled() and any(t is not None and t.requires_grad
                                       for t in (x, weight, bias)):
        return _FusedTransposed.apply(x, weight, bias, spec)
    return _convolve(x, cached_kernel(weight, spec), bias, spec)
