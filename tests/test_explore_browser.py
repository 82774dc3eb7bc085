"""The explorer in real headless Chromium: readouts equal checkerfree.overlap, edits redraw and
rewrite the link, no request leaves the page, and the default view draws something."""

from __future__ import annotations

import json
import random
import re

import numpy as np
import torch
from browser import chromium, needs_chromium

from checkerfree.errors import CheckerfreeError
from checkerfree.explore import build_page
from checkerfree.overlap import overlap
from checkerfree.spec import TransposedConvSpec

pytestmark = needs_chromium

# Runs after the page's own script: drives it through window.checkerfreeExplore or the DOM,
# and leaves its findings as JSON in <pre id="harness">; asynchronous callbacks call
# publish() again (the virtual time budget lets them run before the DOM is dumped).
HARNESS = """<script>
(function () {
  const out = {};
  const pre = document.createElement("pre");
  pre.id = "harness";
  document.body.appendChild(pre);
  const publish = () => { pre.textContent = JSON.stringify(out); };
  try { (function () { BODY })(); } catch (err) { out.harnessError = String(err.stack || err); }
  publish();
})();
</script>"""

READ = """const read = () => ({ratio: document.getElementById("ratio").textContent,
  period: document.getElementById("period").textContent,
  uneven: document.getElementById("uneven").textContent,
  max: document.getElementById("max").textContent, min: document.getElementById("min").textContent,
  error: document.getElementById("error").textContent, hash: location.hash,
  fragment: window.checkerfreeExplore.fragment(),
  rows: document.querySelectorAll("#layers-body tr").length,
  renders: Number(document.body.dataset.renders)});"""


def run_harness(tmp_path, body: str, fragment: str = "", page: str | None = None,
                data=None) -> dict:
    """Run ``body`` (JavaScript; ``DATA`` holds ``data``) in the page; what it put in ``out``."""
    page = page or build_page(["3:2"], dims=2)
    path = tmp_path / "index.html"
    script = f"const DATA = {json.dumps(data)};" + READ + body
    path.write_text(page.replace("</body>", HARNESS.replace("BODY", script) + "</body>"))
    proc = chromium(tmp_path / "profile", "--dump-dom", path.as_uri() + fragment)
    found = re.search(r'<pre id="harness">(.*?)</pre>', proc.stdout, re.DOTALL)
    assert found, proc.stderr[-2000:]
    import html

    out = json.loads(html.unescape(found.group(1)))
    assert "harnessError" not in out, out["harnessError"]
    return out


def expected(layers: list[str], dims: int) -> dict:
    """What `checkerfree overlap` prints, from the library (commands/overlap.py's format);
    for a stack the library refuses, the page's dashes and a non-empty error."""
    try:
        r = overlap(layers, dims=dims)
    except CheckerfreeError:
        return {"ratio": "\u2014", "period": "\u2014", "uneven": "\u2014", "error": True}
    return {"ratio": "n/a (holes)" if r.ratio is None else f"{r.ratio:g}",
            "period": "x".join(map(str, r.period)), "uneven": "yes" if r.uneven else "no",
            "max": str(r.max), "min": str(r.min), "error": ""}


def random_layer(rng: random.Random, dims: int) -> str:
    def axis():
        k, s, d = rng.randint(1, 7), rng.randint(1, 4), rng.choice((1, 1, 1, 2, 3))
        return k, s, rng.randint(0, 3), rng.randint(0, max(s, d) - 1), d

    axes = [axis() for _ in range(dims if dims > 1 and rng.random() < 0.3 else 1)]
    fields = ["x".join(str(a[f]) for a in axes) for f in range(5)]
    return ":".join(fields[: rng.randint(2, 5)])


def random_stacks(n: int, seed: int = 12) -> list[tuple[list[str], int]]:
    rng = random.Random(seed)
    stacks = []
    while len(stacks) < n:
        dims = rng.choice((1, 2))
        layers = [random_layer(rng, dims) for _ in range(rng.randint(1, 4))]
        # A dropped trailing field is the library's default, as on the command line; that
        # may make a layer invalid (op >= max(s, d)): the page must refuse it too.
        stacks.append((layers, dims))
    return stacks


