"""Nearest-up-then-conv as one small convolution per phase, each written into its own slice.

The phase form (:mod:`checkerfree.layers._phase_form`) makes every phase with one convolution
to ``out * prod(s)`` channels and then interleaves: two output-sized tensors at once. Here
phase ``r`` (one per axis) is its own convolution of the padded input with that phase's
``E``-tap kernel ``Wp[r] = sum_j w[j] M[r, :, j]``, read from the window starting at
``delta r``, and is copied into ``y[..., r::s]`` of one preallocated output: the output plus
one phase (``1 / prod(s)`` of it) and the padded input are all that is ever allocated. Phase
``r`` has ``ceil((length - r) / s)`` outputs per axis, so ``y`` has exactly the operator's
length and needs no crop.

Under autograd the same slices run inside a :class:`torch.autograd.Function` that saves only
the input and the weight; its backward is, per phase, the convolution's own backward
(``aten.convolution_backward``) on the strided slice ``grad[..., r::s]``, the input gradients
summed into the padded input's window and the phase kernels' gradients mapped back through
``M`` (the adjoint of the einsum above).

>>> import torch, torch.nn.functional as F
>>> from checkerfree.layers._phase_form import phase_plan
>>> x, w = torch.randn(1, 2, 5, 6), torch.randn(3, 2, 3, 3)
>>> plan = phase_plan((3, 3), (2, 2), (1, 1), (1, 1))
>>> y = sliced_phases(x, w, None, plan, (2, 2), (1, 1), ((1, 1), (1, 1)), 1)
>>> ref = F.conv2d(F.interpolate(x, scale_factor=2), w, padding=1)
>>> y.shape, bool(torch.allclose(y, ref, atol=1e-5))
(torch.Size([1, 3, 10, 12]), True)
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F

from checkerfree.layers._phase_form import _matrix

__all__ = ["sliced_phases"]

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


def _layout(x_shape, k_shape, plan, scale, dilation, pads):
    """``(input pads, lengths, phases)``; each phase is ``(row of M, output slice, windows)``."""
    axes = plan[0]
    pad_list, lengths, per_axis = [], [], []
    for a, ((e0, delta, width), s) in enumerate(zip(axes, scale, strict=True)):
        L, (pl, pr) = x_shape[2 + a], pads[a]
        length = s * L + pl + pr - dilation[a] * (k_shape[a] - 1)
        q = -(-length // s)
        need = q + delta * (s - 1) + width - 1  # input positions the windows read
        pad_list.append((-e0, e0 + need - L))
        lengths.append(length)
        # Phase r: ceil((length - r) / s) outputs from the window starting at delta r.
        per_axis.append([(r, -(-(length - r) // s), delta * r, width) for r in range(s)])
    phases = []
    for row, combo in enumerate(itertools.product(*per_axis)):
        if any(n <= 0 for _r, n, _st, _w in combo):
            continue  # an output shorter than s: this phase has no position
        out_slice = (slice(None), slice(None)) + tuple(
            slice(r, None, s) for (r, *_), s in zip(combo, scale, strict=True))
        windows = tuple((start, n + width - 1) for _r, n, start, width in combo)
        phases.append((row, out_slice, windows))
    flat = [p for pair in reversed(pad_list) for p in pair]
    return flat, lengths, phases


def _window(xp, windows):
    for a, (start, size) in enumerate(windows):
        xp = xp.narrow(2 + a, start, size)
    return xp


def _phase_kernels(weight, plan):
    """``(phases, out, in/g, *E)``: ``Wp[r, o, i, u] = sum_j w[o, i, j] M[r, u, j]``."""
    out, in_g = weight.shape[:2]
    m = _matrix(plan, weight.device, weight.dtype)
    wp = torch.einsum("oij,ruj->roiu", weight.reshape(out, in_g, -1), m)
    return wp.reshape(m.shape[0], out, in_g, *(width for _e0, _dl, width in plan[0]))


def _forward(x, wp, bias, layout, groups, memory_format):
    flat, lengths, phases = layout
    y = torch.empty((x.shape[0], wp.shape[1], *lengths), dtype=x.dtype, device=x.device,
                    memory_format=memory_format)
    xp = F.pad(x, flat)
    conv = _CONV[x.dim() - 2]
    for row, out_slice, windows in phases:
        y[out_slice] = conv(_window(xp, windows), wp[row], bias, groups=groups)
    return y


class _SlicedPhases(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, plan, layout, groups, memory_format):
        ctx.save_for_backward(x, weight)
        ctx.plan, ctx.layout, ctx.groups, ctx.has_bias = plan, layout, groups, bias is not None
        return _forward(x, _phase_kernels(weight, plan), bias, layout, groups, memory_format)

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        flat, _lengths, phases = ctx.layout
        dims = x.dim() - 2
        wp = _phase_kernels(weight, ctx.plan)
        xp = F.pad(x, flat)
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        gxp = torch.zeros_like(xp) if need_x else None
        gwp = torch.zeros_like(wp) if need_w else None
        gb = grad.new_zeros(wp.shape[1]) if need_b else None
        for row, out_slice, windows in phases:
            gx_r, gw_r, gb_r = torch.ops.aten.convolution_backward(
                grad[out_slice].contiguous(), _window(xp, windows), wp[row],
                [wp.shape[1]] if ctx.has_bias else None, [1] * dims, [0] * dims, [1] * dims,
                False, [0] * dims, ctx.groups, [need_x, need_w, need_b])
            if need_x:
                _window(gxp, windows).add_(gx_r)
            if need_w:
                gwp[row] = gw_r
            if need_b:
                gb += gb_r
        gx = F.pad(gxp, [-p for p in flat]) if need_x else None  # the adjoint of the pad
        gw = None
        if need_w:
            m = _matrix(ctx.plan, weight.device, weight.dtype)
            out, in_g = weight.shape[:2]
            gw = torch.einsum("roiu,ruj->oij", gwp.reshape(m.shape[0], out, in_g, -1), m)
            gw = gw.reshape(weight.shape)
        return gx, gw, gb, None, None, None, None


def sliced_phases(x, weight, bias, plan, scale, dilation, pads, groups,
                  memory_format=torch.contiguous_format):
    """The resize-convolution output (before ``trim``), one phase per convolution and slice.

    Arguments as :func:`checkerfree.layers._phase_form.phase_form`. Under tracing or
    compiling the slices are plain in-place copies, which autograd differentiates itself.
    """
    layout = _layout(x.shape, weight.shape[2:], plan, scale, dilation, pads)
    plain = torch.jit.is_tracing() or torch.compiler.is_compiling()
    if not plain and torch.is_grad_enabled() and any(
            t is not None and t.requires_grad for t in (x, weight, bias)):
        return _SlicedPhases.apply(x, weight, bias, plan, layout, groups, memory_format)
    return _forward(x, _phase_kernels(weight, plan), bias, layout, groups, memory_format)
