"""Shared tiny trainers: x4 super-resolution with a chosen upsampler, on real photographs.

The model (:class:`SuperResolution`): a 3x3 convolution to ``width`` channels, ReLU, a x2
upsampler, ReLU, a second x2 upsampler straight to RGB. Both upsamplers are of the kind under
test and the last one paints the whole image, as in the article's generators. (With a global
bilinear residual, a variant we tried while building this, per-pixel L1 training drives every
upsampler's artifact below a fifth of a grey level: the residual carries the colours, so the
upsamplers only paint small corrections; without it the comparison is the article's.)

Training: random 4x box-downsampled crops of the training photographs
(:mod:`checkerfree.experiments.data`), L1 loss, Adam. Evaluation: held-out photographs,
PSNR in dB, the checkerboard score in grey levels, and sharpness (mean absolute Laplacian of
the output over that of the ground truth: 1 = as sharp, below 1 = blurrier).

>>> m = SuperResolution("resize-nearest", width=8)
>>> m(torch.zeros(1, 3, 8, 8)).shape
torch.Size([1, 3, 32, 32])
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from checkerfree.experiments.data import downsample, photo_crops, validation_images
from checkerfree.experiments.upsamplers import equivalent_transposed_weight, make_upsampler

__all__ = [
    "SRResult",
    "SRSettings",
    "SuperResolution",
    "evaluate_sr",
    "psnr",
    "sharpness",
    "sr_results",
    "train_sr",
]

SCALE = 4
PERIODS = (2, 4, 8)


class SuperResolution(nn.Module):
    """x4 super-resolution: conv, ReLU, upsampler, ReLU, upsampler to RGB."""

    def __init__(self, kind: str, width: int = 16):
        super().__init__()
        self.kind = kind
        self.head = nn.Conv2d(3, width, 3, padding=1)
        self.up1 = make_upsampler(kind, width, width)
        self.up2 = make_upsampler(kind, width, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.up2(F.relu(self.up1(F.relu(self.head(x)))))


@dataclass(frozen=True)
class SRSettings:
    """Sizes and steps of one training run."""

    steps: int = 1000
    batch: int = 16
    crop: int = 48
    width: int = 32
    lr: float = 2e-3
    val_size: int = 128


@dataclass
class SRResult:
    """What one trained model measured: init and trained scores, PSNR, sharpness, time."""

    kind: str
    seed: int
    psnr: float
    score: float
    periods: dict
    sharpness: float
    init_score: float
    init_periods: dict
    imbalance_init: float | None
    imbalance_trained: float | None
    step_ms: float
    outputs: torch.Tensor = field(repr=False, default=None)


def psnr(x: torch.Tensor, y: torch.Tensor) -> float:
    """Peak signal-to-noise ratio in dB of images in ``[0, 1]`` (peak 1), over the batch."""
    mse = F.mse_loss(x.clamp(0, 1), y).item()
    return 10 * math.log10(1.0 / max(mse, 1e-12))


def sharpness(x: torch.Tensor, ref: torch.Tensor) -> float:
    """Mean absolute Laplacian of ``x`` over that of ``ref`` (1 = as much fine detail)."""
    k = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])
    k = k.expand(x.shape[1], 1, 3, 3)

    def lap(a):
        return F.conv2d(a, k, groups=a.shape[1]).abs().mean().item()

    return lap(x.clamp(0, 1)) / lap(ref)


def _imbalance(model: SuperResolution) -> float | None:
    from checkerfree.overlap import phase_imbalance

    w = equivalent_transposed_weight(model.up2)
    return None if w is None else phase_imbalance(w.detach(), 2)


def evaluate_sr(model: nn.Module, hr: torch.Tensor) -> tuple[dict, torch.Tensor]:
    """PSNR, score, periods and sharpness of ``model`` on high-resolution images ``hr``."""
    from checkerfree.score.checkerboard import checkerboard_score

    with torch.no_grad():
        out = model(downsample(hr, SCALE)).clamp(0, 1)
    r = checkerboard_score(out * 255, periods=PERIODS, hotspot=False)
    return {"psnr": psnr(out, hr), "score": float(r.score.mean()),
            "periods": {s: float(v.mean()) for s, v in r.periods.items()},
            "sharpness": sharpness(out, hr)}, out


def train_sr(kind: str, seed: int, settings: SRSettings, progress=None) -> SRResult:
    """Train one model of ``kind`` with ``seed``; evaluate it before and after.

    ``progress``: an object whose ``advance()`` is called after every step
    (:meth:`checkerfree.experiments.context.Context.steps`), or None.
    """
    torch.manual_seed(seed)
    model = SuperResolution(kind, settings.width)
    hr_val = validation_images(settings.val_size)
    init, _ = evaluate_sr(model, hr_val)
    imbalance_init = _imbalance(model)
    opt = torch.optim.Adam(model.parameters(), lr=settings.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, settings.steps)
    data = photo_crops(settings.steps * settings.batch, settings.crop, seed=1000 + seed)
    start = time.perf_counter()
    for step in range(settings.steps):
        hr = data[step * settings.batch:(step + 1) * settings.batch]
        loss = F.l1_loss(model(downsample(hr, SCALE)), hr)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if progress is not None:
            progress.advance()
    step_ms = 1000 * (time.perf_counter() - start) / settings.steps
    trained, out = evaluate_sr(model, hr_val)
    return SRResult(kind, seed, trained["psnr"], trained["score"], trained["periods"],
                    trained["sharpness"], init["score"], init["periods"], imbalance_init,
                    _imbalance(model), step_ms, out)


#: The quick run's training (about 1/40 of the full run's pixels seen): enough for the
#: trained scores to separate (deconvolution's stays far above resize-convolution's) and for
#: PSNR to rank the upsamplers at an equal budget; far from converged, so deconvolution's
#: trained score is higher and PSNR lower than after the full run's 4000 steps, and close PSNR
#: ties (nearest vs bilinear) are not settled by it: the full run is the article-level one.
QUICK = SRSettings(steps=500, batch=8, crop=32, width=32)
FULL = SRSettings(steps=4000, crop=48, width=32)
QUICK_SEEDS = (0, 1)
FULL_SEEDS = (0, 1, 2)


def sr_results(ctx, kinds=None) -> dict[str, list[SRResult]]:
    """The upsamplers ``kinds`` trained with every seed of this run, once per run (memoised).

    ``kinds=None``: those this run needs (:meth:`Context.needed`: the union of what the
    claims being computed declare; every upsampler for a context made by hand).
    """
    from checkerfree.experiments.upsamplers import UPSAMPLERS

    kinds = tuple(kinds) if kinds else ctx.needed("sr", UPSAMPLERS)
    settings = ctx.pick(QUICK, FULL)
    seeds = list(ctx.pick(QUICK_SEEDS, FULL_SEEDS))
    memo = ctx.memo.setdefault("sr", {})
    missing = [(kind, seed) for kind in kinds if kind not in memo for seed in seeds]
    trained = _train_all(ctx, missing, settings)
    for kind in kinds:
        if kind not in memo:
            memo[kind] = [trained[kind, seed] for seed in seeds]
    ctx.memo["sr_settings"] = settings
    return {k: memo[k] for k in kinds}


def _label(kind: str, seed: int) -> str:
    return f"training {kind} (super-resolution), seed {seed}:"


def _train_all(ctx, pairs, settings: SRSettings) -> dict:
    """``train_sr`` for each ``(kind, seed)``: in this process, or in ``ctx.jobs`` worker
    processes (each with this process's thread count). Every model seeds itself, so the
    results are the same either way (a test compares them)."""
    jobs = min(getattr(ctx, "jobs", 1), len(pairs))
    if jobs <= 1:
        return {(kind, seed): train_sr(kind, seed, settings,
                                       progress=ctx.steps(_label(kind, seed), settings.steps))
                for kind, seed in pairs}
    import multiprocessing

    # spawn, not fork: a forked child of a process that has used torch's thread pool can hang.
    pool = multiprocessing.get_context("spawn").Pool(jobs)
    try:
        pending = {pair: pool.apply_async(_train_job, (*pair, settings, torch.get_num_threads(),
                                                       ctx.claim, ctx.verbose,
                                                       ctx.progress_interval))
                   for pair in pairs}
        results = {pair: job.get() for pair, job in pending.items()}
        pool.close()
        return results
    except BaseException:
        pool.terminate()  # Ctrl-C or a failed model: the queued trainings stop too
        raise
    finally:
        pool.join()


def _train_job(kind: str, seed: int, settings: SRSettings, threads: int, claim: str,
               verbose: bool, interval: float) -> SRResult:
    """One model in a worker process, with the parent's threads and progress settings."""
    from checkerfree.experiments.progress import StepProgress

    torch.set_num_threads(threads)
    progress = StepProgress(_label(kind, seed), settings.steps, prefix=claim, enabled=verbose,
                            interval=interval)
    return train_sr(kind, seed, settings, progress=progress)


def sr_table(results: dict[str, list[SRResult]]) -> dict:
    """Per upsampler: mean and spread over seeds of every number (JSON-able)."""
    from checkerfree.experiments.claim import summary

    table = {}
    for kind, runs in results.items():
        row = {name: summary([getattr(r, name) for r in runs])
               for name in ("psnr", "score", "sharpness", "init_score", "step_ms")}
        for name in ("imbalance_init", "imbalance_trained"):
            vals = [getattr(r, name) for r in runs]
            row[name] = None if vals[0] is None else summary(vals)
        row["periods"] = {str(s): summary([r.periods[s] for r in runs]) for s in PERIODS}
        row["init_periods"] = {str(s): summary([r.init_periods[s] for r in runs])
                               for s in PERIODS}
        table[kind] = row
    return table