def test_readouts_equal_overlap_on_random_stacks(tmp_path):
    stacks = random_stacks(260)
    fixed = [(["3:2", "3:2"], 2), (["3:2:1:1", "3:2"], 2), (["2:4"], 1), (["4:2:1"] * 30, 1),
             (["7:4:0:0:2", "5:3"], 2), (["3x5:2x3"], 2), (["1:1"], 1)]
    cases = fixed + stacks
    fragments = [f"#dims={d}&layers={','.join(layers)}" for layers, d in cases]
    got = run_harness(tmp_path, """
      out.results = DATA.map((f) => { window.checkerfreeExplore.show(f); return read(); });
      // The counts themselves, one period per axis: readouts alone do not see a shift.
      out.counts = DATA.map((f) => {
        const p = new URLSearchParams(f.slice(1));
        try {
          return window.checkerfreeExplore.overlap(p.get("layers").split(","), Number(p.get("dims")))
            .axes.map((v) => v.map(String));
        } catch (err) { return null; }
      });
    """, data=fragments)
    counts, got = got["counts"], got["results"]
    assert len(got) == len(counts) == len(cases)
    holes = uneven = refused = 0
    for (layers, dims), fragment, page, axes in zip(cases, fragments, got, counts):
        want = expected(layers, dims)
        if want.pop("error", "") is True:
            refused += 1
            assert page["error"] != "" and axes is None, fragment
        else:
            r = overlap(layers, dims=dims)
            assert axes == [[str(int(c)) for c in v] for v in r.axis_interior], fragment
        assert {k: page[k] for k in want} == want, fragment
        assert page["fragment"] == fragment
        holes += want["ratio"] == "n/a (holes)"
        uneven += want["uneven"] == "yes"
    # >= 200 stacks compared, and every kind of stack drawn, so the comparison means something.
    assert len(cases) - refused >= 200, refused
    assert holes >= 20 and uneven - holes >= 20 and len(cases) - uneven - refused >= 5
    assert got[0]["ratio"] == "9" and got[0]["period"] == "4x4"


def test_ratio_text_is_pythons_g_format(tmp_path):
    rng = np.random.default_rng(0)
    values = [1.0, 2.5, 9.0, 1234565.0, 1234575.0, 999999.5, 9999995.0, 123456.5, 1e16,
              3.0 / 7.0, 1.0000005, 2 ** 60 / 3, 1e-5, 0.000123456789]
    values += [float(v) for v in rng.uniform(1, 10, 40) * 10.0 ** rng.integers(-6, 20, 40)]
    values += [float(v) for v in rng.integers(1, 10 ** 7, 40)]
    got = run_harness(tmp_path, "out.g = DATA.map((x) => window.checkerfreeExplore.formatG(x));",
                      data=values)["g"]
    assert got == [f"{v:g}" for v in values]


def test_fragment_opens_the_page_and_hashchange_redraws(tmp_path):
    got = run_harness(tmp_path, """
      out.first = read();
      location.hash = "#dims=1&layers=3:2,3:2";
      window.addEventListener("hashchange", () => { out.after = read(); publish(); });
    """, fragment="#dims=2&layers=3:2:1:1,3:2")
    assert got["first"]["ratio"] == "9" and got["first"]["period"] == "4x4"
    assert got["first"]["uneven"] == "yes" and got["first"]["rows"] == 2
    # The handler above is registered after the page's own, so it reads the redrawn view.
    assert got["after"]["ratio"] == "3" and got["after"]["period"] == "4"
    assert got["after"]["rows"] == 2 and got["after"]["fragment"] == "#dims=1&layers=3:2,3:2"


