"""Draw docs/figures/heatmaps.png: ``checkerfree score --heatmap`` overlays side by side.

Two clean photographs (scikit-image's camera and astronaut, in grey), a uniform checkerboard
and a 64x64 local patch of a random period-4 sub-kernel on the camera, each at 2 and 8 grey
levels peak to peak, rounded to 8 bits: every panel is the overlay the CLI writes (one fixed
colour scale, the legend with the score), so they compare. A blue cross marks the score's
``hotspot`` (the most coherent lattice pattern, ``checkerfree.score.hotspot``) on the panels
whose decision has a significant period only: the hotspot is always somewhere, and means
nothing where no pattern is (a clean picture; the local patches too, which the heat map shows
but whose global significance stays below the required one). A hotspot of None or -1 (no
pattern) draws no cross either.

    python scripts/heatmap_figure.py [--out docs/figures/heatmaps.png]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from checkerfree.score.checkerboard import MIN_SIGNIFICANCE, checkerboard_score
from checkerfree.score.heatmap import checkerboard_heatmap
from checkerfree.score.overlay import heatmap_overlay

SIZE = 256  # each photograph downsized to this (a readable grid of panels)


def _grey(name: str) -> np.ndarray:
    from skimage import data, transform

    image = np.asarray(getattr(data, name)(), dtype=np.float64)
    if image.ndim == 3:
        image = image @ np.array([0.299, 0.587, 0.114])
    return transform.resize(image, (SIZE, SIZE), anti_aliasing=True, preserve_range=True)


def panels() -> list[tuple[str, np.ndarray]]:
    camera, astronaut = _grey("camera"), _grey("astronaut")
    i, j = np.indices((SIZE, SIZE))
    rng = np.random.default_rng(3)
    tile = rng.normal(size=(4, 4))
    tile = (tile - tile.mean()) / (tile.max() - tile.min())
    out = [("camera, clean", camera), ("astronaut, clean", astronaut)]
    for a in (2, 8):
        out.append((f"camera + uniform checkerboard, {a} levels", camera + a / 2 * (-1.0) ** (i + j)))
    for a in (2, 8):
        patched = camera.copy()
        patched[150:214, 40:104] += a * np.tile(tile, (16, 16))
        out.append((f"camera + 64x64 period-4 patch, {a} levels", patched))
    return [(title, np.clip(np.round(x), 0, 255).astype(np.float32)) for title, x in out]


def overlay(image: np.ndarray):
    x = torch.from_numpy(image)[None, None]
    result = checkerboard_score(x, hotspot="always")  # the patches are not significant
    deciding = [(result.periods[s].item(), s) for s in result.periods
                if result.periods[s].item() > result.threshold
                and result.significance[s].item() > MIN_SIGNIFICANCE]
    heat = checkerboard_heatmap(x)[0].numpy()
    picture = heatmap_overlay(image[None], heat, score=result.score.item(),
                              flagged=bool(result.flagged.item()),
                              period=max(deciding)[1] if deciding else None,
                              threshold=result.threshold)
    spot = cross_at(result)
    if spot is not None:
        _cross(picture, *spot)
    return picture


def cross_at(result) -> tuple[int, int] | None:
    """Where the hotspot cross goes: the hotspot of the (one-item) ``result`` when some period
    is significant (significance above the one it needs), else None."""
    significant = any(result.significance[s][0].item()
                      > result.required.get(s, MIN_SIGNIFICANCE) for s in result.periods)
    hotspot = getattr(result, "hotspot", None)
    if not significant or hotspot is None:
        return None
    spot = [int(c) for c in hotspot[0].tolist()]
    return None if min(spot) < 0 else (spot[0], spot[1])


def _cross(picture, row: int, col: int, arm: int = 6) -> None:
    """A blue cross (white-edged, visible on dark and bright parts) at ``(row, col)``."""
    from PIL import ImageDraw

    draw = ImageDraw.Draw(picture)
    for colour, width in (((255, 255, 255), 4), ((0, 90, 255), 2)):
        draw.line([(col - arm, row), (col + arm, row)], fill=colour, width=width)
        draw.line([(col, row - arm), (col, row + arm)], fill=colour, width=width)


def main(argv=None) -> int:
    from PIL import Image, ImageDraw, ImageFont

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/figures/heatmaps.png")
    args = parser.parse_args(argv)
    tiles = [(title, overlay(image)) for title, image in panels()]
    w, h = tiles[0][1].size
    columns, title_h, gap = 2, 16, 8
    rows = (len(tiles) + columns - 1) // columns
    sheet = Image.new("RGB", (columns * (w + gap) + gap, rows * (h + title_h + gap) + gap),
                      (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=12)
    for k, (title, picture) in enumerate(tiles):
        x = gap + (k % columns) * (w + gap)
        y = gap + (k // columns) * (h + title_h + gap)
        draw.text((x, y), title, fill=(0, 0, 0), font=font)
        sheet.paste(picture, (x, y + title_h))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out)
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
