"""The article's GAN setting: small GANs on texture and photograph patches, trained once per run.

Data: 32x32 random crops (random flips) of scikit-image's textures and photographs, colour
photographs in RGB and grey ones repeated over the three channels (:func:`gan_crops`). The
generator is :class:`~checkerfree.experiments.generators.Generator` with three x2
upsamplers of one kind (latent 32 -> 32 channels at 4x4 -> 16 -> 8 -> 3 channels at 32x32,
batch norm and ReLU between them, tanh; samples are drawn 64 at once with batch statistics,
as in training); the critic is :class:`~checkerfree.experiments.discriminator.Critic`
(width 16) with a chosen first stride. Widths and batch (16) are small so that a quick run
(300 steps, one thread) trains a GAN in 35 to 80 s on a 2-core machine shared with other
jobs (measured at load averages of about 5 and 10). Hinge loss, Adam (1e-3, betas 0.5/0.9:
at 2e-4, with or without batch norm, 300 steps left every generator collapsed onto one
periodic pattern), one critic step per generator step (the hinge GAN of Miyato et al. 2018;
Odena et al. 2016 compared deconvolution and resize generators in a GAN).

:func:`gan_runs` trains each (generator upsampler, critic first stride, seed) at most once
per run and keeps it in ``ctx.memo["gan"]``: ``trained-artifacts``, ``disc-stride`` and
``bright-colours`` read the same models.

>>> x = gan_crops(4, 16, seed=0)
>>> tuple(x.shape), 0.0 <= float(x.min()) <= float(x.max()) <= 1.0
((4, 3, 16, 16), True)
>>> run = train_gan_run("resize-nearest", 1, seed=0, steps=2, batch=4, samples=2)
>>> tuple(run.samples.shape), run.kind, run.first_stride
((2, 3, 32, 32), 'resize-nearest', 1)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["GAN_PHOTOS", "GANRun", "GANSettings", "fit_gan", "gan_crops", "gan_runs",
           "gan_settings", "real_samples", "run_samples", "score_table", "train_gan_run"]

#: The images the GANs learn from: three textures and three photographs (two in colour).
GAN_PHOTOS = ("brick", "grass", "gravel", "camera", "astronaut", "coffee")
SIZE = 32
#: Fixed seed of the latent codes every generator is evaluated on.
SAMPLE_SEED = 5


@dataclass(frozen=True)
class GANSettings:
    """Steps, batch and seeds of one run's GANs."""

    steps: int = 300
    batch: int = 16
    seeds: tuple = (0,)
    samples: int = 64


def gan_settings(ctx) -> GANSettings:
    """Quick: 300 steps x 1 seed; full: 1000 steps x 3 seeds."""
    return ctx.pick(GANSettings(steps=300, seeds=(0,)),
                    GANSettings(steps=1000, seeds=(0, 1, 2)))


def gan_crops(n: int, size: int, seed: int, names=GAN_PHOTOS) -> torch.Tensor:
    """``n`` random RGB crops ``(n, 3, size, size)`` in ``[0, 1]`` of ``names``, half flipped."""
    from checkerfree.experiments.data import load

    rng = np.random.default_rng(seed)
    images = [load(name) for name in names]
    out = np.empty((n, 3, size, size), dtype=np.float32)
    for i in range(n):
        img = images[rng.integers(len(images))]
        top = rng.integers(img.shape[1] - size + 1)
        left = rng.integers(img.shape[2] - size + 1)
        crop = img[:, top:top + size, left:left + size]
        if rng.random() < 0.5:  # a horizontal flip keeps the pixel lattice where it was
            crop = crop[:, :, ::-1]
        out[i] = crop  # a grey crop (1 channel) broadcasts over the three
    return torch.from_numpy(out)


@dataclass
class GANRun:
    """One trained GAN: generator, critic, their settings and the generator's samples."""

    kind: str
    first_stride: int
    seed: int
    generator: torch.nn.Module = field(repr=False)
    critic: torch.nn.Module = field(repr=False)
    #: ``samples`` images in ``[-1, 1]`` from latents drawn with :data:`SAMPLE_SEED`.
    samples: torch.Tensor = field(repr=False)


