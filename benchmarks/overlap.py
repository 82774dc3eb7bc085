"""Time checkerfree.overlap against brute force (all-ones transposed convolutions on ones).

Both contenders compute the 2D contribution map of n stacked k=3, s=2 layers; brute force
needs an input large enough that its interior holds one full period (2^n per axis), so it
is run only while that fits in memory; beyond a period of 2^22 (past about 20 layers) overlap
answers from transfer matrices (checkerfree.overlap_symbolic). Then deep even stacks (k=4,
s=2, p=1), overlap only.
Prints one JSON document.

    python benchmarks/overlap.py [--json] [--repeats 5] [--max-brute 10]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F

from checkerfree import overlap


def brute_force(n_layers: int) -> torch.Tensor:
    size = 8  # interior of the last layer's output then spans several periods
    x = torch.ones(1, 1, size, size, dtype=torch.float64)
    w = torch.ones(1, 1, 3, 3, dtype=torch.float64)
    for _ in range(n_layers):
        x = F.conv_transpose2d(x, w, stride=2)
    return x


def timed(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print only the JSON document")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--max-brute", type=int, default=10, help="deepest stack for brute force")
    args = ap.parse_args()
    torch.set_num_threads(1)
    rows = []
    for n in (1, 2, 4, 8, 10, 12, 16, 20, 40, 100):
        layers = [(3, 2)] * n
        t_exact = timed(lambda: overlap(layers, dims=2), args.repeats)
        row = {"layers": n, "kind": "k=3 s=2", "overlap_ms": round(t_exact * 1e3, 3),
               "ratio": overlap(layers, dims=2).ratio}
        if n <= args.max_brute:
            t_brute = timed(lambda: brute_force(n), max(1, args.repeats // 2))
            row["brute_force_ms"] = round(t_brute * 1e3, 3)
            row["speedup"] = round(t_brute / t_exact, 1)
        rows.append(row)
        if not args.json:
            print(row)
    # Deep even stacks: the period is cut back to 1 after every layer, so the cost is linear
    # in the number of layers (the lattice period 2^n is never materialised).
    for n in (64, 256, 1024):
        layers = [(4, 2, 1)] * n
        t_exact = timed(lambda: overlap(layers, dims=2), args.repeats)
        row = {"layers": n, "kind": "k=4 s=2 p=1", "overlap_ms": round(t_exact * 1e3, 3),
               "ratio": overlap(layers, dims=2).ratio}
        rows.append(row)
        if not args.json:
            print(row)
    doc = {"benchmark": "overlap", "torch": torch.__version__, "threads": 1, "rows": rows}
    print(json.dumps(doc, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
