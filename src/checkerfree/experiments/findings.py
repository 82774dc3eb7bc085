"""Findings beyond the article, measured the same way as its claims.

- ``finding-resize-init``: a nearest resize-convolution generator has equal polyphase sums,
  yet its phases differ in *variance* (each phase sums a different subset of the 3x3 taps on
  the same input pixels); a ReLU turns a phase-dependent variance into a phase-dependent
  mean, which the next layers carry as a weak periodic pattern. Measured as the score of the
  latent-averaged output of each network (its systematic part; the random part averages
  out) of random-init
  generators with ReLU and with linear activations.
- ``finding-fix-cost``: what each fix costs against deconvolution: PSNR after equal training
  and time per training step (from the super-resolution runs), and forward+backward time of
  the layer alone.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from checkerfree.experiments.claim import Claim, headline, summary
from checkerfree.experiments.generators import Generator, to_grey_levels

__all__ = ["FIXES", "fix_cost", "layer_time", "resize_init"]

PERIODS = (2, 4, 8, 16)

#: The artifact-free upsamplers ``finding-fix-cost`` prices against deconvolution k=3.
FIXES = ("resize-nearest", "resize-bilinear", "subpixel-icnr", "deconv-k3-hold")


def _decision_values(result) -> list[float]:
    """Per item, the largest value among the significant periods (0 when none is).

    What ``flagged`` compares with the threshold: on 64x64 outputs a period-16 value
    scatters widely when it is not significant (its floor has few bins), and such a value
    says nothing about the flag (``ScoreResult.reason`` says so item by item).
    """
    values = torch.stack([result.periods[s] for s in PERIODS], -1)
    significant = torch.stack([result.significance[s] > result.required[s] for s in PERIODS],
                              -1)
    return torch.where(significant, values, torch.zeros_like(values)).amax(-1).tolist()


def _mean_image_scores(activation: str, width: int, seeds, batch: int):
    from checkerfree.score.checkerboard import checkerboard_score

    per_sample, systematic = [], {s: [] for s in PERIODS}
    for seed in seeds:
        torch.manual_seed(seed)
        g = Generator(["resize-nearest"] * 4, width=width, activation=activation)
        with torch.no_grad():
            y = to_grey_levels(g(torch.randn(batch, g.latent)))
        per_sample += _decision_values(checkerboard_score(y, periods=PERIODS, hotspot=False))
        # The latent-averaged output of one network keeps only what all its samples share:
        # its periodic mean (its sign and phase differ between networks, so not across seeds).
        mean = checkerboard_score(y.mean(0, keepdim=True), periods=PERIODS, hotspot=False)
        for s in PERIODS:
            systematic[s].append(float(mean.periods[s][0]))
    return per_sample, {str(s): float(np.mean(v)) for s, v in systematic.items()}


def resize_init(ctx) -> Claim:
    """ReLU vs linear resize-convolution generators at init: the periodic mean."""
    from checkerfree.experiments.figures import line_plot
    from checkerfree.score.checkerboard import DEFAULT_THRESHOLD

    seeds = list(range(ctx.pick(16, 64)))
    widths = (16, 64)
    table = {}
    for width in widths:
        for act in ("relu", "linear"):
            per_sample, systematic = _mean_image_scores(act, width, seeds, batch=8)
            table[f"width {width}, {act}"] = {"per_sample_score": summary(per_sample),
                                              "periodic_mean": systematic}
    relu = [max(table[f"width {w}, relu"]["periodic_mean"].values()) for w in widths]
    linear = [max(table[f"width {w}, linear"]["periodic_mean"].values()) for w in widths]
    fig, _ = line_plot(list(PERIODS), {k: [v["periodic_mean"][str(s)] for s in PERIODS]
                                       for k, v in table.items()},
                       "period", "score of the latent-averaged output (grey levels)",
                       "resize-convolution generators at init: the periodic mean")
    fig.axes[0].set_xscale("log", base=2)
    fig.axes[0].set_xticks(list(PERIODS), [str(p) for p in PERIODS])
    weak = all(v["per_sample_score"]["mean"] < DEFAULT_THRESHOLD for v in table.values())
    return Claim(
        id="finding-resize-init",
        statement="Resize-convolution generators are not exactly artifact-free at init: ReLU "
                  "turns the phases' unequal variances into a weak periodic mean (below the "
                  "flag threshold); with linear activations it vanishes.",
        measured={"generators": table, "max_periodic_mean_relu": relu,
                  "max_periodic_mean_linear": linear, "widths": list(widths),
                  "threshold": DEFAULT_THRESHOLD, "latents": len(seeds) * 8},
        holds=all(r > 3 * max(li, 1e-3) and r > 0.02 for r, li in zip(relu, linear)) and weak,
        rule="for each width, the largest per-period score (mean over seeds) of each network's "
             "latent-averaged output with "
             "ReLU exceeds 0.02 grey levels and 3x that with linear activations, while the "
             "mean per-sample decision value (the largest significant period's value, 0 when "
             f"none is significant) stays below the {DEFAULT_THRESHOLD} flag threshold",
        figures=[ctx.save_figure(fig, "resize_init_periodic_mean")],
        seeds=seeds,
        headline=[*(headline(f"periodic mean, ReLU, width {w}", r, "grey levels")
                    for w, r in zip(widths, relu)),
                  headline("periodic mean, linear (largest)", max(linear), "grey levels"),
                  headline("per-sample decision value, largest mean",
                           max(v["per_sample_score"]["mean"] for v in table.values()),
                           "grey levels")],
    )


def layer_time(kind: str, repeats: int, channels: int = 64, size: int = 32) -> float:
    """Median milliseconds of forward+backward of one x2 upsampler on (8, C, size, size)."""
    from checkerfree.experiments.upsamplers import make_upsampler

    torch.manual_seed(0)
    m = make_upsampler(kind, channels, channels)
    x = torch.randn(8, channels, size, size, requires_grad=True)
    times = []
    for i in range(repeats + 2):
        t0 = time.perf_counter()
        m(x).sum().backward()
        if i >= 2:  # the first calls pay one-off allocation costs
            times.append(time.perf_counter() - t0)
    return 1000 * float(np.median(times))


def _fix_cost_figure(rows: dict, fixes: list[str]):
    """PSNR gain against time ratio, one marker per upsampler, named in a legend (labels
    written beside close points collide); dashed lines: the claim's limits."""
    from checkerfree.experiments.figures import FONT, pyplot

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.2, 4.2), layout="constrained")
    markers = "osD^vP*X"
    for i, (kind, r) in enumerate(rows.items()):
        role = "fix" if kind in fixes else ("baseline" if kind == "deconv-k3" else "other")
        ax.scatter(r["layer_time_over_deconv"], r["psnr_minus_deconv"], s=70,
                   marker=markers[i % len(markers)], label=f"{kind} ({role})", zorder=3)
    ax.axhline(-0.5, color="tab:green", ls="--", lw=1)
    ax.axvline(4, color="tab:green", ls="--", lw=1)
    ax.axhline(0, color="grey", lw=1)
    ax.set_xlabel("layer forward+backward time / deconv k=3", fontsize=FONT)
    ax.set_ylabel("PSNR - deconv k=3 (dB)", fontsize=FONT)
    ax.set_title("cost of each fix (x4 super-resolution); dashed: the claim's limits",
                 fontsize=FONT)
    ax.tick_params(labelsize=FONT - 1)
    ax.grid(alpha=.3)
    ax.legend(fontsize=FONT - 2, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return fig


def fix_cost(ctx) -> Claim:
    """PSNR and time of each fix against deconvolution k=3."""
    from checkerfree.experiments.training import sr_results, sr_table

    # Its own upsamplers, not the run's: the same numbers with --only as in a full run.
    table = sr_table(sr_results(ctx, ("deconv-k3", *FIXES)))
    base = table["deconv-k3"]
    repeats = ctx.pick(5, 20)
    rows = {}
    for kind, row in table.items():
        rows[kind] = {"psnr": row["psnr"]["mean"], "score": row["score"]["mean"],
                      "psnr_minus_deconv": row["psnr"]["mean"] - base["psnr"]["mean"],
                      "train_step_ms": row["step_ms"]["mean"],
                      "layer_fwd_bwd_ms": layer_time(kind, repeats)}
    t0 = rows["deconv-k3"]["layer_fwd_bwd_ms"]
    for r in rows.values():
        r["layer_time_over_deconv"] = r["layer_fwd_bwd_ms"] / t0
    fixes = list(FIXES)
    fig = _fix_cost_figure(rows, fixes)
    return Claim(
        id="finding-fix-cost",
        statement="The article's fixes cost little: each artifact-free upsampler (nearest and "
                  "bilinear resize-convolution, ICNR sub-pixel, deconvolution + hold) reaches "
                  "at least deconvolution's PSNR minus 0.5 dB at equal training and runs at "
                  "most 4x deconvolution's layer time.",
        measured={"upsamplers": rows, "timing": f"median of {repeats}, 8x64x32x32 input, "
                                                f"{torch.get_num_threads()} thread(s)"},
        holds=all(rows[k]["psnr_minus_deconv"] >= -0.5 and rows[k]["layer_time_over_deconv"] <= 4
                  for k in fixes),
        rule="for each fix, PSNR - PSNR(deconv k=3) >= -0.5 dB and layer forward+backward "
             "time <= 4x deconv k=3's (timings vary between machines; PSNR does not)",
        figures=[ctx.save_figure(fig, "fix_cost")],
        seeds=ctx.pick([0, 1], [0, 1, 2]),
        headline=[headline("worst PSNR of a fix - deconv k=3",
                           min(rows[k]["psnr_minus_deconv"] for k in fixes), "dB"),
                  headline("slowest fix's layer time / deconv k=3",
                           max(rows[k]["layer_time_over_deconv"] for k in fixes), "x"),
                  *(headline(f"{k}: layer time / deconv k=3",
                             rows[k]["layer_time_over_deconv"], "x") for k in fixes[:2])],
    )
