"""index.html in a real browser (headless Chromium): every section shown, no broken image."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--virtual-time-budget=5000"]

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="/usr/bin/chromium is missing (Debian package 'chromium'; make test installs it)")

# After load, mark each image: naturalWidth 0 means the browser could not decode it.
PROBE = """<script>window.addEventListener('load', () => {
  for (const img of document.images) {
    img.setAttribute('data-state', img.complete && img.naturalWidth > 0 ? 'ok' : 'broken');
  }
  document.body.setAttribute('data-probed', String(document.images.length));
});</script>"""


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    from checkerfree.experiments.runner import reproduce

    out = tmp_path_factory.mktemp("browser") / "rep"
    reproduce(out, quick=True, only=["overlap-1d", "overlap-2d", "overlap-stack",
                                     "stride1-dampens"], verbose=False)
    return out


def _chromium(tmp_path, *args):
    return subprocess.run([str(CHROMIUM), *FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                           *args], capture_output=True, text=True, check=False, timeout=90)


def test_sections_shown_and_no_broken_image(report, tmp_path):
    import json

    claims = json.loads((report / "report.json").read_text())["claims"]
    # A probed copy beside the original, so relative links resolve the same way.
    probed = report / "probed.html"
    probed.write_text((report / "index.html").read_text().replace("</body>", PROBE + "</body>"))
    proc = _chromium(tmp_path, "--dump-dom", probed.as_uri())
    dom = proc.stdout
    assert "data-probed" in dom, proc.stderr[-2000:]
    for c in claims:
        assert f'id="{c["id"]}"' in dom
    states = re.findall(r'data-state="(\w+)"', dom)
    assert states and set(states) == {"ok"}, states
    assert len(states) == sum(len(c["figures"]) for c in claims)


def test_screenshot_is_not_blank(report, tmp_path):
    from PIL import Image

    shot = tmp_path / "shot.png"
    _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1000,1400",
              (report / "index.html").as_uri())
    assert shot.is_file()
    img = Image.open(shot).convert("L")
    lo, hi = img.getextrema()
    assert hi - lo > 100  # text and figures, not an empty page


def test_chromium_is_the_real_binary():
    assert shutil.which(str(CHROMIUM))
