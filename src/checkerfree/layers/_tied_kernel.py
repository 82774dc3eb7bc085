"""The tied transposed-convolution kernel of nearest-up-then-conv, built in one pass each way.

``W[i, o, t] = sum_j w[o, i, j] M[t, j]`` (one group; ``t`` and ``j`` run over the flattened
kernel positions), where ``M`` is the Kronecker product of the per-axis 0/1 matrices of
:func:`checkerfree.layers.resize_conv.tied_transposed_kernel`. One batched matrix product per
direction reads ``w`` in place through a transposed view and writes the result in the layout
its consumer wants: ``(in, out/groups, *K)`` forward, the weight's own ``(out, in/groups, *k)``
backward. Contracting one axis at a time (``tensordot`` per axis, then a transpose and a
contiguous copy) made five copies, several with strides of whole channel planes, and cost
80 ms forward+backward at 384 -> 384 channels, 3x3 (one thread; 3 ms this way).

>>> import torch
>>> m = torch.tensor([[0., 1.], [1., 1.], [1., 0.]])  # (K=3, k=2)
>>> w = torch.arange(4.).view(1, 1, 2, 2).requires_grad_()
>>> k = tied_kernel(w, torch.kron(m, m), 1, (3, 3))
>>> k.shape, k[0, 0].tolist()[1]
(torch.Size([1, 1, 3, 3]), [4.0, 6.0, 2.0])
>>> k.sum().backward(); w.grad.view(-1).tolist()
[4.0, 4.0, 4.0, 4.0]
"""

from __future__ import annotations

import torch

__all__ = ["tied_kernel"]


def _to_kernel(w: torch.Tensor, m: torch.Tensor, groups: int, big: tuple) -> torch.Tensor:
    """``(out, in/g, *k)`` -> ``(in, out/g, *K)``: one bmm per group over a transposed view."""
    out, in_g = w.shape[:2]
    og = out // groups
    # (g*og, in_g, k) viewed as (g, in_g, og, k): the batch runs over input channels, the rows
    # over output channels, read with stride in_g * k: no copy of w.
    a = w.reshape(groups, og, in_g, -1).transpose(1, 2).reshape(groups * in_g, og, -1)
    kern = torch.bmm(a, m.t().expand(groups * in_g, *m.t().shape))
    return kern.view(groups * in_g, og, *big)


def _to_weight(g: torch.Tensor, m: torch.Tensor, groups: int, small: tuple) -> torch.Tensor:
    """``(in, out/g, *K)`` -> ``(out, in/g, *k)``: the adjoint of :func:`_to_kernel`."""
    in_, og = g.shape[:2]
    in_g = in_ // groups
    a = g.reshape(groups, in_g, og, -1).transpose(1, 2).reshape(groups * og, in_g, -1)
    grad = torch.bmm(a, m.expand(groups * og, *m.shape))
    return grad.view(groups * og, in_g, *small)


class _TiedKernel(torch.autograd.Function):
    @staticmethod
    def forward(ctx, w, m, groups, big):
        ctx.save_for_backward(m)
        ctx.groups, ctx.small = groups, tuple(w.shape[2:])
        return _to_kernel(w, m, groups, big)

    @staticmethod
    def backward(ctx, g):
        (m,) = ctx.saved_tensors
        return _to_weight(g.contiguous(), m, ctx.groups, ctx.small), None, None, None


def tied_kernel(w: torch.Tensor, m: torch.Tensor, groups: int, big: tuple) -> torch.Tensor:
    """The tied kernel ``(in, out/groups, *big)`` of weight ``w`` under the 0/1 matrix ``m``.

    ``m`` is ``(prod big, prod k)``. Under tracing or compiling the same products run as plain
    autograd operations, which every exporter and compiler understands.
    """
    big = tuple(big)
    plain = torch.jit.is_tracing() or torch.compiler.is_compiling()
    if plain or not (torch.is_grad_enabled() and w.requires_grad):
        return _to_kernel(w, m, groups, big)
    return _TiedKernel.apply(w, m, groups, big)
