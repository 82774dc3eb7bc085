"""Where the fused ResizeConv's time and memory go, against the ConvTranspose it replaces.

Per shape (dims, batch, channels, size; C -> C, x2, k=3 against ConvTranspose(4, 2, 1)):

  copy share    the share of ``aten::copy_`` in ConvTranspose's own forward+backward (profiler
                self CPU time): on a contiguous CPU input ``conv_transpose`` computes into a
                buffer of another layout and copies it out
  build / call  the tied kernel's build, forward+backward (``tied_transposed_kernel``), over
                ``conv_transpose`` forward+backward with that kernel held fixed: the fused
                transposed form's excess, interleaved, fastest of the repeats; in float32
                and in bfloat16
  bias in bwd   ``aten.convolution_backward`` of that ``conv_transpose`` asked for the input,
                weight and bias gradients, over the same asked for input and weight only plus
                the bias gradient as ``grad.sum``: the fused transposed forms do the latter
                (ConvTranspose the former); on the contiguous input and on channels-last
                copies of input and gradient, interleaved, fastest of the repeats
  peak / out    the peak bytes over the output's bytes, every allocation counted (see
                ``benchmarks/upsample.py``), for ConvTranspose and each fused form, without
                autograd ("fwd") and over forward+backward ("train"), after one warm call
                of each, for the naive path, ConvTranspose and each fused form (the output's
                gradient in the layout of each one's output, ``upsample.like_output``)

and the fixed per-call cost at a tiny shape (1, 4, 8) in 1D: module against a bare
``conv_transpose1d`` with a held kernel, microseconds, fastest of 2000.

Usage: python benchmarks/upsample_profile.py [--json] [--repeats N] [--threads T]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from upsample import _cpu_peak, build, like_output

from checkerfree.layers import resize_conv
from checkerfree.layers.resize_conv import tied_transposed_kernel

SHAPES = [(1, 8, 64, 256), (1, 2, 256, 128), (2, 8, 64, 32), (2, 2, 384, 20), (3, 1, 64, 12)]
FORMS = ("transposed", "channels_last", "phases", "sliced", "chunked", "box")
CL = {1: None, 2: torch.channels_last, 3: torch.channels_last_3d}
CT = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


def fastest(fns: dict, repeats: int) -> dict:
    best = dict.fromkeys(fns, float("inf"))
    for f in fns.values():
        f()
    for r in range(repeats):
        for name in (list(fns) if r % 2 else list(fns)[::-1]):
            t = time.perf_counter()
            fns[name]()
            best[name] = min(best[name], time.perf_counter() - t)
    return best


def copy_share(m, x, g) -> float:
    from torch.profiler import ProfilerActivity, profile

    m(x).backward(g)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(10):
            m(x).backward(g)
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    return sum(e.self_cpu_time_total for e in events if e.key == "aten::copy_") / total


def bias_in_backward(x, kernel, g, repeats) -> dict:
    """Per layout: the backward asked for the bias gradient too, over it without + the sum."""
    dims = x.dim() - 2
    out = {}
    for layout in ("contiguous", "channels_last"):
        xx, gg = x.detach(), g
        if layout == "channels_last":
            if dims == 1:
                continue
            xx, gg = xx.contiguous(memory_format=CL[dims]), g.contiguous(memory_format=CL[dims])

        def backward(bias, xx=xx, gg=gg):
            return torch.ops.aten.convolution_backward(
                gg, xx, kernel, [kernel.shape[1]] if bias else None, [2] * dims, [1] * dims,
                [1] * dims, True, [0] * dims, 1, [True, True, bias])

        times = fastest({"inside": lambda: backward(True),
                         "apart": lambda gg=gg: (backward(False),
                                                 gg.sum([0, *range(2, gg.dim())]))}, repeats)
        out[layout] = times["inside"] / times["apart"]
    return out


def shape_row(dims, b, c, n, repeats) -> dict:
    torch.manual_seed(0)
    ct = build("conv_t", dims, c, "cpu", torch.float32)
    fused = build("resize_fused", dims, c, "cpu", torch.float32)
    x = torch.randn(b, c, *(n,) * dims, requires_grad=True)
    g = torch.randn_like(ct(x))
    kernel = fused.equivalent_transposed_weight().detach()
    gk = torch.randn_like(kernel)
    times = fastest({
        "call": lambda: CT[dims](x, kernel, fused.bias, stride=2, padding=1).backward(g),
        "build": lambda: tied_transposed_kernel(fused.weight, 2, 1)[0].backward(gk),
    }, repeats)
    row = {"shape": [dims, b, c, n], "copy_share": copy_share(ct, x, g),
           "build_over_call": times["build"] / times["call"]}
    # The same ratio in bfloat16: the convolution gets faster, the batched product does not.
    xb, gb, kb, gkb = (t.detach().bfloat16() for t in (x, g, kernel, gk))
    xb.requires_grad_()
    wb = fused.weight.detach().bfloat16().requires_grad_()
    kb.requires_grad_()
    times = fastest({
        "call": lambda: CT[dims](xb, kb, None, stride=2, padding=1).backward(gb),
        "build": lambda: tied_transposed_kernel(wb, 2, 1)[0].backward(gkb),
    }, repeats)
    row["build_over_call_bf16"] = times["build"] / times["call"]
    row["bias_in_backward"] = bias_in_backward(x, kernel, g, repeats)
    out = g.nbytes

    def peaks(m):
        def fwd():
            with torch.no_grad():
                m(x)

        gm = like_output(m, x, g)

        def train():
            m(x).backward(gm)

        fwd()  # warm: the no-grad kernel cache holds this weight's kernel from here on
        train()
        return _cpu_peak(fwd) / out, _cpu_peak(train) / out

    row["peak"] = {"naive": peaks(build("naive", dims, c, "cpu", torch.float32)),
                   "conv_t": peaks(ct)}
    for name in FORMS:
        resize_conv.form = name
        row["peak"][name] = peaks(fused)
    resize_conv.form = None
    return row


def tiny(repeats: int) -> dict:
    m = build("resize_fused", 1, 4, "cpu", torch.float32)
    x = torch.randn(1, 4, 8, requires_grad=True)
    g = torch.randn(1, 4, 16)
    kernel = m.equivalent_transposed_weight().detach()

    def bare():
        return F.conv_transpose1d(x, kernel, m.bias, stride=2, padding=1)

    train = fastest({"module": lambda: m(x).backward(g), "bare": lambda: bare().backward(g)},
                    repeats)
    with torch.no_grad():
        fwd = fastest({"module": lambda: m(x), "bare": bare}, repeats)
    return {k: 1e6 * v for k, v in (("train_module_us", train["module"]),
                                    ("train_bare_us", train["bare"]),
                                    ("forward_module_us", fwd["module"]),
                                    ("forward_bare_us", fwd["bare"]))}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = [shape_row(*s, args.repeats) for s in SHAPES]
    doc = {"threads": args.threads, "repeats": args.repeats, "rows": rows,
           "tiny": tiny(2000)}
    if args.json:
        print(json.dumps(doc, indent=2))
        return 0
    head = ("| shape (d, B, C, N) | ConvT copy_ share | build / call | build / call bf16 "
            "| bias in bwd, contiguous, channels-last |")
    head += "".join(f" {k} peak fwd, train |" for k in ("naive", "conv_t", *FORMS))
    print(head)
    print("|" + "---|" * (5 + 2 + len(FORMS)))
    for r in rows:
        bias = r["bias_in_backward"]
        cells = [str(tuple(r["shape"])), f"{100 * r['copy_share']:.0f}%",
                 f"{100 * r['build_over_call']:.0f}%",
                 f"{100 * r['build_over_call_bf16']:.0f}%",
                 f"{bias['contiguous']:.2f}, "
                 + (f"{bias['channels_last']:.2f}" if "channels_last" in bias else "-")]
        cells += [f"{f:.2f}, {t:.2f}" for f, t in r["peak"].values()]
        print("| " + " | ".join(cells) + " |")
    t = doc["tiny"]
    print(f"\nper call at (1, 4, 8), 1D: train module {t['train_module_us']:.0f} us, bare "
          f"{t['train_bare_us']:.0f} us; forward module {t['forward_module_us']:.0f} us, bare "
          f"{t['forward_bare_us']:.0f} us")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
