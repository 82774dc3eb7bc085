"""What the small-input floor cut changes on the quick GAN claims (docs/score.md, Definition).

The library cuts each floor neighbourhood short of zero frequency from period 4 on
(``checkerfree.score.lattice._floor_weights``). This script trains the quick ``reproduce``
GANs (seed 0, 300 steps, batch 16, 64 samples of 32x32; ``checkerfree.experiments.gan``) and
scores their samples in grey levels under three floors: none cut (the floor before issue 11's
fix), the library's (cut from period 4), and every period cut (period 2 too). Beside them,
independent of any floor, the period-2 parts measured in the image domain: the amplitude
``2 |mean(x (-1)^j)|`` of column stripes, ``2 |mean(x (-1)^i)|`` of row stripes and
``2 |mean(x (-1)^(i+j))|`` of the checkerboard (channels averaged in power; median over
samples); and the coherent tiles (:func:`coherent_tiles`). It explains the ``disc-stride`` claim: with period 2 cut its stride-1 critic's
generator reads about 14 grey levels at period 2, because its samples do carry column stripes
of that amplitude; the 1.8 read with the whole-axis floor line is their cancellation. And
``init-artifacts``: what deconvolution in the last layer reads at period 4.

Run: ``python scripts/floor_evidence.py`` (about 4 minutes on 2 cores; one torch thread).

>>> sorted(FLOORS)
['every period cut', 'library (cut from 4)', 'none cut']
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from checkerfree.score import lattice

PERIODS = (2, 4, 8)
#: Floor variants: the smallest period whose floors are cut (above 8: none).
FLOORS = {"none cut": 1 << 30, "library (cut from 4)": lattice._CUT_FROM_PERIOD,
          "every period cut": 2}


def period_values(x: torch.Tensor, cut_from: int) -> dict[int, float]:
    """Mean per-period value (grey levels) of samples ``x`` in grey levels, floors cut from
    period ``cut_from`` on."""
    from checkerfree.score.checkerboard import checkerboard_score

    saved = lattice._CUT_FROM_PERIOD
    lattice._CUT_FROM_PERIOD = cut_from
    lattice._PLANS.clear()  # the plans hold the weights of the previous variant
    try:
        r = checkerboard_score(x, periods=PERIODS, hotspot=False)
    finally:
        lattice._CUT_FROM_PERIOD = saved
        lattice._PLANS.clear()
    return {s: float(r.periods[s].mean()) for s in PERIODS}


def nyquist_parts(x: torch.Tensor) -> dict[str, float]:
    """Median over samples of the period-2 column, row and checkerboard amplitudes.

    >>> i, j = torch.meshgrid(torch.arange(8), torch.arange(8), indexing="ij")
    >>> nyquist_parts((3.0 * (-1.0) ** j)[None, None].repeat(1, 3, 1, 1))["columns"]
    6.0
    """
    u = x.double().numpy()
    i, j = np.indices(u.shape[-2:])
    out = {}
    for name, sign in (("columns", (-1.0) ** j), ("rows", (-1.0) ** i),
                       ("checkerboard", (-1.0) ** (i + j))):
        a = (u * sign).mean((-1, -2))
        out[name] = float(np.median(2 * np.sqrt((a**2).mean(1))))
    return out


def coherent_tiles(x: torch.Tensor) -> dict[int, float]:
    """Peak-to-peak (grey levels, channels in power) of the period-``s`` tile averaged over
    every sample and cell: a lattice tied to the output grid adds up across samples, content
    at random places does not (the mean image's own smooth shape still leaks in, so it
    checks the score's direction, not its magnitude).

    >>> tile = torch.tensor([[0.0, 4.0], [4.0, 0.0]]).repeat(4, 4)[None, None]
    >>> coherent_tiles(tile.repeat(2, 3, 1, 1))[2]
    4.0
    """
    u = x.double()
    n, c, h, w = u.shape
    out = {}
    for s in PERIODS:
        t = u[..., : h // s * s, : w // s * s].reshape(n, c, h // s, s, w // s, s).mean((0, 2, 4))
        spread = t.amax((-1, -2)) - t.amin((-1, -2))
        out[s] = float(spread.pow(2).mean().sqrt())
    return out


def sample_sets() -> dict[str, torch.Tensor]:
    """The quick claims' GAN samples (seed 0) and the held-out real patches, in grey levels."""
    from checkerfree.experiments.gan import real_samples, train_gan_run
    from checkerfree.experiments.generators import to_grey_levels

    sets = {"real patches": to_grey_levels(real_samples())}
    for label, kind, stride in (("disc-stride: critic stride 2", "subpixel-icnr", 2),
                                ("disc-stride: critic stride 1", "subpixel-icnr", 1),
                                ("trained-artifacts: deconv-k3", "deconv-k3", 1),
                                ("trained-artifacts: resize-nearest", "resize-nearest", 1)):
        run = train_gan_run(kind, stride, seed=0, steps=300, batch=16, samples=64)
        sets[label] = to_grey_levels(run.samples)
    return sets


def init_rows() -> list[str]:
    """``init-artifacts``: deconvolution in the last layer at period 4, per floor, in the
    claim's quick setting (width 64, seeds 0-5, 8 latents) and its unit test's (width 32,
    seeds 0-1, 4 latents): the mean value of every sample, and the share significant."""
    from checkerfree.experiments.generators import DESIGNS, Generator, to_grey_levels
    from checkerfree.score.checkerboard import MIN_SIGNIFICANCE, checkerboard_score

    rows = []
    for setting, seeds, batch, width in (("quick", range(6), 8, 64),
                                         ("unit test", range(2), 4, 32)):
        ys = []
        for seed in seeds:
            torch.manual_seed(seed)
            g = Generator(DESIGNS["deconv in last layer"], width=width)
            with torch.no_grad():
                ys.append(to_grey_levels(g(torch.randn(batch, g.latent))))
        y = torch.cat(ys)
        for floor, cut in FLOORS.items():
            value = period_values(y, cut)[4]
            saved, lattice._CUT_FROM_PERIOD = lattice._CUT_FROM_PERIOD, cut
            lattice._PLANS.clear()
            try:
                z = checkerboard_score(y, periods=PERIODS, hotspot=False).significance[4]
            finally:
                lattice._CUT_FROM_PERIOD = saved
                lattice._PLANS.clear()
            share = float((z > MIN_SIGNIFICANCE).double().mean())
            rows.append(f"| {setting} | {floor} | {value:.2f} | {100 * share:.0f}% |")
    return rows


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    torch.set_num_threads(1)
    started = time.perf_counter()
    sets = sample_sets()
    print("| samples (32x32) | floor | period 2 | period 4 | period 8 |")
    print("|---|---|---|---|---|")
    for label, x in sets.items():
        for floor, cut in FLOORS.items():
            v = period_values(x, cut)
            print(f"| {label} | {floor} | {v[2]:.2f} | {v[4]:.2f} | {v[8]:.2f} |")
    for columns, measure in (
            (("column stripes (-1)^j", "row stripes (-1)^i", "checkerboard"), nyquist_parts),
            (("coherent tile, period 2", "period 4", "period 8"), coherent_tiles)):
        print()
        print("| samples (32x32) | " + " | ".join(columns) + " |")
        print("|---" * (len(columns) + 1) + "|")
        for label, x in sets.items():
            values = measure(x).values()  # in the columns' order
            print(f"| {label} | " + " | ".join(f"{v:.2f}" for v in values) + " |")
    print()
    print("| init-artifacts, deconv in last layer | floor | period 4, mean value | significant |")
    print("|---|---|---|---|")
    print("\n".join(init_rows()))
    print(f"\n{time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
