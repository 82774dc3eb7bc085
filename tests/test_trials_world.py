"""Newcomer trials on real third-party models and odd input: one test per problem found.

Each test failed before its fix (or is a strict xfail naming a bug in a part another helper
owns); the references are independent of the code under test (the site's own reason text,
numpy's own reading of a file, a brute-force ablation).
"""

from __future__ import annotations

from collections import OrderedDict

import pytest
import torch
import torch.nn as nn

pytest.importorskip("matplotlib")


def test_audit_overlap_figure_title_keeps_the_whole_reason():
    # overlap_<i>.png cut its title at 110 characters: a MONAI AutoEncoder's culprit
    # 'decode.decode_1.conv.conv' lost "1 != 0)", the very claim the figure is for.
    from checkerfree.audit.inventory import find_resampling
    from checkerfree.report.audit_html import _overlap_figure

    layer = nn.ConvTranspose2d(2, 2, 3, 2, 1, 1)
    for name in ("conv", "conv", "decode_1", "decode"):  # decode.decode_1.conv.conv
        layer = nn.Sequential(OrderedDict([(name, layer)]))
    site = find_resampling(layer, torch.zeros(1, 2, 8, 8))[0]
    fig = _overlap_figure(site)
    title = " ".join(fig._suptitle.get_text().split())
    assert title == f"{site.name}: {site.reason}"
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_float64_array_beyond_float32_range_is_not_called_non_finite(tmp_path):
    # numpy's own reading: every value of the file is finite.
    import numpy as np

    from checkerfree.score.batch import ImageScorer

    values = np.random.default_rng(0).random((32, 32)) * 1e300
    np.save(tmp_path / "big.npy", values)
    assert np.isfinite(np.load(tmp_path / "big.npy")).all()
    [row] = ImageScorer(periods=2)([str(tmp_path / "big.npy")])
    assert row["error"] is not None and "float32" in row["error"]
    assert "non-finite" not in row["error"]


def test_audit_overlap_figure_of_a_volume_shows_its_counts():
    # A MONAI 3D UNet's ConvTranspose3d(3, 2) is uneven 8:1, but its overlap_<i>.png showed
    # one depth slice (counts 1, 2, 4) in colours without a scale: the 8 was in no picture.
    from checkerfree.audit.inventory import find_resampling
    from checkerfree.overlap import overlap
    from checkerfree.report.audit_html import _overlap_figure

    model = nn.Sequential(nn.ConvTranspose3d(2, 2, 3, 2, 1, 1))
    site = find_resampling(model, torch.zeros(1, 2, 8, 8, 8))[0]
    fig = _overlap_figure(site)
    shown = {int(t.get_text()) for ax in fig.axes for t in ax.texts}
    truth = overlap([(3, 2, 1, 1)], dims=3)
    assert {truth.max, truth.min} <= shown and len(fig.axes[0].images) == 1
    assert any(ax.get_ylabel() == "contributions" for ax in fig.axes)  # the colour bar
    import matplotlib.pyplot as plt

    plt.close(fig)
