"""``grad-jitter``: DeepDream at a fixed position paints the network's stride pattern; jitter
removes it.

Input optimisation (Mordvintsev et al. 2015): start from a held-out grey photograph crop and
take normalised gradient-ascent steps on the squared activations of the second stage of the
strided texture classifier (:mod:`~.classifiers`; three k=3 s=2 convolutions, total stride
8). Before each step the image is rolled by a random offset drawn from ``0..J-1`` per axis
and rolled back after ("jitter"): ``J = 1`` is no jitter, ``J = 2`` a small jitter, ``J = 8``
the network's total stride (the offsets then cover the whole lattice period). The score is
measured on the change the optimisation made (dream minus start), in grey levels.

>>> dream(torch.nn.Conv2d(1, 2, 3, 2), torch.rand(1, 1, 16, 16), steps=2, jitter=2, seed=0).shape
torch.Size([1, 1, 16, 16])
"""

from __future__ import annotations

import torch

from checkerfree.experiments.claim import Claim, headline, summary
from checkerfree.experiments.classifiers import trained_classifiers

__all__ = ["JITTERS", "dream", "grad_jitter"]

JITTERS = (1, 2, 8)
STEP = 0.01


def dream(layer, x: torch.Tensor, steps: int, jitter: int, seed: int) -> torch.Tensor:
    """Gradient ascent of ``mean(layer(x)**2)`` on ``x`` with jitter ``J``; values kept in
    ``[0, 1]``; each step moves by ``STEP`` times the gradient over its mean magnitude."""
    gen = torch.Generator().manual_seed(seed)
    x = x.clone()
    for _ in range(steps):
        dy, dx = (int(v) for v in torch.randint(jitter, (2,), generator=gen))
        xr = torch.roll(x, (dy, dx), dims=(2, 3)).requires_grad_(True)
        layer(xr).pow(2).mean().backward()
        g = torch.roll(xr.grad, (-dy, -dx), dims=(2, 3))
        x = (x + STEP * g / g.abs().mean().clamp_min(1e-12)).clamp(0, 1).detach()
    return x


def _start(size: int) -> torch.Tensor:
    from checkerfree.experiments.data import validation_images

    rgb = validation_images(size)
    return (rgb * torch.tensor([0.299, 0.587, 0.114])[:, None, None]).sum(1, keepdim=True)


def grad_jitter(ctx) -> Claim:
    """Score of the dream's change for each jitter, several seeds and start images."""
    from checkerfree.experiments.figures import image_grid, line_plot
    from checkerfree.score.checkerboard import checkerboard_score

    model = trained_classifiers(ctx, ["strided"])["strided"][0][0]
    layer = model[:4]  # two strided stages and their ReLUs
    for p in model.parameters():
        p.requires_grad_(False)
    steps = ctx.pick(40, 120)
    seeds = list(range(ctx.pick(2, 4)))
    starts = _start(ctx.pick(96, 128))
    table, shown = {}, []
    for j in JITTERS:
        values, per = [], {s: [] for s in (2, 4, 8)}
        for seed in seeds:
            ctx.log(f"grad-jitter: jitter {j}, seed {seed}")
            out = dream(layer, starts, steps, j, seed)
            r = checkerboard_score((out - starts) * 255, periods=(2, 4, 8), hotspot=False)
            values += r.score.tolist()
            for s in per:
                per[s] += r.periods[s].tolist()
            if seed == seeds[0]:
                shown.append(out[0, 0])
        table[str(j)] = {"score": summary(values),
                         "periods": {str(s): summary(v) for s, v in per.items()}}
    none, small, tied = (table[str(j)]["score"]["mean"] for j in JITTERS)
    fig, _ = image_grid([[starts[0, 0]] + shown], ["start"] + [
        "no jitter" if j == 1 else f"jitter 0..{j - 1}" for j in JITTERS], [""], size=2.6)
    figures = [ctx.save_figure(fig, "deepdream")]
    fig, _ = line_plot(list(JITTERS), {"score of the change": [table[str(j)]["score"]["mean"]
                                                                for j in JITTERS]},
                       "jitter J (offsets 0..J-1; 8 = total stride)", "score (grey levels)",
                       "DeepDream on a strided classifier",
                       errors={"score of the change": [table[str(j)]["score"]["std"]
                                                       for j in JITTERS]})
    figures.append(ctx.save_figure(fig, "deepdream_score_vs_jitter"))
    return Claim(
        id="grad-jitter",
        statement="DeepDream-style optimisation at a fixed position develops severe artifacts; "
                  "random offsets (\"jitter\") reduce them.",
        measured={"jitter": table, "steps": steps, "step": STEP,
                  "reduction_tied_jitter": none / max(tied, 1e-6),
                  "unit": "grey levels, score of (dream - start)"},
        holds=none > 5 * max(tied, 1e-6) and none > small and none > 1.0,
        rule="without jitter the change scores above 1 grey level, jitter over the total "
             "stride (offsets 0..7) cuts the score more than 5x, and a small jitter "
             "(offsets 0..1) also reduces it",
        figures=figures,
        seeds=seeds,
        headline=[headline("score of the change, no jitter", none, "grey levels"),
                  headline("score of the change, jitter 0..1", small, "grey levels"),
                  headline("score of the change, jitter 0..7", tied, "grey levels"),
                  headline("reduction by jitter 0..7", none / max(tied, 1e-6), "x")],
    )
