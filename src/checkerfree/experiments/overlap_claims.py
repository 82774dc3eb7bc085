"""Claims about the geometry of transposed convolutions: exact maps, no training.

- ``overlap-1d``: uneven overlap iff ``k mod s != 0``; k=3, s=2 gives 2:1;
- ``overlap-2d``: the axes multiply, k=3, s=2 gives 4:1 (2D ratio = 1D ratio squared);
- ``overlap-stack``: n stacked stride-2 layers give patterns of periods 2, 4, ... 2^n;
- ``stride1-dampens``: a final stride-1 box convolution of width m removes the periods that
  divide m exactly, never amplifies, and lets low frequencies (long periods) leak through.

All counts come from :func:`checkerfree.overlap` (exact integers); the periods present are
measured with :func:`checkerfree.score.checkerboard.checkerboard_score` on the tiled maps.

>>> from checkerfree.experiments.context import Context
>>> import tempfile
>>> overlap_1d(Context(tempfile.mkdtemp())).holds
True
"""

from __future__ import annotations

import numpy as np
import torch

from checkerfree.experiments.claim import Claim, headline
from checkerfree.overlap import overlap

__all__ = ["overlap_1d", "overlap_2d", "overlap_stack", "stack_pattern", "stride1_dampens"]

# The article's stack: k=3, s=2 with the padding that doubles the size exactly.
_LAYER = (3, 2, 1, 1)


def overlap_1d(ctx) -> Claim:
    """Uneven iff k mod s != 0, over k = 1..9 and s = 1..4 (k >= s); k=3 s=2 is 2:1."""
    from checkerfree.report.overlap_plots import plot_overlap_1d

    table, mismatches = [], []
    for s in range(1, 5):
        for k in range(s, 10):
            r = overlap([(k, s)], dims=1)
            table.append({"k": k, "s": s, "ratio": r.ratio, "uneven": r.uneven})
            if r.uneven != (k % s != 0):
                mismatches.append([k, s])
    main = overlap([(3, 2)], dims=1)
    fig, _ = plot_overlap_1d([(3, 2)], size=6)
    figures = [ctx.save_figure(fig, "overlap_1d_k3_s2")]
    fig, _ = plot_overlap_1d([(3, 2), (3, 2)], size=4)
    figures.append(ctx.save_figure(fig, "overlap_1d_two_layers"))
    uneven = [f"{t['k']}:{t['s']}" for t in table if t["uneven"]]
    return Claim(
        id="overlap-1d",
        statement="Uneven overlap iff kernel size is not divisible by stride; k=3, s=2 gives "
                  "some outputs twice the contributions of others.",
        measured={"k3_s2": {"interior": main.interior.tolist(), "max": main.max,
                            "min": main.min, "ratio": main.ratio},
                  "cases_checked": len(table), "mismatches": mismatches,
                  "uneven_cases": uneven},
        holds=main.ratio == 2.0 and not mismatches,
        rule="the exact 1D map of k=3 s=2 has max:min = 2, and for every k = s..9, "
             "s = 1..4 the map is uneven exactly when k mod s != 0",
        figures=figures,
        headline=[headline("max:min contributions, k=3 s=2", main.ratio, "x"),
                  headline("cases where unevenness differs from k mod s != 0",
                           len(mismatches), f"of {len(table)}"),
                  headline("uneven cases (k = s..9, s = 1..4)", len(uneven), f"of {len(table)}")],
    )


def overlap_2d(ctx) -> Claim:
    """The 2D ratio is the square of the 1D ratio; k=3, s=2 gives 4:1."""
    from checkerfree.report.overlap_plots import plot_overlap_2d

    cases = [(3, 2), (5, 2), (4, 2), (5, 3), (7, 4)]
    rows = []
    for k, s in cases:
        r1, r2 = overlap([(k, s)], dims=1), overlap([(k, s)], dims=2)
        rows.append({"k": k, "s": s, "ratio_1d": r1.ratio, "ratio_2d": r2.ratio,
                     "squared": r2.ratio == r1.ratio ** 2})
    main = overlap([(3, 2)], dims=2)
    figures = [ctx.save_figure(plot_overlap_2d(main)[0], "overlap_2d_k3_s2"),
               ctx.save_figure(plot_overlap_2d(overlap([(4, 2, 1)], dims=2))[0],
                               "overlap_2d_k4_s2")]
    return Claim(
        id="overlap-2d",
        statement="In 2D the two axes' patterns multiply: k=3, s=2 gives 4:1.",
        measured={"k3_s2": {"interior": main.interior.tolist(), "ratio": main.ratio},
                  "cases": rows},
        holds=main.ratio == 4.0 and all(r["squared"] for r in rows),
        rule="the exact 2D map of k=3 s=2 has max:min = 4, and for every case checked the "
             "2D ratio equals the 1D ratio squared",
        figures=figures,
        headline=[headline("max:min contributions, k=3 s=2 in 2D", main.ratio, "x"),
                  headline("cases where 2D ratio = (1D ratio)^2",
                           sum(r["squared"] for r in rows), f"of {len(rows)}")],
    )


