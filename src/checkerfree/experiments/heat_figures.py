"""Samples over their checkerboard heat maps, every map on one colour scale in grey levels.

Each group (a generator, a critic, real patches) is a row of images followed by a row of
their heat maps (:func:`~checkerfree.score.heatmap.checkerboard_heatmap` of the images in
grey levels 0..255). All maps of the figure share ``vmin = 0`` and one ``vmax`` (the
largest value drawn), and one colour bar says what a colour means, so a clean group reads
dark next to an artifacted one.

>>> import torch
>>> fig = samples_with_heat({"a": torch.rand(2, 3, 16, 16)}, periods=(2,), window=4)
>>> len(fig.axes)   # two images, two maps, one colour bar
5
"""

from __future__ import annotations

__all__ = ["samples_with_heat"]


def samples_with_heat(groups: dict, periods=(2, 4), window: float = 4.0, title: str = "",
                      size: float = 1.3):
    """``groups``: ``{name: (n, C, H, W) images in [0, 1]}``, equal ``n``; returns a figure."""
    from checkerfree.experiments.figures import pyplot, to_display
    from checkerfree.score.heatmap import checkerboard_heatmap

    plt = pyplot()
    heats = {name: checkerboard_heatmap(x.float() * 255, periods=periods, window=window)
             for name, x in groups.items()}
    vmax = max(max(float(h.max()) for h in heats.values()), 1.0)
    n = len(next(iter(groups.values())))
    rows = 2 * len(groups)
    fig, axes = plt.subplots(rows, n, figsize=(size * n + 1.2, size * rows + 0.4),
                             squeeze=False)
    image = None
    for g, (name, x) in enumerate(groups.items()):
        for i in range(n):
            a = to_display(x[i])
            axes[2 * g][i].imshow(a, cmap="gray" if a.ndim == 2 else None, vmin=0, vmax=1,
                                  interpolation="nearest")
            image = axes[2 * g + 1][i].imshow(heats[name][i].numpy(), cmap="inferno", vmin=0,
                                              vmax=vmax, interpolation="nearest")
        axes[2 * g][0].set_ylabel(name, fontsize=9)
        axes[2 * g + 1][0].set_ylabel("heat map", fontsize=9)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0, 0.9, 1))
    cax = fig.add_axes((0.91, 0.1, 0.02, 0.8))
    bar = fig.colorbar(image, cax=cax)
    bar.set_label(f"checkerboard amplitude (grey levels), periods {list(periods)}",
                  fontsize=8)
    bar.ax.tick_params(labelsize=8)
    return fig

