"""The ``index.html`` of ``checkerfree reproduce``: a summary, then one section per claim.

The header says how many claims hold, how many were computed in this run and in how long,
and how many came from the cache (with when and how long they took then). A summary table
gives each claim's first headline number and its coloured verdict. Each section (anchor =
the claim's id) opens with the statement, the verdict, the rule and the headline numbers
(``Claim.headline``: name, value, unit); then the figures, each shown once (a later claim
that uses the same figure links to the section showing it); then every number measured,
folded in ``<details>``, grouped by top-level key, with readable labels (:func:`label`) and
the mean/std/min/max/n summaries of several seeds on one line (:func:`measured_rows`).

>>> report = {"claims": [{"id": "c1", "statement": "S <b>", "measured": {"a": {"b": 1.0}},
...           "holds": False, "rule": "a.b > 2", "figures": ["figures/c1.png"],
...           "headline": [{"name": "b", "value": 1.0, "unit": "dB"}]}],
...           "meta": {"quick": True, "seconds": 1.0, "versions": {"torch": "2"}}}
>>> html = render_report(report)
>>> 'id="c1"' in html, "does not hold" in html, "<details>" in html, "S &lt;b&gt;" in html
(True, True, True, True)
"""

from __future__ import annotations

from checkerfree.report.html import Markup, Page, badge_markup, escape, format_value

__all__ = ["flatten", "format_headline", "label", "measured_rows", "render_report"]

# Long lists (per-seed values, maps) are shown up to this many items, then elided.
_MAX_ITEMS = 16

_SUMMARY_KEYS = {"mean", "std", "min", "max", "n"}

# Key fragments of the experiments' ``measured`` dicts, as a reader would say them; any
# other key is shown with its underscores as spaces.
_WORDS = {
    "k3_s2": "k=3 s=2", "psnr": "PSNR (dB)", "psnr_all": "PSNR per upsampler (dB)",
    "init_periods": "score per period at init", "periods": "score per period",
    "init_score": "score at init", "score": "score", "imbalance_init": "phase imbalance at init",
    "imbalance_trained": "phase imbalance after training", "step_ms": "training step (ms)",
    "sharpness": "sharpness (|Laplacian| / ground truth's)", "lr": "learning rate",
    "sr_trained": "trained super-resolution", "upsamplers": "upsamplers",
    "value": "score per period", "flagged_rate": "fraction flagged",
    "periods_present": "periods present", "periods_expected": "periods expected",
    "dcgan_k4_random_init": "DCGAN k=4 at random init", "layer_fwd_bwd_ms":
    "layer forward+backward (ms)", "train_step_ms": "training step (ms)",
    "psnr_minus_deconv": "PSNR - deconv k=3 (dB)", "layer_time_over_deconv":
    "layer time / deconv k=3", "per_sample_score": "per-sample score",
    "periodic_mean": "periodic mean per period", "value_per_period": "score per period",
    "ratio": "max:min", "ratio_1d": "1D max:min", "ratio_2d": "2D max:min",
}


def flatten(value, prefix: str = "") -> list[tuple[str, object]]:
    """Nested dicts as ``(dotted.name, leaf)`` pairs; lists of numbers stay one leaf.

    >>> flatten({"a": {"b": 1, "c": [1, 2]}, "d": [{"e": 3}]})
    [('a.b', 1), ('a.c', [1, 2]), ('d[0].e', 3)]
    """
    if isinstance(value, dict):
        out = []
        for k, v in value.items():
            out += flatten(v, f"{prefix}.{k}" if prefix else str(k))
        return out
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        out = []
        for i, v in enumerate(value):
            out += flatten(v, f"{prefix}[{i}]")
        return out
    return [(prefix, value)]


def _is_summary(value) -> bool:
    return isinstance(value, dict) and set(value) == _SUMMARY_KEYS


