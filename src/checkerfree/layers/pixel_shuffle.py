"""N-dimensional pixel shuffle and its inverse (PyTorch ships the 2D one only).

For ``d`` spatial axes and factors ``s_1..s_d``, channel ``c * S + r`` with
``S = s_1 ... s_d`` and ``r`` the row-major index of the phase ``(r_1, ..., r_d)`` moves to
output position ``(s_1 q_1 + r_1, ..., s_d q_d + r_d)`` of channel ``c``; in 2D this is exactly
:func:`torch.nn.functional.pixel_shuffle` (Shi et al., "Real-Time Single Image and Video
Super-Resolution Using an Efficient Sub-Pixel Convolutional Neural Network", CVPR 2016).

>>> x = torch.arange(8.).view(1, 4, 2)
>>> pixel_shuffle_nd(x, 2).tolist()
[[[0.0, 2.0, 1.0, 3.0], [4.0, 6.0, 5.0, 7.0]]]
>>> torch.equal(pixel_unshuffle_nd(pixel_shuffle_nd(x, 2), 2), x)
True
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from checkerfree.errors import ShapeError
from checkerfree.layers._geometry import as_scale

__all__ = ["pixel_shuffle_nd", "pixel_unshuffle_nd"]


def _dims(x: torch.Tensor, scale, dims: int | None) -> int:
    if dims is None:
        dims = len(scale) if isinstance(scale, (tuple, list)) else x.dim() - 2
    if dims < 1 or x.dim() < dims + 1:
        raise ShapeError(
            f"expected a tensor (*, C, *spatial) with {max(dims, 1)} spatial axes, "
            f"got shape {tuple(x.shape)}"
        )
    return dims


def pixel_shuffle_nd(x: torch.Tensor, scale, dims: int | None = None) -> torch.Tensor:
    """Rearrange ``(*, C * prod(s), *spatial)`` into ``(*, C, *(spatial * s))``.

    ``dims`` defaults to ``len(scale)`` for a sequence and to ``x.dim() - 2`` (one batch axis)
    for an integer.

    >>> pixel_shuffle_nd(torch.zeros(2, 8 * 3, 4, 4, 4), 2).shape
    torch.Size([2, 3, 8, 8, 8])
    """
    dims = _dims(x, scale, dims)
    s = as_scale(scale, dims, "scale")
    lead, c, spatial = x.shape[: -dims - 1], x.shape[-dims - 1], x.shape[-dims:]
    phases = math.prod(s)
    if c % phases:
        raise ShapeError(
            f"pixel_shuffle_nd: channels must be divisible by prod(scale) = {phases}, "
            f"got {c} channels in shape {tuple(x.shape)}"
        )
    if dims == 2 and s[0] == s[1]:
        return F.pixel_shuffle(x, s[0])  # native kernel, same layout
    n = len(lead)
    y = x.reshape(*lead, c // phases, *s, *spatial)
    # (*, C, s_1..s_d, L_1..L_d) -> (*, C, L_1, s_1, ..., L_d, s_d)
    perm = list(range(n + 1))
    for a in range(dims):
        perm += [n + 1 + dims + a, n + 1 + a]
    y = y.permute(perm)
    return y.reshape(*lead, c // phases, *(L * f for L, f in zip(spatial, s, strict=True)))


def pixel_unshuffle_nd(x: torch.Tensor, scale, dims: int | None = None) -> torch.Tensor:
    """Inverse of :func:`pixel_shuffle_nd`: ``(*, C, *(L * s))`` to ``(*, C * prod(s), *L)``.

    >>> pixel_unshuffle_nd(torch.zeros(1, 3, 6), 3).shape
    torch.Size([1, 9, 2])
    """
    dims = _dims(x, scale, dims)
    s = as_scale(scale, dims, "scale")
    lead, c, spatial = x.shape[: -dims - 1], x.shape[-dims - 1], x.shape[-dims:]
    if any(L % f for L, f in zip(spatial, s, strict=True)):
        raise ShapeError(
            f"pixel_unshuffle_nd: spatial sizes {tuple(spatial)} must be divisible by "
            f"scale {s}"
        )
    if dims == 2 and s[0] == s[1]:
        return F.pixel_unshuffle(x, s[0])
    n = len(lead)
    split = []
    for L, f in zip(spatial, s, strict=True):
        split += [L // f, f]
    y = x.reshape(*lead, c, *split)
    # (*, C, L_1, s_1, ..., L_d, s_d) -> (*, C, s_1..s_d, L_1..L_d)
    perm = list(range(n + 1))
    perm += [n + 2 + 2 * a for a in range(dims)]
    perm += [n + 1 + 2 * a for a in range(dims)]
    y = y.permute(perm)
    return y.reshape(*lead, c * math.prod(s), *(L // f for L, f in zip(spatial, s, strict=True)))
