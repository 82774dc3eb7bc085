"""``disc-stride``: a critic whose first layer has stride 2 imprints period 2 on the generator.

A small GAN on grey texture patches (scikit-image's brick, grass, gravel; 32x32). The
generator upsamples with ICNR sub-pixel convolutions: artifact-free at init yet free to
learn any phase pattern, so it is neither biased for nor against artifacts. The critic is
three k=3 convolutions and a linear head on global average pooling; only its first layer's
stride changes (2 or 1; with 1 the map it sees stays twice as large). Hinge loss, Adam,
several seeds; the generator's samples are scored per period in grey levels.

>>> g = TextureGenerator()
>>> g(torch.randn(2, g.latent)).shape, Critic(first_stride=2)(torch.zeros(2, 1, 32, 32)).shape
(torch.Size([2, 1, 32, 32]), torch.Size([2]))
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from checkerfree.experiments.claim import Claim, headline, summary
from checkerfree.experiments.data import texture_crops

__all__ = ["Critic", "TextureGenerator", "disc_stride", "train_gan"]

PERIODS = (2, 4, 8)


class TextureGenerator(nn.Module):
    """Latent -> 4x4 -> three ICNR sub-pixel x2 upsamplings -> 32x32 grey, tanh."""

    def __init__(self, latent: int = 32, width: int = 64):
        from checkerfree.layers import SubPixelConv2d

        super().__init__()
        self.latent, self.width = latent, width
        self.project = nn.Linear(latent, width * 16)
        self.body = nn.Sequential(
            nn.ReLU(), SubPixelConv2d(width, width // 2, 3, padding=1, init="icnr"), nn.ReLU(),
            SubPixelConv2d(width // 2, width // 4, 3, padding=1, init="icnr"), nn.ReLU(),
            SubPixelConv2d(width // 4, 1, 3, padding=1, init="icnr"), nn.Tanh())

    def forward(self, z):
        return self.body(self.project(z).view(-1, self.width, 4, 4))


class Critic(nn.Module):
    """Three k=3 convolutions (first stride ``first_stride``, then 2, 2), GAP, linear."""

    def __init__(self, first_stride: int, width: int = 32):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, width, 3, first_stride, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 3, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(2 * width, 2 * width, 3, 2, 1), nn.LeakyReLU(0.2),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2 * width, 1))

    def forward(self, x):
        return self.body(x)[:, 0]


def train_gan(first_stride: int, seed: int, steps: int, batch: int = 32):
    """Train a GAN; return the generator and its 64 evaluation samples in ``[-1, 1]``."""
    torch.manual_seed(seed)
    g, d = TextureGenerator(), Critic(first_stride)
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.9))
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.9))
    real_all = texture_crops(steps * batch, 32, seed=3000 + seed) * 2 - 1
    for step in range(steps):
        real = real_all[step * batch:(step + 1) * batch]
        fake = g(torch.randn(batch, g.latent))
        loss_d = F.relu(1 - d(real)).mean() + F.relu(1 + d(fake.detach())).mean()
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        loss_g = -d(fake).mean()
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
    with torch.no_grad():
        samples = g(torch.randn(64, g.latent, generator=torch.Generator().manual_seed(5)))
    return g, samples


def disc_stride(ctx) -> Claim:
    """Generator score per period after GAN training, critic first stride 2 vs 1."""
    from checkerfree.experiments.figures import image_grid
    from checkerfree.score.checkerboard import DEFAULT_THRESHOLD, checkerboard_score

    seeds = list(range(ctx.pick(2, 4)))
    steps = ctx.pick(400, 2000)
    table, shown = {}, []
    real = texture_crops(64, 32, seed=77)
    real_score = checkerboard_score(real * 255, periods=PERIODS, hotspot=False)
    for stride in (2, 1):
        per = {s: [] for s in PERIODS}
        for seed in seeds:
            ctx.log(f"disc-stride: critic first stride {stride}, seed {seed} ({steps} steps)")
            _, samples = train_gan(stride, seed, steps)
            r = checkerboard_score((samples + 1) * 127.5, periods=PERIODS, hotspot=False)
            for s in PERIODS:
                per[s].append(float(r.periods[s].mean()))
            if seed == seeds[0]:
                shown.append([(samples[i] + 1) / 2 for i in range(4)])
        table[f"first stride {stride}"] = {"periods": {str(s): summary(v)
                                                       for s, v in per.items()}}
    s2 = table["first stride 2"]["periods"]["2"]["mean"]
    s1 = table["first stride 1"]["periods"]["2"]["mean"]
    fig, _ = image_grid([[real[i] for i in range(4)]] + shown, [],
                        ["real textures", "critic stride 2", "critic stride 1"])
    return Claim(
        id="disc-stride",
        statement="A GAN discriminator whose first layer has stride 2 imprints period-2 "
                  "artifacts on a generator that is neither biased for nor against them; a "
                  "stride-1 first layer gives very mild ones.",
        measured={"critics": table, "steps": steps,
                  "real_patches_period2": float(real_score.periods[2].mean()),
                  "period2_ratio_stride2_over_stride1": s2 / max(s1, 1e-3),
                  "threshold": DEFAULT_THRESHOLD,
                  "unit": "grey levels, mean over 64 samples per seed"},
        holds=s2 > DEFAULT_THRESHOLD and s2 > 2 * s1,
        rule=f"with a stride-2 first critic layer the generator's mean period-2 score exceeds "
             f"the {DEFAULT_THRESHOLD} grey-level flag threshold and is more than 2x the "
             "score with a stride-1 first layer",
        figures=[ctx.save_figure(fig, "gan_samples")],
        seeds=seeds,
        headline=[headline("period 2 of the generator, critic stride 2", s2, "grey levels"),
                  headline("period 2 of the generator, critic stride 1", s1, "grey levels"),
                  headline("stride 2 / stride 1", s2 / max(s1, 1e-3), "x")],
    )