def measured_rows(value, path: tuple = ()) -> list[tuple[tuple, object]]:
    """Like :func:`flatten` but with the key path as a tuple, and the ``summary`` dicts of
    :func:`checkerfree.experiments.claim.summary` kept whole (one row, not five).

    >>> measured_rows({"a": {"mean": 1.0, "std": 0.0, "min": 1.0, "max": 1.0, "n": 2},
    ...                "b": [{"c": 3}]})
    [(('a',), {'mean': 1.0, 'std': 0.0, 'min': 1.0, 'max': 1.0, 'n': 2}), (('b', '1', 'c'), 3)]
    """
    if isinstance(value, dict) and not _is_summary(value):
        out = []
        for k, v in value.items():
            out += measured_rows(v, (*path, str(k)))
        return out
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        out = []
        for i, v in enumerate(value, 1):
            out += measured_rows(v, (*path, str(i)))
        return out
    return [(path, value)]


def label(path) -> str:
    """A readable label for a key path: known fragments in words, a number under a
    per-period key as ``period N``, underscores as spaces, parts joined by " / ".

    >>> label(("sr_trained", "resize-nearest", "init_periods", "8"))
    'trained super-resolution / resize-nearest / score per period at init / period 8'
    >>> label(("width3_fraction_kept",))
    'width3 fraction kept'
    """
    parts, previous = [], ""
    for p in path:
        if p.isdigit() and previous in ("periods", "init_periods", "value", "periodic_mean",
                                        "value_per_period", "before", "fraction_kept",
                                        "width3_fraction_kept"):
            parts.append(f"period {p}")
        else:
            parts.append(_WORDS.get(p, p.replace("_", " ")))
        previous = p
    return " / ".join(parts)


def _cell(value):
    if _is_summary(value):
        if value["n"] == 1:
            return format_value(value["mean"])
        return (f"{format_value(value['mean'])} \u00b1 {format_value(value['std'])} "
                f"(min {format_value(value['min'])}, max {format_value(value['max'])}, "
                f"n = {value['n']})")
    if isinstance(value, list):
        items = [_short(v) for v in value[:_MAX_ITEMS]]
        more = f", ... ({len(value)} in all)" if len(value) > _MAX_ITEMS else ""
        return "[" + ", ".join(items) + more + "]"
    return value


def _short(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list):
        return _cell(v)
    return str(v)


def format_headline(h: dict) -> str:
    """A headline's value with its unit, as a reader would write it.

    >>> format_headline({"name": "r", "value": 4.0, "unit": "x"})
    '4x'
    >>> format_headline({"name": "d", "value": -0.0812, "unit": "dB"})
    '-0.0812 dB'
    >>> format_headline({"name": "m", "value": 0, "unit": "of 30"})
    '0 of 30'
    """
    value, unit = h.get("value"), h.get("unit", "")
    text = format_value(value, 3) if isinstance(value, float) else format_value(value)
    if unit in ("x", "%"):
        return f"{text}{unit}"
    return f"{text} {unit}" if unit else text


def _timing(claims, meta) -> str:
    """"3 of 15 claims computed in 41 s, 12 from cache (computed ... in 312 s)"."""
    cached = [c for c in claims if c.get("cached")]
    n, wall = len(claims), meta.get("seconds", 0)
    computed = n - len(cached)
    text = f"{computed} of {n} claims computed in this run ({wall:.0f} s wall time)"
    if cached:
        dates = sorted({c["computed_at"] for c in cached if c.get("computed_at")})
        when = ""
        if dates:
            when = dates[0] if len(dates) == 1 else f"{dates[0]} to {dates[-1]}"
            when = f"computed {when}, "
        took = sum(c.get("seconds", 0) for c in cached)
        text += f", {len(cached)} from the cache ({when}{took:.0f} s then)"
    return text + "."


