"""Nearest-up-then-conv as one convolution to every phase, then a shifted interleave.

Per axis, phase ``r`` of the resize-convolution reads ``y[s q + r] = sum_j w[j] x[q + e(r, j)]``
with ``e(r, j) = floor((r - p + j d) / s)`` (see :mod:`checkerfree.layers.resize_conv`). Its
taps span ``e(r, 0) .. e(r, k - 1)``, at most ``E = max_r (e(r, k-1) - e(r, 0) + 1)``
positions, so all phases are one convolution of ``x`` with an ``E``-tap kernel to
``out * prod(s)`` channels (``E = 2`` for ``k = 3, s = 2``: the 16 multiply-adds per input
pixel of the transposed form, not the 36 of a kernel spanning the union of the phases'
supports), read at phase ``r`` with a shift ``sigma(r) = e(r, 0) - e(0, 0)``. When
``sigma(r) = delta r`` on every axis (always for ``s <= 2``) the interleave is a single strided
view of the convolution's output plus one copy into the output's memory format; otherwise this
form is not offered.

>>> import torch, torch.nn.functional as F
>>> x, w = torch.randn(1, 2, 5, 6), torch.randn(3, 2, 3, 3)
>>> plan = phase_plan((3, 3), (2, 2), (1, 1), (1, 1))
>>> y = phase_form(x, w, None, plan, (2, 2), (1, 1), ((1, 1), (1, 1)), 1)
>>> ref = F.conv2d(F.interpolate(x, scale_factor=2), w, padding=1)
>>> y.shape, bool(torch.allclose(y, ref, atol=1e-5))
(torch.Size([1, 3, 10, 12]), True)
"""

from __future__ import annotations

from functools import lru_cache

import torch
import torch.nn.functional as F

__all__ = ["phase_form", "phase_plan"]

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


