"""Space-to-depth and depth-to-space done by reshape and permute, read off an index map.

A chain of layout operations (``reshape``, ``view``, ``permute``, ``transpose``, ``flatten``,
a one-operand ``einsum``, ``Tensor.unfold`` into windows that tile the axis, einops'
``rearrange``, which is made of these) is a bijection
between the elements of its first and its last tensor; replaying the chain on
``arange(numel)`` gives that bijection exactly. Call the tensor with more spatial positions
the high side. The chain is a **space-to-depth** of factor ``p = (p_1, ..., p_d)`` (a patch
embedding, a pixel unshuffle written by hand) when every pixel of its output (all
coordinates but the channel axis fixed) gathers all ``C`` channels of one aligned
``p_1 x ... x p_d`` block of its input, and a **depth-to-space** (an unpatchify, a pixel shuffle
by reshape) when the same holds with input and output swapped. The channel axis is axis 1 or
the last axis (channels-first images, channels-last images and ``(N, L, C)`` token tensors);
both are tried. Two rules keep the test free of false positives: batch maps to batch (a
window partition folds blocks into the batch and is undone before anything mixes them), and
every ``p_a > 1`` (splitting a feature axis into attention heads is not resampling); a
one-channel 1-D high side is only read when the chain starts at a convolution's or linear
layer's output (with one token, merging heads looks like a depth-to-space of a ``(1, 1, C)``
"signal").

>>> ops = lambda t: t.reshape(1, 3, 4, 2, 4, 2).permute(0, 3, 5, 1, 2, 4).reshape(1, 12, 4, 4)
>>> r = classify((1, 3, 8, 8), (1, 12, 4, 4), ops)
>>> (r.kind, r.factor, r.spatial_axes)
('space_to_depth', (2, 2), (2, 3))
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

__all__ = ["Rearrangement", "classify", "layout_step", "reorders", "MAX_ELEMENTS"]

#: Chains over more elements per batch item than this (or four times this in all) are not
#: replayed: the index map costs a few int64 copies of the tensor.
MAX_ELEMENTS = 1 << 22
_SAMPLE = 1 << 16  # elements of the low side checked (whole pixels, evenly spread)

_METHODS = ("reshape", "view", "permute", "transpose", "swapaxes", "swapdims", "movedim",
            "moveaxis", "contiguous", "flatten", "unflatten", "squeeze", "unsqueeze", "clone",
            "detach", "to")
LAYOUT_OPS: set = set()
for _n in _METHODS:
    for _owner in (torch.Tensor, torch):
        if hasattr(_owner, _n):
            LAYOUT_OPS.add(getattr(_owner, _n))
# Ops that reorder elements (a chain of reshapes alone keeps memory order: no resampling).
REORDERING: set = {f for f in LAYOUT_OPS if f.__name__ in
                   ("permute", "transpose", "swapaxes", "swapdims", "movedim", "moveaxis")}
REORDERING.update({torch.einsum, torch.Tensor.unfold})


class _Self:
    """Stands for the chain's tensor in a recorded call."""


_SELF = _Self()


def _sub(v, x):
    if v is _SELF:
        return x
    if isinstance(v, (list, tuple)):
        return type(v)(_sub(e, x) for e in v)
    return v


def _strip(v, x):
    """``v`` with ``x`` replaced by the placeholder; None when another tensor is in it."""
    if v is x:
        return _SELF
    if isinstance(v, torch.Tensor):
        raise LookupError
    if isinstance(v, (list, tuple)):
        return type(v)(_strip(e, x) for e in v)
    return v


