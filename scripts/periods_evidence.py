"""What `page` and `text` (skimage) contain at the periods ``"auto"`` once flagged (docs/score.md).

``page`` flagged at period 3, ``text``'s odd crop at period 19. Measured with numpy on the
pictures themselves, then the score before and after the found-period rules:

- ``page``: the text-line pitch (the strongest frequency of the row profile), the power of
  the bin ``(63, 0)`` (1/3 cycle per row on the 189-row crop) over its line floor and over its
  neighbour ``(63, -1)``, and the amplitude of the 1/3-cycle component demodulated with a
  Gaussian window (sigma 6) on the blank paper and on the text, against 1/3.3 (off lattice);
- both: the value, the plain significance (``lattice_excess`` floor) and the significance a
  found period flags with (``found_significance``), and the required one.

    python scripts/periods_evidence.py           # markdown lines
    python scripts/periods_evidence.py --json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from scipy.ndimage import gaussian_filter

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import calibration  # noqa: E402  (the calibration set: the same odd crops)

from checkerfree.score.checkerboard import _significance, checkerboard_score  # noqa: E402
from checkerfree.score.lattice import lattice_excess, period_bins  # noqa: E402
from checkerfree.score.periods import found_significance, lattice_lines, leak_floor  # noqa: E402


def page_spectrum() -> dict:
    image = np.asarray(calibration.load("page"), dtype=np.float64)
    crop = image[:189]
    power = np.abs(np.fft.fft2(crop)) ** 2
    line = np.mean([power[63 + o, 0] for o in range(-16, 17) if o and (63 + o) % 63])
    profile = np.abs(np.fft.rfft(image.mean(1) - image.mean(), 8 * len(image))) ** 2
    low, high = 8 * len(image) // 40, 8 * len(image) // 10   # periods 10 .. 40 rows
    f = (np.argmax(profile[low:high]) + low) / (8 * len(image))
    y = np.arange(len(image))[:, None]
    local = np.sqrt(np.maximum(gaussian_filter(image**2, 4) - gaussian_filter(image, 4) ** 2, 0))
    blank, text = local < 6, local > 25
    demodulated = {}
    for name, freq in (("1/3", 1 / 3), ("1/3.3", 1 / 3.3)):
        c = image * np.exp(-2j * np.pi * freq * y)
        amp = 2 * np.abs(gaussian_filter(c.real, 6) + 1j * gaussian_filter(c.imag, 6))
        demodulated[name] = {"blank": float(np.median(amp[blank])),
                             "text": float(np.median(amp[text]))}
    return {"line_pitch_rows": float(1 / f), "bin_over_line_floor": float(power[63, 0] / line),
            "bin": float(power[63, 0] / crop.size**2),
            "neighbour_63_minus1": float(power[63, -1] / crop.size**2),
            "demodulated": demodulated}


def decision(x: np.ndarray, s: int) -> dict:
    t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64))[None, None]
    r = checkerboard_score(t, "auto", hotspot=False)
    periods = tuple(sorted(set(r.periods) | {2, 4, 8, s}))
    bins = period_bins(t, s, 2)
    excess, floor, coords = lattice_excess(bins, s, periods, 2)
    plain = float(_significance(excess, floor)[1][0])
    strict = float(found_significance(excess + floor, floor, leak_floor(bins, s, coords),
                                      lattice_lines(coords, s))[0])
    value = float(r.periods[s][0]) if s in r.periods else None
    return {"period": s, "value": value, "plain_significance": plain,
            "found_significance": strict, "required": r.required.get(s),
            "flagged": bool(r.flagged[0]), "reason": r.reason[0]}


def run() -> dict:
    torch.set_num_threads(1)
    clean = dict(calibration.clean_set(calibration.PHOTOS + calibration.TEXTURES,
                                       np.random.default_rng(0)))   # as benchmarks/periods.py
    return {"command": "python scripts/periods_evidence.py", "page": page_spectrum(),
            "page/png": decision(clean["page/png"], 3),
            "text/odd": decision(clean["text/odd"], 19)}


def markdown(report: dict) -> str:
    p = report["page"]
    d = p["demodulated"]
    page = (f"- page: line pitch {p['line_pitch_rows']:.2f} rows; bin (63, 0) "
            f"{p['bin_over_line_floor']:.1f}x its line floor, power {p['bin']:.2f} against "
            f"{p['neighbour_63_minus1']:.2f} at (63, -1); demodulated at 1/3: "
            f"{d['1/3']['blank']:.2f} grey levels on blank paper, {d['1/3']['text']:.2f} on "
            f"text (at 1/3.3: {d['1/3.3']['blank']:.2f}, {d['1/3.3']['text']:.2f})")
    lines = [f"`{report['command']}`:", "", page]
    for name in ("page/png", "text/odd"):
        r = report[name]
        lines.append(f"- {name}, period {r['period']}: value {r['value']:.2f}, significance "
                     f"{r['plain_significance']:.1f} plain, {r['found_significance']:.1f} as a "
                     f"found period, required {r['required']:.1f}; flagged {r['flagged']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args(argv)
    report = run()
    print(json.dumps(report, indent=2) if args.json else markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
