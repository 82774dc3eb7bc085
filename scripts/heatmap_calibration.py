"""Calibrate the heat map's significance gate: the largest local ratio on clean pictures.

For every clean picture of ``benchmarks/calibration.py``'s set (photographs and textures as
shipped, in grey, JPEG at 95/75/50/30, odd crops), the raw per-period maps of
``checkerfree.score.heatmap.heat_maps`` are computed; printed: per variant kind, the largest
value of the heat map (grey levels) that would show at each candidate gate, so that
``HEAT_SIGNIFICANCE`` can be chosen where no PNG picture shows anything.

    python scripts/heatmap_calibration.py [--quick]
    python scripts/heatmap_calibration.py --coverage   # what the gate costs a real pattern

``--coverage`` adds a uniform ``+-a/2`` checkerboard (periods 2 and 8, 2/4/8 grey levels,
rounded to 8 bits) to four pictures in grey and prints the map's mean (it should read ``a``)
and the fraction of the picture where it shows, at ``HEAT_SIGNIFICANCE``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import calibration as cal

from checkerfree.score.heatmap import HEAT_SIGNIFICANCE, heat_maps

GATES = (2.0, 3.0, 4.0, 5.0, 6.0)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--coverage", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if args.coverage:
        return coverage()
    rng = np.random.default_rng(0)
    names = cal.QUICK if args.quick else cal.PHOTOS + cal.TEXTURES
    worst: dict[tuple[str, float], tuple[float, str]] = {}
    for name, image in cal.clean_set(names, rng):
        x = torch.from_numpy(image.astype(np.float32))
        x = x[None, None] if x.ndim == 2 else x.permute(2, 0, 1)[None]
        kind = "jpeg" if "jpeg" in name else "png"
        for gate in GATES:
            value = heat_maps(x, cal.PERIODS, significance=gate)[0].max().item()
            if value >= worst.get((kind, gate), (-1.0, ""))[0]:
                worst[(kind, gate)] = (value, name)
    print("| gate | largest shown on PNG pictures | largest shown on JPEG pictures |")
    print("|---|---|---|")
    for gate in GATES:
        png, jpg = worst[("png", gate)], worst[("jpeg", gate)]
        print(f"| {gate:g} | {png[0]:.2f} ({png[1]}) | {jpg[0]:.2f} ({jpg[1]}) |")
    return 0


def coverage() -> int:
    rng = np.random.default_rng(1)
    print(f"gate {HEAT_SIGNIFICANCE:g}")
    print("| picture | pattern | amplitude | map mean | shown |")
    print("|---|---|---|---|---|")
    for name in ("camera", "astronaut", "brick", "grass"):
        image = cal.grey(cal.load(name))
        for s in (2, 8):
            for a in (2, 4, 8):
                pat = cal.pattern("checker", s, a, image.shape, rng)
                x = torch.from_numpy(cal.add(image, pat).astype(np.float32))[None, None]
                heat = heat_maps(x, cal.PERIODS)[0]
                print(f"| {name} | checker period {s} | {a} | {heat.mean().item():.2f} | "
                      f"{(heat > 0).float().mean().item():.0%} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
