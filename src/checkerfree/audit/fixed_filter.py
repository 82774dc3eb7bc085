"""The fixed linear filter after an upsampler, and the upsampler the two make together.

An upsampling site followed, before any nonlinearity, by fixed linear operations at the high
rate (the FIR ``[1, 3, 3, 1]`` of diffusers' ``FirUpsample2D``, MONAI's replication pad and
2x2 average pool after a sub-pixel convolution) is one upsampler whose transposed kernel is
the site's kernel convolved with the filter's ``h``: ``W'[i, o'] = sum_o W[i, o] * h[o', o]``.
Phases add modulo the stride ``s``, so the composed phase sums are the site's circularly
convolved with the filter's: a filter whose own phase sums are equal (a box of the stride,
``[1, 3, 3, 1]`` for ``s = 2``) evens any kernel and any per-phase bias, and a constant input
then gives a constant output whatever the weights (Sugawara et al. 2019). The filter is read
by replaying the recorded operations on impulses; it must be shift-invariant and local there.

>>> import torch.nn.functional as F
>>> w = torch.randn(1, 1, 3)                      # ConvTranspose1d k=3 s=2: uneven phases
>>> fir = torch.tensor([[[1.0, 3.0, 3.0, 1.0]]])  # phase sums 4 and 4
>>> h = impulse_response(lambda t: F.conv1d(t, fir), (1, 1, 32))
>>> composed = compose(w, h)
>>> from checkerfree.overlap import phase_imbalance
>>> phase_imbalance(w, 2) > 0.01, phase_imbalance(composed, 2) < 1e-6
(True, True)
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from checkerfree.audit.rearrange import layout_step

__all__ = ["tail_step", "impulse_response", "compose", "dense_transposed", "phase_bias",
           "compose_bias", "bias_imbalance"]

_CONV = {F.conv1d, F.conv2d, F.conv3d, torch.conv1d, torch.conv2d, torch.conv3d}
_AVG = {F.avg_pool1d, F.avg_pool2d, F.avg_pool3d, torch.avg_pool1d}
_SCALE = {torch.mul, torch.Tensor.mul, torch.Tensor.__mul__, torch.Tensor.__rmul__,
          torch.div, torch.Tensor.div, torch.Tensor.__truediv__}
_SHIFT = {torch.add, torch.Tensor.add, torch.Tensor.__add__, torch.Tensor.__radd__,
          torch.sub, torch.Tensor.sub, torch.Tensor.__sub__}
#: the steps that filter (the rest only move, pad, crop or scale)
FILTERS = _CONV | _AVG
_IDENTITY = object()  # a step that adds a constant: nothing to replay on an impulse


def _per_channel(v, x: torch.Tensor) -> bool:
    """A number, or a tensor the same at every position of ``x`` (channels-first)."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return True
    if not isinstance(v, torch.Tensor):
        return False
    if v.dim() == 0:
        return True
    if v.dim() > x.dim() or x.dim() < 3:
        return False
    shape = (1,) * (x.dim() - v.dim()) + tuple(v.shape)
    return all(n == 1 for n in shape[2:]) and shape[0] == 1


def _one_stride(v) -> bool:
    return all(int(e) == 1 for e in (v if isinstance(v, (list, tuple)) else (v,)))


