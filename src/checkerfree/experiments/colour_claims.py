"""``bright-colours``: the artifact grows with the distance of the colour from the average.

A decoder (colour ``c`` in RGB -> linear -> 4x4 -> three k=3 s=2 transposed convolutions ->
32x32 RGB) is trained to paint flat images of colour ``c``, with colours drawn from the pixels
of the training photographs (a real colour distribution). The bias gives the average colour
for free; a colour far from it needs large deconvolution contributions, whose uneven
overlap then shows. Measured on held-out colours: the score against the distance
``|c - mean colour|``, with ReLU and with no activation (linear), several seeds.

>>> m = ColourDecoder("relu")
>>> m(torch.rand(2, 3)).shape
torch.Size([2, 3, 32, 32])
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from checkerfree.experiments.claim import Claim, headline, summary

__all__ = ["ColourDecoder", "bright_colours", "photo_colours"]


class ColourDecoder(nn.Module):
    """Colour (N, 3) -> flat-colour image (N, 3, 32, 32) through k=3 s=2 deconvolutions."""

    def __init__(self, activation: str = "relu", width: int = 32):
        super().__init__()
        self.width = width
        self.project = nn.Linear(3, width * 16)
        self.act = nn.ReLU() if activation == "relu" else nn.Identity()
        self.ups = nn.ModuleList([nn.ConvTranspose2d(width, width, 3, 2, 1, 1),
                                  nn.ConvTranspose2d(width, width, 3, 2, 1, 1),
                                  nn.ConvTranspose2d(width, 3, 3, 2, 1, 1)])

    def forward(self, c: torch.Tensor) -> torch.Tensor:
        x = self.act(self.project(c).view(-1, self.width, 4, 4))
        for i, up in enumerate(self.ups):
            x = up(x)
            if i < len(self.ups) - 1:
                x = self.act(x)
        return x


def photo_colours(n: int, seed: int) -> torch.Tensor:
    """``n`` pixel colours drawn at random from the training photographs, ``(n, 3)``."""
    from checkerfree.experiments.data import photo_crops

    return photo_crops(n, 1, seed)[:, :, 0, 0]


def _train(activation: str, seed: int, steps: int) -> ColourDecoder:
    torch.manual_seed(seed)
    model = ColourDecoder(activation)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    colours = photo_colours(steps * 32, seed=2000 + seed)
    for step in range(steps):
        c = colours[step * 32:(step + 1) * 32]
        loss = F.mse_loss(model(c), c[:, :, None, None].expand(-1, -1, 32, 32))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return model


def _spearman(a, b) -> float:
    """Spearman's rank correlation (Pearson of the ranks; ties get their mean rank)."""

    def ranks(v):
        v = np.asarray(v, dtype=float)
        _, inverse, counts = np.unique(v, return_inverse=True, return_counts=True)
        mean_rank = np.cumsum(counts) - (counts - 1) / 2.0
        return mean_rank[inverse]

    return float(np.corrcoef(ranks(a), ranks(b))[0, 1])


def bright_colours(ctx) -> Claim:
    """Score against colour distance from the mean, ReLU and linear decoders."""
    from checkerfree.experiments.figures import image_grid, pyplot
    from checkerfree.score.checkerboard import checkerboard_score

    seeds = list(range(ctx.pick(2, 4)))
    steps = ctx.pick(600, 2000)
    mean_colour = photo_colours(20000, seed=7).mean(0)
    test = photo_colours(128, seed=99)
    dist = (test - mean_colour).norm(dim=1).numpy()
    per_act, points, samples = {}, {}, {}
    for act in ("relu", "linear"):
        corr, amp, near, far = [], [], [], []
        points[act] = ([], [])
        for seed in seeds:
            ctx.log(f"bright-colours: training {act} decoder, seed {seed}")
            model = _train(act, seed, steps)
            with torch.no_grad():
                out = model(test)
            score = checkerboard_score((out * 255), periods=(2, 4, 8),
                                       hotspot=False).score.numpy()
            corr.append(_spearman(dist, score))
            amp.append(float(score.mean()))
            order = np.argsort(dist)
            q = len(order) // 4
            near.append(float(score[order[:q]].mean()))
            far.append(float(score[order[-q:]].mean()))
            points[act][0].extend(dist.tolist())
            points[act][1].extend(score.tolist())
            if seed == seeds[0]:
                samples[act] = [out[i].clamp(0, 1) for i in (order[0], order[q * 2],
                                                             order[-1])]
        per_act[act] = {"spearman": summary(corr), "mean_score": summary(amp),
                        "score_nearest_quarter": summary(near),
                        "score_farthest_quarter": summary(far)}
    relu = per_act["relu"]
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.2, 3.4))
    for act, (x, y) in points.items():
        ax.scatter(x, y, s=8, alpha=.5, label=act)
    ax.set_xlabel("distance of the colour from the mean colour (RGB, 0..1)")
    ax.set_ylabel("checkerboard score (grey levels)")
    ax.set_title("trained flat-colour decoders, held-out colours", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=.3)
    fig.tight_layout()
    figures = [ctx.save_figure(fig, "colour_score_vs_distance")]
    fig, _ = image_grid([samples["relu"], samples["linear"]],
                        ["nearest the mean", "median distance", "farthest"], ["ReLU", "linear"])
    figures.append(ctx.save_figure(fig, "colour_samples"))
    return Claim(
        id="bright-colours",
        statement="Artifacts are most prominent where the output colour is far from the "
                  "average colour (the bias gives the average cheaply; ReLU zeroing "
                  "strengthens the pattern).",
        measured={"activations": per_act, "steps": steps, "test_colours": len(test),
                  "mean_colour": mean_colour.tolist()},
        holds=relu["spearman"]["mean"] > 0.5
        and relu["score_farthest_quarter"]["mean"] > 2 * relu["score_nearest_quarter"]["mean"]
        and relu["mean_score"]["mean"] > per_act["linear"]["mean_score"]["mean"],
        rule="with ReLU, the Spearman correlation between a held-out colour's distance from "
             "the mean colour and the output's score exceeds 0.5 (mean over seeds), the "
             "farthest quarter of colours scores over 2x the nearest quarter, and the ReLU "
             "decoder's mean score exceeds the linear decoder's",
        figures=figures,
        seeds=seeds,
        headline=[headline("Spearman(distance from mean colour, score), ReLU",
                           relu["spearman"]["mean"], ""),
                  headline("farthest / nearest quarter score, ReLU",
                           relu["score_farthest_quarter"]["mean"]
                           / max(relu["score_nearest_quarter"]["mean"], 1e-6), "x"),
                  headline("mean score, ReLU", relu["mean_score"]["mean"], "grey levels"),
                  headline("mean score, linear", per_act["linear"]["mean_score"]["mean"],
                           "grey levels")],
    )
