"""scripts/heatmap_figure.py: the hotspot cross only where the decision has a significant period."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from checkerfree.score.checkerboard import checkerboard_score

pytest.importorskip("PIL")
SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "heatmap_figure.py"
spec = importlib.util.spec_from_file_location("heatmap_figure", SCRIPT)
figure = importlib.util.module_from_spec(spec)
spec.loader.exec_module(figure)

BLUE = (0, 90, 255)


def blue_pixels(picture) -> int:
    return int((np.asarray(picture.convert("RGB")) == BLUE).all(-1).sum())


def test_cross_on_a_patterned_image_only():
    rng = np.random.default_rng(0)
    i, j = np.indices((128, 128))
    clean = np.clip(100 + 10 * rng.standard_normal((128, 128)), 0, 255).round()
    patterned = np.clip(clean + 2 * (-1.0) ** (i + j), 0, 255).round()
    assert blue_pixels(figure.overlay(clean.astype(np.float32))) == 0
    assert blue_pixels(figure.overlay(patterned.astype(np.float32))) > 0


def test_no_cross_for_a_missing_hotspot():
    i, j = np.indices((64, 64))
    x = torch.from_numpy(100 + 4 * (-1.0) ** (i + j))[None, None]
    result = checkerboard_score(x)
    assert figure.cross_at(result) == tuple(result.hotspot[0].tolist())
    result.hotspot = torch.full_like(result.hotspot, -1)
    assert figure.cross_at(result) is None
    result.hotspot = None
    assert figure.cross_at(result) is None
