"""Heat-map overlays: an image with its checkerboard heat map blended in red, as a PNG.

The picture is shown in grey (so the red reads as the heat map, never as the image's own
colour) and each pixel is blended towards pure red with opacity ``heat / full_scale``,
clipped to ``max_opacity``. The scale is absolute (``full_scale`` grey levels, 8 by default:
the strongest amplitude of the calibration set), so overlays of different images compare:
a faint pattern stays faint instead of being stretched to full red.

>>> import numpy as np
>>> image = np.full((1, 4, 4), 100.0, dtype=np.float32)
>>> heat = np.zeros((4, 4), dtype=np.float32); heat[0, 0] = 8.0
>>> rgb = np.asarray(heatmap_overlay(image, heat))
>>> rgb[0, 0].tolist(), rgb[3, 3].tolist()
([209, 30, 30], [100, 100, 100])
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from checkerfree.errors import require

__all__ = ["heatmap_overlay", "overlay_name"]


def heatmap_overlay(
    pixels: np.ndarray, heat: np.ndarray, *, full_scale: float = 8.0, max_opacity: float = 0.7
):
    """Blend ``heat`` ``(H, W)`` (grey levels) in red over ``pixels`` ``(C, H, W)`` (0..255).

    Returns an RGB ``PIL.Image``; ``pixels`` with 3 channels are shown as their mean.
    """
    Image = require("PIL.Image", "image")
    grey = np.asarray(pixels, dtype=np.float32).mean(0)
    alpha = np.clip(np.asarray(heat, dtype=np.float32) / full_scale, 0.0, 1.0) * max_opacity
    red = np.array([255.0, 0.0, 0.0], dtype=np.float32)
    rgb = grey[..., None] * (1 - alpha[..., None]) + red * alpha[..., None]
    return Image.fromarray(np.clip(rgb + 0.5, 0, 255).astype(np.uint8))


def overlay_name(path: str | os.PathLike) -> str:
    """File name of the overlay of ``path``: its stem plus a digest of its absolute path.

    The digest keeps ``a/x.png`` and ``b/x.png`` apart, and depends on nothing but the path,
    so workers on other machines name the same input the same way.

    >>> overlay_name("photos/cat.jpg") == overlay_name("photos/../photos/cat.jpg")
    True
    >>> overlay_name("photos/cat.jpg").startswith("cat-") and overlay_name("cat.jpg") != overlay_name("x/cat.jpg")
    True
    """
    absolute = os.path.normpath(os.path.abspath(os.fspath(path)))
    digest = hashlib.sha1(absolute.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    return f"{Path(absolute).stem}-{digest}.png"
