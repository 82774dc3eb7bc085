"""Real images for the experiments: scikit-image's bundled photographs and textures.

Nothing is downloaded: every image here ships inside scikit-image. Photographs are split
into a training set and held-out validation images; crops are drawn with a seeded generator,
so a run sees the same pixels every time. Values are floats in ``[0, 1]``, layout NCHW.

>>> x = photo_crops(4, 16, seed=0)
>>> tuple(x.shape), 0.0 <= float(x.min()) <= float(x.max()) <= 1.0
((4, 3, 16, 16), True)
"""

from __future__ import annotations

from functools import cache

import numpy as np
import torch

from checkerfree.errors import require

__all__ = [
    "TEXTURES",
    "TRAIN_PHOTOS",
    "VALIDATION_PHOTOS",
    "downsample",
    "load",
    "photo_crops",
    "texture_crops",
    "validation_images",
]

TRAIN_PHOTOS = ("astronaut", "coffee", "rocket", "immunohistochemistry", "hubble_deep_field")
VALIDATION_PHOTOS = ("chelsea", "retina")
TEXTURES = ("brick", "grass", "gravel")


@cache
def load(name: str) -> np.ndarray:
    """A scikit-image sample as float32 ``(C, H, W)`` in ``[0, 1]`` (grey images: C = 1)."""
    data = require("skimage.data", "image")
    a = np.asarray(getattr(data, name)(), dtype=np.float32) / 255.0
    a = a[None] if a.ndim == 2 else a.transpose(2, 0, 1)[:3]
    a.setflags(write=False)
    return a


def _crops(names, n: int, size: int, seed: int) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    images = [load(name) for name in names]
    out = np.empty((n, images[0].shape[0], size, size), dtype=np.float32)
    for i in range(n):
        img = images[rng.integers(len(images))]
        top = rng.integers(img.shape[1] - size + 1)
        left = rng.integers(img.shape[2] - size + 1)
        crop = img[:, top:top + size, left:left + size]
        if rng.random() < 0.5:  # flips: cheap augmentation that keeps the lattice aligned
            crop = crop[:, :, ::-1]
        out[i] = crop
    return torch.from_numpy(out)


def photo_crops(n: int, size: int, seed: int) -> torch.Tensor:
    """``n`` random RGB crops of ``size`` from the training photographs."""
    return _crops(TRAIN_PHOTOS, n, size, seed)


def texture_crops(n: int, size: int, seed: int, names=TEXTURES) -> torch.Tensor:
    """``n`` random grey crops ``(n, 1, size, size)`` of the texture images."""
    return _crops(names, n, size, seed)


def validation_images(size: int) -> torch.Tensor:
    """Centre crops of the held-out photographs, ``(len(VALIDATION_PHOTOS), 3, size, size)``."""
    out = []
    for name in VALIDATION_PHOTOS:
        img = load(name)
        top = (img.shape[1] - size) // 2
        left = (img.shape[2] - size) // 2
        out.append(torch.from_numpy(np.ascontiguousarray(img[:, top:top + size,
                                                            left:left + size])))
    return torch.stack(out)


def downsample(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Box (area) downsampling: the low-resolution input of super-resolution.

    Averaging ``factor x factor`` blocks adds no lattice pattern of its own, so any pattern in
    a model's output comes from the model.
    """
    return torch.nn.functional.avg_pool2d(x, factor)
