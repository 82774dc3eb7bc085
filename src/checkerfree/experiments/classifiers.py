"""Small texture classifiers with three downsampling designs, trained for a real objective.

Strided (k=3 s=2 convolutions), pooled (3x3 convolution then 2x2 average pooling) and blurred
(3x3 convolution then a [1, 2, 1] binomial blur with stride 2, Zhang 2019's idea, our own
code): three stages each, global average pooling, a linear head. Trained briefly to tell
scikit-image's brick, grass and gravel textures apart, so input gradients come from a real
loss, not from random weights alone.

>>> m = texture_classifier("blur", width=4)
>>> m(torch.zeros(2, 1, 32, 32)).shape
torch.Size([2, 3])
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from checkerfree.experiments.data import TEXTURES, texture_crops

__all__ = [
    "DOWNSAMPLING",
    "texture_batch",
    "texture_classifier",
    "train_classifier",
    "trained_classifiers",
]

DOWNSAMPLING = ("strided", "pool", "blur")


class BlurDown(nn.Module):
    """A fixed [1, 2, 1] x [1, 2, 1] / 16 blur applied per channel with stride 2."""

    def __init__(self, channels: int):
        super().__init__()
        k = torch.tensor([1.0, 2.0, 1.0])
        self.register_buffer("kernel", (k[:, None] * k[None, :] / 16).expand(channels, 1, 3, 3)
                             .contiguous(), persistent=False)

    def forward(self, x):
        return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), self.kernel, stride=2,
                        groups=x.shape[1])


def texture_classifier(downsample: str, width: int = 8) -> nn.Sequential:
    """Three downsampling stages (total stride 8), global average pooling, 3 classes."""
    from checkerfree.zoo import classifier

    if downsample in ("strided", "pool"):
        return classifier(in_channels=1, classes=len(TEXTURES), width=width,
                          downsample=downsample)
    mods: list[nn.Module] = []
    c = 1
    for i in range(3):
        out = width * 2**i
        mods += [nn.Conv2d(c, out, 3, padding=1), nn.ReLU(), BlurDown(out)]
        c = out
    mods += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, len(TEXTURES))]
    return nn.Sequential(*mods)


def texture_batch(n: int, size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` grey texture crops with their class labels (index into ``TEXTURES``)."""
    rng = np.random.default_rng(seed)
    labels = torch.from_numpy(rng.integers(len(TEXTURES), size=n))
    x = torch.empty(n, 1, size, size)
    for c, name in enumerate(TEXTURES):
        idx = (labels == c).nonzero().flatten()
        if len(idx):
            x[idx] = texture_crops(len(idx), size, seed=seed * 7 + c, names=(name,))
    return x, labels


def train_classifier(downsample: str, seed: int, steps: int,
                     progress=None) -> tuple[nn.Module, float]:
    """Train one classifier; return it with its held-out accuracy (``progress``: see
    :func:`checkerfree.experiments.training.train_sr`)."""
    torch.manual_seed(seed)
    model = texture_classifier(downsample)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for step in range(steps):
        x, y = texture_batch(32, 32, seed=10_000 * (seed + 1) + step)
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if progress is not None:
            progress.advance()
    x, y = texture_batch(96, 32, seed=-1 % 2**31)
    with torch.no_grad():
        accuracy = (model(x).argmax(1) == y).float().mean().item()
    return model.eval(), accuracy


#: Training steps and seeds of the quick and the full run.
QUICK_STEPS, FULL_STEPS = 150, 500
QUICK_SEEDS, FULL_SEEDS = (0, 1), (0, 1, 2, 3)


def trained_classifiers(ctx, designs=None) -> dict[str, list[tuple[nn.Module, float]]]:
    """The ``designs`` (default: those this run needs, :meth:`Context.needed`) trained with
    each seed of this run, once (memoised)."""
    memo = ctx.memo.setdefault("classifiers", {})
    seeds = list(ctx.pick(QUICK_SEEDS, FULL_SEEDS))
    steps = ctx.pick(QUICK_STEPS, FULL_STEPS)
    designs = tuple(designs) if designs else ctx.needed("classifiers", DOWNSAMPLING)
    for design in designs:
        if design not in memo:
            memo[design] = [train_classifier(design, s, steps, progress=ctx.steps(
                f"training the {design} classifier, seed {s}:", steps)) for s in seeds]
    ctx.memo["classifier_seeds"] = seeds
    return {d: memo[d] for d in designs}
