"""Heat-map overlays: an image with its checkerboard heat map painted on, and a legend, as a PNG.

The picture is shown in grey (so the colours read as the heat map, never as the image's own
colour). Where the heat map is above zero (:func:`~checkerfree.score.heatmap.checkerboard_heatmap`
is zero wherever the local pattern fails the score's two tests, so a clean image stays grey)
the pixel is blended, with a fixed opacity, towards a colour of one fixed scale: ColorBrewer's
YlOrRd from 0 to ``full_scale`` grey levels (8 by default, the strongest amplitude of the
calibration set; larger values take the darkest colour). The scale is the same for every
image, so overlays compare: the same amplitude over the same grey gives the same colour in
any two overlays, and a faint pattern stays pale instead of being stretched to full colour.

Below the picture a legend strip (:data:`LEGEND_HEIGHT` pixels, at least :data:`MIN_WIDTH`
wide) carries the colour bar with its ticks in grey levels, the threshold marked, and the
image's score, whether it is flagged and by which period.

>>> import numpy as np
>>> image = np.full((1, 64, 300), 100.0, dtype=np.float32)
>>> heat = np.zeros((64, 300), dtype=np.float32); heat[0, 0] = 8.0
>>> picture = heatmap_overlay(image, heat, score=0.2, flagged=False)
>>> picture.size                              # the legend strip below the picture
(300, 134)
>>> rgb = np.asarray(picture)
>>> rgb[0, 0].tolist(), rgb[63, 299].tolist()  # full scale: the darkest colour; zero: grey
([171, 20, 50], [100, 100, 100])
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from checkerfree.errors import InvalidArgumentError, require

__all__ = [
    "FULL_SCALE",
    "LEGEND_HEIGHT",
    "OPACITY",
    "colour_scale",
    "heatmap_overlay",
    "overlay_name",
]

#: Grey levels (peak to peak) of the darkest colour: the strongest calibration amplitude.
FULL_SCALE = 8.0
#: Opacity of the heat map's colour over the grey picture, wherever the map is above zero.
OPACITY = 0.8
#: Height in pixels of the legend strip under the picture.
LEGEND_HEIGHT = 70
#: The narrowest overlay: a small picture (128 pixels wide) gets a legend wide enough to read,
#: its two keys side by side with room between them (``_legend``).
MIN_WIDTH = 240
# The legend's font size, the blank it keeps along its edges, and the colour bar's rows.
_FONT_SIZE = 12
_MARGIN = 8
_BAR_TOP, _BAR_BOTTOM = 38, 48
_BACKGROUND = (32, 32, 32)
_TEXT = (235, 235, 235)
# ColorBrewer YlOrRd (9 classes, the five darker-than-pale anchors): pale yellow to dark red.
_ANCHORS = np.array([[255, 237, 160], [254, 178, 76], [253, 141, 60], [240, 59, 32],
                     [189, 0, 38]], dtype=np.float32)


def colour_scale(value: np.ndarray, full_scale: float = FULL_SCALE) -> np.ndarray:
    """RGB ``(..., 3)`` float colours of ``value`` (grey levels) on the fixed scale.

    Piecewise linear through the YlOrRd anchors from 0 to ``full_scale``, clipped beyond.

    >>> colour_scale(np.array([0.0, 8.0, 80.0])).astype(int).tolist()
    [[255, 237, 160], [189, 0, 38], [189, 0, 38]]
    """
    t = np.clip(np.asarray(value, dtype=np.float32) / full_scale, 0.0, 1.0)
    position = t * (len(_ANCHORS) - 1)
    low = np.minimum(np.floor(position).astype(int), len(_ANCHORS) - 2)
    frac = (position - low)[..., None]
    return _ANCHORS[low] * (1 - frac) + _ANCHORS[low + 1] * frac


def _blend(grey: np.ndarray, heat: np.ndarray, full_scale: float, opacity: float) -> np.ndarray:
    """Grey ``(H, W)`` with ``heat`` painted where it is above zero: ``(H, W, 3)`` floats."""
    rgb = np.repeat(grey[..., None], 3, -1)
    shown = heat > 0
    rgb[shown] = rgb[shown] * (1 - opacity) + colour_scale(heat[shown], full_scale) * opacity
    return rgb


def _legend(width: int, full_scale: float, opacity: float, score, flagged, period,
            threshold) -> np.ndarray:
    """The legend strip ``(LEGEND_HEIGHT, width, 3)`` uint8: a colour bar and the score.

    Two text rows (the score; what the bar shows on the left, the threshold's key on the
    right) above the bar, its tick labels under it and its unit beside it, all at least
    ``_MARGIN`` pixels from the edges, with room between the keys at :data:`MIN_WIDTH`.
    """
    Image = require("PIL.Image", "image")
    ImageDraw = require("PIL.ImageDraw", "image")
    ImageFont = require("PIL.ImageFont", "image")
    strip = Image.new("RGB", (width, LEGEND_HEIGHT), _BACKGROUND)
    font = ImageFont.load_default(size=_FONT_SIZE)
    if score is None:
        words = "checkerboard amplitude"
    else:
        words = f"score {score:.2f}"
        if flagged is not None:
            words += (f", flagged (period {period})" if flagged and period is not None
                      else ", flagged" if flagged else ", not flagged")
    unit = "grey levels"
    draw = ImageDraw.Draw(strip)
    unit_width = draw.textlength(unit, font=font)
    # The bar ends before its unit, with room for the last tick's "8+" centred on its end.
    left, right = _MARGIN, round(width - _MARGIN - unit_width - 14)
    # The bar: each column the colour of its value blended over mid-grey, as in the picture.
    values = np.linspace(0.0, full_scale, right - left)
    bar = _blend(np.full((1, len(values)), 128.0, np.float32), values[None], full_scale, opacity)
    bar[0, 0] = 128.0  # zero is not painted
    pixels = np.asarray(strip).copy()
    pixels[_BAR_TOP:_BAR_BOTTOM, left:right] = np.clip(bar + 0.5, 0, 255).astype(np.uint8)
    strip = Image.fromarray(pixels)
    draw = ImageDraw.Draw(strip)
    draw.text((_MARGIN, 3), words, fill=_TEXT, font=font)
    draw.text((_MARGIN, 19), "local amplitude", fill=_TEXT, font=font)
    draw.text((width - _MARGIN - unit_width, _BAR_TOP - 4), unit, fill=_TEXT, font=font)
    step = 2.0 if full_scale <= 10 else full_scale / 4
    tick = 0.0
    while tick <= full_scale + 1e-9:
        x = left + round(tick / full_scale * (right - left - 1))
        draw.line([(x, _BAR_BOTTOM), (x, _BAR_BOTTOM + 3)], fill=_TEXT)
        label = f"{tick:g}" + ("+" if tick >= full_scale else "")
        size = draw.textlength(label, font=font)
        at = max(x - size / 2, _MARGIN / 2)
        draw.text((at, _BAR_BOTTOM + 4), label, fill=_TEXT, font=font)
        tick += step
    if threshold is not None and 0 < threshold < full_scale:
        x = left + round(threshold / full_scale * (right - left - 1))
        draw.line([(x, _BAR_TOP - 3), (x, _BAR_BOTTOM - 1)], fill=(255, 255, 255), width=1)
    if threshold is not None:
        # Its key on the right of the second row: the mark as drawn on the bar, then the value.
        key = f"threshold {threshold:g}"
        at = width - _MARGIN - draw.textlength(key, font=font)
        draw.line([(at - 6, 21), (at - 6, 32)], fill=(255, 255, 255), width=1)
        draw.text((at, 19), key, fill=_TEXT, font=font)
    return np.asarray(strip)


def heatmap_overlay(
    pixels: np.ndarray,
    heat: np.ndarray,
    *,
    full_scale: float = FULL_SCALE,
    max_opacity: float = OPACITY,
    score: float | None = None,
    flagged: bool | None = None,
    period: int | None = None,
    threshold: float | None = None,
):
    """``heat`` ``(H, W)`` (grey levels) painted over ``pixels`` ``(C, H, W)`` (0..255), with a legend.

    Returns an RGB ``PIL.Image`` of ``max(W, MIN_WIDTH)`` by ``H + LEGEND_HEIGHT`` pixels:
    the picture (3 channels shown as their mean) at the top left, the legend strip under it
    (the colour bar from 0 to ``full_scale`` grey levels, ``threshold`` marked on it, and
    ``score``, ``flagged`` and ``period`` written when given). ``max_opacity`` is the opacity
    of the colour wherever ``heat`` is above zero.
    """
    Image = require("PIL.Image", "image")
    full_scale = float(full_scale)
    if not np.isfinite(full_scale) or full_scale <= 0:
        raise InvalidArgumentError(f"full_scale must be a finite number > 0, got {full_scale!r}")
    if not 0 < float(max_opacity) <= 1:
        raise InvalidArgumentError(f"max_opacity must be in (0, 1], got {max_opacity!r}")
    grey = np.asarray(pixels, dtype=np.float32).mean(0)
    heat = np.asarray(heat, dtype=np.float32)
    if heat.shape != grey.shape:
        raise InvalidArgumentError(
            f"heat must have the picture's shape {grey.shape}, got {heat.shape}")
    h, w = grey.shape
    width = max(w, MIN_WIDTH)
    canvas = np.empty((h + LEGEND_HEIGHT, width, 3), dtype=np.uint8)
    canvas[:h] = _BACKGROUND
    canvas[:h, :w] = np.clip(_blend(grey, heat, full_scale, max_opacity) + 0.5, 0, 255)
    canvas[h:] = _legend(width, full_scale, max_opacity, score, flagged, period, threshold)
    return Image.fromarray(canvas)


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
    # A stem that starts with "-" (standard input is "-") would read as an option to rm/ls.
    stem = Path(absolute).stem.lstrip("-") or "stdin"
    return f"{stem}-{digest}.png"
