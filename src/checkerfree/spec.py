"""Transposed-convolution specifications: the arguments of PyTorch's ``ConvTranspose``.

A :class:`TransposedConvSpec` holds kernel size, stride, padding, output padding and dilation,
each one integer per spatial axis, with exactly PyTorch's meaning: an input of length ``L``
gives an output of length ``(L - 1) * stride - 2 * padding + dilation * (kernel - 1)
+ output_padding + 1``, and output position ``o`` receives input ``i`` through tap ``j`` when
``o + padding == i * stride + j * dilation``.

>>> TransposedConvSpec.parse("3:2:1:1")
TransposedConvSpec(kernel_size=(3,), stride=(2,), padding=(1,), output_padding=(1,), dilation=(1,))
>>> TransposedConvSpec.coerce((4, 2, 1), dims=2).output_size((8, 8))
(16, 16)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch.nn as nn

from checkerfree.errors import InvalidTypeError, SpecError

__all__ = ["TransposedConvSpec", "coerce_layers"]

_FIELDS = ("kernel_size", "stride", "padding", "output_padding", "dilation")
_CONV_TRANSPOSE = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)


def _as_tuple(name: str, value, dims: int | None) -> tuple[int, ...]:
    """One integer per axis: broadcast a scalar, check a sequence's length and element types."""
    if isinstance(value, bool):
        raise SpecError(f"{name} must be an integer or one integer per axis, got {value!r}")
    if isinstance(value, int):
        return (value,) * (dims or 1)
    if isinstance(value, Sequence) and not isinstance(value, str):
        items = tuple(value)
        if not items or not all(isinstance(v, int) and not isinstance(v, bool) for v in items):
            raise SpecError(f"{name} must be an integer or one integer per axis, got {value!r}")
        if dims is not None and len(items) == 1:
            return items * dims
        if dims is not None and len(items) != dims:
            raise SpecError(f"{name} has {len(items)} values {value!r}, expected 1 or {dims}")
        return items
    raise SpecError(f"{name} must be an integer or one integer per axis, got {value!r}")


@dataclass(frozen=True)
class TransposedConvSpec:
    """The geometry of one transposed convolution, one integer per spatial axis.

    Validation follows PyTorch: ``kernel_size``, ``stride`` and ``dilation`` at least 1,
    ``padding`` and ``output_padding`` at least 0, and ``output_padding`` smaller than
    ``stride`` or ``dilation`` on each axis.

    >>> TransposedConvSpec(3, 2).dims
    1
    >>> TransposedConvSpec(3, 0)
    Traceback (most recent call last):
    ...
    checkerfree.errors.SpecError: stride must be >= 1 on every axis, got (0,)
    """

    kernel_size: tuple[int, ...] | int
    stride: tuple[int, ...] | int = 1
    padding: tuple[int, ...] | int = 0
    output_padding: tuple[int, ...] | int = 0
    dilation: tuple[int, ...] | int = 1

    def __post_init__(self) -> None:
        # Only sequences have a length; anything else (3.0, None) is _as_tuple's to refuse.
        lengths = {
            len(v) for v in (getattr(self, f) for f in _FIELDS)
            if isinstance(v, Sequence) and not isinstance(v, str)
        }
        lengths.discard(1)
        if len(lengths) > 1:
            raise SpecError(
                "kernel_size, stride, padding, output_padding and dilation must have the same "
                f"number of axes, got {self._raw()}"
            )
        dims = lengths.pop() if lengths else 1
        for f in _FIELDS:
            object.__setattr__(self, f, _as_tuple(f, getattr(self, f), dims))
        for f, low in (("kernel_size", 1), ("stride", 1), ("dilation", 1),
                       ("padding", 0), ("output_padding", 0)):
            values = getattr(self, f)
            if any(v < low for v in values):
                raise SpecError(f"{f} must be >= {low} on every axis, got {values}")
        for op, s, d in zip(self.output_padding, self.stride, self.dilation):
            if op >= max(s, d):
                raise SpecError(
                    "output_padding must be smaller than stride or dilation on every axis, got "
                    f"output_padding={self.output_padding}, stride={self.stride}, "
                    f"dilation={self.dilation}"
                )

    def _raw(self) -> str:
        return ", ".join(f"{f}={getattr(self, f)!r}" for f in _FIELDS)

    @property
    def dims(self) -> int:
        """Number of spatial axes."""
        return len(self.kernel_size)

    def broadcast(self, dims: int) -> TransposedConvSpec:
        """The same spec with every field repeated to ``dims`` axes (only from 1 axis)."""
        if dims == self.dims:
            return self
        if self.dims != 1:
            raise SpecError(f"a {self.dims}-axis layer spec cannot be used with dims={dims}")
        return TransposedConvSpec(*(getattr(self, f) * dims for f in _FIELDS))

    def axis(self, a: int) -> tuple[int, int, int, int, int]:
        """``(kernel, stride, padding, output_padding, dilation)`` of axis ``a``."""
        return tuple(getattr(self, f)[a] for f in _FIELDS)  # type: ignore[return-value]

    def output_size(self, size: Sequence[int] | int) -> tuple[int, ...]:
        """Output length per axis for an input of ``size`` (PyTorch's formula)."""
        size = _as_tuple("size", size, self.dims)
        return tuple(
            (n - 1) * s - 2 * p + d * (k - 1) + op + 1
            for n, (k, s, p, op, d) in zip(size, (self.axis(a) for a in range(self.dims)))
        )

    def describe(self) -> str:
        """Short text such as ``k=3 s=2`` (``k=3x4`` when axes differ), for messages."""
        parts = []
        for f, short, default in (("kernel_size", "k", None), ("stride", "s", None),
                                  ("padding", "p", 0), ("output_padding", "op", 0),
                                  ("dilation", "d", 1)):
            values = getattr(self, f)
            if default is not None and all(v == default for v in values):
                continue
            text = str(values[0]) if len(set(values)) == 1 else "x".join(map(str, values))
            parts.append(f"{short}={text}")
        return " ".join(parts)

    @classmethod
    def parse(cls, text: str) -> TransposedConvSpec:
        """Parse ``K:S[:P[:OP[:D]]]``; each field an integer or per-axis ``AxB[xC]``.

        >>> TransposedConvSpec.parse("3x4:2").kernel_size
        (3, 4)
        """
        if not isinstance(text, str) or not re.fullmatch(r"\s*-?\d+(x-?\d+)*(:-?\d+(x-?\d+)*){1,4}\s*",
                                                         text):
            raise SpecError(
                f"layer spec must look like K:S[:P[:OP[:D]]] with integers "
                f"(per axis as AxB, e.g. 3x4:2), got {text!r}"
            )
        fields = [tuple(int(v) for v in part.split("x")) for part in text.strip().split(":")]
        return cls(*(f[0] if len(f) == 1 else f for f in fields))

    @classmethod
    def from_module(cls, m: nn.Module) -> TransposedConvSpec:
        """The spec of an ``nn.ConvTranspose1d/2d/3d``."""
        if not isinstance(m, _CONV_TRANSPOSE):
            raise InvalidTypeError(
                f"expected nn.ConvTranspose1d/2d/3d, got {type(m).__name__}"
            )
        if isinstance(m.padding, str):  # pragma: no cover - PyTorch refuses this today
            raise SpecError(f"string padding {m.padding!r} is not supported")
        return cls(m.kernel_size, m.stride, m.padding, m.output_padding, m.dilation)

    @classmethod
    def coerce(cls, layer, dims: int | None = None) -> TransposedConvSpec:
        """A spec from a spec, a ``K:S:...`` string, a tuple ``(k, s[, p[, op[, d]]])``,
        a mapping of field names, or a ``ConvTranspose`` module; broadcast to ``dims``."""
        if isinstance(layer, cls):
            spec = layer
        elif isinstance(layer, str):
            spec = cls.parse(layer)
        elif isinstance(layer, nn.Module):
            spec = cls.from_module(layer)
        elif isinstance(layer, dict):
            unknown = set(layer) - set(_FIELDS)
            if unknown:
                raise SpecError(f"unknown layer fields {sorted(unknown)}; expected {_FIELDS}")
            spec = cls(**layer)
        elif isinstance(layer, Sequence) and 2 <= len(layer) <= 5:
            spec = cls(*layer)
        else:
            raise InvalidTypeError(
                "a layer must be a TransposedConvSpec, 'K:S[:P[:OP[:D]]]' text, a tuple "
                f"(k, s[, p[, op[, d]]]), a dict or an nn.ConvTranspose module; got {layer!r}"
            )
        return spec if dims is None else spec.broadcast(dims)