def layout_step(func, args, kwargs, x: torch.Tensor) -> Callable | None:
    """``f(t)`` that repeats this pure layout call on another tensor, or None if it is not one.

    >>> t = torch.zeros(2, 6)
    >>> layout_step(torch.Tensor.reshape, (t, 3, 4), {}, t)(torch.arange(12)).shape
    torch.Size([3, 4])
    """
    if func is torch.einsum:
        # Only a one-operand einsum that keeps every index is a permutation.
        flat = [e for a in args[1:] for e in (a if isinstance(a, (list, tuple)) else (a,))]
        tensors = [e for e in flat if isinstance(e, torch.Tensor)]
        if len(tensors) != 1 or tensors[0] is not x or not isinstance(args[0], str):
            return None
        lhs, _, rhs = args[0].replace(" ", "").partition("->")
        if not rhs or "," in lhs or sorted(lhs) != sorted(rhs) or len(set(lhs)) != len(lhs):
            return None
    elif func is torch.Tensor.unfold:
        # Windows that tile an axis exactly (step = size) are a reshape, not a filter.
        if len(args) != 4 or kwargs or args[0] is not x:
            return None
        dim, size, step = (int(a) for a in args[1:])
        if size != step or size < 1 or x.shape[dim] % size:
            return None
        return lambda t: t.unfold(dim, size, step)
    elif func not in LAYOUT_OPS or not args or args[0] is not x:
        return None
    if func in (torch.Tensor.view,) and any(isinstance(a, torch.dtype) for a in args[1:]):
        return None  # a dtype view reinterprets bits
    try:
        rest = _strip(tuple(args), x)
        kw = {k: _strip(v, x) for k, v in kwargs.items()}
    except LookupError:
        return None
    if func is torch.Tensor.to:
        # A cast or a move reorders nothing; an index map (int64, on the CPU) keeps its own.
        return lambda t: t if t.dtype == torch.long else func(
            *_sub(rest, t), **{k: _sub(v, t) for k, v in kw.items()})
    return lambda t: func(*_sub(rest, t), **{k: _sub(v, t) for k, v in kw.items()})


def reorders(step: Callable, shape) -> bool:
    """Whether a layout step changes the memory order of the elements of a contiguous tensor.

    Moving only axes of size 1 (``(N, H, W, 1) -> (N, 1, H, W)``) keeps it: a reshape.

    >>> reorders(lambda t: t.permute(0, 3, 1, 2), (2, 5, 5, 1))
    False
    >>> reorders(lambda t: t.permute(0, 3, 1, 2), (2, 5, 5, 3))
    True
    """
    try:
        out = step(torch.empty(tuple(shape), device="meta"))
    except Exception:  # noqa: BLE001 - a step meta tensors cannot take: assume it reorders
        return True
    strides = [st for n, st in zip(out.shape, out.stride()) if n > 1]
    return strides != sorted(strides, reverse=True)


@dataclass
class Rearrangement:
    """What a layout chain does: which kind, by which factor, on which axes.

    ``spatial_axes`` are the high side's spatial axes (the chain's input for space-to-depth,
    its output for depth-to-space). ``raster`` says the low side's pixels are the blocks in
    raster order, and ``channels[c * P + r]`` (``P = prod(factor)``, ``r`` the phase in
    row-major order) is the low side's channel holding channel ``c`` at phase ``r``: with both,
    a convolution on the low side followed by the chain is a sub-pixel convolution.
    """

    kind: str
    factor: tuple[int, ...]
    spatial_axes: tuple[int, ...]
    low_channel_axis: int
    raster: bool
    channels: torch.Tensor | None


def _channel_axes(rank: int) -> list[int]:
    return [1] if rank - 1 == 1 else [1, rank - 1]


