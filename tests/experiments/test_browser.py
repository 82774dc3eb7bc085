"""index.html in a real browser (headless Chromium): every section shown, no broken image."""

import re
import shutil
from pathlib import Path

import pytest
from browser import CHROMIUM, chromium, needs_chromium, probed_dom

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    from checkerfree.experiments.runner import reproduce

    out = tmp_path_factory.mktemp("browser") / "rep"
    reproduce(out, quick=True, only=["overlap-1d", "overlap-2d", "overlap-stack",
                                     "stride1-dampens"], verbose=False)
    return out


def test_sections_shown_and_no_broken_image(report, tmp_path):
    import json

    claims = json.loads((report / "report.json").read_text())["claims"]
    dom = probed_dom(report / "index.html", tmp_path / "profile")
    for c in claims:
        assert f'id="{c["id"]}"' in dom
    states = re.findall(r'data-state="(\w+)"', dom)
    assert states and set(states) == {"ok"}, states
    # Each figure once, even when several claims list it.
    assert len(states) == len({f for c in claims for f in c["figures"]})


def test_summary_table_gives_a_verdict_and_headline_per_claim(report, tmp_path):
    import json

    claims = json.loads((report / "report.json").read_text())["claims"]
    dom = probed_dom(report / "index.html", tmp_path / "profile")
    table = dom[dom.index('<table class="summary">'):]
    table = table[:table.index("</table>")]
    rows = re.findall(r"<tr>(.*?)</tr>", table, flags=re.DOTALL)[1:]
    assert len(rows) == len(claims)
    for c, row in zip(claims, rows):
        assert f'href="#{c["id"]}"' in row
        verdict = "holds" if c["holds"] else "fails"
        assert f'class="badge {verdict}"' in row
        assert c["headline"][0]["name"] in row
    for c in claims:
        section = dom[dom.index(f'<section id="{c["id"]}">'):]
        section = section[:section.index("</section>")]
        assert '<table class="headline">' in section and "<details>" in section


def test_a_second_run_reads_the_cache_and_says_so(report, tmp_path):
    import json

    from checkerfree.experiments.runner import reproduce

    report = Path(shutil.copytree(report, tmp_path / "again"))
    reproduce(report, quick=True, only=["overlap-1d", "overlap-2d"], force=True, verbose=False)
    data = json.loads((report / "report.json").read_text())
    assert [c["cached"] for c in data["claims"]] == [True, True]
    assert all(c["computed_at"] for c in data["claims"])
    assert data["meta"]["cached"] == ["overlap-1d", "overlap-2d"] and not data["meta"]["computed"]
    html = (report / "index.html").read_text()
    assert "0 of 2 claims computed in this run" in html and "2 from the cache" in html


def test_screenshot_is_not_blank(report, tmp_path):
    from PIL import Image

    shot = tmp_path / "shot.png"
    chromium(tmp_path / "profile", f"--screenshot={shot}", "--window-size=1000,1400",
             (report / "index.html").as_uri())
    assert shot.is_file()
    img = Image.open(shot).convert("L")
    lo, hi = img.getextrema()
    assert hi - lo > 100  # text and figures, not an empty page


def test_chromium_is_the_real_binary():
    assert shutil.which(str(CHROMIUM))
