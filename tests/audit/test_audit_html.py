"""The audit page's pictures: one colour scale for every local-amplitude map, before and after."""

from __future__ import annotations

import pytest
import torch

from checkerfree.audit import audit
from checkerfree.report.audit_html import _heat, _samples_figure, shared_scale
from checkerfree.score.checkerboard import DEFAULT_THRESHOLD
from checkerfree.zoo import EXAMPLES

pytest.importorskip("matplotlib")


def _clims(fig):
    return {tuple(round(v, 6) for v in im.get_clim()) for ax in fig.axes for im in ax.images
            if im.get_cmap().name == "inferno"}


def test_before_and_after_share_one_scale():
    from checkerfree import convert

    torch.manual_seed(0)
    ex = EXAMPLES["unet"]
    model = ex.factory()
    before = audit(model, input_shape=ex.input_shape, seeds=1, attribute=False)
    after = audit(convert(model, to="resize"), input_shape=ex.input_shape, seeds=1,
                  attribute=False)
    heats = [_heat(r.forward.samples, r.periods) for r in (before, after)]
    top = shared_scale(*heats)
    assert top == pytest.approx(max(float(h.max()) for h in heats + [torch.tensor(4 * DEFAULT_THRESHOLD)]))
    figs = [_samples_figure(r.forward.samples, "Output", r.periods, top) for r in (before, after)]
    assert _clims(figs[0]) == _clims(figs[1]) == {(0.0, round(top, 6))}
    # The colour bar is labelled in grey levels.
    labels = [ax.get_ylabel() for f in figs for ax in f.axes]
    assert sum("grey levels" in lab for lab in labels) == 2
    # Pictures are drawn on the display scale itself, not auto-contrasted.
    grey = {tuple(im.get_clim()) for f in figs for ax in f.axes for im in ax.images
            if im.get_cmap().name == "gray"}
    assert grey == {(0.0, 255.0)}


def test_clean_model_maps_stay_dark():
    """A clean model's items are not flagged, so their maps are drawn empty (0 grey levels)
    although the raw local estimate fluctuates by several grey levels on a busy picture."""
    torch.manual_seed(0)
    ex = EXAMPLES["dcgan-resize"]
    report = audit(ex.factory(), input_shape=ex.input_shape, seeds=1, attribute=False)
    assert report.forward.verdict == "clean"
    assert float(_heat(report.forward.samples, report.periods).max()) > DEFAULT_THRESHOLD
    fig = _samples_figure(report.forward.samples, "Output", report.periods)
    maps = [im.get_array() for ax in fig.axes for im in ax.images
            if im.get_cmap().name == "inferno"]
    assert maps and all(float(m.max()) == 0.0 for m in maps)
    titles = [ax.get_title() for ax in fig.axes]
    assert sum("not flagged" in t for t in titles) == len(maps)


def test_artifact_model_maps_show_the_pattern():
    torch.manual_seed(0)
    ex = EXAMPLES["dcgan"]
    report = audit(ex.factory(), input_shape=ex.input_shape, seeds=1, attribute=False)
    fig = _samples_figure(report.forward.samples, "Output", report.periods)
    maps = [im.get_array() for ax in fig.axes for im in ax.images
            if im.get_cmap().name == "inferno"]
    assert maps and all(float(m.max()) > DEFAULT_THRESHOLD for m in maps)
