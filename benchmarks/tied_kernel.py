"""Forward+backward time of building the fused resize-convolution's tied kernel, two ways.

  batched     ``tied_transposed_kernel`` as shipped: one batched product with the Kronecker
              matrix of the axes, through a transposed view, and its own backward
  per_axis    the former construction: ``tensordot`` with each axis' 0/1 matrix in turn, then
              the (out, in) -> (in, out) transpose and a contiguous copy, autograd backward

for a C -> C 3x3 weight (x2, padding 1) at several C; interleaved, fastest of the repeats.

Usage: python benchmarks/tied_kernel.py [--repeats N] [--threads T] [--json]
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from checkerfree.layers.resize_conv import _axis_map, tied_transposed_kernel

CHANNELS = (96, 192, 384)


def per_axis(w: torch.Tensor) -> torch.Tensor:
    """The construction this module replaced (kept here as the reference for its timing)."""
    m = torch.tensor(_axis_map(3, 2, 1, 1)[0], dtype=w.dtype)
    for a in range(w.dim() - 2):
        last = w.dim() - 1
        w = torch.tensordot(w.movedim(2 + a, last), m, dims=([last], [1])).movedim(last, 2 + a)
    return w.transpose(0, 1).contiguous()


def batched(w: torch.Tensor) -> torch.Tensor:
    return tied_transposed_kernel(w, 2, 1)[0]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    ways = {"batched": batched, "per_axis": per_axis}
    rows = []
    for c in CHANNELS:
        w = torch.randn(c, c, 3, 3, requires_grad=True)
        g = torch.randn(c, c, 4, 4)
        torch.testing.assert_close(batched(w), per_axis(w))
        best = dict.fromkeys(ways, float("inf"))
        for r in range(args.repeats + 1):
            for name in (list(ways) if r % 2 else list(ways)[::-1]):
                w.grad = None
                t = time.perf_counter()
                ways[name](w).backward(g)
                if r:  # the first round warms up
                    best[name] = min(best[name], time.perf_counter() - t)
        rows.append({"channels": c, **{f"{k}_ms": 1e3 * v for k, v in best.items()}})
    if args.json:
        print(json.dumps({"threads": args.threads, "repeats": args.repeats, "rows": rows}))
        return 0
    print(f"threads={args.threads} fastest of {args.repeats}, forward+backward ms")
    for r in rows:
        print(f"C={r['channels']:<4} batched {r['batched_ms']:8.2f}  per_axis "
              f"{r['per_axis_ms']:8.2f}  ratio {r['per_axis_ms'] / r['batched_ms']:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
