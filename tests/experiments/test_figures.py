"""The claims' figures: heat maps on one scale with a colour bar, no colliding text."""

import numpy as np
import pytest
import torch

pytest.importorskip("matplotlib")

from checkerfree.experiments.figures import (
    image_grid,
    line_plot,
    overlapping_texts,
    pyplot,
    shared_range,
)
from checkerfree.experiments.upsamplers import UPSAMPLERS


@pytest.fixture(autouse=True)
def _close():
    yield
    pyplot().close("all")


def _heat_images(fig):
    return [im for ax in fig.axes for im in ax.images if im.get_cmap().name == "inferno"]


def test_heat_panels_share_one_scale_with_a_colour_bar():
    rng = np.random.default_rng(0)
    quiet, loud = rng.random((16, 16)) * 0.3, 30 + rng.random((16, 16))
    fig, axes = image_grid([[np.zeros((16, 16)), np.zeros((16, 16))], [quiet, loud]],
                           ["a", "b"], ["image", "heat"], heat_rows=(1,))
    heats = _heat_images(fig)
    assert len(heats) == 2
    # One scale, from 0 to the loudest panel: the quiet one reads dark, not full range.
    assert {im.get_clim() for im in heats} == {(0.0, float(loud.max()))}
    bars = [ax for ax in fig.axes if ax not in axes]
    assert len(bars) == 1 and "grey levels" in bars[0].get_ylabel()


def test_shared_range_has_a_floor():
    # Maps with no artifact keep a 1 grey-level scale: their noise is not stretched to white.
    assert shared_range([np.full((2, 2), 0.01)]) == 1.0
    assert shared_range([np.full((2, 2), 0.01), np.full((2, 2), 7.5)]) == 7.5


def test_overlap_detector_sees_overlaps():
    plt = pyplot()
    fig, ax = plt.subplots()
    ax.text(0.1, 0.1, "apart")
    ax.text(0.8, 0.8, "far")
    assert overlapping_texts(fig) == []
    ax.text(0.1, 0.1, "on top")
    assert overlapping_texts(fig) == [("apart", "on top")]


def test_grid_and_line_plot_text_does_not_overlap():
    long = ["deconv in last two layers\n(expected periods: 2, 4)"] * 4
    fig, _ = image_grid([[np.zeros((8, 8))] * 4, [np.ones((8, 8))] * 4], long,
                        ["sample at init", "heat map (periods 2, 4, 8)"], heat_rows=(1,),
                        size=2.6)
    assert overlapping_texts(fig) == []
    fig, _ = line_plot([2, 4, 8], {f"design {i}": [1, 2, 3] for i in range(4)},
                       "period", "score (grey levels)", "random-init generators")
    assert overlapping_texts(fig) == []


def _sr_table():
    rng = np.random.default_rng(1)

    def s(v):
        return {"mean": float(v), "std": 0.1, "min": float(v), "max": float(v), "n": 2}

    return {k: {"score": s(rng.random() * 3), "psnr": s(29 + rng.random()),
                "step_ms": s(10)} for k in UPSAMPLERS}


def test_sr_figures_text_does_not_overlap():
    from checkerfree.experiments.trained_claims import sr_outputs_figure, sr_score_psnr_figure
    from checkerfree.experiments.training import SRResult

    fig = sr_score_psnr_figure(_sr_table())
    assert overlapping_texts(fig) == []
    torch.manual_seed(0)
    results = {k: [SRResult(k, 0, 30.0, 1.0, {}, 1.0, 1.0, {}, None, None, 1.0,
                            torch.rand(2, 3, 64, 64))] for k in UPSAMPLERS}
    fig = sr_outputs_figure(results, 64)
    assert overlapping_texts(fig) == []
    # Ground truth, bilinear, then every upsampler, artifact-prone first.
    titles = [ax.get_title().replace("\n", " ") for ax in fig.axes if ax.get_title()]
    assert titles[:2] == ["ground truth", "bilinear x4 (no model)"]
    assert titles[2] == "deconv-k3" and titles[-1] == "resize-nearest"
    heats = _heat_images(fig)
    assert len(heats) == len(UPSAMPLERS) + 2 and len({im.get_clim() for im in heats}) == 1


def test_fix_cost_labels_do_not_overlap():
    from checkerfree.experiments.findings import _fix_cost_figure

    # Close points: the old annotated scatter wrote their names over each other.
    rows = {k: {"layer_time_over_deconv": 1 + 0.01 * i, "psnr_minus_deconv": 0.01 * i}
            for i, k in enumerate(UPSAMPLERS)}
    fig = _fix_cost_figure(rows, ["resize-nearest", "resize-bilinear", "subpixel-icnr",
                                  "deconv-k3-hold"])
    assert overlapping_texts(fig) == []
    legend = fig.axes[0].get_legend()
    assert len(legend.get_texts()) == len(UPSAMPLERS)
