"""Headless Chromium for the report tests: load a page, mark every image ok or broken."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--virtual-time-budget=5000"]

# After load, mark each image: naturalWidth 0 means the browser could not decode it.
PROBE = """<script>window.addEventListener('load', () => {
  for (const img of document.images) {
    img.setAttribute('data-state', img.complete && img.naturalWidth > 0 ? 'ok' : 'broken');
  }
  document.body.setAttribute('data-probed', String(document.images.length));
});</script>"""

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="/usr/bin/chromium is missing (Debian package 'chromium'; make test installs it)")


def chromium(profile: Path, *args) -> subprocess.CompletedProcess:
    """Run headless Chromium with a fresh profile folder."""
    return subprocess.run([str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=90)


def probed_dom(page: Path, profile: Path) -> str:
    """The DOM of ``page`` after load, images marked; a probed copy sits beside the page so
    relative links resolve the same way."""
    probed = page.with_name("probed.html")
    probed.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
    proc = chromium(profile, "--dump-dom", probed.as_uri())
    assert "data-probed" in proc.stdout, proc.stderr[-2000:]
    return proc.stdout
