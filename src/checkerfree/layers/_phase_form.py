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


def phase_form(x, weight, bias, plan, scale, dilation, pads, groups,
               memory_format=torch.contiguous_format):
    """The resize-convolution output (before ``trim``) by the phase form of ``plan``.

    ``pads`` are the ``(before, after)`` zero paddings of the convolution, one pair per axis;
    ``plan`` is :func:`phase_plan` of the same kernel, scale, dilation and padding.
    """
    dims = weight.dim() - 2
    axes = plan[0]
    m = _matrix(plan, weight.device, weight.dtype)
    out, in_g = weight.shape[:2]
    phases = m.shape[0]
    # Wp[o, r, i, u] = sum_j w[o, i, j] M[r, u, j]: output channels ordered (o, r).
    wp = torch.einsum("oij,ruj->oriu", weight.reshape(out, in_g, -1), m)
    wp = wp.reshape(out * phases, in_g, *(width for _e0, _dl, width in axes))
    b = None if bias is None else bias.repeat_interleave(phases)
    lengths, pad_list, quot = [], [], []
    for a in range(dims):
        (e0, delta, width), s = axes[a], scale[a]
        L, (pl, pr) = x.shape[2 + a], pads[a]
        length = s * L + pl + pr - dilation[a] * (weight.shape[2 + a] - 1)
        q = -(-length // s)
        need = q + delta * (s - 1) + width - 1  # input positions the window reads
        pad_list.append((-e0, e0 + need - L))
        lengths.append(length)
        quot.append(q)
    # Negative entries crop: positions no output reads.
    xp = F.pad(x, [p for pair in reversed(pad_list) for p in pair])
    z = _CONV[dims](xp, wp, b, groups=groups)
    # y[n, o, q_a, r_a] = z[n, (o, r_0, ..), q_a + delta_a r_a]: one strided view.
    st = z.stride()
    size, stride = [x.shape[0], out], [st[0], phases * st[1]]
    inner = phases
    for a in range(dims):
        inner //= scale[a]
        size += [quot[a], scale[a]]
        stride += [st[2 + a], inner * st[1] + axes[a][1] * st[2 + a]]
    view = z.as_strided(size, stride, z.storage_offset())
    full = [x.shape[0], out, *(q * s for q, s in zip(quot, scale, strict=True))]
    y = torch.empty(full, dtype=z.dtype, device=z.device, memory_format=memory_format)
    y.view(size).copy_(view)
    for a in range(dims):
        y = y.narrow(2 + a, 0, lengths[a])
    return y
