"""Each exact form of the fused ResizeConv forced, against ConvTranspose: train time, one run.

``benchmarks/upsample.py`` times the layer with its timed choice; this times every form the
choice picks from (``resize_conv.form`` forced), plus ``channels_last`` with its output
converted back to contiguous (``y.contiguous()``: what returning a contiguous output would
cost), on the same shapes, interleaved round-robin (the order alternates), the fastest of
the repeats, forward+backward, each with the output's gradient in the layout of its output
(``upsample.like_output``). Printed: per shape, each form's time over ConvTranspose's.

Usage: python benchmarks/upsample_forms.py [--repeats N] [--threads T] [--shapes d,B,C,N ...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from upsample import SHAPES, _input, build, like_output, time_train

from checkerfree.layers import resize_conv

FORMS = ("transposed", "channels_last", "phases", "sliced", "box")


class Forced(nn.Module):
    """``inner`` with ``resize_conv.form`` forced during its forward; optionally the output
    made contiguous (its backward follows from the autograd node the form makes)."""

    def __init__(self, inner: nn.Module, form: str, contiguous: bool = False):
        super().__init__()
        self.inner, self.form, self.contiguous = inner, form, contiguous

    def forward(self, x):
        before, resize_conv.form = resize_conv.form, self.form
        try:
            y = self.inner(x)
        finally:
            resize_conv.form = before
        return y.contiguous() if self.contiguous else y


def row(dims, b, c, n, repeats) -> dict:
    torch.manual_seed(0)
    cpu = torch.device("cpu")
    x = _input(dims, b, c, n, cpu, torch.float32, False)
    fused = build("resize_fused", dims, c, cpu, torch.float32)
    mods = {"conv_t": build("conv_t", dims, c, cpu, torch.float32)}
    mods.update({f: Forced(fused, f) for f in FORMS})
    mods["channels_last, back"] = Forced(fused, "channels_last", contiguous=True)
    g = torch.randn_like(mods["conv_t"](x))
    grads = {k: like_output(m, x, g) for k, m in mods.items()}
    best = dict.fromkeys(mods, float("inf"))
    for k, m in mods.items():
        for _ in range(2):
            time_train(m, x, grads[k], cpu)
    for r in range(repeats):
        for k in (list(mods) if r % 2 else list(mods)[::-1]):
            best[k] = min(best[k], time_train(mods[k], x, grads[k], cpu))
    return {k: v / best["conv_t"] for k, v in best.items() if k != "conv_t"} | {
        "conv_t_ms": 1e3 * best["conv_t"]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--shapes", nargs="+", metavar="d,B,C,N",
                        help="shapes (default: upsample.py's SHAPES)")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    torch.set_num_threads(args.threads)
    shapes = SHAPES
    if args.shapes:
        try:
            shapes = [tuple(int(v) for v in s.split(",")) for s in args.shapes]
        except ValueError:
            parser.error(f"--shapes takes d,B,C,N integers, got {args.shapes}")
        if any(len(s) != 4 or s[0] not in (1, 2, 3) for s in shapes):
            parser.error(f"--shapes takes d,B,C,N with d in 1, 2, 3, got {args.shapes}")
    names = (*FORMS, "channels_last, back")
    print(f"train time / ConvTranspose's, fastest of {args.repeats}, {args.threads} thread(s)")
    print("| shape (d, B, C, N) | conv_t ms | " + " | ".join(names) + " |")
    print("|" + "---|" * (2 + len(names)))
    for s in shapes:
        r = row(*s, args.repeats)
        print(f"| {s} | {r['conv_t_ms']:.1f} | " + " | ".join(f"{r[k]:.2f}" for k in names)
              + " |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
