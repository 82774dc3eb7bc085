"""Bounded work: every size a user can ask for is checked against a stated limit first.

Each case asserts the exit status (2) or the typed error, a one-line message that names the
limit, that it came back within a few seconds, and that no file of the user's changed. The
stack algorithm that makes deep stacks cheap (periods cut back after every layer) is checked
against an independent path count.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import math
import subprocess
import sys
import time
from contextlib import redirect_stderr, redirect_stdout
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
import torch.nn as nn
from hypothesis import given, settings
from hypothesis import strategies as st

from checkerfree import overlap
from checkerfree.audit.checks import MAX_PROBE_ELEMENTS, MAX_SEEDS
from checkerfree.cli import main
from checkerfree.errors import LimitError, SpecError
from checkerfree.overlap import MAX_COUNT_BITS, MAX_DENSE, MAX_LENGTH, MAX_WORK, ratio_text
from checkerfree.overlap_symbolic import MAX_STEPS, MAX_WINDOW
from checkerfree.report.overlap_plots import MAX_BARS, MAX_PANELS
from checkerfree.report.text import SHADES, render_map
from checkerfree.spec import LIMITS, MAX_AXES, MAX_LAYERS, TransposedConvSpec, coerce_layers

# A bound on "returns at all" (these inputs used to run for ever or exhaust memory), not a
# speed test: generous, because the machine running the tests is shared.
SECONDS = 60


def layers(*texts: str) -> list[str]:
    return [a for t in texts for a in ("--layer", t)]


def run_cli(argv: list[str]) -> tuple[int, str, str, float]:
    out, err = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse refuses an argument on its own
            code = exc.code
    return code, out.getvalue(), err.getvalue(), time.perf_counter() - start


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


CLI_CASES = [
    # (id, argv, words the one-line message must contain)
    ("huge-kernel", layers("99999999999999999999:2"), ["kernel_size", str(LIMITS["kernel_size"])]),
    ("huge-stride", layers("3:4000000000"), ["stride", str(LIMITS["stride"]), "4000000000"]),
    ("huge-padding", layers("3:2:99999999"), ["padding", str(LIMITS["padding"])]),
    ("huge-dilation", layers("3:2:0:0:5000"), ["dilation", str(LIMITS["dilation"]), "5000"]),
    ("4-axes", layers("3x3x3x3:2"), ["axes", str(MAX_AXES)]),
    ("too-many-layers", layers(*["4:2:1"] * (MAX_LAYERS + 1)), ["layers", str(MAX_LAYERS)]),
    ("huge-size", layers("3:2") + ["--size", "1000000000"],
     ["size", str(MAX_LENGTH), "1000000000"]),
    ("huge-size-digits", layers("3:2") + ["--size", "9" * 40], ["size", str(MAX_LENGTH)]),
    ("finite-grows-past-limit", layers("4:2:1") + ["--dims", "1", "--size", str(MAX_LENGTH)],
     ["layer 1", str(MAX_LENGTH)]),
    ("front-limit", layers(*["3:2:0:0:3"] * 60) + ["--dims", "1"],
     ["exact analysis", str(MAX_STEPS)]),
    ("window-limit", layers(*["3:2"] * 22, *["64:1"] * 10) + ["--dims", "1"],
     ["window", str(MAX_WINDOW)]),
    ("huge-counts", layers(*["4096:1"] * 1024) + ["--dims", "3"],
     ["2^36864", str(MAX_COUNT_BITS)]),
    ("work-limit", layers(*["3:2"] * 21, "4096:1") + ["--dims", "1"],
     ["operations", str(MAX_WORK)]),
    ("figure-bars", layers("3:2") + ["--dims", "1", "--size", "3000", "--png", "{dir}/f.png"],
     ["bars", str(MAX_BARS)]),
    ("figure-panels", layers(*["4:2:1"] * (MAX_PANELS + 1)) + ["--dims", "1", "--png",
                                                              "{dir}/f.png"],
     ["layers", str(MAX_PANELS)]),
    ("figure-map", layers("3:2") + ["--size", "5000", "--png", "{dir}/f.png"],
     ["cells", str(MAX_DENSE), "--size"]),
    ("figure-period", layers(*["3:2"] * 13) + ["--png", "{dir}/f.png"], ["cells", str(MAX_DENSE)]),
    ("figure-3d-period", layers(*["3:2"] * 13) + ["--dims", "3", "--png", "{dir}/f.png"],
     ["cells", str(MAX_DENSE)]),
]


@pytest.mark.parametrize("case, argv, words", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_cli_refuses_with_one_line_naming_the_limit(tmp_path, case, argv, words):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "keep.png").write_bytes(b"the user's own file")
    before = digest(mine)
    argv = [a.replace("{dir}", str(mine)) for a in argv]
    code, out, err, seconds = run_cli(["overlap", *argv])
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("checkerfree overlap: error:"), err
    for word in words:
        assert word in lines[0], (word, lines[0])
    assert seconds < SECONDS
    assert digest(mine) == before  # no figure written, nothing replaced


AUDIT_CASES = [
    ("probe-320GB", ["--input-shape", "2,4,100000,100000"], ["elements", f"{MAX_PROBE_ELEMENTS:,}"]),
    ("probe-huge-digits", ["--input-shape", "2,4," + "9" * 40 + ",8"],
     ["elements", f"{MAX_PROBE_ELEMENTS:,}"]),
    ("seeds", ["--seeds", "1000000000"], ["seeds", str(MAX_SEEDS)]),
]


@pytest.mark.parametrize("case, argv, words", AUDIT_CASES, ids=[c[0] for c in AUDIT_CASES])
def test_audit_probe_sizes_are_bounded(case, argv, words):
    code, out, err, seconds = run_cli(["audit", "dcgan", *argv])
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("checkerfree audit: error:"), err
    assert all(w in lines[0] for w in words), lines[0]
    assert seconds < SECONDS


def test_cli_in_a_subprocess_returns_at_once():
    # The first case, as a user runs it (interpreter and torch start-up included);
    # before the limits it never finished.
    proc = subprocess.run(
        [sys.executable, "-m", "checkerfree", "overlap", *layers("99999999999999999999:2")],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "kernel_size must be at most 4096" in lines[0]


def test_size_5000_in_2d_works_without_the_full_map():
    code, out, err, seconds = run_cli(["overlap", *layers("3:2"), "--size", "5000", "--json"])
    assert code == 0 and err == "" and seconds < SECONDS
    import json

    doc = json.loads(out)
    assert doc["output_size"] == [10001, 10001] and doc["ratio"] == 4.0
    code, out, err, _ = run_cli(["overlap", *layers("3:2"), "--size", "5000"])
    assert code == 0 and "interior map" in out


def test_1d_png_with_size(tmp_path):
    code, out, err, _ = run_cli(["overlap", *layers("3:2"), "--dims", "1", "--size", "6",
                                 "--png", str(tmp_path / "e.png")])
    assert code == 0, err
    assert (tmp_path / "e.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------- the API


def test_spec_fields_beyond_their_limits():
    for field, limit in LIMITS.items():
        values = {"kernel_size": 3, "stride": 2, field: limit + 1}
        with pytest.raises(LimitError, match=f"{field} must be at most {limit}"):
            TransposedConvSpec(**values)
    TransposedConvSpec(LIMITS["kernel_size"], LIMITS["stride"])  # the limits themselves pass
    with pytest.raises(LimitError, match="at most 3 spatial axes"):
        TransposedConvSpec((3,) * 4, 2)
    with pytest.raises(SpecError, match="kernel_size must be >= 1"):  # huge negative: no crash
        TransposedConvSpec(-(10**5000), 2)


def test_an_endless_generator_of_layers_is_read_only_to_the_limit():
    start = time.perf_counter()
    with pytest.raises(LimitError, match=f"at most {MAX_LAYERS} layers"):
        coerce_layers(itertools.repeat((4, 2, 1)))
    assert time.perf_counter() - start < SECONDS


@pytest.mark.parametrize("call, words", [
    (lambda: overlap([(3, 2, 0, 0, 3)] * 60, dims=1), ["exact analysis", str(MAX_STEPS)]),
    (lambda: overlap((3, 2), dims=1, size=MAX_LENGTH + 1), ["size", str(MAX_LENGTH)]),
    (lambda: overlap((3, 2), dims=1, size=10**5000), ["size", "digits"]),
    (lambda: overlap([(3, 2)] * 20, dims=3).interior, ["interior", str(MAX_DENSE)]),
    (lambda: overlap([(3, 2)] * 30, dims=1).tile(1), ["repeats every", str(2**30), "first"]),
    (lambda: overlap([(3, 2)] * 8, dims=2).tile(10**9), ["tiled", str(MAX_DENSE)]),
    (lambda: overlap((3, 2), dims=2, size=5000).finite, ["finite", str(MAX_DENSE)]),
    (lambda: overlap([(4, 2, 1)] * 60, dims=1).interior, ["interior", str(MAX_DENSE)]),
    (lambda: overlap(nn.ConvTranspose1d(1, 1, LIMITS["kernel_size"] + 1, 2)), ["kernel_size"]),
], ids=["front", "size", "size-digits", "interior", "deep-period-tile", "tile", "finite",
        "even-lattice", "module"])
def test_api_refuses_with_a_limit_error(call, words):
    start = time.perf_counter()
    with pytest.raises(LimitError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message and all(w in message for w in words), message
    assert time.perf_counter() - start < SECONDS


def test_deep_even_stacks_cost_time_linear_in_layers():
    start = time.perf_counter()
    r = overlap([(4, 2, 1)] * MAX_LAYERS, dims=3)
    assert time.perf_counter() - start < SECONDS
    assert (r.period, r.uneven, r.max) == ((1, 1, 1), False, 8**MAX_LAYERS)
    assert r.lattice_period == (2**MAX_LAYERS,) * 3  # symbolic: never materialised
    assert r.to_dict()["map"] == [[[8**MAX_LAYERS]]]


def test_an_uneven_stack_evened_out_stays_one_number():
    # [2, 1] per period, then a 2-tap stride-1 sum evens it out; 500 even layers follow.
    r = overlap([(3, 2), (2, 1)] + [(4, 2, 1)] * 500, dims=1)
    assert r.period == (1,) and not r.uneven and r.max == 3 * 2**500


# ---------------------------------------------------------------- against a path count


def path_counts(specs, positions):
    """Interior counts by counting paths backwards through the stack (no periods used).

    Output ``o`` of a layer receives input ``i`` through tap ``j`` when ``o + p = i s + j d``;
    the input of the first layer is all ones, unbounded.
    """
    axis = [s.axis(0) for s in specs]

    @lru_cache(maxsize=None)
    def count(n, o):
        if n == 0:
            return 1
        k, s, p, _op, d = axis[n - 1]
        return sum(count(n - 1, (o + p - j * d) // s) for j in range(k)
                   if (o + p - j * d) % s == 0)

    return np.array([count(len(axis), int(o)) for o in positions], dtype=object)


@st.composite
def small_stack(draw):
    def one():
        k, s, d = draw(st.integers(1, 6)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
        return TransposedConvSpec(k, s, draw(st.integers(0, 6)), 0, d)

    return [one() for _ in range(draw(st.integers(1, 5)))]


@settings(max_examples=120, deadline=None)
@given(specs=small_stack())
def test_reduced_periods_match_a_path_count(specs):
    r = overlap(specs, dims=1)
    lattice = math.prod(s.stride[0] for s in specs)
    assert r.lattice_period == (lattice,)
    truth = path_counts(specs, range(2 * lattice))
    # the reported vector is one fundamental period of the true counts
    np.testing.assert_array_equal(r.axis_interior[0][np.arange(2 * lattice) % r.period[0]],
                                  truth)
    smallest = next(q for q in range(1, lattice + 1)
                    if all(truth[i] == truth[i + q] for i in range(lattice)))
    assert r.period == (smallest,)
    assert (r.max, r.min) == (max(truth), min(truth))
    if r.min:
        assert r.explanation.startswith("even") == (r.max == r.min)


# ---------------------------------------------------------------- what is printed


@settings(max_examples=200, deadline=None)
@given(hi=st.integers(1, 10**6), lo=st.integers(1, 10**6))
def test_ratios_are_printed_reduced(hi, lo):
    a, b = map(int, ratio_text(hi, lo).split(":"))
    assert math.gcd(a, b) == 1 and a * lo == b * hi


def test_explanation_and_title_reduce_the_ratio():
    r = overlap([(4, 2), (3, 2)], dims=1)  # counts 4 and 2
    assert (r.max, r.min) == (4, 2)
    assert r.explanation.startswith("uneven 2:1 (period 2, counts 4 and 2)")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 40), min_size=1, max_size=30))
def test_legend_ranges_hold_every_cell(values):
    text = render_map(values, legend=True).splitlines()
    cells, legend = text[0], text[1]
    ranges = {}
    for entry in legend.split("  "):
        shade, span = entry.split(" = ")
        lo, _, hi = span.partition("..")
        ranges[" " if shade == "(blank)" else shade] = (int(lo), int(hi or lo))
    assert set(ranges) == set(cells)  # every shade drawn is explained, and only those
    for ch, v in zip(cells, values):
        lo, hi = ranges[ch]
        assert lo <= v <= hi
    assert all(ch in SHADES or ch == " " for ch in cells)
    spans = sorted(ranges.values())
    assert all(a[1] < b[0] for a, b in zip(spans, spans[1:]))  # ranges never overlap
