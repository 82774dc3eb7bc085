"""The audit's HTML report in headless Chromium: every picture present and decodable."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--virtual-time-budget=5000"]
PROBE = """<script>window.addEventListener('load', () => {
  for (const img of document.images) {
    img.setAttribute('data-state', img.complete && img.naturalWidth > 0 ? 'ok' : 'broken');
  }
  document.body.setAttribute('data-probed', String(document.images.length));
});</script>"""

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="/usr/bin/chromium is missing (Debian package 'chromium'; make test installs it)")


def test_audit_page_pictures_all_load(tmp_path):
    from checkerfree.cli import main

    out = tmp_path / "audit"
    assert main(["audit", "audio-decoder", "--fix", "resize", "--seeds", "1",
                 "--html", str(out)]) == 0
    probed = out / "probed.html"
    probed.write_text((out / "index.html").read_text().replace("</body>", PROBE + "</body>"))
    proc = subprocess.run([str(CHROMIUM), *FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                           "--dump-dom", probed.as_uri()], capture_output=True, text=True,
                          timeout=90)
    dom = proc.stdout
    assert "data-probed" in dom, proc.stderr[-2000:]
    states = re.findall(r'data-state="(\w+)"', dom)
    on_disk = set(re.findall(r"src='([^']+)'", (out / "index.html").read_text()))
    assert states and set(states) == {"ok"} and len(states) >= len(on_disk) >= 4
    assert "After the fix" in dom and "What to change" in dom
