"""Exact overlap analysis of (stacked) transposed convolutions.

A transposed convolution lets every input position paint a window of ``kernel`` taps,
windows ``stride`` apart (Odena, Dumoulin and Olah, "Deconvolution and Checkerboard
Artifacts", Distill 2016). The *contribution count* of an output position is how many
(input, tap) pairs reach it: the output of the layer with an all-ones kernel applied to an
all-ones input. For a stack it is the number of paths through the stack, i.e. the output of
the all-ones layers applied in turn.

For an unbounded input the count is periodic. Per axis, a stack with strides ``s_1..s_n``
repeats every ``P = s_1 ... s_n`` outputs, and one layer maps a period-``P`` count ``x`` to
the period-``P s`` count::

    y[o] = sum over taps j with (o + p - j d) = 0 (mod s) of x[((o + p - j d) / s) mod P]

so the interior map costs ``O(P k)`` per layer and axis, never a tensor the size of an output.
The all-ones kernel and input are separable, so in 2D and 3D the count is the outer product of
the per-axis counts: the axes' patterns multiply (k=3, s=2 is 2:1 in 1D and 4:1 in 2D).

>>> r = overlap([(3, 2)], dims=1)
>>> r.interior.tolist(), r.ratio, r.uneven
([2, 1], 2.0, True)
>>> overlap([(3, 2)], dims=2).ratio
4.0
>>> r = overlap([(3, 2), (3, 2)], dims=1)
>>> r.period, r.ratio
((4,), 3.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import reduce

import numpy as np
import torch
import torch.nn as nn

from checkerfree.arguments import check_flag
from checkerfree.errors import InvalidArgumentError, InvalidTypeError, ShapeError
from checkerfree.finite import check_finite, check_power, require_values
from checkerfree.spec import TransposedConvSpec, coerce_layers

__all__ = ["OverlapResult", "overlap", "phase_sums", "phase_imbalance"]

# Materialising the N-D interior map is refused beyond this many entries; the per-axis
# vectors (``axis_interior``) are always available and are what max/min/ratio use.
_MAX_DENSE = 1 << 24
_INT64_SAFE = 1 << 62


def _count_dtype(bound: int):
    """int64 while counts provably fit, Python ints (object arrays) beyond."""
    return np.int64 if bound < _INT64_SAFE else object


def _interior_axis(layers: list[tuple[int, int, int, int, int]]) -> np.ndarray:
    """Counts over one lattice period ``prod(strides)`` for an unbounded input, one axis."""
    bound = math.prod(k for k, *_ in layers)
    x = np.ones(1, dtype=_count_dtype(bound))
    for k, s, p, _op, d in layers:
        period = x.shape[0]
        y = np.zeros(period * s, dtype=x.dtype)
        for j in range(k):
            # Outputs o = r0 + s*m receive tap j from input (r0 + p - j*d)/s + m.
            r0 = (j * d - p) % s
            shift = (r0 + p - j * d) // s
            y[r0::s] += np.roll(x, -shift)
        x = y
    return x


def _finite_axis(layers: list[tuple[int, int, int, int, int]], n: int) -> np.ndarray:
    """Counts for an all-ones input of length ``n``, one axis (PyTorch's cropping)."""
    bound = math.prod(k for k, *_ in layers)
    x = np.ones(n, dtype=_count_dtype(bound))
    for index, (k, s, p, op, d) in enumerate(layers):
        length = x.shape[0]
        out = (length - 1) * s - 2 * p + d * (k - 1) + op + 1
        if out < 1:
            raise ShapeError(
                f"layer {index + 1} (k={k} s={s} p={p} op={op} d={d}) turns length {length} "
                f"into {out}; the input is too small for this stack"
            )
        full = np.zeros(max((length - 1) * s + d * (k - 1) + 1, p + out), dtype=x.dtype)
        for j in range(k):
            full[j * d: j * d + (length - 1) * s + 1: s] += x
        x = full[p: p + out]
    return x


def _fundamental_period(v: np.ndarray) -> int:
    """Smallest ``q`` dividing ``len(v)`` with ``v`` periodic of period ``q``."""
    n = v.shape[0]
    small = [q for q in range(1, math.isqrt(n) + 1) if n % q == 0]
    for q in sorted(set(small) | {n // q for q in small}):
        if np.array_equal(v, np.roll(v, q)):
            return q
    return n  # pragma: no cover - q = n always matches


def _outer(vectors: tuple[np.ndarray, ...]) -> np.ndarray:
    size = math.prod(v.shape[0] for v in vectors)
    if size > _MAX_DENSE:
        raise ShapeError(
            f"the full map would hold {size} entries (shape {tuple(v.shape[0] for v in vectors)});"
            " use the per-axis vectors (axis_interior / axis_finite) instead"
        )
    return reduce(np.multiply.outer, vectors)


def _layer_verdict(spec: TransposedConvSpec) -> str | None:
    """Why one layer alone is not even, or None when it is."""
    reasons = []
    for a in range(spec.dims):
        k, s, p, _op, d = spec.axis(a)
        where = f" on axis {a}" if spec.dims > 1 and len(set(spec.stride)) > 1 else ""
        if s > 1 and math.gcd(d, s) > 1:
            reasons.append(f"leaves holes{where} (gcd(dilation={d}, stride={s}) > 1)")
        elif k < s:
            reasons.append(f"leaves holes{where} (kernel {k} < stride {s})")
        elif k % s:
            reasons.append(f"overlaps unevenly{where} (k mod s = {k} mod {s} = {k % s} != 0)")
    return "; ".join(dict.fromkeys(reasons)) or None


@dataclass(frozen=True)
class OverlapResult:
    """Exact contribution counts of a stack of transposed convolutions.

    Attributes:
        dims: number of spatial axes.
        layers: the stack, one :class:`TransposedConvSpec` per layer.
        axis_interior: per axis, the counts over one lattice period (length = product of the
            strides) for an unbounded input; the N-D interior map is their outer product.
        period: per axis, the fundamental period of the interior counts (1 = flat).
        lattice_period: per axis, the product of the strides.
        max, min: largest and smallest interior count (exact integers).
        ratio: ``max / min``, or None when the interior has holes (``min == 0``).
        uneven: whether the interior counts differ from position to position.
        explanation: one line saying why (which layer breaks ``k mod s = 0``).
        size: the input size given for the finite map, or None.
        axis_finite: per axis, the counts for an all-ones input of ``size``, or None.
    """

    dims: int
    layers: tuple[TransposedConvSpec, ...]
    axis_interior: tuple[np.ndarray, ...] = field(repr=False)
    period: tuple[int, ...]
    lattice_period: tuple[int, ...]
    max: int
    min: int
    ratio: float | None
    uneven: bool
    explanation: str
    size: tuple[int, ...] | None = None
    axis_finite: tuple[np.ndarray, ...] | None = field(default=None, repr=False)

    @property
    def interior(self) -> np.ndarray:
        """The steady-state map over one lattice period, shape ``lattice_period``."""
        return _outer(self.axis_interior)

    @property
    def finite(self) -> np.ndarray:
        """The map for an all-ones input of ``size`` (needs ``overlap(..., size=...)``)."""
        if self.axis_finite is None:
            raise InvalidArgumentError(
                "this result has no finite map; call overlap(layers, size=...) to get one"
            )
        return _outer(self.axis_finite)

    def tile(self, repeats: int = 2) -> np.ndarray:
        """The interior map of the fundamental period repeated ``repeats`` times per axis."""
        return _outer(tuple(np.tile(v[:q], repeats) for v, q in
                            zip(self.axis_interior, self.period)))

    def to_dict(self) -> dict:
        """A JSON-ready summary (no maps larger than 4096 entries)."""
        out = {
            "dims": self.dims,
            "layers": [s.describe() for s in self.layers],
            "period": list(self.period),
            "lattice_period": list(self.lattice_period),
            "max": int(self.max),
            "min": int(self.min),
            "ratio": self.ratio,
            "uneven": self.uneven,
            "explanation": self.explanation,
        }
        if math.prod(self.period) <= 4096:
            out["map"] = self.tile(1).tolist()
        if self.size is not None:
            out["size"] = list(self.size)
            out["output_size"] = [int(v.shape[0]) for v in self.axis_finite]
        return out


def overlap(layers, dims: int | None = None, size=None) -> OverlapResult:
    """Exact contribution counts of one or many stacked transposed convolutions.

    Args:
        layers: one layer or a sequence of them, first applied first. Each may be a
            :class:`~checkerfree.spec.TransposedConvSpec`, a tuple ``(k, s[, p[, op[, d]]])``
            (integers, or one integer per axis), ``'K:S[:P[:OP[:D]]]'`` text, or an
            ``nn.ConvTranspose1d/2d/3d``; or an ``nn.Module`` whose ConvTranspose layers are
            taken in registration order.
        dims: number of spatial axes (1, 2 or 3). Default: what modules or per-axis tuples
            say, else 2.
        size: input size (an int or one per axis) for the finite map with borders.

    Returns:
        :class:`OverlapResult`.

    >>> r = overlap([(3, 2)], dims=2)
    >>> r.interior.tolist()
    [[4, 2], [2, 1]]
    >>> overlap((4, 2, 1), dims=1, size=4).finite.tolist()
    [1, 2, 2, 2, 2, 2, 2, 1]
    >>> overlap([(4, 2), (3, 1)], dims=1).explanation
    'even: every layer has kernel size divisible by stride'
    """
    specs, dims = coerce_layers(layers, dims)
    per_axis = [[s.axis(a) for s in specs] for a in range(dims)]
    cache: dict = {}
    axis_interior = []
    for axis_layers in per_axis:
        key = tuple(axis_layers)
        if key not in cache:
            cache[key] = _interior_axis(axis_layers)
        axis_interior.append(cache[key])
    axis_interior = tuple(axis_interior)

    axis_finite = None
    if size is not None:
        if isinstance(size, int) and not isinstance(size, bool):
            size = (size,) * dims
        if (not isinstance(size, (tuple, list)) or len(size) != dims
                or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 1
                           for n in size)):
            raise InvalidArgumentError(
                f"size must be a positive integer or {dims} of them (one per axis), got {size!r}"
            )
        size = tuple(size)
        axis_finite = tuple(_finite_axis(al, n) for al, n in zip(per_axis, size))

    hi = math.prod(int(v.max()) for v in axis_interior)
    lo = math.prod(int(v.min()) for v in axis_interior)
    uneven = hi != lo
    ratio = None if lo == 0 else hi / lo
    periods = {id(v): _fundamental_period(v) for v in cache.values()}
    period = tuple(periods[id(v)] for v in axis_interior)
    lattice = tuple(v.shape[0] for v in axis_interior)
    return OverlapResult(
        dims=dims,
        layers=specs,
        axis_interior=axis_interior,
        period=period,
        lattice_period=lattice,
        max=hi,
        min=lo,
        ratio=ratio,
        uneven=uneven,
        explanation=_explain(specs, hi, lo, period),
        size=size,
        axis_finite=axis_finite,
    )


def _explain(specs, hi: int, lo: int, period: tuple[int, ...]) -> str:
    offenders = [(i, s, why) for i, s in enumerate(specs, 1) if (why := _layer_verdict(s))]
    where = ", ".join(f"layer {i} ({s.describe()}) {why}" for i, s, why in offenders)
    shape = "x".join(map(str, period))
    if hi == lo:
        if not offenders:
            return "even: every layer has kernel size divisible by stride"
        return f"even: {where}, but the layers after it even the counts out"
    if lo == 0:
        return f"holes: {where or 'the stack'}; some outputs get no contribution (period {shape})"
    return f"uneven {hi}:{lo} (period {shape}): {where or 'the stack'}"


def _weight_and_geometry(weight, stride, dilation, groups):
    if isinstance(weight, (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)):
        m = weight
        weight = m.weight
        stride = m.stride if stride is None else stride
        dilation = m.dilation
        groups = m.groups
    elif isinstance(weight, nn.Module):
        raise InvalidTypeError(
            f"expected a ConvTranspose weight tensor or module, got {type(weight).__name__}"
        )
    if not isinstance(weight, torch.Tensor):
        raise InvalidTypeError(f"weight must be a torch.Tensor, got {type(weight).__name__}")
    if weight.is_complex() or weight.dtype == torch.bool:
        raise InvalidTypeError(f"weight must be a real tensor, got dtype {weight.dtype}")
    if not weight.is_floating_point():
        # Integer weights (no ConvTranspose has them; a hand-written kernel may): float64 holds
        # every integer up to 2**53 exactly, so their phase sums are exact.
        weight = weight.to(torch.float64)
    dims = weight.dim() - 2
    if dims not in (1, 2, 3):
        raise ShapeError(
            "weight must have the ConvTranspose layout (in, out/groups, *kernel) with 1 to 3 "
            f"kernel axes, got shape {tuple(weight.shape)}"
        )
    if stride is None:
        raise InvalidArgumentError("stride is required when weight is a tensor")
    spec = TransposedConvSpec(tuple(weight.shape[2:]), stride, 0, 0, dilation).broadcast(dims)
    if weight.numel() == 0:
        raise ShapeError(f"weight must have at least one value, got shape {tuple(weight.shape)}")
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1 \
            or weight.shape[0] % groups:
        raise InvalidArgumentError(
            f"groups must be a positive divisor of in_channels={weight.shape[0]}, got {groups!r}"
        )
    return weight, spec, groups


def phase_sums(weight, stride=None, *, dilation=1, groups: int = 1) -> torch.Tensor:
    """Polyphase kernel sums of a ConvTranspose weight: shape ``(out, in/groups, *stride)``.

    Output phase ``r`` (per axis, ``0 <= r < s``) of a transposed convolution receives tap
    ``j`` exactly when ``j * dilation = r + padding (mod s)``; the sum of those taps is what a
    constant input meets at that phase. Padding only permutes the phases, so it is left out:
    entry ``[o, c, *q]`` sums the taps with ``j * dilation = q (mod s)``. Differentiable.
    Integer weights are summed in float64 (exact up to ``2**53``); NaN propagates (a sum of
    taps, not a measurement: :func:`phase_imbalance` refuses it).

    >>> w = torch.ones(1, 1, 3)
    >>> phase_sums(w, 2).tolist()
    [[[2.0, 1.0]]]
    """
    weight, spec, groups = _weight_and_geometry(weight, stride, dilation, groups)
    dims = spec.dims
    cin, cout_g = weight.shape[:2]
    # (in, out/g, *k) -> (g, in/g, out/g, *k) -> (g, out/g, in/g, *k) -> (out, in/g, *k)
    w = weight.reshape(groups, cin // groups, cout_g, *weight.shape[2:]).transpose(1, 2)
    w = w.reshape(groups * cout_g, cin // groups, *weight.shape[2:])
    sums = w
    for a in range(dims):
        k, s, _p, _op, d = spec.axis(a)
        phase = torch.tensor([(j * d) % s for j in range(k)], device=w.device)
        onehot = torch.nn.functional.one_hot(phase, s).to(w.dtype)  # (k, s)
        axis = 2 + a
        sums = torch.tensordot(sums.movedim(axis, -1), onehot, dims=1).movedim(-1, axis)
    return sums


def phase_imbalance(weight, stride=None, *, dilation=1, groups: int = 1,
                    per_channel: bool = False):
    """Spread of the polyphase kernel sums relative to their magnitude (0 = artifact-free).

    With ``S[o, c, r]`` the phase sums (:func:`phase_sums`) and ``D = S - mean_r S`` their
    phase-dependent part, the imbalance is ``||D|| / ||S||`` (Frobenius norms over input
    channels and phases; per output channel with ``per_channel=True``, else over all). It lies
    in ``[0, 1]`` and is 0 exactly when every (input, output) channel pair has equal sums over
    the ``s^d`` phases: Sugawara's condition, under which any constant input (any value per
    channel) gives a constant output away from the borders. All-zero sums count as balanced.

    Args:
        weight: a ConvTranspose weight ``(in, out/groups, *kernel)`` or the module itself
            (then stride, dilation and groups come from it).
        stride: the layer's stride (int or one per axis).

    Integer weights are read as float64 (exact up to ``2**53``). NaN or infinite weights, or a
    float overflow of their squared sums (float32 weights near ``1e19``), raise
    :class:`~checkerfree.errors.NonFiniteError` (:mod:`checkerfree.finite`): a NaN is never
    "balanced". A ``meta`` weight (no values) raises
    :class:`~checkerfree.errors.InvalidArgumentError`.

    >>> phase_imbalance(torch.ones(1, 1, 4, 4), 2)
    0.0
    >>> round(phase_imbalance(torch.ones(1, 1, 3), 2), 4)  # sums [2, 1]
    0.3162
    """
    per_channel = check_flag(per_channel, "per_channel")
    tensor, _spec, _groups = _weight_and_geometry(weight, stride, dilation, groups)
    require_values(tensor, "weight", " (materialise the module first, e.g. "
                   "module.to_empty(device='cpu'), and load its weights)")
    check_finite(tensor, "weight")
    sums = phase_sums(weight, stride, dilation=dilation, groups=groups).detach()
    flat = sums.reshape(sums.shape[0], sums.shape[1], -1)
    dev = flat - flat.mean(dim=-1, keepdim=True)
    # Rounding in the mean leaves ~1e-8 on balanced float32 kernels; that is not an artifact.
    floor = 64 * torch.finfo(flat.dtype).eps
    scale = "the imbalance does not depend on the weights' scale"
    if per_channel:
        num = dev.pow(2).sum(dim=(1, 2)).sqrt()
        den = flat.pow(2).sum(dim=(1, 2)).sqrt()
        # inf / inf is NaN and NaN >= floor is false: an overflow would read "balanced".
        check_power([num, den], tensor, "the squared phase sums of weight", scale)
        value = num / den.clamp_min(torch.finfo(den.dtype).tiny)
        return torch.where((den > 0) & (value >= floor), value, torch.zeros_like(value))
    num, den = dev.pow(2).sum().sqrt(), flat.pow(2).sum().sqrt()
    check_power([num, den], tensor, "the squared phase sums of weight", scale)
    den = float(den)
    value = float(num) / den if den > 0 else 0.0
    return value if value >= floor else 0.0
