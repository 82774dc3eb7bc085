"""Where the decoder outputs' energy is, by ``numpy.fft``: on our lattice, or elsewhere?

For each network of the calibration's decoder comparison (:mod:`decoders`: one family at one
init seed; the same inputs, 2 crops of each photograph), the deconv output and its resize
twin's, it prints:

- ``lattice s``: the mean share of the output's AC energy (``|DFT|^2`` of the mean-removed
  64x64 output) on the bins ``k * 64 / s`` of period ``s`` alone (2, 4, 8: not on a smaller
  period's lattice), and the deconv/resize ratio of that energy;
- ``auto``: what ``periods="auto"`` (every period from 2 to 16) finds on the deconv outputs:
  the most common dominant period ``[rows, cols]``, and how many items have a significant
  period whose dominant period is outside 1, 2, 4, 8 (a lattice off our fixed periods);
- ``cancelled``: deconv outputs with a significant period whose value is 0 (a stripe floor
  cancelling a checkerboard peak, :mod:`per_kind`; 17 on BasicUNet seed 1 before the floors
  of periods 4 and up stopped short of zero frequency, ``score.lattice._floor_weights``), and
  how many of them the per-kind value reads above the default threshold.

    python benchmarks/decoder_spectra.py            # all networks, ~1 minute on one core
    python benchmarks/decoder_spectra.py --quick    # two seeds, six photographs
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
import calibration
import decoders
import per_kind

from checkerfree.score.checkerboard import DEFAULT_THRESHOLD, MIN_SIGNIFICANCE, checkerboard_score

PERIODS = (2, 4, 8)


def lattice_masks(n: int) -> dict[int, np.ndarray]:
    """Boolean ``(n, n)`` masks of the DFT bins of each period alone (zero bin excluded).

    >>> m = lattice_masks(8)
    >>> int(m[2].sum()), int(m[4].sum()), int(m[8].sum())
    (3, 12, 48)
    """
    out, taken = {}, np.zeros((n, n), bool)
    taken[0, 0] = True
    for s in PERIODS:
        on = np.zeros((n, n), bool)
        on[:: n // s, :: n // s] = True
        out[s] = on & ~taken
        taken |= on
    return out


def spectra(outputs: list[np.ndarray]) -> np.ndarray:
    """``|DFT|^2 / n^2`` of each mean-removed output, ``(items, n, n)``."""
    y = np.stack(outputs)
    y = y - y.mean((1, 2), keepdims=True)
    return np.abs(np.fft.fft2(y)) ** 2 / y[0].size


def network(family: str, seed: int, batch: list[np.ndarray]) -> dict:
    """The measurements of one network (module doc) as a dict."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pos, neg = decoders.decoder_outputs(family, seed, batch)
    n = decoders.SIZE
    masks = lattice_masks(n)
    p, q = spectra(pos), spectra(neg)
    out = {"family": family, "seed": seed, "n": len(pos)}
    for s, m in masks.items():
        out[f"share_{s}"] = float((p[:, m].sum(-1) / p.sum((1, 2))).mean())
        out[f"ratio_{s}"] = float(p[:, m].sum() / max(q[:, m].sum(), 1e-30))
    x = torch.from_numpy(np.stack(pos).astype(np.float32))[:, None]
    r = checkerboard_score(x, periods=PERIODS, hotspot=False)
    significant = torch.stack([r.significance[s] > MIN_SIGNIFICANCE for s in PERIODS], -1)
    value = torch.stack([torch.where(r.significance[s] > MIN_SIGNIFICANCE, r.periods[s],
                                     torch.zeros_like(r.periods[s])) for s in PERIODS], -1)
    cancelled = significant.any(-1) & (value.amax(-1) == 0)
    auto = checkerboard_score(x, periods="auto", hotspot=False)
    found = [tuple(p) for p in auto.period.tolist()]
    out["auto_period"] = list(max(set(found), key=found.count))
    any_significant = torch.stack([auto.significance[s] > auto.required[s] for s in auto.periods],
                                  -1).any(-1).tolist()
    out["auto_elsewhere"] = sum(z and any(p not in (1, 2, 4, 8) for p in f)
                                for z, f in zip(any_significant, found))
    out["cancelled"] = int(cancelled.sum())
    out["cancelled_read_by_per_kind"] = int(
        (cancelled & (per_kind.decision(x) > DEFAULT_THRESHOLD)).sum())
    return out


def markdown(rows: list[dict]) -> str:
    """One table row per network."""
    lines = [("| network | lattice 2: share, deconv/resize | lattice 4 | lattice 8 | "
              "auto: usual period, off 2/4/8 | significant but 0 (per kind reads) |"),
             "|---|---|---|---|---|---|"]
    for r in rows:
        cells = [f"{r[f'share_{s}']:.1%}, {r[f'ratio_{s}']:.1f}x" for s in PERIODS]
        lines.append(f"| {r['family']} seed {r['seed']} | " + " | ".join(cells)
                     + f" | {r['auto_period']}, {r['auto_elsewhere']}/{r['n']} | "
                     f"{r['cancelled']}/{r['n']} ({r['cancelled_read_by_per_kind']}) |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two seeds, six photographs")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    # The calibration's own inputs: the same seed, photographs and crops as run_decoders.
    rng = np.random.default_rng(4)
    names = calibration.QUICK if args.quick else calibration.PHOTOS + calibration.TEXTURES
    inputs = {n: decoders.crops(calibration.grey(calibration.load(n)), 2, rng) for n in names}
    batch = [x for n in names for x in inputs[n]]
    rows = [network(f, seed, batch) for f in decoders.FAMILIES
            for seed in range(2 if args.quick else 4)]
    print(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
