"""Why the hotspot misses period-8 patterns at 2 grey levels: wrong place, or another period?

On the calibration's local trials (``benchmarks/calibration.py``'s ``hotspot_trials``, the
same 171 per amplitude as ``--hotspot``), at 2 grey levels peak to peak, prints:

- for the period-8 trials, whether the hotspot lands inside the window, and where it does
  not, whether period 8's own map has its largest value inside (another period won) or not
  (the wrong place for period 8);
- for the period-8 trials whose period-8 map peaks outside, how many have the window's best
  box below the largest period-8 value of the same picture without the pattern;
- the clean set's (133 images) largest value over places per period: median, 90th
  percentile, largest;
- how often each period's own map peaks inside the window (periods 2, 4, 8) with the scan's
  noise, with the noise measured on the same picture without the pattern (the scan's 3x3
  spread; the pattern left out of it), and with the noise set to that clean picture's own
  coefficient power per sub-box and bin (an oracle no blind scan has).

The scan is ``benchmarks/hotspot_variants.py``'s ``noise_scan`` at its defaults (the same
maps as ``checkerfree.score.hotspot``).

    python scripts/hotspot_period8.py      # about 15 s on one core
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import calibration as cal
from hotspot_variants import noise_scan

from checkerfree.score.hotspot import _laplacian, box_geometry

PERIODS = (2, 4, 8)


def whitened(image: np.ndarray) -> torch.Tensor:
    """The scan's input: the Laplacian of the channel mean, ``(1, H - 2, W - 2)``."""
    return _laplacian(cal.as_tensor(image).float().mean(1), 2)


def centres(n: int, step: int, q: int) -> np.ndarray:
    """The box centres (one axis) of ``n`` places, as ``lattice_hotspot`` reports them."""
    return np.floor(1 + q * step / 2 - 0.5 + step * np.arange(n)).astype(int)


def inside_mask(z: np.ndarray, top: int, left: int, step: int, q: int) -> np.ndarray:
    """Which places of the map ``z`` ``(M0, M1)`` have their centre inside the window."""
    rows, cols = centres(z.shape[0], step, q), centres(z.shape[1], step, q)
    r = (rows >= top) & (rows < top + cal.WINDOW)
    c = (cols >= left) & (cols < left + cal.WINDOW)
    return r[:, None] & c[None, :]


def main() -> int:
    torch.set_num_threads(1)
    started = time.perf_counter()
    q, k = box_geometry(8, 2, cal.WINDOW / 4)
    step = 8 * k
    clean = cal.clean_set(cal.PHOTOS + cal.TEXTURES, np.random.default_rng(0))
    pictures = dict(clean)
    clean_max = {s: [] for s in PERIODS}
    own_max: dict[str, float] = {}
    for name, image in clean:
        z = noise_scan(whitened(image), PERIODS, 2, q, step)
        for s in PERIODS:
            clean_max[s].append(float(z[s].max()))
        own_max[name] = float(z[8].max())
    bases = [(n, im) for n, im in clean if n.split("/")[1] in ("png", "grey", "jpeg50", "odd")]
    outcome = {"inside": 0, "another period won": 0, "wrong place for period 8": 0}
    below = [0, 0]  # of the period-8 maps peaking outside: window below / above the clean max
    noises = {"the scan's noise": None,
              "noise from the clean picture (3x3 spread)": "spread",
              "noise = the clean picture's own power (oracle)": "own-power"}
    own_inside = {label: {s: [] for s in PERIODS} for label in noises}
    for base, s, a, top, left, _, patterned in cal.hotspot_trials(
            bases, np.random.default_rng(cal.HOTSPOT_SEED)):
        if a != 2:
            continue
        y = whitened(patterned)
        for label, how in noises.items():
            if how is None:
                z = noise_scan(y, PERIODS, 2, q, step)
            else:
                z = noise_scan(y, PERIODS, 2, q, step, estimate=how,
                               own=1.0 if how == "own-power" else 0.1,
                               noise_from=whitened(pictures[base]))
            mine = z[s][0].numpy()
            at = np.unravel_index(int(mine.argmax()), mine.shape)
            own_inside[label][s].append(bool(inside_mask(mine, top, left, step, q)[at]))
            if how is None and s == 8:
                maps = {p: z[p][0].numpy() for p in PERIODS}
                won = max(PERIODS, key=lambda p: maps[p].max())
                spot = np.unravel_index(int(maps[won].argmax()), maps[won].shape)
                if inside_mask(maps[won], top, left, step, q)[spot]:
                    outcome["inside"] += 1
                elif own_inside[label][8][-1]:
                    outcome["another period won"] += 1
                else:
                    outcome["wrong place for period 8"] += 1
                if not own_inside[label][8][-1]:
                    window_best = mine[inside_mask(mine, top, left, step, q)].max()
                    below[int(window_best > own_max[base])] += 1
    n8 = sum(outcome.values())
    print(f"Period-8 trials at 2 grey levels ({n8}): " + ", ".join(
        f"{key} {v}" for key, v in outcome.items()))
    print(f"Period-8 maps peaking outside the window ({sum(below)}): the window's best box "
          f"below the clean picture's own largest period-8 value in {below[0]}, above in "
          f"{below[1]}")
    print("Clean set's largest value over places (133 images): " + "; ".join(
        f"period {s} median {np.median(m):.2f}, 90th percentile {np.percentile(m, 90):.2f}, "
        f"largest {max(m):.2f}" for s, m in clean_max.items()))
    print("\n| noise | period 2 | period 4 | period 8 |\n|---|---|---|---|")
    for label, hits in own_inside.items():
        print(f"| {label} | " + " | ".join(f"{np.mean(hits[s]):.1%}" for s in PERIODS) + " |")
    print(f"\nEach period's own map's largest value inside the window, 2 grey levels "
          f"({len(own_inside[label][2])} trials per period); {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
