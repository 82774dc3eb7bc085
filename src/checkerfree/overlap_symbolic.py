"""Max, min and period of a deep stack's interior counts, without one period in memory.

:func:`checkerfree.overlap` computes one period of the counts per axis while it fits in
:data:`~checkerfree.overlap.MAX_LENGTH`; stacks of many uneven layers repeat only every
``s_1 ... s_n`` outputs (``2**40`` for 40 stacked k=3 s=2 layers). This module gets the same
exact numbers from transfer matrices instead, in time linear in the number of layers.

Windows. Output ``o = s m + r`` (``0 <= r < s``) of a layer receives input ``m + c`` through
each tap ``j`` with ``j d = r + p (mod s)``, ``c = (r + p - j d) / s``. So the counts of layer
``i`` on a window of offsets ``W_i`` around ``o`` are a fixed matrix ``M_i[r]`` times the
counts of layer ``i - 1`` on a window ``W_{i-1}`` around ``m``: with ``W_n = {0}``, the
windows are computed from the top down and stay about ``(k - 1) d / (s - 1)`` wide. Below
the first layer every count is 1, so the count at ``o`` is ``M_n[r_n] ... M_1[r_1] 1`` for
the mixed-radix digits ``r_i`` of ``o``: the counts are a regular sequence.

Max and min. The window vectors reachable at layer ``i`` are ``M_i[r] v`` for the vectors
``v`` reachable at layer ``i - 1``; the matrices are non-negative, so a vector dominated
entry by entry by another can never lead to a larger count and is dropped (a Pareto front,
one for the max and one for the min). Deep stacks keep fronts of a few vectors.

Period. ``t`` is a period when ``count(o + t) = count(o)`` for every ``o``. Reading the
digits of ``o`` from the top layer down with the carry of ``+ t``, the two sides are row
vectors ``u M_n[r_n] ...`` and ``u' M_n[r'_n] ...``; the condition is linear, so it is enough
to follow, per layer and carry (at most two values), an exact integer basis of the span of
the pairs ``(u, u')`` and check ``sum(u) = sum(u')`` on it. The fundamental period divides
``s_1 ... s_n``; it is found prime by prime, by bisection on each prime's exponent (the
periods dividing the lattice period are the multiples of the fundamental one).

Checked against the materialised counts of every small random stack (``tests/test_bounds.py``).

>>> summary = axis_summary([(3, 2, 1, 1, 1)] * 40, axis=0)
>>> summary.max, summary.min, summary.period == 2**40
(267914296, 1, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from checkerfree.errors import LimitError

__all__ = ["AxisSummary", "axis_summary", "MAX_WINDOW", "MAX_FRONT", "MAX_STEPS", "HEAD"]

#: Widest window of offsets followed per layer (stride-1 layers widen it by ``(k - 1) d``).
MAX_WINDOW = 64
#: Most vectors kept in a Pareto front.
MAX_FRONT = 1024
#: Word operations one axis may cost (a second or two of Python).
MAX_STEPS = 10_000_000
#: How many counts from output 0 on ``axis_summary`` also returns (the head of the period).
HEAD = 64


@dataclass(frozen=True)
class AxisSummary:
    """Exact interior statistics of one axis: ``max``, ``min``, fundamental ``period``, and
    ``head``, the counts of outputs ``0 .. min(period, HEAD) - 1``."""

    max: int
    min: int
    period: int
    head: np.ndarray


class _Budget:
    """Counts word operations: a multiply-add of ``b``-bit integers costs ``1 + b // 64``, and
    every batch of them 32 more (the interpreter's own cost of a small step)."""

    def __init__(self, axis: int):
        self.left, self.axis = MAX_STEPS, axis

    def spend(self, n: int, bits: int = 0) -> None:
        self.left -= n * (1 + bits // 64) + 32
        if self.left < 0:
            raise LimitError(
                f"the exact analysis of axis {self.axis} would take more than {MAX_STEPS} steps "
                f"(checkerfree.overlap_symbolic.MAX_STEPS)"
            )


def _taps(k: int, s: int, p: int, d: int) -> dict[int, list[int]]:
    """Output phase ``r`` -> input offsets ``c``, one per tap landing on that phase."""
    out: dict[int, list[int]] = {}
    for j in range(k):
        r = (j * d - p) % s
        out.setdefault(r, []).append((r + p - j * d) // s)
    return out


def _windows(layers, axis: int) -> list[tuple[int, int]]:
    """Offset intervals ``W_0 .. W_n`` (``W_n = [0, 0]``), from the top layer down."""
    windows = [(0, 0)]
    for index in range(len(layers), 0, -1):
        k, s, p, _op, d = layers[index - 1]
        a, b = windows[-1]
        taps = _taps(k, s, p, d)
        ends = [(u // s + min(taps[u % s]), u // s + max(taps[u % s]))
                for u in range(a, b + s) if u % s in taps]
        lo, hi = (min(e[0] for e in ends), max(e[1] for e in ends)) if ends else (0, 0)
        if hi - lo + 1 > MAX_WINDOW:
            raise LimitError(
                f"layer {index} needs a window of {hi - lo + 1} counts on axis {axis}, beyond "
                f"the limit of {MAX_WINDOW} (checkerfree.overlap_symbolic.MAX_WINDOW)"
            )
        windows.append((lo, hi))
    return windows[::-1]


def _matrices(layer, out: tuple[int, int], inp: tuple[int, int]) -> list[list[list[int]]]:
    """``M[r][t][w]``: taps by which output ``s m + r + t`` reads input ``m + w``."""
    k, s, p, _op, d = layer
    taps = _taps(k, s, p, d)
    a, b = out
    a0, b0 = inp
    result = []
    for r in range(s):
        m = [[0] * (b0 - a0 + 1) for _ in range(b - a + 1)]
        for t in range(a, b + 1):
            u = r + t
            for c in taps.get(u % s, ()):
                m[t - a][u // s + c - a0] += 1
        result.append(m)
    return result


def _apply(m, v) -> tuple[int, ...]:
    return tuple(sum(x * y for x, y in zip(row, v) if x) for row in m)


def _bits(vectors) -> int:
    return max((abs(x).bit_length() for v in vectors for x in v), default=0)


def _front(vectors, larger: bool, budget: _Budget, axis: int) -> list[tuple[int, ...]]:
    """The vectors no other one dominates (entry by entry >= for the max, <= for the min)."""
    bits = _bits(vectors)
    budget.spend(len(vectors) * len(vectors[0]) * 4, bits)  # set, sums and sort
    order = sorted(set(vectors), key=sum, reverse=larger)
    keep: list[tuple[int, ...]] = []
    for v in order:
        budget.spend(len(keep) * (len(v) + 8) + 1, bits)  # one comparison per kept vector
        if larger:
            dominated = any(all(x >= y for x, y in zip(w, v)) for w in keep)
        else:
            dominated = any(all(x <= y for x, y in zip(w, v)) for w in keep)
        if not dominated:
            keep.append(v)
    if len(keep) > MAX_FRONT:
        raise LimitError(
            f"the exact max/min on axis {axis} needs more than {MAX_FRONT} window vectors "
            f"(checkerfree.overlap_symbolic.MAX_FRONT)"
        )
    return keep


def _extremes(windows, mats, budget, axis) -> tuple[int, int]:
    ones = (1,) * (windows[0][1] - windows[0][0] + 1)
    hi, lo = [ones], [ones]
    for m in mats:
        budget.spend((len(hi) + len(lo)) * len(m) * len(m[0][0]) * len(m[0]), _bits(hi))
        hi = _front([_apply(mr, v) for mr in m for v in hi], True, budget, axis)
        lo = _front([_apply(mr, v) for mr in m for v in lo], False, budget, axis)
    return max(v[0] for v in hi), min(v[0] for v in lo)


def _row_times(u, m) -> tuple[int, ...]:
    cols = len(m[0])
    return tuple(sum(u[t] * m[t][w] for t in range(len(u)) if u[t]) for w in range(cols))


def _primitive(v: list[int]) -> list[int]:
    g = 0
    for x in v:
        g = math.gcd(g, x)
    return [x // g for x in v] if g > 1 else v


def _basis(vectors) -> list[list[int]]:
    """An exact integer basis of the span (fraction-free elimination, gcd-normalised)."""
    basis: list[tuple[int, list[int]]] = []
    for v in vectors:
        v = list(v)
        for pivot, b in basis:
            if v[pivot]:
                v = [b[pivot] * x - v[pivot] * y for x, y in zip(v, b)]
        pivot = next((i for i, x in enumerate(v) if x), None)
        if pivot is None:
            continue
        basis.append((pivot, _primitive(v)))
    return [b for _, b in basis]


def _is_period(t: int, layers, windows, mats, budget) -> bool:
    """Whether ``count(o + t) == count(o)`` for every output ``o`` (see the module doc)."""
    n = len(layers)
    width = windows[n][1] - windows[n][0] + 1
    top = [1] + [0] * (width - 1)
    spans = {t: [top + top]}
    for i in range(n, 0, -1):
        s = layers[i - 1][1]
        m = mats[i - 1]
        w = windows[i][1] - windows[i][0] + 1
        grown: dict[int, list] = {}
        bits = _bits(v for basis in spans.values() for v in basis)
        for carry, basis in spans.items():
            for r in range(s):
                r2, carry2 = (r + carry) % s, (r + carry) // s
                for vec in basis:
                    budget.spend(2 * w * len(m[0][0]), bits)
                    grown.setdefault(carry2, []).append(
                        _row_times(vec[:w], m[r]) + _row_times(vec[w:], m[r2]))
        spans = {}
        for carry, vectors in grown.items():
            # elimination: each vector against each basis vector, entries up to twice as long
            budget.spend(len(vectors) ** 2 * len(vectors[0]) * 2, 2 * bits + 64)
            spans[carry] = _basis(vectors)
    w0 = windows[0][1] - windows[0][0] + 1
    return all(sum(v[:w0]) == sum(v[w0:]) for basis in spans.values() for v in basis)


def _prime_powers(n: int) -> dict[int, int]:
    out, f = {}, 2
    while f * f <= n:
        while n % f == 0:
            out[f] = out.get(f, 0) + 1
            n //= f
        f += 1
    if n > 1:
        out[n] = out.get(n, 0) + 1
    return out


def _period(layers, windows, mats, budget) -> int:
    powers: dict[int, int] = {}
    for layer in layers:
        for prime, e in _prime_powers(layer[1]).items():
            powers[prime] = powers.get(prime, 0) + e
    q = math.prod(prime**e for prime, e in powers.items())
    for prime, e in sorted(powers.items()):
        lo, hi = 0, e  # q / prime**lo is a period; find the largest such exponent
        if not _is_period(q // prime, layers, windows, mats, budget):
            continue  # the usual case of an uneven stack: one check per prime
        lo = 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if _is_period(q // prime**mid, layers, windows, mats, budget):
                lo = mid
            else:
                hi = mid - 1
        q //= prime**lo
    return q


def _head(layers, windows, mats, n: int, budget) -> np.ndarray:
    """Counts of outputs ``0 .. n - 1``, each from its digits (top layer = lowest digit)."""
    ones = (1,) * (windows[0][1] - windows[0][0] + 1)
    out = []
    for o in range(n):
        digits = []
        for layer in reversed(layers):
            digits.append(o % layer[1])
            o //= layer[1]
        v = ones
        for m, r in zip(mats, reversed(digits)):
            budget.spend(len(m[r]) * len(v), abs(v[0]).bit_length())
            v = _apply(m[r], v)
        out.append(v[0])
    array = np.array(out, dtype=object)
    return array.astype(np.int64) if max(out) < 1 << 62 else array


def axis_summary(layers, axis: int = 0) -> AxisSummary:
    """Exact max, min and fundamental period of one axis of a stack, and the period's head.

    ``layers`` are ``(kernel, stride, padding, output_padding, dilation)`` per layer, first
    applied first. Raises :class:`~checkerfree.errors.LimitError` beyond :data:`MAX_WINDOW`,
    :data:`MAX_FRONT` or :data:`MAX_STEPS`.
    """
    budget = _Budget(axis)
    windows = _windows(layers, axis)
    mats = [_matrices(layers[i - 1], windows[i], windows[i - 1])
            for i in range(1, len(layers) + 1)]
    hi, lo = _extremes(windows, mats, budget, axis)
    period = 1 if hi == lo else _period(layers, windows, mats, budget)
    return AxisSummary(hi, lo, period, _head(layers, windows, mats, min(period, HEAD), budget))