@lru_cache(maxsize=512)
def _axis_plan(k: int, s: int, d: int, pl: int):
    """``(rows, e0, delta, E)`` for one axis, or ``None`` when the shifts are not affine.

    ``rows[r][u][j]`` is 1 where tap ``j`` of phase ``r`` lands on window position ``u``.
    """
    e = [[(r - pl + j * d) // s for j in range(k)] for r in range(s)]
    width = max(row[-1] - row[0] + 1 for row in e)
    sigma = [row[0] - e[0][0] for row in e]
    delta = sigma[1] if s > 1 else 0
    if any(sg != delta * r for r, sg in enumerate(sigma)):
        return None
    rows = tuple(
        tuple(tuple(int(e[r][j] - e[r][0] == u) for j in range(k)) for u in range(width))
        for r in range(s)
    )
    return rows, e[0][0], delta, width


@lru_cache(maxsize=512)
def phase_plan(kernel: tuple, scale: tuple, dilation: tuple, pad_before: tuple):
    """The N-D plan: per-axis plans and the ``(prod s, prod E, prod k)`` 0/1 tap matrix."""
    axes = [_axis_plan(k, s, d, p) for k, s, d, p in zip(kernel, scale, dilation, pad_before,
                                                          strict=True)]
    if any(a is None for a in axes):
        return None
    mat = torch.ones(1, 1, 1, dtype=torch.float64)
    for rows, *_ in axes:
        m = torch.tensor(rows, dtype=torch.float64)  # (s, E, k)
        # (R, U, J) x (s, E, k) -> (R*s, U*E, J*k): phases, window and taps in row-major order.
        mat = torch.einsum("ruj,sek->rsuejk", mat, m).reshape(
            mat.shape[0] * m.shape[0], mat.shape[1] * m.shape[1], mat.shape[2] * m.shape[2])
    return tuple((e0, delta, width) for _rows, e0, delta, width in axes), mat


@lru_cache(maxsize=256)
def _matrix(plan, device, dtype) -> torch.Tensor:
    return plan[1].to(device=device, dtype=dtype)


def _layout(x_shape, k_shape, plan, scale, dilation, pads):
    """``(input pads, lengths, quotients)``: the pad of ``x`` and, per axis, the output length
    and ``q = ceil(length / s)``."""
    pad_list, lengths, quot = [], [], []
    for a, ((e0, delta, width), s) in enumerate(zip(plan[0], scale, strict=True)):
        L, (pl, pr) = x_shape[2 + a], pads[a]
        length = s * L + pl + pr - dilation[a] * (k_shape[a] - 1)
        q = -(-length // s)
        need = q + delta * (s - 1) + width - 1  # input positions the window reads
        pad_list.append((-e0, e0 + need - L))  # negative entries crop: positions no output reads
        lengths.append(length)
        quot.append(q)
    return [p for pair in reversed(pad_list) for p in pair], lengths, quot


def _split_pad(flat):
    """``(explicit pad, conv padding)``: a pad equal on both sides of every axis is left to the
    convolution's own zero padding (no padded copy of ``x``, forward or backward)."""
    pairs = list(zip(flat[::2], flat[1::2], strict=True))[::-1]  # layout order
    if all(a == b >= 0 for a, b in pairs):
        return None, [a for a, _ in pairs]
    return flat, [0] * len(pairs)


def _phase_kernels(weight, plan):
    """``Wp[(o, r), i, u] = sum_j w[o, i, j] M[r, u, j]``: output channels ordered (o, r)."""
    out, in_g = weight.shape[:2]
    m = _matrix(plan, weight.device, weight.dtype)
    wp = torch.einsum("oij,ruj->oriu", weight.reshape(out, in_g, -1), m)
    return wp.reshape(out * m.shape[0], in_g, *(width for _e0, _dl, width in plan[0]))


def _interleaved(z, out, plan, scale, quot):
    """``z`` seen as ``(N, out, q_0, s_0, q_1, s_1, ..)``: ``[n, o, q, r] = z[n, (o, r), q + delta r]``.

    One strided view (the shifts are affine in ``r``); phases never share an element of ``z``.
    """
    st = z.stride()
    phases = z.shape[1] // out
    size, stride = [z.shape[0], out], [st[0], phases * st[1]]
    inner = phases
    for a, s in enumerate(scale):
        inner //= s
        size += [quot[a], s]
        stride += [st[2 + a], inner * st[1] + plan[0][a][1] * st[2 + a]]
    return z.as_strided(size, stride, z.storage_offset()), size


def _forward(x, weight, bias, plan, scale, layout, groups, memory_format):
    flat, lengths, quot = layout
    out = weight.shape[0]
    phases = plan[1].shape[0]
    b = None if bias is None else bias.repeat_interleave(phases)
    explicit, padding = _split_pad(flat)
    xp = x if explicit is None else F.pad(x, explicit)
    z = _CONV[x.dim() - 2](xp, _phase_kernels(weight, plan), b, padding=padding, groups=groups)
    view, size = _interleaved(z, out, plan, scale, quot)
    full = [x.shape[0], out, *(q * s for q, s in zip(quot, scale, strict=True))]
    y = torch.empty(full, dtype=z.dtype, device=z.device, memory_format=memory_format)
    y.view(size).copy_(view)
    if full[2:] != lengths:  # a length not a multiple of s: crop, as a tensor of its own
        for a, length in enumerate(lengths):
            y = y.narrow(2 + a, 0, length)
        y = y.clone(memory_format=memory_format)
    return y


class _Phases(torch.autograd.Function):
    """Forward: pad, one convolution, one interleaving copy. Backward: the copy's adjoint (the
    gradient scattered into a zero ``z``-shaped tensor through the same strided view), then the
    convolution's own backward, then the adjoints of the pad and of the phase kernels' sums.
    Every step is an autograd operation, so with ``create_graph`` it is differentiable again."""

    @staticmethod
    def forward(ctx, x, weight, bias, plan, scale, layout, groups, memory_format):
        ctx.save_for_backward(x, weight)
        ctx.args = plan, scale, layout, groups, memory_format, bias is not None
        return _forward(x, weight, bias, plan, scale, layout, groups, memory_format)

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        plan, scale, (flat, lengths, quot), groups, fmt, has_bias = ctx.args
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        dims = x.dim() - 2
        out, in_g = weight.shape[:2]
        phases = plan[1].shape[0]
        explicit, padding = _split_pad(flat)
        xp = x if explicit is None else F.pad(x, explicit)
        wp = _phase_kernels(weight, plan)
        widths = [width for _e0, _dl, width in plan[0]]
        z_shape = [x.shape[0], out * phases,
                   *(xp.shape[2 + a] + 2 * padding[a] - widths[a] + 1 for a in range(dims))]
        gz = torch.empty(z_shape, dtype=grad.dtype, device=grad.device,
                         memory_format=fmt).zero_()
        view, size = _interleaved(gz, out, plan, scale, quot)
        full = [q * s for q, s in zip(quot, scale, strict=True)]
        if full != lengths:  # the cropped tail had no gradient
            grad = F.pad(grad, [p for a in reversed(range(dims))
                                for p in (0, full[a] - lengths[a])])
        view.copy_(grad.reshape(size))
        gxp, gwp, gb = torch.ops.aten.convolution_backward(
            gz, xp, wp, [out * phases] if has_bias else None, [1] * dims, padding,
            [1] * dims, False, [0] * dims, groups, [need_x, need_w, need_b])
        gx = gxp
        if need_x and explicit is not None:
            gx = F.pad(gxp, [-p for p in explicit])  # the adjoint of the pad
        gw = None
        if need_w:
            m = _matrix(plan, weight.device, weight.dtype)
            gw = torch.einsum("oriu,ruj->oij", gwp.reshape(out, phases, in_g, -1), m)
            gw = gw.reshape(weight.shape)
        gb = gb.view(out, phases).sum(1) if need_b else None
        return gx, gw, gb, None, None, None, None, None


def phase_form(x, weight, bias, plan, scale, dilation, pads, groups,
               memory_format=torch.contiguous_format):
    """The resize-convolution output (before ``trim``) by the phase form of ``plan``.

    ``pads`` are the ``(before, after)`` zero paddings of the convolution, one pair per axis;
    ``plan`` is :func:`phase_plan` of the same kernel, scale, dilation and padding. One
    autograd node when gradients are wanted (:class:`_Phases`), plain operations under
    tracing or compiling.
    """
    layout = _layout(x.shape, weight.shape[2:], plan, scale, dilation, pads)
    plain = torch.jit.is_tracing() or torch.compiler.is_compiling()
    if not plain and torch.is_grad_enabled() and any(
            t is not None and t.requires_grad for t in (x, weight, bias)):
        return _Phases.apply(x, weight, bias, plan, scale, layout, groups, memory_format)
    return _forward(x, weight, bias, plan, scale, layout, groups, memory_format)
