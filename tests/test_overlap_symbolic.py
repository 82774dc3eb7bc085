"""Deep stacks without one period in memory: transfer matrices against materialised counts,
a path count, and Stern's diatomic sequence (whose maxima are Fibonacci numbers)."""

from __future__ import annotations

import io
import time
from contextlib import redirect_stderr, redirect_stdout
from functools import lru_cache

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from checkerfree import overlap
from checkerfree.cli import main
from checkerfree.overlap_symbolic import HEAD, axis_summary


def fibonacci(n: int) -> int:
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


@st.composite
def stack(draw):
    def one():
        k, s, d = draw(st.integers(1, 7)), draw(st.integers(1, 4)), draw(st.integers(1, 3))
        return (k, s, draw(st.integers(0, 8)), 0, d)

    return [one() for _ in range(draw(st.integers(1, 6)))]


@settings(max_examples=150, deadline=None)
@given(layers=stack())
def test_transfer_matrices_match_the_materialised_period(layers):
    r = overlap([(k, s, p, op, d) for k, s, p, op, d in layers], dims=1)
    v, q = r.axis_interior[0], r.period[0]
    summary = axis_summary(layers)
    assert (summary.max, summary.min, summary.period) == (r.max, r.min, q)
    n = min(q, HEAD)
    np.testing.assert_array_equal(summary.head, v[np.arange(n) % q])


def test_stern_stacks_max_is_fibonacci_materialised_and_symbolic():
    # n stacked k=3 s=2 layers count like Stern's diatomic sequence: max F(n+2), min 1,
    # period 2**n. Materialised for n <= 20 (checked against brute force in test_overlap),
    # transfer matrices beyond; both must agree with the theory.
    for n in (1, 2, 5, 12, 20):
        r = overlap([(3, 2, 1, 1)] * n, dims=1)
        assert (r.max, r.min, r.period) == (fibonacci(n + 2), 1, (2**n,))
    for n in (20, 40, 100, 300):
        s = axis_summary([(3, 2, 1, 1, 1)] * n)
        assert (s.max, s.min, s.period) == (fibonacci(n + 2), 1, 2**n)


def test_head_of_a_huge_period_matches_a_path_count():
    layers = [(3, 2, 1, 1, 1)] * 12 + [(5, 3, 2, 0, 1)] * 20 + [(4, 2, 1, 0, 1)] * 5

    @lru_cache(maxsize=None)
    def count(n, o):
        if n == 0:
            return 1
        k, s, p, _op, d = layers[n - 1]
        return sum(count(n - 1, (o + p - j * d) // s) for j in range(k)
                   if (o + p - j * d) % s == 0)

    r = overlap([layer[:4] + (layer[4],) for layer in layers], dims=1)
    assert r.period[0] > 2**22  # beyond MAX_LENGTH: the symbolic path answered
    assert r.axis_interior[0].tolist() == [count(len(layers), o) for o in range(HEAD)]
    assert r.uneven and r.min >= 1


def test_the_issues_40_layer_stack_answers_in_time():
    out, err = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["overlap", *[a for _ in range(40) for a in ("--layer", "3:2:1:1")]])
    assert code == 0 and err.getvalue() == ""
    assert time.perf_counter() - start < 60  # "returns", not a speed test
    text = out.getvalue()
    assert f"period {2**40}x{2**40}" in text
    assert f"max {fibonacci(42) ** 2}  min 1" in text
