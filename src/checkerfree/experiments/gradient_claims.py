"""``grad-strided``: input gradients of strided convolutions carry a checkerboard.

The backward pass of a stride-2 convolution is a stride-2 transposed convolution, so the
gradient of a classifier's loss with respect to its input shows that layer's overlap
pattern; average pooling and blurred downsampling spread the gradient evenly. Measured on
held-out texture crops: the score of the input gradient, normalised to unit standard
deviation per image (so the number is the pattern's peak-to-peak amplitude in units of the
gradient's own spread).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from checkerfree.experiments.claim import Claim, headline, summary
from checkerfree.experiments.classifiers import DOWNSAMPLING, texture_batch, trained_classifiers

__all__ = ["grad_strided", "input_gradient"]

PERIODS = (2, 4, 8)


def input_gradient(model, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """d(cross-entropy)/d(input), one per image."""
    x = x.clone().requires_grad_(True)
    F.cross_entropy(model(x), y, reduction="sum").backward()
    return x.grad.detach()


def _normalised(g: torch.Tensor) -> torch.Tensor:
    return g / g.flatten(1).std(dim=1).clamp_min(1e-12)[:, None, None, None]


def grad_strided(ctx) -> Claim:
    """Score of the normalised input gradient per downsampling design."""
    from checkerfree.experiments.figures import image_grid
    from checkerfree.score.checkerboard import checkerboard_score

    models = trained_classifiers(ctx)
    x, y = texture_batch(ctx.pick(16, 48), 64, seed=4242)
    table, shown = {}, []
    for design in DOWNSAMPLING:
        scores, per = [], {s: [] for s in PERIODS}
        accs = [acc for _, acc in models[design]]
        for model, _ in models[design]:
            g = _normalised(input_gradient(model, x, y))
            r = checkerboard_score(g, periods=PERIODS, hotspot=False)
            scores += r.score.tolist()
            for s in PERIODS:
                per[s] += r.periods[s].tolist()
            if len(shown) < len(DOWNSAMPLING) and model is models[design][0][0]:
                shown.append(g[0, 0, :32, :32])  # in units of its own std, as measured
        table[design] = {"score": summary(scores), "periods": {str(s): summary(v)
                                                              for s, v in per.items()},
                         "accuracy": summary(accs)}
    st = table["strided"]["score"]["mean"]
    others = max(table["pool"]["score"]["mean"], table["blur"]["score"]["mean"])
    # The gradients on one signed scale (each in units of its own std, as scored): a
    # per-panel stretch would show the smooth ones' faint texture as strongly.
    fig, _ = image_grid([[x[0, 0, :32, :32]] + shown],
                        ["input (crop)"] + [f"gradient, {d}" for d in DOWNSAMPLING], [""],
                        heat=tuple(range(1, len(shown) + 1)), heat_min=-3.0, heat_max=3.0,
                        heat_cmap="RdBu_r", heat_label="gradient / its std")
    return Claim(
        id="grad-strided",
        statement="Gradients through strided convolutions carry checkerboard patterns "
                  "(backward pass = deconvolution); pooling-based or blurred downsampling "
                  "does not.",
        measured={"designs": table, "ratio_strided_over_best_other": st / max(others, 1e-6),
                  "unit": "peak-to-peak amplitude of the lattice component of the input "
                          "gradient, in units of the gradient's standard deviation",
                  "images": int(x.shape[0])},
        holds=st > 0.1 and st > 5 * others,
        rule="the strided classifier's normalised input-gradient score exceeds 0.1 and is "
             "more than 5x the larger of the pooled and blurred classifiers' scores",
        figures=[ctx.save_figure(fig, "gradients")],
        seeds=ctx.memo["classifier_seeds"],
        headline=[*(headline(f"input-gradient score, {d}", table[d]["score"]["mean"],
                             "gradient std") for d in DOWNSAMPLING),
                  headline("strided / best other", st / max(others, 1e-6), "x")],
    )


