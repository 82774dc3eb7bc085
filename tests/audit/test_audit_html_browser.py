"""The audit's HTML report in headless Chromium: every picture present and decodable."""

from __future__ import annotations

import re

from browser import needs_chromium, probed_dom

pytestmark = needs_chromium


def test_audit_page_pictures_all_load(tmp_path):
    from checkerfree.cli import main

    out = tmp_path / "audit"
    assert main(["audit", "audio-decoder", "--fix", "resize", "--seeds", "1",
                 "--html", str(out)]) == 0
    dom = probed_dom(out / "index.html", tmp_path / "profile")
    states = re.findall(r'data-state="(\w+)"', dom)
    on_disk = set(re.findall(r"src='([^']+)'", (out / "index.html").read_text()))
    assert states and set(states) == {"ok"} and len(states) >= len(on_disk) >= 4
    assert "After the fix" in dom and "What to change" in dom