def render_report(report: dict) -> str:
    """The HTML text of the report (figures linked, not embedded)."""
    claims, meta = report["claims"], report.get("meta", {})
    page = Page("checkerfree reproduce: checkerboard artifacts, claim by claim")
    page.heading("Deconvolution and checkerboard artifacts: the claims, measured")
    held = sum(1 for c in claims if c["holds"])
    mode = "quick" if meta.get("quick") else "full"
    page.raw(f"<p><strong>{held} of {len(claims)} claims hold</strong> in this {mode} run. "
             f"{escape(_timing(claims, meta))}</p>")
    page.paragraph("Each section gives the claim, its verdict and the rule that decides it "
                   "from the numbers, the headline numbers, the figures, and (folded) every "
                   "number measured.", cls="muted")
    versions = ", ".join(f"{k} {v}" for k, v in meta.get("versions", {}).items())
    if versions:
        threads = f"; {meta['threads']} thread(s)" if meta.get("threads") else ""
        page.paragraph(f"Versions: {versions}{threads}.", cls="muted")
    page.table(["claim", "headline number", "verdict"], [
        [page.link(f"#{c['id']}", c["id"]), _summary_number(c),
         badge_markup("holds" if c["holds"] else "does not hold", c["holds"])]
        for c in claims
    ], cls="summary")
    shown: dict[str, str] = {}
    for c in claims:
        with page.section(c["id"], c["id"]):
            _claim_top(page, c)
            _claim_figures(page, c, shown)
            _claim_numbers(page, c)
    page.raw('<p class="muted">Written by <code>checkerfree reproduce</code>; the numbers '
             'are in <a href="report.json">report.json</a>.</p>')
    return page.render()


def _summary_number(c: dict) -> str:
    hs = c.get("headline") or []
    return f"{hs[0]['name']}: {format_headline(hs[0])}" if hs else "-"


def _claim_top(page: Page, c: dict) -> None:
    page.paragraph(c["statement"], cls="statement")
    page.raw(f'<p>{badge_markup("holds" if c["holds"] else "does not hold", c["holds"])} '
             f'<span class="muted">Rule: {escape(c.get("rule", ""))}</span></p>')
    if c.get("headline"):
        page.table(["headline number", "value"],
                   [[h["name"], Markup(f'<span class="num">{escape(format_headline(h))}'
                                       "</span>")] for h in c["headline"]], cls="headline")


def _claim_figures(page: Page, c: dict, shown: dict) -> None:
    elsewhere: dict[str, list[str]] = {}
    for f in c.get("figures", []):
        if f in shown:
            elsewhere.setdefault(shown[f], []).append(f.rsplit("/", 1)[-1])
            continue
        shown[f] = c["id"]
        page.figure(f, f.rsplit("/", 1)[-1])
    for where, names in elsewhere.items():
        link = f'<a href="#{escape(where)}">{escape(where)}</a>'
        page.raw(f'<p class="muted">Figures {escape(", ".join(names))}: shown under '
                 f"{link}.</p>")


def _claim_numbers(page: Page, c: dict) -> None:
    rows = measured_rows(c["measured"])
    page.raw(f"<details><summary>All {len(rows)} numbers measured</summary>")
    groups: dict[str, list] = {}
    for path, v in rows:
        head = path[0] if len(path) > 1 else ""
        groups.setdefault(head, []).append((path[1:] if head else path, v))
    for head, items in groups.items():
        if head:
            page.raw(f"<h4>{escape(label((head,)))}</h4>")
        page.table(["measured", "value"], [[label(p), _cell(v)] for p, v in items])
    page.raw("</details>")
    notes = []
    if c.get("seeds"):
        notes.append(f"Seeds: {', '.join(map(str, c['seeds']))}.")
    if c.get("cached"):
        when = f" on {c['computed_at']}" if c.get("computed_at") else ""
        notes.append(f"From the cache (computed{when} in {c.get('seconds', 0):.1f} s).")
    elif "seconds" in c:
        notes.append(f"Computed in {c['seconds']:.1f} s.")
    if notes:
        page.paragraph(" ".join(notes), cls="muted")
