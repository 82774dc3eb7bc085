"""Overlap figures: the bars and maps show the exact counts."""

from __future__ import annotations

import numpy as np
import pytest

from checkerfree.errors import InvalidArgumentError, ShapeError
from checkerfree.overlap import overlap
from checkerfree.report.overlap_plots import plot_overlap_1d, plot_overlap_2d, plot_overlap_stack
from checkerfree.report.text import render_map


def test_1d_bar_heights_are_the_finite_counts():
    layers = [(3, 2), (3, 2, 1)]
    fig, axes = plot_overlap_1d(layers, size=5)
    for n, ax in enumerate(axes, 1):
        expected = overlap(layers[:n], dims=1, size=5).finite
        tops = np.zeros(len(expected))
        for bar in ax.patches:
            x = int(round(bar.get_x() + bar.get_width() / 2))
            tops[x] = max(tops[x], bar.get_y() + bar.get_height())
        np.testing.assert_array_equal(tops, expected)


def test_2d_map_shows_tiled_interior_and_finite():
    fig, ax = plot_overlap_2d([(3, 2)], tiles=3)
    np.testing.assert_array_equal(ax.get_images()[0].get_array(),
                                  np.tile([[4, 2], [2, 1]], (3, 3)))
    fig, ax = plot_overlap_2d([(3, 2)], size=4)
    np.testing.assert_array_equal(ax.get_images()[0].get_array(),
                                  overlap([(3, 2)], dims=2, size=4).finite)


def test_stack_has_one_panel_per_layer():
    fig, axes = plot_overlap_stack([(3, 2)] * 3)
    assert [a.get_title() for a in axes] == [
        "after 1: 4:1, period 2", "after 2: 9:1, period 4", "after 3: 25:1, period 8"]


def test_exceptions():
    with pytest.raises(InvalidArgumentError):
        plot_overlap_2d([(3, 2)], dims=1)
    with pytest.raises(InvalidArgumentError):
        plot_overlap_1d([(3, 2)], size=0)
    with pytest.raises(ShapeError):
        render_map(np.ones((2, 2, 2, 2)))


def test_render_map_shades():
    assert render_map([[1, 2], [2, 4]]).splitlines() == ["░░▒▒", "▒▒██"]
    assert render_map([0, 1]) == " █"
