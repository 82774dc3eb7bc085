"""A small, dependency-free HTML page builder: escaping, sections, tables, figures.

Everything added as text is escaped (``&``, ``<``, ``>``, quotes), so numbers and
statements can never break the page; links and image sources are relative paths, also
escaped, so a report folder can be moved or opened offline. The page carries its own CSS.

>>> page = Page("A & B")
>>> with page.section("s1", "Results <1>"):
...     page.paragraph("x < y")
...     page.table(["k", "v"], [["a", 1.5]])
...     page.figure("figures/a b.png", "caption")
>>> html = page.render()
>>> "<h2>Results &lt;1&gt;</h2>" in html, "x &lt; y" in html, 'src="figures/a%20b.png"' in html
(True, True, True)
"""

from __future__ import annotations

import html as _html
from contextlib import contextmanager
from urllib.parse import quote

__all__ = ["Markup", "Page", "badge_markup", "escape", "format_value"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;
margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:0}
section{border-top:1px solid #ddd;padding:1.2em 0}
table{border-collapse:collapse;margin:.6em 0;font-size:.88em}
th,td{border:1px solid #ccc;padding:.2em .5em;text-align:left;vertical-align:top}
th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}
figure{display:inline-block;margin:.4em .8em .4em 0;vertical-align:top}
figure img{max-width:100%;border:1px solid #eee}
figcaption{font-size:.8em;color:#555}
.badge{display:inline-block;padding:.1em .6em;border-radius:.8em;font-weight:600}
.holds{background:#d8f3dc;color:#1b4332}.fails{background:#ffe3e3;color:#7f1d1d}
.muted{color:#666;font-size:.9em}code{background:#f6f6f6;padding:0 .2em}
p.statement{font-size:1.05em;font-weight:500}
table.headline td:first-child{min-width:22em}table.headline .num{font-weight:600}
details{margin:.6em 0}summary{cursor:pointer;color:#1d4ed8}details h4{margin:.8em 0 .2em}
"""


def escape(text) -> str:
    """HTML-escape ``str(text)``, quotes included.

    >>> escape('<a href="x">&</a>')
    '&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;'
    """
    return _html.escape(str(text), quote=True)


def format_value(value, digits: int = 4) -> str:
    """A number as short text (``4`` significant digits), other values as ``str``.

    >>> format_value(3.14159), format_value(True), format_value(None), format_value(12)
    ('3.142', 'yes', '-', '12')
    """
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def _src(path: str) -> str:
    # Quote spaces and the like but keep the path's slashes: a relative link.
    return escape(quote(str(path), safe="/._-~"))


class Page:
    """An HTML document built piece by piece; :meth:`render` returns the whole text."""

    def __init__(self, title: str, css: str = _CSS):
        self.title = title
        self.css = css
        self._parts: list[str] = []

    def raw(self, markup: str) -> None:
        """Append markup as is (the caller escapes what it puts in)."""
        self._parts.append(markup)

    def heading(self, text: str, level: int = 1, anchor: str | None = None) -> None:
        ident = f' id="{escape(anchor)}"' if anchor else ""
        self.raw(f"<h{level}{ident}>{escape(text)}</h{level}>")

    def paragraph(self, text: str, cls: str | None = None) -> None:
        klass = f' class="{escape(cls)}"' if cls else ""
        self.raw(f"<p{klass}>{escape(text)}</p>")

    def badge(self, text: str, ok: bool) -> None:
        self.raw(badge_markup(text, ok))

    def link(self, href: str, text: str) -> str:
        """Markup of a link (returned, for use inside :meth:`table` cells via ``Markup``)."""
        return Markup(f'<a href="{escape(href)}">{escape(text)}</a>')

    @contextmanager
    def section(self, anchor: str, title: str):
        """``<section id=anchor><h2>title</h2> ... </section>``."""
        self.raw(f'<section id="{escape(anchor)}">')
        self.heading(title, 2)
        try:
            yield self
        finally:
            self.raw("</section>")

    def table(self, header, rows, cls: str | None = None) -> None:
        """A table; cells are escaped unless they are :class:`Markup`; numbers right-aligned."""
        klass = f' class="{escape(cls)}"' if cls else ""
        out = [f"<table{klass}><thead><tr>"]
        out += [f"<th>{escape(h)}</th>" for h in header]
        out.append("</tr></thead><tbody>")
        for row in rows:
            out.append("<tr>")
            for cell in row:
                num = isinstance(cell, (int, float)) and not isinstance(cell, bool)
                text = str(cell) if isinstance(cell, Markup) else escape(format_value(cell))
                out.append(f'<td class="num">{text}</td>' if num else f"<td>{text}</td>")
            out.append("</tr>")
        out.append("</tbody></table>")
        self.raw("".join(out))

    def figure(self, src: str, caption: str = "", alt: str | None = None,
               width: int | None = None) -> None:
        """An image by relative path, with a caption."""
        w = f' width="{int(width)}"' if width else ""
        alt = caption if alt is None else alt
        self.raw(f'<figure><a href="{_src(src)}"><img src="{_src(src)}" alt="{escape(alt)}"'
                 f' loading="eager"{w}></a><figcaption>{escape(caption)}</figcaption></figure>')

    def render(self) -> str:
        """The complete document."""
        body = "\n".join(self._parts)
        return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                f"<title>{escape(self.title)}</title><style>{self.css}</style></head>\n"
                f"<body>\n{body}\n</body></html>\n")


class Markup(str):
    """Text already escaped (e.g. a link): :meth:`Page.table` inserts it as is."""


def badge_markup(text: str, ok: bool) -> Markup:
    """A coloured verdict badge (green when ``ok``, red otherwise), as markup.

    >>> badge_markup("holds", True)
    '<span class="badge holds">holds</span>'
    """
    return Markup(f'<span class="badge {"holds" if ok else "fails"}">{escape(text)}</span>')
