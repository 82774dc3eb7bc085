"""Artifacts before any training, decided by where the generator uses deconvolution.

``init-artifacts``: random-init generators (:class:`~.generators.Generator`, batch norm and
ReLU, k=3 s=2 transposed convolutions where the design says so, nearest resize-convolutions
elsewhere), many seeds, a batch of latents each; the checkerboard score per period of the
outputs in grey levels. A deconvolution ``j`` layers before the end paints period ``2^j``
at the output resolution, so: last layer only -> period 2; last two -> periods 2 and 4;
resize everywhere -> none.

>>> r = measure_init({"d": ["resize-nearest"] * 3 + ["deconv-k3"]}, seeds=[0], batch=2, width=32)
>>> r["d"]["value"]["2"]["mean"] > 1.0, r["d"]["value"]["8"]["mean"] < 1.0
(True, True)
"""

from __future__ import annotations

import numpy as np
import torch

from checkerfree.experiments.claim import Claim, headline, summary
from checkerfree.experiments.generators import DESIGNS, Generator, to_grey_levels

__all__ = ["expected_periods", "init_artifacts", "measure_init"]

PERIODS = (2, 4, 8)


def expected_periods(kinds) -> list[int]:
    """Periods a design should show: ``2^j`` for a deconvolution ``j`` layers from the end."""
    n = len(kinds)
    return sorted(2 ** (n - i) for i, k in enumerate(kinds) if k.startswith("deconv")
                  if 2 ** (n - i) in PERIODS)


def measure_init(designs: dict, seeds, batch: int = 8, width: int = 64,
                 keep_samples: bool = False) -> dict:
    """Score per period of random-init generators: ``{design: {"value": {s: summary},
    "flagged_rate": x}}`` (and the first seed's first sample when ``keep_samples``)."""
    from checkerfree.score.checkerboard import (
        DEFAULT_THRESHOLD,
        MIN_SIGNIFICANCE,
        checkerboard_score,
    )

    out = {}
    for name, kinds in designs.items():
        values = {s: [] for s in PERIODS}
        flagged, sample = [], None
        for seed in seeds:
            torch.manual_seed(seed)
            g = Generator(kinds, width=width)
            with torch.no_grad():
                y = to_grey_levels(g(torch.randn(batch, g.latent)))
            r = checkerboard_score(y, periods=PERIODS)
            for s in PERIODS:
                # A period whose peak is not significant reads 0 (as `flagged` reads it).
                values[s] += (r.periods[s] * (r.significance[s] > MIN_SIGNIFICANCE)).tolist()
            flagged += r.flagged.tolist()
            if sample is None:
                sample = y[0]
        present = [s for s in PERIODS if np.mean(values[s]) > DEFAULT_THRESHOLD]
        out[name] = {"value": {str(s): summary(values[s]) for s in PERIODS},
                     "flagged_rate": float(np.mean(flagged)), "periods_present": present,
                     "periods_expected": expected_periods(kinds)}
        if keep_samples:
            out[name]["_sample"] = sample
    return out


def init_artifacts(ctx) -> Claim:
    """The init-artifacts claim (see the module docstring)."""
    from checkerfree.experiments.figures import image_grid, line_plot
    from checkerfree.score.checkerboard import DEFAULT_THRESHOLD
    from checkerfree.score.heatmap import checkerboard_heatmap

    seeds = list(range(ctx.pick(6, 24)))
    batch = 8
    ctx.log(f"init-artifacts: {len(DESIGNS)} designs x {len(seeds)} seeds x {batch} latents")
    results = measure_init(DESIGNS, seeds, batch=batch, keep_samples=True)
    samples = {name: r.pop("_sample") for name, r in results.items()}
    ok = all(r["periods_present"] == r["periods_expected"] for r in results.values())
    resize = results["resize everywhere"]
    ok &= resize["flagged_rate"] < 0.1
    # One column per design, from no deconvolution to deconvolution everywhere, so the
    # artifact grows left to right; the heat maps share one scale in grey levels.
    heats = [checkerboard_heatmap(y[None], periods=PERIODS)[0] for y in samples.values()]
    titles = [f"{name}\n(expected periods: {', '.join(map(str, r['periods_expected'])) or 'none'})"
              for name, r in results.items()]
    fig, _ = image_grid([[y / 255.0 for y in samples.values()], heats], titles,
                        ["sample at init", "artifact heat map (periods 2, 4, 8)"],
                        heat_rows=(1,), size=2.6)
    figures = [ctx.save_figure(fig, "init_samples")]
    fig, _ = line_plot(list(PERIODS), {n: [r["value"][str(s)]["mean"] for s in PERIODS]
                                        for n, r in results.items()},
                       "period", "score (grey levels)", "random-init generators",
                       errors={n: [r["value"][str(s)]["std"] for s in PERIODS]
                               for n, r in results.items()})
    fig.axes[0].axhline(DEFAULT_THRESHOLD, color="grey", ls="--", lw=1)
    fig.axes[0].set_xscale("log", base=2)
    fig.axes[0].set_xticks(list(PERIODS), [str(p) for p in PERIODS])
    figures.append(ctx.save_figure(fig, "init_score_vs_period"))
    return Claim(
        id="init-artifacts",
        statement="Artifacts are visible before any training: a generator with deconvolution "
                  "in its last two layers shows periods 2 and 4; deconvolution only in the "
                  "last layer, period 2; resize-convolution everywhere, none.",
        measured={"designs": results, "threshold": DEFAULT_THRESHOLD,
                  "seeds": len(seeds), "latents_per_seed": batch,
                  "unit": "grey levels (0..255), peak-to-peak amplitude per period"},
        holds=ok,
        rule=f"for every design the periods whose mean score (0 where not significant) exceeds "
             f"{DEFAULT_THRESHOLD} grey level are exactly those expected (2^j for a "
             "deconvolution j layers from the end: last -> [2], last two -> [2, 4], everywhere -> [2, 4, 8], resize -> []), "
             "and fewer than 10% of the resize-everywhere samples are flagged",
        figures=figures,
        seeds=seeds,
        headline=_headline(results),
    )


def _headline(results: dict) -> list[dict]:
    def mean(design, period):
        return results[design]["value"][str(period)]["mean"]

    return [headline("deconv in last layer: period 2", mean("deconv in last layer", 2),
                     "grey levels"),
            headline("deconv in last layer: period 4", mean("deconv in last layer", 4),
                     "grey levels"),
            headline("deconv in last two layers: period 4",
                     mean("deconv in last two layers", 4), "grey levels"),
            headline("resize everywhere: largest period score",
                     max(mean("resize everywhere", s) for s in PERIODS), "grey levels"),
            headline("resize-everywhere samples flagged",
                     100 * results["resize everywhere"]["flagged_rate"], "%")]
