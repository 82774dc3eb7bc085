"""The ``index.html`` of ``checkerfree reproduce``: one section per claim.

Each section has the claim's id as anchor, its statement, its figures (relative links to
the PNG files beside the page), the measured numbers as a table (nested values flattened to
dotted names) and the verdict with its rule.

>>> report = {"claims": [{"id": "c1", "statement": "S <b>", "measured": {"a": {"b": 1.0}},
...           "holds": False, "rule": "a.b > 2", "figures": ["figures/c1.png"]}],
...           "meta": {"quick": True, "seconds": 1.0, "versions": {"torch": "2"}}}
>>> html = render_report(report)
>>> 'id="c1"' in html, "does not hold" in html, "a.b" in html, "S &lt;b&gt;" in html
(True, True, True, True)
"""

from __future__ import annotations

from checkerfree.report.html import Page, escape

__all__ = ["flatten", "render_report"]

# Long lists (per-seed values, maps) are shown up to this many items, then elided.
_MAX_ITEMS = 16


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


def _cell(value):
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


def render_report(report: dict) -> str:
    """The HTML text of the report (figures linked, not embedded)."""
    claims, meta = report["claims"], report.get("meta", {})
    page = Page("checkerfree reproduce: checkerboard artifacts, claim by claim")
    page.heading("Deconvolution and checkerboard artifacts: the claims, measured")
    held = sum(1 for c in claims if c["holds"])
    mode = "quick" if meta.get("quick") else "full"
    page.paragraph(f"{held} of {len(claims)} claims hold in this {mode} run "
                   f"({meta.get('seconds', 0):.0f} s). Each section gives the claim, the "
                   "figures, every number measured and the verdict with the rule that "
                   "decides it from the numbers.")
    versions = ", ".join(f"{k} {v}" for k, v in meta.get("versions", {}).items())
    if versions:
        page.paragraph(f"Versions: {versions}.", cls="muted")
    page.table(["claim", "verdict", "statement"], [
        [page.link(f"#{c['id']}", c["id"]), "holds" if c["holds"] else "does not hold",
         c["statement"]] for c in claims
    ])
    for c in claims:
        with page.section(c["id"], c["id"]):
            page.paragraph(c["statement"])
            page.badge("holds" if c["holds"] else "does not hold", c["holds"])
            page.raw(f'<p class="muted">Rule: {escape(c.get("rule", ""))}</p>')
            for f in c.get("figures", []):
                page.figure(f, f.rsplit("/", 1)[-1])
            page.table(["measured", "value"],
                       [[name, _cell(v)] for name, v in flatten(c["measured"])])
            if c.get("seeds"):
                page.paragraph(f"Seeds: {', '.join(map(str, c['seeds']))}.", cls="muted")
    page.raw('<p class="muted">Written by <code>checkerfree reproduce</code>; the numbers '
             'are in <a href="report.json">report.json</a>.</p>')
    return page.render()

