"""Argument checks and output geometry shared by the upsampling layers.

Every layer here has an output length ``s * L + c`` on each axis (slope ``s`` in the input
length ``L``), so making it match a transposed convolution, whose length is ``s * L + c'``,
only takes a constant crop or zero-pad per side: the ``trim`` argument.

>>> as_scale(2, 3)
(2, 2, 2)
>>> as_trim([(1, 0)], 1)
((1, 0),)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from checkerfree.errors import InvalidArgumentError, InvalidTypeError, SpecError

__all__ = [
    "as_scale",
    "as_trim",
    "apply_trim",
    "conv_transpose_length",
    "conv_transpose_geometry",
    "trim_to_match",
]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def as_scale(value, dims: int, name: str = "scale_factor", minimum: int = 1) -> tuple[int, ...]:
    """One integer ``>= minimum`` per axis from an int, an integral float or a sequence."""
    if isinstance(value, torch.Size) or (
        isinstance(value, Sequence) and not isinstance(value, str)
    ):
        items = tuple(value)
        if len(items) == 1:
            items = items * dims
        if len(items) != dims:
            raise InvalidArgumentError(
                f"{name} must be one number or {dims} (one per spatial axis), got {value!r}"
            )
    elif _is_number(value):
        items = (value,) * dims
    else:
        raise InvalidTypeError(
            f"{name} must be an integer or a sequence of {dims} integers, "
            f"got {type(value).__name__} {value!r}"
        )
    out = []
    for v in items:
        if not _is_number(v):
            raise InvalidTypeError(f"{name} must hold integers, got {value!r}")
        if (isinstance(v, float) and not (math.isfinite(v) and v.is_integer())) or v < minimum:
            raise InvalidArgumentError(f"{name} must be an integer >= {minimum}, got {value!r}")
        out.append(int(v))
    return tuple(out)


def as_trim(trim, dims: int) -> tuple[tuple[int, int], ...] | None:
    """``None`` or one ``(before, after)`` integer pair per spatial axis, in layout order."""
    if trim is None:
        return None
    bad = InvalidArgumentError(
        f"trim must be None or {dims} (before, after) integer pairs, one per spatial axis "
        f"in layout order, got {trim!r}"
    )
    if not isinstance(trim, Sequence) or isinstance(trim, str) or len(trim) != dims:
        raise bad
    pairs = []
    for pair in trim:
        if (
            not isinstance(pair, Sequence)
            or len(pair) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in pair)
        ):
            raise bad
        pairs.append((int(pair[0]), int(pair[1])))
    if all(p == (0, 0) for p in pairs):
        return None
    return tuple(pairs)


def apply_trim(x: torch.Tensor, trim) -> torch.Tensor:
    """Crop (positive) or zero-pad (negative) the trailing spatial axes, ``(before, after)`` each.

    >>> apply_trim(torch.arange(5.).view(1, 1, 5), ((1, -2),)).tolist()
    [[[1.0, 2.0, 3.0, 4.0, 0.0, 0.0]]]
    """
    if not trim:
        return x
    dims = len(trim)
    for a, (before, after) in enumerate(trim):
        axis = x.dim() - dims + a
        size = x.shape[axis]
        lo, hi = max(before, 0), max(after, 0)
        if lo or hi:
            if lo + hi > size:
                raise InvalidArgumentError(
                    f"trim {trim!r} crops {lo + hi} positions from spatial axis {a} of "
                    f"length {size}"
                )
            # A view: cropping needs no copy.
            x = x.narrow(axis, lo, size - lo - hi)
    pads = []
    for before, after in reversed(trim):
        pads += [max(-before, 0), max(-after, 0)]
    if any(pads):
        x = F.pad(x, pads)
    return x


def check_padding_mode(padding_mode) -> str:
    if padding_mode not in _PADDING_MODES:
        raise InvalidArgumentError(
            f"padding_mode must be one of {_PADDING_MODES}, got {padding_mode!r}"
        )
    return padding_mode


def conv_transpose_length(length: int, k: int, s: int, p: int, op: int, d: int) -> int:
    """PyTorch's ConvTranspose output length on one axis."""
    return (length - 1) * s - 2 * p + d * (k - 1) + op + 1


def conv_transpose_geometry(m, dims: int, cls_name: str):
    """Per-axis ``(kernel, stride, padding, output_padding, dilation)`` of a ConvTranspose.

    Raises the typed errors for what cannot be converted.
    """
    import torch.nn as nn

    expected = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}[dims]
    if not isinstance(m, expected):
        raise InvalidTypeError(
            f"{cls_name}.from_conv_transpose expects an nn.{expected.__name__}, "
            f"got {type(m).__name__}"
        )
    if m.padding_mode != "zeros":
        raise SpecError(
            f"{cls_name}.from_conv_transpose: padding_mode must be 'zeros', "
            f"got {m.padding_mode!r}"
        )
    if isinstance(m.padding, str):
        raise SpecError(
            f"{cls_name}.from_conv_transpose: padding must be integers, got {m.padding!r}"
        )
    return tuple(
        zip(m.kernel_size, m.stride, m.padding, m.output_padding, m.dilation, strict=True)
    )


def trim_to_match(ours, axes, cls_name: str,
                  offsets=None) -> tuple[tuple[int, int], ...] | None:
    """The ``trim`` that makes a layer's output length ``ours(axis, L)`` equal a ConvTranspose's.

    ``axes`` holds the ConvTranspose's ``(k, s, p, op, d)`` per axis. The surplus is constant in
    ``L`` (both lengths have slope ``s``); it is split so that output ``n`` of the new layer sits
    where the transposed convolution's output ``n`` sits: a transposed convolution centres input
    ``m`` at ``s m + d (k - 1) / 2 - p``, nearest-neighbour resizing at ``s m + (s - 1) / 2``.
    ``offsets`` (per axis, default 0) moves the layer's centre of input ``m`` to
    ``s m + (s - 1) / 2 + offset``: a sub-pixel convolution with an even kernel reads half a
    low-resolution position off centre. Crops and pads are never mixed on one axis.
    """
    pairs = []
    for a, (k, s, p, op, d) in enumerate(axes):
        surplus = [ours(a, n) - conv_transpose_length(n, k, s, p, op, d) for n in (7, 8, 9)]
        if len(set(surplus)) != 1:
            raise SpecError(
                f"{cls_name}.from_conv_transpose: output lengths cannot match on axis {a}; "
                f"the replacement grows by {ours(a, 9) - ours(a, 8)} per input position, "
                f"the ConvTranspose by {s}"
            )
        total = surplus[0]
        offset = offsets[a] if offsets is not None else 0
        shift = math.floor((s - 1) / 2 + offset - d * (k - 1) / 2 + p)
        before = min(max(shift, min(0, total)), max(0, total))
        pairs.append((before, total - before))
    return as_trim(pairs, len(axes))