def _is_step_one_slice(index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return all(i is Ellipsis or (isinstance(i, slice) and i.step in (None, 1)) for i in items)


def tail_step(func, args, kwargs, x: torch.Tensor, is_fixed: Callable) -> Callable | None:
    """How to repeat one fixed linear call on ``x`` on another tensor; None when it is not one.

    Accepted: layout operations, ``F.pad``, step-1 slicing (a crop), a stride-1 convolution or
    average pool with a fixed kernel (``is_fixed(weight)``), scaling by a number or a
    per-channel tensor, and adding one (returned as an identity: it moves no phase).
    """
    step = layout_step(func, args, kwargs, x)
    if step is not None:
        return step
    if not args or args[0] is not x:
        if func in _SCALE and len(args) == 2 and args[1] is x and _per_channel(args[0], x):
            other = args[0]
            return lambda t: func(other, t)
        if func in _SHIFT and len(args) == 2 and args[1] is x and _per_channel(args[0], x):
            return _IDENTITY
        return None
    rest, kw = args[1:], dict(kwargs)
    if func is F.pad:
        return lambda t: F.pad(t, *rest, **kw)
    if func is torch.Tensor.__getitem__ and len(rest) == 1 and _is_step_one_slice(rest[0]):
        return lambda t: t[rest[0]]
    if func in _CONV:
        w = rest[0] if rest else kw.get("weight")
        stride = rest[2] if len(rest) > 2 else kw.get("stride", 1)
        if not (isinstance(w, torch.Tensor) and is_fixed(w) and _one_stride(stride)):
            return None
        extra = {k: v for k, v in zip(("padding", "dilation", "groups"), rest[3:])}
        extra.update({k: v for k, v in kw.items() if k in ("padding", "dilation", "groups")})
        return lambda t: func(t, w, None, 1, **extra)
    if func in _AVG:
        stride = rest[1] if len(rest) > 1 else kw.get("stride")
        if stride is None or not _one_stride(stride):
            return None
        return lambda t: func(t, *rest, **kw)
    if func in _SCALE and len(rest) == 1 and not kw and _per_channel(rest[0], x):
        other = rest[0]
        return lambda t: func(t, other)
    if func in _SHIFT and len(rest) == 1 and _per_channel(rest[0], x):
        return _IDENTITY
    return None


def replay(steps: list) -> Callable:
    """The composition of recorded steps (additive ones skipped)."""
    def run(t):
        for f in steps:
            if f is not _IDENTITY:
                t = f(t)
        return t
    return run


def impulse_response(run: Callable, shape, *, dtype=torch.float32, device=None,
                     max_channels: int = 32) -> torch.Tensor | None:
    """The kernel ``h[o', o, *taps]`` of a linear, shift-invariant map on tensors of ``shape``.

    ``run`` is applied to impulses at the centre of batch item 0 (one per input channel, all
    at once when the map keeps channels apart) and at the next position diagonally; None when
    the responses are not one kernel shifted, are not local, or change rank or batch.
    """
    shape = tuple(shape)
    n, c, spatial = shape[0], shape[1], shape[2:]
    if not spatial or min(spatial) < 8:
        return None
    centre = tuple(s // 2 - 1 for s in spatial)

    def respond(channels, shift):
        t = torch.zeros(shape, dtype=dtype, device=device)
        for ch in channels:
            t[(0, ch, *(q + shift for q in centre))] = 1.0
        z = run(t)
        if not isinstance(z, torch.Tensor) or z.dim() != len(shape) or z.shape[0] != n:
            raise LookupError
        return z[0].detach().to(torch.float64).cpu()

    try:
        # Channel 0 alone, one step off the centre: whether channels mix, and (against the
        # centred response) whether the map is shift-invariant. Two replays when they do not.
        shifted = respond([0], 1)
        mixes = c > 1 and bool(shifted[1:].abs().amax() > 0)
        if mixes and c > max_channels:
            return None
        per_input = ([respond([ch], 0) for ch in range(c)] if mixes
                     else [respond(range(c), 0)])
    except (LookupError, RuntimeError, IndexError):
        return None
    z = torch.stack(per_input)  # (inputs or 1, C', *S')
    support = z.abs().sum(dim=(0, 1)) > 0
    if not bool(support.any()):
        return None
    box = []
    for a in range(support.dim()):
        other = [d for d in range(support.dim()) if d != a]
        hit = support.any(dim=other) if other else support
        idx = hit.nonzero().flatten()
        lo, hi = int(idx[0]), int(idx[-1]) + 1
        if hi - lo > support.shape[a] // 2 or lo == 0 or hi + 1 >= support.shape[a]:
            return None  # not local away from the borders
        box.append(slice(lo, hi))
    kernel = z[(slice(None), slice(None), *box)]
    moved = shifted[(slice(None), *(slice(b.start + 1, b.stop + 1) for b in box))]
    ref = kernel[0]
    if not mixes:
        ref = torch.zeros_like(ref)
        ref[0] = kernel[0, 0]  # the centred response's channel 0
    tol = max(1e-5, 16 * torch.finfo(dtype).eps)
    outside = float(shifted.abs().sum() - moved.abs().sum())
    if outside > tol * float(shifted.abs().sum()) or not torch.allclose(
            moved, ref, rtol=tol, atol=tol * float(ref.abs().amax())):
        return None  # not shift-invariant
    if mixes:
        return kernel.transpose(0, 1).contiguous()  # (C', C, *taps)
    # Channels kept apart: the response of channel o sits in output channel o only.
    h = torch.zeros(kernel.shape[1], c, *kernel.shape[2:], dtype=kernel.dtype)
    if kernel.shape[1] != c:
        return None
    for o in range(c):
        h[o, o] = kernel[0, o]
    return h


def dense_transposed(weight: torch.Tensor, dilation=1, groups: int = 1) -> torch.Tensor:
    """A ConvTranspose weight ``(in, out/groups, *k)`` as a dense ``(in, out, *k_dilated)``.

    >>> dense_transposed(torch.ones(2, 1, 2), dilation=2, groups=2)[:, :, :].tolist()
    [[[1.0, 0.0, 1.0], [0.0, 0.0, 0.0]], [[0.0, 0.0, 0.0], [1.0, 0.0, 1.0]]]
    """
    dims = weight.dim() - 2
    dil = tuple(dilation) if isinstance(dilation, (tuple, list)) else (int(dilation),) * dims
    cin, cout_g, *k = weight.shape
    size = [d * (n - 1) + 1 for n, d in zip(k, dil)]
    out = weight.new_zeros(cin, cout_g * groups, *size)
    per = cin // groups
    taps = (Ellipsis, *(slice(None, None, d) for d in dil))
    for g in range(groups):
        block = out[g * per:(g + 1) * per, g * cout_g:(g + 1) * cout_g]
        block[taps] = weight[g * per:(g + 1) * per]
    return out


def compose(weight: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """The transposed kernel of a (dense) transposed convolution followed by the filter ``h``.

    ``W'[i, o'] = sum_o W[i, o] * h[o', o]`` (full convolution), shape
    ``(in, out', *(k + taps - 1))``.
    """
    dims = weight.dim() - 2
    conv = (F.conv1d, F.conv2d, F.conv3d)[dims - 1]
    w = weight.to(torch.float64)
    taps = h.to(torch.float64, copy=False).flip(list(range(2, 2 + dims)))
    return conv(w, taps, padding=[n - 1 for n in h.shape[2:]])


def phase_bias(bias: torch.Tensor | None, out_channels: int, scale, dims: int,
               order: torch.Tensor | None = None) -> torch.Tensor:
    """The bias each output channel gets at each of the ``s^d`` phases: ``(out, *s)``.

    A transposed convolution's bias is the same at every phase; a sub-pixel convolution's
    channel ``c * s^d + r`` (or ``order[c * s^d + r]``) is channel ``c``'s bias at phase ``r``.
    """
    s = tuple(scale) if isinstance(scale, (tuple, list)) else (int(scale),) * dims
    if bias is None:
        return torch.zeros(out_channels, *s, dtype=torch.float64)
    b = bias.detach().to(torch.float64).cpu()
    if b.numel() == out_channels:
        return b.reshape(out_channels, *([1] * dims)).expand(out_channels, *s).clone()
    if order is not None:
        b = b[order]
    return b.reshape(out_channels, *s)


def compose_bias(bias: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """Per-phase bias ``(C, *s)`` after the filter ``h``: the period-``s`` pattern filtered."""
    dims = bias.dim() - 1
    s = bias.shape[1:]
    reps = [math.ceil((t + 2 * p) / p) for t, p in zip(h.shape[2:], s)]
    tiled = bias.repeat(1, *reps).unsqueeze(0)
    conv = (F.conv1d, F.conv2d, F.conv3d)[dims - 1]
    out = conv(tiled, h.to(torch.float64).flip(list(range(2, 2 + dims))))[0]
    # The filtered pattern is periodic again; keep one period, its phase aligned with the
    # kernel's start (a uniform phase shift, which no spread measure sees).
    return out[(slice(None), *(slice(0, p) for p in s))]


def bias_imbalance(bias: torch.Tensor, sums: torch.Tensor) -> float:
    """Spread of the per-phase bias, in units of what a unit constant input makes.

    ``sqrt(mean_{o,r} (B[o, r] - mean_r B[o, r])^2) / sqrt(mean_{o,r} sum_i S[o, i, r]^2)`` with
    ``B`` the per-phase bias ``(out, *s)`` and ``S`` the phase sums ``(out, in, *s)``
    (:func:`checkerfree.overlap.phase_sums`): the RMS pattern a constant input paints through
    the bias, over the RMS output of a constant input with unit RMS per channel. 0 when every
    channel's phases share one bias.

    >>> sums = torch.ones(1, 1, 2, 2)
    >>> bias_imbalance(torch.tensor([[[0.0, 0.0], [0.0, 0.0]]]), sums)
    0.0
    >>> bias_imbalance(torch.tensor([[[1.0, -1.0], [1.0, -1.0]]]), sums)
    1.0
    """
    b = bias.to(torch.float64).reshape(bias.shape[0], -1)
    spread = float((b - b.mean(dim=1, keepdim=True)).pow(2).mean().sqrt())
    if spread <= 64 * torch.finfo(torch.float32).eps * float(b.abs().amax()):
        return 0.0
    s = sums.to(torch.float64).reshape(sums.shape[0], sums.shape[1], -1)
    scale = float(s.pow(2).sum(dim=1).mean().sqrt())
    return spread / max(scale, torch.finfo(torch.float32).tiny)