def stack_pattern(layers: int, size: int = 64) -> torch.Tensor:
    """The interior contribution map of ``layers`` stacked k=3 s=2 layers, tiled to ``size``,
    scaled to mean 128 (a grey image whose only content is the overlap pattern)."""
    r = overlap([_LAYER] * layers, dims=2)
    reps = -(-size // r.interior.shape[0])
    m = np.tile(r.interior.astype(np.float64), (reps, reps))[:size, :size]
    return torch.from_numpy(128.0 * m / m.mean())


def overlap_stack(ctx) -> Claim:
    """n stacked stride-2 layers: fundamental period 2^n, lattice energy at periods 2..2^n."""
    from checkerfree.report.overlap_plots import plot_overlap_stack
    from checkerfree.score.checkerboard import checkerboard_score

    periods = (2, 4, 8, 16)
    rows, ok = [], True
    for n in (1, 2, 3):
        r = overlap([_LAYER] * n, dims=2)
        values = checkerboard_score(stack_pattern(n), periods=periods).periods
        v = {s: float(values[s][0]) for s in periods}
        present = [s for s in periods if v[s] > 0.1]
        expected = [2 ** i for i in range(1, n + 1)]
        ok &= list(r.period) == [2 ** n] * 2 and present == expected
        rows.append({"layers": n, "period": list(r.period), "ratio": r.ratio,
                     "value_per_period": v, "periods_present": present,
                     "expected": expected})
    fig, _ = plot_overlap_stack([_LAYER] * 3)
    return Claim(
        id="overlap-stack",
        statement="Stacked deconvolutions compound into artifacts on several scales "
                  "(periods 2, 4, 8 for 1, 2, 3 stride-2 layers).",
        measured={"stacks": rows, "unit": "peak-to-peak amplitude of the lattice component, "
                                          "map scaled to mean 128"},
        holds=ok,
        rule="for n = 1, 2, 3 stacked k=3 s=2 layers the exact map has fundamental period "
             "2^n per axis, and the periods carrying lattice energy (> 0.1) are exactly "
             "2, ..., 2^n",
        figures=[ctx.save_figure(fig, "overlap_stack")],
        headline=[headline("max:min contributions, 3 layers", rows[-1]["ratio"], "x")]
        + [headline(f"longest period, {r['layers']} layer{'s' * (r['layers'] > 1)}",
                    max(r["periods_present"]), "px") for r in rows],
    )


def _box(x: torch.Tensor, m: int) -> torch.Tensor:
    """Stride-1 box filter of width m, circular (the pattern is periodic: no border)."""
    k = torch.full((1, 1, m, m), 1.0 / m**2, dtype=x.dtype)
    lo = (m - 1) // 2
    xp = torch.nn.functional.pad(x, (lo, m - 1 - lo, lo, m - 1 - lo), mode="circular")
    return torch.nn.functional.conv2d(xp, k)


def stride1_dampens(ctx) -> Claim:
    """Box filters of width m = 1..8 on the 3-layer stack's pattern: removal, damping, leak."""
    from checkerfree.experiments.figures import image_grid, line_plot
    from checkerfree.score.checkerboard import checkerboard_score

    periods = (2, 4, 8)
    x = stack_pattern(3)[None, None]
    before = {s: float(v[0]) for s, v in checkerboard_score(x, periods=periods).periods.items()}
    sizes = list(range(1, 9))
    kept = {s: [] for s in periods}
    filtered = {}
    for m in sizes:
        y = _box(x, m)
        filtered[m] = y
        after = checkerboard_score(y, periods=periods).periods
        for s in periods:
            kept[s].append(float(after[s][0]) / before[s])
    removed_ok = all(kept[s][m - 1] < 1e-6 for m in sizes for s in periods if m % s == 0)
    never_amplified = all(k <= 1 + 1e-6 for s in periods for k in kept[s])
    leak = {s: kept[s][2] for s in periods}  # width 3: the usual final convolution
    fig, _ = line_plot(sizes, {f"period {s}": kept[s] for s in periods},
                       "width m of the final stride-1 box convolution",
                       "fraction of the artifact kept",
                       "3 stacked k=3 s=2 layers, then a stride-1 box filter")
    figures = [ctx.save_figure(fig, "stride1_kept_vs_width")]
    # One grey scale for the four maps (the unfiltered map's range), with its colour bar.
    show = [[x[0, 0]] + [filtered[m][0, 0] for m in (2, 3, 4)]]
    fig, _ = image_grid(show, ["no final conv", "box 2", "box 3", "box 4"], [""],
                        heat=(0, 1, 2, 3), heat_min=float(x.min()), heat_max=float(x.max()),
                        heat_cmap="gray", heat_label="map value (mean 128)")
    figures.append(ctx.save_figure(fig, "stride1_patterns"))
    return Claim(
        id="stride1-dampens",
        statement="A final stride-1 convolution dampens artifacts: it removes those whose "
                  "frequency divides its size and reduces others, but lower-frequency "
                  "artifacts leak through.",
        measured={"before": before, "widths": sizes,
                  "fraction_kept": {str(s): kept[s] for s in periods},
                  "width3_fraction_kept": leak, "removed_when_period_divides_width": removed_ok,
                  "never_amplified": never_amplified},
        holds=removed_ok and never_amplified and leak[8] > leak[4] > 0 and leak[8] > leak[2],
        rule="on the exact pattern of 3 stacked k=3 s=2 layers (periods 2, 4, 8), a box "
             "filter of width m leaves < 1e-6 of every period s that divides m, never "
             "increases any period, and at width 3 the period-8 artifact keeps a larger "
             "fraction than the periods 2 and 4 (low frequencies leak)",
        figures=figures,
        headline=[headline(f"period {s} kept by a width-3 box", leak[s], "fraction")
                  for s in sorted(periods, reverse=True)]
        + [headline("largest fraction kept where the period divides the width",
                    max(kept[s][m - 1] for m in sizes for s in periods if m % s == 0),
                    "fraction")],
    )
