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


def _claim(i, figures, cached=False, holds=True):
    return {"id": f"c{i}", "statement": "s", "holds": holds, "rule": "r", "figures": figures,
            "headline": [{"name": f"n{i}", "value": 1.5 + i, "unit": "dB"}],
            "measured": {"sr": {"deconv-k3": {"psnr": {"mean": 30.0, "std": 0.5, "min": 29.5,
                                                       "max": 30.5, "n": 2},
                                              "init_periods": {"8": 0.25}}}, "steps": 40},
            "seconds": 10.0 + i, "cached": cached,
            "computed_at": "2026-12-01 12:00 UTC" if cached else None}


def test_shared_figures_are_shown_once_and_linked():
    shared = ["figures/sr_outputs.png", "figures/sr_score_psnr.png"]
    claims = [_claim(0, ["figures/a.png"]), _claim(1, shared), _claim(2, shared)]
    html = render_report({"claims": claims, "meta": {"seconds": 3.0}})
    for f in ["figures/a.png", *shared]:
        assert html.count(f'<img src="{f}"') == 1
    c2 = html[html.index('<section id="c2">'):]
    assert '<img' not in c2.split("</section>")[0]
    assert 'href="#c1"' in c2.split("</section>")[0]


def test_summary_table_has_headline_and_coloured_verdict_per_claim():
    claims = [_claim(i, [], holds=i != 1) for i in range(3)]
    html = render_report({"claims": claims, "meta": {"seconds": 3.0}})
    summary = html[html.index('<table class="summary">'):]
    summary = summary[:summary.index("</table>")]
    assert summary.count("<tr>") == 4  # header + one row per claim
    assert summary.count('class="badge holds"') == 2 and summary.count('class="badge fails"') == 1
    assert "n0: 1.5 dB" in summary and "n2: 3.5 dB" in summary


def test_header_says_what_was_computed_and_what_came_from_the_cache():
    claims = [_claim(0, [], cached=True), _claim(1, [], cached=True), _claim(2, [])]
    html = render_report({"claims": claims, "meta": {"seconds": 41.0}})
    assert "1 of 3 claims computed in this run (41 s wall time)" in html
    assert "2 from the cache (computed 2026-12-01 12:00 UTC, 21 s then)" in html
    all_fresh = render_report({"claims": [_claim(0, [])], "meta": {"seconds": 5.0}})
    assert "1 of 1 claims computed in this run (5 s" in all_fresh and "cache" not in all_fresh


def test_measured_numbers_are_folded_grouped_and_readable():
    html = render_report({"claims": [_claim(0, [])], "meta": {}})
    details = html[html.index("<details>"):html.index("</details>")]
    assert "<h4>sr</h4>" in details
    assert "deconv-k3 / PSNR (dB)" in details and "30 \u00b1 0.5 (min 29.5, max 30.5, n = 2)" \
        in details
    assert "deconv-k3 / score per period at init / period 8" in details
    assert "init_periods" not in details and ".mean" not in details