def _analyse(m: torch.Tensor, hi: tuple, ch_h: int, ch_l: int,
             known: bool = False) -> Rearrangement | None:
    """Blocks gathered by each low-side pixel; ``m`` maps a low element to a high flat index."""
    lo = tuple(m.shape)
    c_l, c_h = lo[ch_l], hi[ch_h]
    spatial = tuple(a for a in range(1, len(hi)) if a != ch_h)
    if c_l % c_h or c_l == c_h or (len(hi) == 3 and c_h == 1 and not known):
        # A one-channel 1-D side is read as a feature vector (a token of attention heads),
        # not as a signal, unless a convolution or linear layer says where channels are:
        # merging the heads of one token would look like depth-to-space.
        return None
    big = c_l // c_h
    pixels = math.prod(lo[1:]) // c_l
    if pixels < 2 or math.prod(hi[a] for a in spatial) != big * pixels:
        return None
    g = m[0].movedim(ch_l - 1, -1).reshape(pixels, c_l)  # one batch item: (pixels, C_l)
    # Layout chains are affine index maps: evenly spread pixels show any irregularity, at a
    # bounded cost.
    every = max(1, pixels // max(2, _SAMPLE // c_l))
    which = torch.arange(0, pixels, every)
    g = g[which]
    strides = [math.prod(hi[a + 1:]) for a in range(len(hi))]
    coord = [(g // strides[a]) % hi[a] for a in range(len(hi))]
    if bool((coord[0] != 0).any()):
        return None  # batch is mixed with space
    factor, cells = [], []
    for a in spatial:
        low, high = coord[a].amin(-1), coord[a].amax(-1)
        ext = high - low + 1
        p = int(ext[0])
        if p < 2 or bool((ext != p).any()) or bool((low % p).any()) or hi[a] % p:
            return None
        factor.append(p)
        cells.append(low // p)
    if math.prod(factor) != big:
        return None
    grid = [hi[a] // p for a, p in zip(spatial, factor)]
    cell = torch.zeros_like(cells[0])
    for c, n in zip(cells, grid):
        cell = cell * n + c
    raster = bool((cell == which).all())
    channels = None
    if raster:
        # (c, phase) of every low channel; the same for every pixel when the chain is a shuffle.
        phase = torch.zeros_like(g)
        for a, p in zip(spatial, factor):
            phase = phase * p + (coord[a] - coord[a].amin(-1, keepdim=True))
        key = coord[ch_h] * big + phase
        if bool((key == key[:1]).all()):
            channels = torch.empty(c_l, dtype=torch.long)
            channels[key[0]] = torch.arange(c_l)
    return Rearrangement("", tuple(factor), spatial, ch_l, raster, channels)


def classify(root_shape, end_shape, replay: Callable,
             root_channel_axis: int | None = None) -> Rearrangement | None:
    """Read a layout chain from ``root_shape`` to ``end_shape`` as space-to-depth or the reverse.

    ``replay(t)`` applies the chain to a tensor of ``root_shape``. ``root_channel_axis``, when
    known (1 for a convolution's output, -1 for a linear layer's), settles the readings a
    rank-3 tensor allows (``(N, C, L)`` or ``(N, L, C)``); otherwise channels-first on both
    sides is preferred. Returns None when the chain is neither (or is too large to replay:
    :data:`MAX_ELEMENTS` per batch item).
    """
    root_shape, end_shape = tuple(root_shape), tuple(end_shape)
    numel = math.prod(root_shape)
    if (len(root_shape) < 3 or len(end_shape) < 3 or root_shape[0] != end_shape[0]
            or numel != math.prod(end_shape) or numel == 0
            or numel // root_shape[0] > MAX_ELEMENTS or numel > 4 * MAX_ELEMENTS):
        return None

    def plausible(hi, lo):
        for ch in _channel_axes(len(hi)):
            for cl in _channel_axes(len(lo)):
                if lo[cl] % hi[ch] or lo[cl] <= hi[ch]:
                    continue
                pixels = math.prod(lo[1:]) // lo[cl]
                spatial = math.prod(hi[1:]) // hi[ch]
                if pixels >= 2 and spatial == lo[cl] // hi[ch] * pixels:
                    return True
        return False

    if not (plausible(root_shape, end_shape) or plausible(end_shape, root_shape)):
        return None
    end_idx = replay(torch.arange(numel).reshape(root_shape))
    if tuple(end_idx.shape) != end_shape:
        return None
    if root_channel_axis is not None:
        root_channel_axis %= len(root_shape)
    inverse, best, best_score = None, None, -1
    for kind in ("space_to_depth", "depth_to_space"):
        if kind == "space_to_depth":
            hi, m = root_shape, end_idx
        else:
            if inverse is None:
                inverse = torch.empty(numel, dtype=torch.long)
                inverse[end_idx.reshape(-1)] = torch.arange(numel)
            hi, m = end_shape, inverse.reshape(root_shape)
        for ch_h in _channel_axes(len(hi)):
            for ch_l in _channel_axes(m.dim()):
                root_axis = ch_h if kind == "space_to_depth" else ch_l
                if root_channel_axis is not None and root_axis != root_channel_axis:
                    continue
                found = _analyse(m, hi, ch_h, ch_l, known=root_channel_axis is not None)
                score = (ch_h == 1) + (ch_l == 1)
                if found is not None and score > best_score:
                    found.kind = kind
                    best, best_score = found, score
    return best
