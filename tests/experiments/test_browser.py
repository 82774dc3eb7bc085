"""index.html in a real browser (headless Chromium): every section shown, no broken image."""

import re
import shutil

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
    assert len(states) == sum(len(c["figures"]) for c in claims)


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