def test_add_remove_reorder_and_edit_redraw_and_rewrite_the_link(tmp_path):
    got = run_harness(tmp_path, """
      const steps = [];
      const step = (name) => steps.push(Object.assign({name: name}, read()));
      step("start");
      document.getElementById("add").click(); step("add");
      const k = document.querySelectorAll("#layers-body tr")[1].querySelector("[data-field=k]");
      k.value = "4"; k.dispatchEvent(new Event("input")); step("edit k");
      document.querySelectorAll("#layers-body tr")[1].querySelector(".up").click(); step("up");
      const p = document.querySelectorAll("#layers-body tr")[1].querySelector("[data-field=p]");
      p.value = "1"; p.dispatchEvent(new Event("input")); step("edit p");
      const dims = document.getElementById("dims");
      dims.value = "1"; dims.dispatchEvent(new Event("change")); step("dims");
      document.querySelectorAll("#layers-body tr")[0].querySelector(".remove").click();
      step("remove");
      k.value = "x"; step("noop");
      const bad = document.querySelector("#layers-body tr [data-field=s]");
      bad.value = "0"; bad.dispatchEvent(new Event("input")); step("bad");
      bad.value = ""; bad.dispatchEvent(new Event("input")); step("empty");
      out.steps = steps;
    """, fragment="#dims=2&layers=3:2")
    steps = {s["name"]: s for s in got["steps"]}
    order = [s["name"] for s in got["steps"]]
    renders = [s["renders"] for s in got["steps"]]
    # Every change but the detached-input no-op drew again.
    assert all(b > a for a, b, name in zip(renders, renders[1:], order[1:]) if name != "noop")
    cases = {"start": (["3:2"], 2), "add": (["3:2", "3:2"], 2), "edit k": (["3:2", "4:2"], 2),
             "up": (["4:2", "3:2"], 2), "edit p": (["4:2", "3:2:1"], 2),
             "dims": (["4:2", "3:2:1"], 1), "remove": (["3:2:1"], 1)}
    for name, (layers, dims) in cases.items():
        assert steps[name]["hash"] == f"#dims={dims}&layers={','.join(layers)}", name
        assert {k: steps[name][k] for k in ("ratio", "period", "uneven")} == \
            {k: v for k, v in expected(layers, dims).items() if k in ("ratio", "period", "uneven")}, name
        assert steps[name]["rows"] == len(layers)
    assert "stride must be >= 1" in steps["bad"]["error"]
    assert steps["bad"]["ratio"] == "\u2014" and steps["bad"]["hash"] == "#dims=1&layers=3:0:1"
    assert "must look like K:S" in steps["empty"]["error"] and steps["empty"]["ratio"] == "\u2014"


def test_no_network_request(tmp_path):
    # The Content-Security-Policy forbids every fetch but inline script/style and data: images;
    # a page that tried one anyway shows it in the resource timing list or a CSP violation.
    got = run_harness(tmp_path, """
      out.resources = performance.getEntriesByType("resource").map((e) => e.name);
      out.csp = document.querySelector("meta[http-equiv=Content-Security-Policy]").content;
      out.external = Array.from(document.querySelectorAll("[src],[href]"))
        .map((e) => e.getAttribute("src") || e.getAttribute("href"));
      window.checkerfreeExplore.show("#dims=2&layers=5:3,3:2");
      out.resourcesAfter = performance.getEntriesByType("resource").length;
    """, fragment="#dims=2&layers=3:2")
    assert got["resources"] == [] and got["resourcesAfter"] == 0 and got["external"] == []
    assert got["csp"] == ("default-src 'none'; script-src 'unsafe-inline'; "
                          "style-src 'unsafe-inline'; img-src data:")


def test_csp_blocks_a_request(tmp_path):
    # The policy is enforced, so the test above cannot pass by accident: a request the page
    # might make is refused and reported, never sent.
    got = run_harness(tmp_path, """
      out.blocked = [];
      document.addEventListener("securitypolicyviolation", (e) => {
        out.blocked.push(e.blockedURI); publish(); });
      fetch("http://127.0.0.1:9/x").then(() => { out.fetch = "sent"; publish(); },
                                       () => { out.fetch = "refused"; publish(); });
      const img = new Image(); img.src = "http://127.0.0.1:9/x.png";
    """)
    assert got["fetch"] == "refused"
    assert {"http://127.0.0.1:9/x", "http://127.0.0.1:9/x.png"} <= set(got["blocked"])


def test_default_view_screenshot_is_not_blank(tmp_path):
    from PIL import Image

    path = tmp_path / "index.html"
    path.write_text(build_page())
    shot = tmp_path / "shot.png"
    proc = chromium(tmp_path / "profile", f"--screenshot={shot}", "--window-size=1100,900",
                    path.as_uri())
    assert shot.exists(), proc.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("RGB")).reshape(-1, 3)
    colours = {tuple(p) for p in pixels[::7]}
    dark = (pixels.sum(axis=1) < 200).mean()
    assert len(colours) > 50 and dark > 0.005, (len(colours), dark)


def flat_interior(module: torch.nn.Module, dims: int) -> bool:
    """Brute force: the module with all-ones weights on an all-ones input gives one value away
    from the borders."""
    for p in module.parameters():
        torch.nn.init.ones_(p) if p.dim() > 1 else torch.nn.init.zeros_(p)
    with torch.no_grad():
        y = module(torch.ones(1, 1, *([24] * dims)))[0, 0]
    inner = y[tuple(slice(8, -8) for _ in range(dims))]
    return bool((inner == inner.flatten()[0]).all())


