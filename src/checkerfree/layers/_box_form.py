"""The box form of the fused resize-convolution: ``conv_transpose`` with the weight, then the box.

Nearest upsampling by ``s`` is zero insertion followed by the ``s``-tap box ``[1, ..., 1]`` (the
zero-order hold). Per axis, tap ``j`` of the weight lands on the tied kernel's indices
``t = p - j d + c``, ``c = 0 .. s - 1`` (:func:`checkerfree.layers.resize_conv._axis_map`:
``t = r - s floor((r - p + j d) / s)`` takes every residue once as the phase ``r`` runs), so
the tied kernel is the flipped, dilated weight convolved with that box: ``W = box_s * flip(w)``
on every axis. Both are filters on the fine grid, so the box moves past the convolution::

    conv_transpose(x, W, s) = box_s * conv_transpose(x, flip(w), s, dilation d)

exactly (the same sums, in another order). The right side does ``k^d`` multiply-adds per input
pixel and channel pair instead of ``((k - 1) d + s)^d``: 9 instead of 16 for ``k = 3, s = 2``
in 2D, 27 instead of 64 in 3D, 3 instead of 4 in 1D, plus ``s - 1`` output-sized additions
per axis for the box. Its only weight-sized temporaries are the weight flipped with its two
channel axes swapped (the layout ``conv_transpose`` reads) and the gradient in that layout,
each 1x the weight (the tied kernel and its gradient are ``((k - 1) d + s)^d / k^d`` times
it: 1.8x each for ``k = 3, s = 2`` in 2D). Where the weight outweighs the activations this is
the fastest form (``benchmarks/upsample_forms.py``); on the others the box's passes over the
output cost more than the multiply-adds saved.

>>> import torch
>>> from checkerfree.layers._transposed_form import Spec, fused_transposed
>>> from checkerfree.layers.resize_conv import _kron_matrix
>>> m = _kron_matrix((3, 3), (2, 2), (1, 1), (1, 1), torch.device("cpu"), torch.float64)
>>> spec = Spec(m, 1, (4, 4), (2, 2), (1, 1), (0, 0))
>>> x, w = torch.randn(1, 2, 5, 5, dtype=torch.float64), torch.randn(3, 2, 3, 3).double()
>>> y = box_transposed(x, w, None, spec)
>>> y.shape, bool(torch.allclose(y, fused_transposed(x, w, None, spec)))
(torch.Size([1, 3, 10, 10]), True)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from checkerfree.layers._transposed_form import _CONV_TRANSPOSE, Spec, fused_transposed

__all__ = ["box_transposed"]


def _flip_swap(t: torch.Tensor, groups: int) -> torch.Tensor:
    """``(a, b/g, *k) -> (b, a/g, *k)`` with every spatial axis reversed, in one gather.

    Its own inverse: weight -> the ``conv_transpose`` kernel, and that kernel's gradient -> the
    weight's. Reversing every axis of a row-major block is reversing its flattened index.
    """
    a, b_g = t.shape[:2]
    a_g = a // groups
    view = t.reshape(groups, a_g, b_g, -1).transpose(1, 2)
    rev = torch.arange(view.shape[-1] - 1, -1, -1, device=t.device)
    return view.index_select(-1, rev).view(groups * b_g, a_g, *t.shape[2:])


def _dilation(spec: Spec, small: tuple) -> tuple:
    """Per axis ``d`` from the tied kernel's size ``(k - 1) d + s`` (any ``d`` when ``k = 1``)."""
    return tuple((big - s) // (k - 1) if k > 1 else 1
                 for big, s, k in zip(spec.big, spec.stride, small, strict=True))


def _windows(z_shape, spec: Spec):
    """Per axis ``(first, length, before, after)``: the output is ``sum_c z[first - c + i]``,
    ``i < length``, over ``z`` zero-padded by ``before`` and ``after``.

    The transposed form's output is ``full[p : full - p + op]`` of the unpadded transposed
    convolution with the tied kernel, ``full = len(z) + s - 1`` long; ``full[n] = sum_c z[n - c]``.
    """
    out = []
    for n_z, s, p, op in zip(z_shape[2:], spec.stride, spec.padding, spec.output_padding,
                             strict=True):
        lo, hi = p, n_z + s - 1 - p + op
        before, after = max(0, s - 1 - lo), max(0, hi - n_z)
        out.append((lo + before, hi - lo, before, after))
    return out