def fit_gan(g, d, real: torch.Tensor, steps: int, batch: int, progress=None) -> None:
    """Hinge-loss GAN training of ``g`` against ``d`` on ``real`` (``steps * batch`` images
    in ``[-1, 1]``, used in order), Adam 1e-3, betas (0.5, 0.9); ``progress``: a
    :class:`~checkerfree.experiments.progress.StepProgress` advanced once per step."""
    opt_g = torch.optim.Adam(g.parameters(), lr=1e-3, betas=(0.5, 0.9))
    opt_d = torch.optim.Adam(d.parameters(), lr=1e-3, betas=(0.5, 0.9))
    for step in range(steps):
        x = real[step * batch:(step + 1) * batch]
        fake = g(torch.randn(batch, g.latent))
        loss_d = F.relu(1 - d(x)).mean() + F.relu(1 + d(fake.detach())).mean()
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        loss_g = -d(fake).mean()
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        if progress is not None:
            progress.advance()


def train_gan_run(kind: str, first_stride: int, seed: int, steps: int, batch: int = 16,
                  samples: int = 64, progress=None) -> GANRun:
    """Train one GAN (generator upsampler ``kind``, critic ``first_stride``) with ``seed``."""
    from checkerfree.experiments.discriminator import Critic
    from checkerfree.experiments.generators import Generator

    torch.manual_seed(seed)
    g = Generator([kind] * 3, latent=32, width=32, norm=True, channels=3)
    d = Critic(first_stride, width=16, channels=3)
    # The data seed depends on the seed only: every generator sees the same real images.
    real = gan_crops(steps * batch, SIZE, seed=4000 + seed) * 2 - 1
    fit_gan(g, d, real, steps, batch, progress)
    with torch.no_grad():
        z = torch.randn(samples, g.latent, generator=torch.Generator().manual_seed(SAMPLE_SEED))
        out = g(z)
    return GANRun(kind, first_stride, seed, g, d, out)


def gan_runs(ctx, kind: str, first_stride: int) -> list[GANRun]:
    """Every seed of this run's GAN (``kind``, ``first_stride``), trained once (memoised)."""
    settings = gan_settings(ctx)
    memo = ctx.memo.setdefault("gan", {})
    key = (kind, first_stride)
    if key not in memo:
        runs = []
        for i, seed in enumerate(settings.seeds):
            label = (f"training GAN {kind} generator, critic first stride {first_stride}, "
                     f"seed {seed} ({i + 1}/{len(settings.seeds)})")
            with ctx.steps(label, settings.steps) as progress:
                runs.append(train_gan_run(kind, first_stride, seed, settings.steps,
                                          settings.batch, settings.samples, progress))
        memo[key] = runs
    return memo[key]


def score_table(images: torch.Tensor, periods=(2, 4, 8)) -> dict:
    """Summaries over images ``(N, 3, H, W)`` in ``[-1, 1]`` of the checkerboard score and of
    each period's amplitude, in grey levels (``(x + 1) * 127.5``)."""
    from checkerfree.experiments.claim import summary
    from checkerfree.experiments.generators import to_grey_levels
    from checkerfree.score.checkerboard import checkerboard_score

    r = checkerboard_score(to_grey_levels(images), periods=periods, hotspot=False)
    return {"score": summary(r.score.tolist()),
            "periods": {str(s): summary(r.periods[s].tolist()) for s in periods}}


def run_samples(runs: list[GANRun]) -> torch.Tensor:
    """The samples of every seed's generator, one batch ``(seeds * n, 3, H, W)``."""
    return torch.cat([r.samples for r in runs])


def real_samples(n: int = 64) -> torch.Tensor:
    """``n`` held-out real crops (a seed no training run uses), in ``[-1, 1]``."""
    return gan_crops(n, SIZE, seed=77) * 2 - 1