def test_comparison_with_other_upsamplers(tmp_path):
    from torch import nn

    from checkerfree.layers import HeldConvTranspose2d, SubPixelConv2d

    fragment = "#dims=2&layers=3:2:1:1,5:3"  # holes stay out: the comparison is of unevenness
    got = run_harness(tmp_path, """
      out.rows = Array.from(document.querySelectorAll("#compare-body tr"))
        .map((tr) => Array.from(tr.children).map((td) => td.textContent));
    """, fragment=fragment)
    want = expected(["3:2:1:1", "5:3"], 2)
    assert got["rows"][0][1:] == [want["ratio"], want["period"], want["uneven"]]
    assert [r[0] for r in got["rows"][1:]] == ["resize-conv", "sub-pixel", "hold"]
    assert all(r[1:] == ["1", "1x1", "no"] for r in got["rows"][1:])
    # The flat counts the page claims, checked on real modules of the same layers.
    for k, s in ((3, 2), (5, 3)):
        resize = nn.Sequential(nn.Upsample(scale_factor=s), nn.Conv2d(1, 1, k, padding=k // 2))
        assert flat_interior(resize, 2)
        assert flat_interior(SubPixelConv2d(1, 1, k, padding=k // 2, scale_factor=s), 2)
        assert flat_interior(HeldConvTranspose2d(1, 1, k, s), 2)
        assert not flat_interior(nn.ConvTranspose2d(1, 1, k, s), 2)


def test_target_page_shows_per_phase_sums(tmp_path):
    from checkerfree.explore import model_state
    from checkerfree.zoo import EXAMPLES

    torch.manual_seed(0)
    state = model_state(EXAMPLES["dcgan"].factory())
    page = build_page(state["layers"], state["dims"], phases=state["phases"])
    got = run_harness(tmp_path, """
      out.captions = Array.from(document.querySelectorAll("#phases figcaption"))
        .map((c) => c.textContent);
      out.sizes = Array.from(document.querySelectorAll("#phases canvas"))
        .map((c) => [c.width, c.height]);
      out.hidden = document.getElementById("phases").hidden;
      out.first = read();
    """, page=page)
    assert not got["hidden"] and len(got["captions"]) == len(state["layers"]) == 5
    for caption, layer, (w, h) in zip(got["captions"], state["phases"], got["sizes"]):
        assert caption.endswith(f"phase_imbalance {layer['imbalance']}")
        assert (h // 48, w // 48) == (len(layer["sums"]), len(layer["sums"][0]))
    assert got["first"]["fragment"] == "#dims=2&layers=" + ",".join(state["layers"])
    assert got["first"]["ratio"] == expected(state["layers"], 2)["ratio"]


def test_windows_paint_every_tap_in_view(tmp_path):
    cases = [["3:2"], ["3:2:1:1", "4:2:1"], ["2:4"], ["3:1:0:0:5", "5:3:2"]]
    got = run_harness(tmp_path, "out.r = DATA.map((f) => { window.checkerfreeExplore.show(f); "
                      "return Number(document.getElementById('windows').dataset.painted); });",
                      data=[f"#dims=1&layers={','.join(c)}" for c in cases])["r"]
    for layers, painted in zip(cases, got):
        want = 0  # brute force: inputs 0..11 of each layer, taps landing on outputs 0..31
        for spec in layers:
            k, s, p, _op, d = TransposedConvSpec.parse(spec).axis(0)
            want += sum(0 <= i * s - p + j * d < 32 for i in range(12) for j in range(k))
        assert painted == want, layers


def test_three_dimensional_stacks(tmp_path):
    cases = [["3:2"], ["3:2", "3:2"], ["2x3x4:2"], ["4:2:1", "3:3"]]
    frags = [f"#dims=3&layers={','.join(c)}" for c in cases]
    got = run_harness(tmp_path, "out.r = DATA.map((f) => { window.checkerfreeExplore.show(f); "
                      "return Object.assign(read(), {slices: Number(document.getElementById("
                      "'heat').dataset.slices)}); });", data=frags)["r"]
    for layers, page in zip(cases, got):
        want = expected(layers, 3)
        assert {k: page[k] for k in want} == want, layers
        # One heat map per depth position of the first period, at most 4.
        assert page["slices"] == min(4, overlap(layers, dims=3).period[0]), layers