def _box(z: torch.Tensor, spec: Spec) -> torch.Tensor:
    """The box on every axis, cropped to the transposed form's output (differentiable)."""
    dims = z.dim() - 2
    for a, (first, length, before, after) in enumerate(_windows(z.shape, spec)):
        axis, s = 2 + a, spec.stride[a]
        if before or after:
            z = F.pad(z, [0, 0] * (dims - 1 - a) + [before, after])
        y = z.narrow(axis, first, length)
        for c in range(1, s):
            y = y + z.narrow(axis, first - c, length)
        z = y
    return z


def _box_adjoint(g: torch.Tensor, z_shape, spec: Spec) -> torch.Tensor:
    """The adjoint of :func:`_box`: ``z``'s gradient from the output's (differentiable)."""
    for a, (first, length, before, after) in reversed(list(enumerate(_windows(z_shape, spec)))):
        axis, s = 2 + a, spec.stride[a]
        shape = list(g.shape)
        shape[axis] = z_shape[axis] + before + after
        gz = g.new_empty(shape)
        # The first shift covers [first, first + length); the rest of gz starts at zero.
        gz.narrow(axis, 0, first).zero_()
        gz.narrow(axis, first + length, shape[axis] - first - length).zero_()
        gz.narrow(axis, first, length).copy_(g)
        for c in range(1, s):
            gz.narrow(axis, first - c, length).add_(g)
        g = gz.narrow(axis, before, z_shape[axis]) if before or after else gz
    return g


def _forward(x, weight, bias, spec):
    """``(output, kernel, z's shape)``: the flipped kernel's transposed convolution, then the box."""
    kernel = _flip_swap(weight, spec.groups)
    z = _CONV_TRANSPOSE[x.dim() - 2](x, kernel, None, stride=spec.stride, groups=spec.groups,
                                     dilation=_dilation(spec, tuple(weight.shape[2:])))
    y = _box(z, spec)
    if bias is not None:
        y = y + bias.view(-1, *(1,) * (x.dim() - 2))
    return y, kernel, z.shape


class _BoxTransposed(torch.autograd.Function):
    """:func:`box_transposed` as one autograd node: the convolution's own backward on the box's
    adjoint of the gradient, the kernel's gradient flipped back, the bias gradient a sum. With
    ``create_graph`` the same steps run as autograd operations (second derivatives)."""

    @staticmethod
    def forward(ctx, x, weight, bias, spec):
        y, kernel, z_shape = _forward(x, weight, bias, spec)
        ctx.save_for_backward(x, weight, kernel)
        ctx.spec, ctx.z_shape, ctx.has_bias = spec, z_shape, bias is not None
        return y

    @staticmethod
    def backward(ctx, grad):
        x, weight, kernel = ctx.saved_tensors
        spec = ctx.spec
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        dims = x.dim() - 2
        if torch.is_grad_enabled():  # create_graph: the kernel as a function of the weight
            kernel = _flip_swap(weight, spec.groups)
        gz = _box_adjoint(grad, ctx.z_shape, spec)
        gx, gk, _ = torch.ops.aten.convolution_backward(
            gz, x, kernel, None, list(spec.stride), [0] * dims,
            list(_dilation(spec, tuple(weight.shape[2:]))), True, [0] * dims, spec.groups,
            [need_x, need_w, False])
        del gz
        gw = _flip_swap(gk, spec.groups) if need_w else None
        gb = grad.sum([0, *range(2, grad.dim())]) if need_b and ctx.has_bias else None
        return gx, gw, gb, None


def box_transposed(x, weight, bias, spec: Spec) -> torch.Tensor:
    """:func:`~checkerfree.layers._transposed_form.fused_transposed`, computed as the box after
    ``conv_transpose`` with the flipped weight (same values, up to rounding).

    One autograd node when gradients are wanted; under tracing or compiling the transposed
    form, which every exporter and compiler understands.
    """
    if torch.jit.is_tracing() or torch.compiler.is_compiling():
        return fused_transposed(x, weight, bias, spec)
    if torch.is_grad_enabled() and any(t is not None and t.requires_grad
                                       for t in (x, weight, bias)):
        return _BoxTransposed.apply(x, weight, bias, spec)
    return _forward(x, weight, bias, spec)[0]
