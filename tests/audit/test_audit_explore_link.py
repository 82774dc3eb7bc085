"""`checkerfree audit --html` links each culprit's row to the explorer opened on its stack."""

from __future__ import annotations

import html
import re

from browser import chromium, needs_chromium

from checkerfree.cli import main
from checkerfree.overlap import overlap


def test_culprit_rows_link_to_the_explorer_beside_the_report(tmp_path, capsys):
    out = tmp_path / "audit"
    assert main(["audit", "dcgan", "--seeds", "1", "--no-gradient", "--html", str(out)]) == 0
    page = (out / "index.html").read_text()
    links = [html.unescape(h) for h in re.findall(r"<a class='explore' href='([^']+)'", page)]
    culprits = page.count("<tr class='culprit'>")
    assert culprits >= 1 and len(links) == culprits
    assert all(link.startswith("explore.html#dims=2&layers=") for link in links)
    # Each link holds the stack up to its culprit: DCGAN's layers 3, 6, 9, 12 are its strided
    # transposed convolutions (layer 0 has stride 1: no resampling site), so the culprit at
    # layer 12 opens on a stack of 4.
    names = re.findall(r"<tr class='culprit'><td><code>([^<]+)</code>", page)
    depths = [len(re.search(r"layers=([^&]+)", link).group(1).split(",")) for link in links]
    assert depths == [[3, 6, 9, 12].index(int(n)) + 1 for n in names], (names, depths)
    assert (out / "explore.html").is_file()
    # The explorer beside it is one of the report's files: never written over without --force.
    for f in out.iterdir():
        if f.name != "explore.html":
            f.unlink()
    capsys.readouterr()
    assert main(["audit", "dcgan", "--seeds", "1", "--no-gradient", "--html", str(out)]) == 2
    assert "explore.html exists" in capsys.readouterr().err


@needs_chromium
def test_the_link_opens_the_explorer_on_the_culprits_stack(tmp_path):
    out = tmp_path / "audit"
    assert main(["audit", "dcgan", "--seeds", "1", "--no-gradient", "--html", str(out)]) == 0
    link = html.unescape(re.search(r"<a class='explore' href='([^']+)'",
                                   (out / "index.html").read_text()).group(1))
    fragment = link.split("#", 1)[1]
    proc = chromium(tmp_path / "profile", "--dump-dom", (out / "explore.html").as_uri() + "#"
                    + fragment)
    read = dict(re.findall(r'id="(ratio|period|uneven)">([^<]*)<', proc.stdout))
    dims = int(re.search(r"dims=(\d)", fragment).group(1))
    r = overlap(re.search(r"layers=([^&]+)", fragment).group(1).split(","), dims=dims)
    assert read == {"ratio": f"{r.ratio:g}", "period": "x".join(map(str, r.period)),
                    "uneven": "yes" if r.uneven else "no"}
