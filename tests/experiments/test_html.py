"""The page builder escapes text, links figures relatively, and the report has every claim."""

from checkerfree.report.html import Page, escape
from checkerfree.report.reproduce_html import flatten, render_report


def test_escapes_everything_given_as_text():
    page = Page("<title>")
    with page.section('a"b', "<h>"):
        page.paragraph("<script>alert(1)</script>")
        page.table(["<k>"], [["&v"]])
    html = page.render()
    assert "<script>alert" not in html
    assert "&lt;script&gt;" in html and "&amp;v" in html and 'id="a&quot;b"' in html
    assert "<title>&lt;title&gt;</title>" in html


def test_figures_are_relative_links():
    page = Page("t")
    page.figure("figures/x y.png", "cap <1>")
    html = page.render()
    assert 'src="figures/x%20y.png"' in html and "cap &lt;1&gt;" in html


def test_escape_quotes():
    assert escape("'\"") == "&#x27;&quot;"


def test_report_sections_and_verdicts():
    claims = [{"id": f"c{i}", "statement": "s", "measured": {"a": [1.0, 2.0], "b": {"c": i}},
               "holds": i % 2 == 0, "rule": "r", "figures": [f"figures/c{i}.png"]}
              for i in range(3)]
    html = render_report({"claims": claims, "meta": {"quick": True, "seconds": 2.0}})
    for i in range(3):
        assert f'<section id="c{i}">' in html and f'src="figures/c{i}.png"' in html
        assert f'href="#c{i}"' in html
    assert html.count(">does not hold<") >= 1 and "2 of 3 claims hold" in html


def test_flatten_lists_of_records():
    assert flatten({"x": [{"y": 1}, {"y": 2}]}) == [("x[0].y", 1), ("x[1].y", 2)]