def coerce_layers(layers, dims: int | None = None) -> tuple[tuple[TransposedConvSpec, ...], int]:
    """Normalise ``layers`` to a tuple of specs of one dimensionality; return it and ``dims``.

    ``layers`` may be one layer (anything :meth:`TransposedConvSpec.coerce` takes), a list of
    them, or an ``nn.Module`` whose ``ConvTranspose`` submodules are taken in registration
    order. ``dims`` defaults to what modules or per-axis tuples say, else 2.

    >>> specs, dims = coerce_layers([(3, 2), (3, 2)])
    >>> dims, specs[0].kernel_size
    (2, (3, 3))
    """
    if dims is not None and (not isinstance(dims, int) or isinstance(dims, bool)
                             or dims not in (1, 2, 3)):
        raise SpecError(f"dims must be 1, 2 or 3, got {dims!r}")
    if isinstance(layers, nn.Module) and not isinstance(layers, _CONV_TRANSPOSE):
        items: list = [m for m in layers.modules() if isinstance(m, _CONV_TRANSPOSE)]
        if not items:
            raise SpecError(
                f"{type(layers).__name__} contains no ConvTranspose1d/2d/3d layer to analyse"
            )
    elif isinstance(layers, (TransposedConvSpec, str, nn.Module, dict)) or (
        isinstance(layers, tuple) and layers and all(isinstance(v, int) for v in layers)
    ):
        items = [layers]
    elif isinstance(layers, Iterable):
        items = list(layers)
    else:
        raise InvalidTypeError(f"expected a layer or a sequence of layers, got {layers!r}")
    if not items:
        raise SpecError("expected at least one layer, got an empty sequence")
    specs = [TransposedConvSpec.coerce(item) for item in items]
    native = {s.dims for s in specs if s.dims > 1}
    native |= {
        {nn.ConvTranspose1d: 1, nn.ConvTranspose2d: 2, nn.ConvTranspose3d: 3}[type(item)]
        for item in items
        if type(item) in (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
    }
    if len(native) > 1:
        raise SpecError(f"layers mix different numbers of axes: {sorted(native)}")
    if dims is None:
        dims = native.pop() if native else 2
    elif native and native != {dims}:
        raise SpecError(f"layers have {native.pop()} axes but dims={dims} was asked for")
    return tuple(s.broadcast(dims) for s in specs), dims
