"""The audit's HTML report: a self-contained page with its pictures beside it.

``write_audit_html(report, directory)`` writes ``index.html`` and PNG figures: the layer
table, outputs and input gradients with their heat maps, their average spectra with the
lattice marked, each culprit's overlap map, and before/after a fix. Every file it may
write (:func:`planned_outputs`) is checked before the first one is written, and none is
replaced without ``force=True`` (:class:`checkerfree.files.OutputSet`).

>>> [p.name for p in planned_outputs("rep", fixed=False)]
['index.html', 'output_samples.png', 'output_spectrum.png', 'gradient_samples.png',
 'gradient_spectrum.png']
"""

from __future__ import annotations

import html
import io
import textwrap
from pathlib import Path

import numpy as np
import torch

from checkerfree.audit.report import decided_by
from checkerfree.files import OutputSet

__all__ = ["write_audit_html", "planned_outputs", "audit_html_outputs", "shared_scale",
           "explorer_link", "EXPLORER"]

_PROBES = ("output", "gradient")  # the last word of the section labels, lower case
#: The explorer page beside index.html that each culprit's row opens on its stack.
EXPLORER = "explore.html"


def _prefixes(fixed: bool) -> tuple[str, ...]:
    return ("", "fixed_") if fixed else ("",)


def planned_outputs(directory, *, fixed: bool) -> list[Path]:
    """The files of a report in ``directory`` whose names are known before the audit runs
    (the culprits' ``overlap_<i>.png`` are a family, see :func:`audit_html_outputs`)."""
    directory = Path(directory)
    names = ["index.html"] + [f"{prefix}{probe}_{kind}.png" for prefix in _prefixes(fixed)
                              for probe in _PROBES for kind in ("samples", "spectrum")]
    return [directory / name for name in names]


def audit_html_outputs(directory, *, fixed: bool, force: bool = False) -> OutputSet:
    """Every file an audit report in ``directory`` may write, planned (not yet checked)."""
    outputs = OutputSet(force=force)
    outputs.folder(directory)
    outputs.extend(planned_outputs(directory, fixed=fixed))
    for prefix in _prefixes(fixed):
        outputs.add_family(directory, f"{prefix}overlap_*.png")
    # Written only when a culprit has a geometry to explore; its rows link to it.
    outputs.add_family(directory, EXPLORER)
    return outputs

_CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.5em} h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.9em} td,th{border:1px solid #ddd;padding:.3em .5em}
th{background:#f4f4f4} .artifacts{color:#b00020;font-weight:bold} .clean{color:#1b7f3b;
font-weight:bold} figure{display:inline-block;margin:.5em} img{max-width:100%;border:1px solid
#eee} .culprit{background:#fff0f0} code{background:#f6f6f6;padding:0 .2em}
.note{color:#555;font-size:.9em;max-width:45em}
"""


def _png(fig) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _usable_periods(x: torch.Tensor, periods) -> tuple[int, ...]:
    # The heat map needs several repeats of a period within its window to see it.
    return tuple(p for p in periods if all(s >= 8 * p for s in x.shape[2:])) or (2,)


def _shown(samples: torch.Tensor) -> torch.Tensor:
    """Up to 4 items, borders dropped as the probes drop them before scoring (zero padding
    makes every convolutional net's borders differ; that is not a checkerboard)."""
    from checkerfree.audit.probes import _interior

    return _interior(samples[:4].float())


def _heat(samples: torch.Tensor, periods) -> torch.Tensor:
    """Local amplitude maps of up to 4 items, in grey levels of the stretched picture."""
    from checkerfree.score.heatmap import checkerboard_heatmap

    x = _shown(samples)
    usable = _usable_periods(x, periods)
    # The raw map (no local tests): the page blanks the maps of unflagged items itself.
    return checkerboard_heatmap(x, periods=usable, spatial_dims=x.dim() - 2,
                                window=float(max(max(usable), min(16, min(x.shape[2:]) // 8))),
                                threshold=0, significance=None)


def shared_scale(*heats) -> float:
    """The top of the colour scale that every local-amplitude map on the page shares.

    The largest local amplitude shown, and never less than four times the score's threshold:
    a clean model's maps (a fraction of a grey level) then stay dark instead of being
    stretched to full brightness.

    >>> shared_scale(torch.zeros(1, 8, 8), torch.full((1, 8, 8), 30.0))
    30.0
    """
    from checkerfree.score.checkerboard import DEFAULT_THRESHOLD

    top = max([float(h.max()) for h in heats if h is not None and h.numel()] or [0.0])
    return max(top, 4 * DEFAULT_THRESHOLD)


def _samples_figure(samples: torch.Tensor, title: str, periods, vmax: float | None = None):
    """Up to 4 items: the picture (or signal) above its local-amplitude map.

    Every map is drawn on the colour scale ``0..vmax`` grey levels (one colour bar, the
    score's threshold marked on it), so pictures before and after a fix compare directly.
    """
    from checkerfree.report.overlap_plots import _pyplot
    from checkerfree.score.checkerboard import DEFAULT_THRESHOLD

    plt = _pyplot()
    x = _shown(samples)
    dims = x.dim() - 2
    n = x.shape[0]
    heat = _heat(samples, periods)
    vmax = shared_scale(heat) if vmax is None else vmax
    # Each item's own decision (the audit's rule) above its picture. A local amplitude map is
    # not significance-tested: on a busy random-init picture its estimate fluctuates above
    # the local floor by several grey levels anywhere. It says *where* a detected pattern
    # is, so an item the score does not flag gets an empty map, not a noisy one.
    from checkerfree.audit.probes import item_values

    decided = item_values(samples[:4].float(), periods)
    flagged = decided["flagged"].tolist() if decided is not None else [None] * n
    heat = torch.stack([h if f is not False else torch.zeros_like(h)
                        for h, f in zip(heat, flagged)])
    fig, axes = plt.subplots(2, n, figsize=(2.6 * n + 0.8, 5.2), squeeze=False)
    im = None
    for i in range(n):
        top, bottom = axes[0, i], axes[1, i]
        if dims == 1:
            top.plot(x[i].mean(0).numpy(), lw=0.8)
            bottom.plot(heat[i].numpy(), color="crimson", lw=0.8)
            bottom.set_ylim(0, vmax * 1.05)
            bottom.axhline(DEFAULT_THRESHOLD, color="grey", ls="--", lw=0.8)
            bottom.set_ylabel("grey levels", fontsize=8)
        else:
            item = x[i] if dims == 2 else x[i][:, x.shape[2] // 2]
            h = heat[i] if dims == 2 else heat[i][x.shape[2] // 2]
            if item.shape[0] == 3:
                top.imshow((item.permute(1, 2, 0).clamp(0, 255) / 255).numpy(),
                           interpolation="nearest")
            else:
                # On the display scale itself (0..255): auto-contrast would blow a pattern of
                # a few grey levels up to black and white, and make a clean picture look bad.
                top.imshow(item.mean(0).numpy(), cmap="gray", interpolation="nearest", vmin=0,
                           vmax=255)
            im = bottom.imshow(h.numpy(), cmap="inferno", interpolation="nearest", vmin=0.0,
                               vmax=vmax)
            if flagged[i] is False:
                bottom.text(0.5, 0.5, "not flagged:\nno pattern to locate", color="white",
                            ha="center", va="center", fontsize=8, transform=bottom.transAxes)
            top.set_xticks([]), top.set_yticks([]), bottom.set_xticks([]), bottom.set_yticks([])
        state = {True: "flagged", False: "not flagged", None: ""}[flagged[i]]
        top.set_title(f"item {i}: {state}" if state else f"item {i}", fontsize=9,
                      color="#b00020" if flagged[i] else "#1b7f3b" if state else "black")
        bottom.set_title("local amplitude", fontsize=9)
    if im is not None:
        bar = fig.colorbar(im, ax=list(axes[1]), fraction=0.046, pad=0.04)
        bar.ax.axhline(DEFAULT_THRESHOLD, color="white", lw=1.2)
        bar.ax.text(-0.4, DEFAULT_THRESHOLD, "threshold", fontsize=6, va="center", ha="right",
                    transform=bar.ax.get_yaxis_transform())
        bar.set_label("local amplitude (grey levels, shared scale)", fontsize=8, labelpad=8)
    fig.suptitle(title + " (borders dropped, as scored)"
                 + (", middle depth slice" if dims == 3 else ""), fontsize=11)
    return fig


def _spectrum_figure(samples: torch.Tensor, title: str, periods):
    from checkerfree.report.spectrum_plot import plot_spectrum
    from checkerfree.score.spectrum import average_spectrum

    x = samples.float()
    if x.dim() == 5:
        x = x[:, :, x.shape[2] // 2]
    spectrum = average_spectrum(x)
    fig, _ = plot_spectrum(spectrum, periods=tuple(p for p in periods
                                                   if all(s >= 8 * p for s in x.shape[2:])),
                           title=title)
    return fig


def _overlap_figure(site):
    from checkerfree.report.overlap_plots import _pyplot, plot_overlap_1d, plot_overlap_2d

    layer = (site.kernel, site.stride, site.padding or 0, site.output_padding or 0,
             site.dilation or 1)
    if site.kind == "subpixel":
        layer = (tuple(k * s for k, s in zip(site.kernel, site.stride)), site.stride)
    if site.dims == 1:
        fig, _ = plot_overlap_1d([layer], size=6)
    elif site.dims == 2:
        fig, _ = plot_overlap_2d([layer])
    else:  # one period in depth (at most 4 slices), counts written in, one colour scale
        plt = _pyplot()
        tiled = site.overlap.tile(2)
        depth = min(site.overlap.period[0], 4)
        fig, axes = plt.subplots(1, depth, figsize=(3.2 * depth + 0.8, 3.4), squeeze=False)
        for z, ax in enumerate(axes[0]):
            image = ax.imshow(tiled[z], cmap="magma", vmin=0, vmax=tiled.max(),
                              interpolation="nearest")
            if tiled[z].size <= 256:
                for (r, c), v in np.ndenumerate(tiled[z]):
                    ax.text(c, r, str(int(v)), ha="center", va="center", fontsize=7,
                            color="white" if v < 0.6 * tiled.max() else "black")
            ax.set_title(f"depth {z}", fontsize=10)
            ax.set_xticks([]), ax.set_yticks([])
        fig.colorbar(image, ax=list(axes[0]), fraction=0.046, pad=0.04, label="contributions")
    # Wrapped, never cut: the reason's end ("3 mod 2 = 1 != 0") is the figure's claim.
    fig.suptitle(textwrap.fill(f"{site.name}: {site.reason}", 90), fontsize=9, y=1.02,
                 va="bottom")
    return fig


#: Why a probe's table has no "added beyond input" column (``ProbeResult.added`` is None).
_NO_ADDED = {
    "Output": "No \u201cadded beyond input\u201d column: the model's input is no picture of the "
              "output's kind (a generator's latent vector), so nothing of the output was in "
              "it already: every value is the model's own.",
    "Input gradient": "No \u201cadded beyond input\u201d column: the gradient is taken with "
                      "respect to the input, not compared with it: every value is the "
                      "gradient's own.",
}


def _probe_table(p, label: str = "Output") -> str:
    if p.verdict == "n/a":
        return f"<p>not measured: {html.escape(p.reason)}</p>"
    summary = (f"<p>verdict <span class='{p.verdict}'>{p.verdict}</span>; score {p.score:.2f} "
               f"grey levels; {p.flagged_fraction:.0%} of {p.items} items flagged; inputs: "
               f"{html.escape(', '.join(p.inputs))}{html.escape(decided_by(p))}</p>")
    if p.added is None:
        # An empty column would read as "nothing added"; say instead why there is none.
        rows = "".join(f"<tr><td>{s}</td><td>{v:.2f}</td></tr>" for s, v in p.periods.items())
        return (f"{summary}<table><tr><th>period</th><th>median value</th></tr>{rows}</table>"
                f"<p class='note'>{html.escape(_NO_ADDED.get(label, _NO_ADDED['Output']))}</p>")
    rows = "".join(f"<tr><td>{s}</td><td>{v:.2f}</td><td>{p.added.get(s, 0):.2f}</td></tr>"
                   for s, v in p.periods.items())
    return (f"{summary}<table><tr><th>period</th>"
            f"<th>median value</th><th>added beyond input</th></tr>{rows}</table>")


def explorer_link(site, before=()) -> str | None:
    """The relative link that opens the explorer on a site's transposed-convolution stack,
    e.g. ``explore.html#dims=2&layers=3:2:1:1``; None for a site without one.

    ``before`` are the sites that ran before it: the up sites among them with a geometry of
    the same dims come first, so the page shows the stack whose overlaps compound into the
    culprit's output (the article's stacked figure), ending at the culprit.
    """
    from checkerfree.explore.page import layer_text

    geo = site.overlap
    if geo is None:
        return None
    stack = [b.overlap for b in before
             if b.direction == "up" and b.overlap is not None and b.overlap.dims == geo.dims]
    layers = [layer_text(spec) for g in (*stack, geo) for spec in g.layers]
    return f"{EXPLORER}#dims={geo.dims}&layers={','.join(layers)}"


def _explorable(f) -> bool:
    return f.culprit and f.site.overlap is not None


def _layer_table(report) -> str:
    head = ("<tr><th>layer</th><th>kind</th><th>k</th><th>s</th><th>static</th>"
            "<th>phase imbalance</th><th>culprit</th><th>advice</th></tr>")
    rows = []
    for i, f in enumerate(report.layers):
        s = f.site
        rows.append(
            f"<tr class='{'culprit' if f.culprit else ''}'><td><code>{html.escape(s.name)}"
            f"</code>{_explore_cell(f, [g.site for g in report.layers[:i]])}</td>"
            f"<td>{html.escape(s.module_type or s.kind)}</td>"
            f"<td>{'x'.join(map(str, s.kernel)) if s.kernel else '-'}</td>"
            f"<td>{'x'.join(map(str, s.stride))}</td>"
            f"<td>{('uneven' if s.uneven else 'even') if s.direction == 'up' else 'down'}</td>"
            f"<td>{'' if s.phase_imbalance is None else f'{s.phase_imbalance:.3f}'}</td>"
            f"<td>{('yes' + (f' ({f.share:.0%})' if f.share is not None else '')) if f.culprit else ''}"
            f"</td><td>{html.escape(f.advice or s.reason)}</td></tr>")
    return f"<table>{head}{''.join(rows)}</table>" if rows else "<p>no resampling layer</p>"


def _explore_cell(f, before=()) -> str:
    if not _explorable(f):
        return ""
    return (f" <a class='explore' href='{html.escape(explorer_link(f.site, before))}'>"
            "explore</a>")


def _section(report, directory: Path, prefix: str, outputs: OutputSet, written: list,
             scales: dict) -> str:
    parts = [f"<p>{html.escape(report.model)} in {report.mode} mode on {report.device} "
             f"({report.dtype}), probe input shape {tuple(report.input_shape)}; verdict "
             f"<span class='{report.verdict}'>{report.verdict}</span></p>",
             "<h3>Layers</h3>", _layer_table(report)]
    for label, probe in (("Output", report.forward), ("Input gradient", report.gradient)):
        parts.append(f"<h3>{label}</h3>")
        parts.append(_probe_table(probe, label))
        if probe.samples is not None and probe.samples.dim() >= 3:
            key = f"{prefix}{label.split()[-1].lower()}"
            figs = [(f"{key}_samples.png", _samples_figure(probe.samples, label, report.periods,
                                                            scales.get(label)))]
            if probe.samples.dim() >= 4:
                figs.append((f"{key}_spectrum.png", _spectrum_figure(
                    probe.samples, f"{label}: average spectrum", report.periods)))
            for name, fig in figs:
                outputs.write(directory / name, _png(fig))
                written.append(name)
                parts.append(f"<figure><img src='{name}' alt='{html.escape(label)}'></figure>")
    culprits = [f for f in report.layers if _explorable(f)]
    if culprits and EXPLORER not in written:
        from checkerfree.explore.page import build_page

        outputs.write(directory / EXPLORER,
                      build_page(culprits[0].site.overlap.layers, culprits[0].site.overlap.dims,
                                 title=f"checkerfree explore: {report.model}").encode("utf-8"))
        written.append(EXPLORER)
    if culprits:
        parts.append("<h3>Culprits' overlap</h3>")
        for i, f in enumerate(culprits):
            name = f"{prefix}overlap_{i}.png"
            outputs.write(directory / name, _png(_overlap_figure(f.site)))
            written.append(name)
            parts.append(f"<figure><img src='{name}' alt='overlap of "
                         f"{html.escape(f.site.name)}'><figcaption><code>"
                         f"{html.escape(f.site.name)}</code></figcaption></figure>")
    if report.advice:
        parts.append("<h3>What to change</h3><ul>" + "".join(
            f"<li>{html.escape(a)}</li>" for a in report.advice) + "</ul>")
    if report.notes:
        parts.append("<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in report.notes)
                     + "</ul>")
    return "\n".join(parts)


def write_audit_html(report, directory, *, force: bool = False,
                     outputs: OutputSet | None = None) -> Path:
    """Write ``index.html`` and its figures for ``report`` into ``directory``.

    ``outputs``: the files planned (and checked) before the audit ran, from
    :func:`audit_html_outputs`; by default they are planned and checked here, before the
    first figure is written.
    """
    directory = Path(directory)
    if outputs is None:
        outputs = audit_html_outputs(directory, fixed=report.fixed is not None, force=force)
        outputs.check()
    directory.mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    # One colour scale per measurement for the whole page: before and after a fix compare.
    scales = {}
    for label, attr in (("Output", "forward"), ("Input gradient", "gradient")):
        heats = [_heat(p.samples, r.periods) for r in (report, report.fixed) if r is not None
                 for p in [getattr(r, attr)] if p.samples is not None and p.samples.dim() >= 3]
        if heats:
            scales[label] = shared_scale(*heats)
    body = [f"<h1>checkerfree audit: {html.escape(report.model)}</h1>",
            _section(report, directory, "", outputs, written, scales)]
    if report.fixed is not None:
        body.append("<h2>After the fix</h2>")
        body.append(_section(report.fixed, directory, "fixed_", outputs, written, scales))
    page = ("<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>checkerfree audit: {html.escape(report.model)}</title>"
            f"<style>{_CSS}</style></head><body>{''.join(body)}</body></html>")
    return outputs.write(directory / "index.html", page.encode())
