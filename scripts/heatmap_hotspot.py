"""A quick, seeded check of the hotspot: does it land in a weak local pattern, and at what cost?

Ten scikit-image pictures (each trial on one of its calibration variants: as shipped, grey,
JPEG-50, odd crop), periods 2, 4, 8, amplitudes 2 and 4 grey levels peak to peak, three
random 64x64 windows each, a random-sub-kernel pattern in the window (the calibration's
``local`` pattern, ``benchmarks/calibration.py``). Prints the rate at which the hotspot lands
inside the window, per period/amplitude and per variant, for the score's hotspot (the
scan of :mod:`checkerfree.score.hotspot`) and for the heat map's whitened local
ratio (the hotspot before it, ``heat_maps(...)[1]``'s largest value).

``--timing``: CPU milliseconds of the hotspot per 512x512 RGB image (1 thread, fastest of 15,
the two methods interleaved in one process): the scan, and the whitened local heat-map power
the score computed before (``heat_power(..., whiten=True)``).

    python scripts/heatmap_hotspot.py            # hit rates (a few minutes on one core)
    python scripts/heatmap_hotspot.py --timing
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import calibration as cal

from checkerfree.score.checkerboard import checkerboard_score
from checkerfree.score.heatmap import heat_maps, heat_power
from checkerfree.score.hotspot import lattice_hotspot
from checkerfree.score.lattice import lattice_excess, period_bins

NAMES = ["astronaut", "camera", "chelsea", "coffee", "rocket", "immunohistochemistry",
         "hubble_deep_field", "coins", "brick", "grass"]
PERIODS = (2, 4, 8)
AMPLITUDES = (2, 4)
VARIANTS = ("png", "grey", "jpeg50", "odd")


def trials(reps: int = 3, seed: int = 0):
    """``(variant, period, amplitude, top, left, x)`` for every trial, seeded."""
    rng = np.random.default_rng(seed)
    out = []
    for name in NAMES:
        image = cal.load(name)
        bases = {"png": image, "grey": cal.grey(image), "jpeg50": cal.jpeg(image, 50),
                 "odd": cal.odd_crop(image, rng)}
        for s in PERIODS:
            for a in AMPLITUDES:
                for _ in range(reps):
                    variant = VARIANTS[int(rng.integers(4))]
                    base = bases[variant]
                    h, w = base.shape[:2]
                    top = int(rng.integers(0, h - cal.WINDOW + 1))
                    left = int(rng.integers(0, w - cal.WINDOW + 1))
                    pat = np.zeros((h, w))
                    pat[top : top + cal.WINDOW, left : left + cal.WINDOW] = cal.pattern(
                        "subkernel", s, a, (cal.WINDOW, cal.WINDOW), rng)
                    x = torch.from_numpy(cal.add(base, pat).astype(np.float32))
                    x = x[None, None] if x.ndim == 2 else x.permute(2, 0, 1)[None]
                    out.append((variant, s, a, top, left, x))
    return out


def score_hotspot(x: torch.Tensor) -> list[int]:
    return checkerboard_score(x, periods=PERIODS, hotspot="always").hotspot[0].tolist()


def ratio_hotspot(x: torch.Tensor) -> list[int]:
    ratio = heat_maps(x, PERIODS)[1][0]
    return [int(i) for i in np.unravel_index(int(ratio.argmax()), ratio.shape)]


def hit_rates(locate, cases) -> dict:
    hits: dict = {}
    for variant, s, a, top, left, x in cases:
        row, col = locate(x)
        inside = top <= row < top + cal.WINDOW and left <= col < left + cal.WINDOW
        for key in ((s, a), ("all", a), (variant, a)):
            hits.setdefault(key, []).append(inside)
    return {k: float(np.mean(v)) for k, v in hits.items()}


def timing(repeat: int = 15) -> None:
    """Fastest of ``repeat`` interleaved runs of both hotspot computations on one image."""
    x = cal.load("astronaut").astype(np.float32)  # 512x512 RGB
    x = torch.from_numpy(x).permute(2, 0, 1)[None]

    def scan():
        lattice_hotspot(x, PERIODS, 2)

    def whitened():
        shared: dict = {}
        spectra = {s: period_bins(x, s, 2, shared) for s in PERIODS}
        floors = {s: lattice_excess(spectra[s], s, PERIODS, 2)[1] for s in PERIODS}
        heat_power(spectra, PERIODS, 2, 16.0, tuple(x.shape[2:]), whiten=True, floors=floors)

    def spectra_only():  # what the score computes anyway: the whitened map's own cost is the rest
        shared: dict = {}
        spectra = {s: period_bins(x, s, 2, shared) for s in PERIODS}
        {s: lattice_excess(spectra[s], s, PERIODS, 2)[1] for s in PERIODS}

    best = {"scan": np.inf, "whitened": np.inf, "spectra": np.inf}
    with torch.no_grad():
        for f in (scan, whitened, spectra_only):
            f()  # warm-up (plans, caches)
        for _ in range(repeat):
            for key, f in (("scan", scan), ("whitened", whitened), ("spectra", spectra_only)):
                start = time.perf_counter()
                f()
                best[key] = min(best[key], time.perf_counter() - start)
    extra = best["whitened"] - best["spectra"]
    print(f"512x512 RGB, 1 thread, fastest of {repeat}: hotspot scan "
          f"{1e3 * best['scan']:.1f} ms; whitened heat-map power {1e3 * extra:.1f} ms "
          f"({1e3 * best['whitened']:.1f} ms with the spectra the score shares)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timing", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if args.timing:
        timing()
        return 0
    cases = trials()
    keys = ([(s, a) for a in AMPLITUDES for s in PERIODS] + [("all", a) for a in AMPLITUDES]
            + [(v, a) for a in AMPLITUDES for v in VARIANTS])
    print(f"{len(cases)} trials; hotspot inside the 64x64 window")
    print("| method | " + " | ".join(f"{k[0]}/{k[1]}" for k in keys) + " |")
    print("|---|" + "---|" * len(keys))
    for label, locate in (("hotspot scan (score)", score_hotspot),
                          ("whitened local ratio (heat map)", ratio_hotspot)):
        rates = hit_rates(locate, cases)
        print(f"| {label} | " + " | ".join(f"{100 * rates[k]:.0f}%" for k in keys) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
