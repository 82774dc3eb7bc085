"""What the hotspot gate costs: how many local patterns keep a hotspot when it is computed
only for items with a significant period (``checkerboard_score``'s default).

On ``benchmarks/calibration.py``'s clean set (its quick one with ``--quick``): the share of
clean images with a significant period (their hotspot is computed); for its local 64x64
random-sub-kernel trials at 2, 4 and 8 grey levels (as calibration places them), the share
located inside the window by the ungated scan (``hotspot="always"``), the share passing the
gate, and the share both passing and located; then the significance of a 64x64 period-2
checkerboard on scikit-image's camera (256x256) at 16, 32 and 64 grey levels.

    python scripts/hotspot_gate.py [--quick]      # ~20 s quick, a few minutes in full
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import calibration as c

from checkerfree.score.checkerboard import checkerboard_score


def significant(r) -> bool:
    return any(float(r.significance[p][0]) > r.required[p] for p in r.periods)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    clean = c.clean_set(c.QUICK if "--quick" in argv else c.PHOTOS + c.TEXTURES, rng)
    gated = [significant(c.measure(image)) for _, image in clean]
    print(f"clean: {len(clean)} images, {np.mean(gated):.0%} with a significant period")
    bases = [(n, im) for n, im in clean if n.split("/")[1] in ("png", "grey", "jpeg50", "odd")]
    trials: dict[int, list[tuple[bool, bool]]] = {}
    for _, image in bases:
        h, w = image.shape[:2]
        if min(h, w) < 2 * c.WINDOW:
            continue
        for s in c.PERIODS:
            for a in c.AMPLITUDES:
                top = int(rng.integers(0, h - c.WINDOW + 1))
                left = int(rng.integers(0, w - c.WINDOW + 1))
                pat = np.zeros((h, w))
                pat[top : top + c.WINDOW, left : left + c.WINDOW] = c.pattern(
                    "subkernel", s, a, (c.WINDOW, c.WINDOW), rng)
                r = c.measure(c.add(image, pat), hotspot="always")
                row, col = r.hotspot[0].tolist()
                inside = top <= row < top + c.WINDOW and left <= col < left + c.WINDOW
                trials.setdefault(a, []).append((inside, significant(r)))
    for a, found in sorted(trials.items()):
        inside, passed = np.array(found).T
        print(f"local 64x64, {a} levels: n {len(found)}, located (always) {inside.mean():.0%}, "
              f"pass the gate {passed.mean():.0%}, pass and located {(inside & passed).mean():.0%}")
    from skimage import data

    camera = torch.from_numpy(data.camera()[::2, ::2].astype(np.float32))
    i, j = torch.meshgrid(torch.arange(64), torch.arange(64), indexing="ij")
    for levels in (16, 32, 64):
        x = camera.clone()
        x[64:128, 128:192] += levels / 2 * (-1.0) ** (i + j)
        r = checkerboard_score(x.round().clamp(0, 255), hotspot=False)
        z = max(float(r.significance[p][0]) for p in r.periods)
        print(f"64x64 period-2 patch on camera 256x256, {levels} levels: significance {z:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
