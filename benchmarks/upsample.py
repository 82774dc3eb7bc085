"""Time and memory of x2 upsampling layers, side by side and interleaved in one run.

Contenders (all C -> C channels, output 2H x 2W):
  resize_fused  ResizeConv2d(3x3, nearest, x2): the fused transposed-convolution path
  naive         nn.Upsample(nearest, x2) then nn.Conv2d(3x3)
  conv_t        nn.ConvTranspose2d(4, 2, 1)
  subpixel      SubPixelConv2d(3x3, x2): Conv2d to 4C channels, then pixel shuffle

Per shape and repeat the contenders run round-robin (the starting one rotates), so that
drifting machine load hits all of them alike. "forward" is inference (``torch.no_grad``),
"train" is forward + backward with gradients for the input and the parameters.

Memory, two figures per contender:
  saved    bytes of the tensors autograd saves for backward, counted once per storage,
           parameters excluded: what the layer itself keeps alive between forward and backward
           (the naive path's 4x upsampled tensor shows up here);
  peak     on CUDA the peak of ``torch.cuda.max_memory_allocated`` over one forward + backward
           minus what was allocated before it; on CPU (no allocator peak to read) ``saved`` plus
           the output, which every contender must produce and which the next layer owns.

Usage: python benchmarks/upsample.py [--json] [--device cpu|cuda] [--repeats N] [--threads T]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import torch
import torch.nn as nn

from checkerfree.layers import ResizeConv2d, SubPixelConv2d

SHAPES = [(8, 64, 32), (4, 64, 64), (16, 32, 32), (2, 128, 32), (1, 32, 128)]
CONTENDERS = ("resize_fused", "naive", "conv_t", "subpixel")


def build(name: str, c: int, device) -> nn.Module:
    if name == "resize_fused":
        return ResizeConv2d(c, c, 3, padding=1, scale_factor=2, device=device)
    if name == "naive":
        return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                             nn.Conv2d(c, c, 3, padding=1, device=device))
    if name == "conv_t":
        return nn.ConvTranspose2d(c, c, 4, stride=2, padding=1, device=device)
    return SubPixelConv2d(c, c, 3, padding=1, scale_factor=2, device=device)


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_forward(m, x, device) -> float:
    _sync(device)
    t = time.perf_counter()
    with torch.no_grad():
        m(x)
    _sync(device)
    return time.perf_counter() - t


def time_train(m, x, device) -> float:
    m.zero_grad(set_to_none=True)
    x.grad = None
    _sync(device)
    t = time.perf_counter()
    m(x).sum().backward()
    _sync(device)
    return time.perf_counter() - t


def memory(m, x, device) -> tuple[int, int]:
    """``(saved, peak)`` bytes; see the module docstring."""
    m.zero_grad(set_to_none=True)
    x.grad = None
    params = {p.untyped_storage().data_ptr() for p in m.parameters()}
    seen: dict[int, int] = {}

    def pack(t):
        ptr = t.untyped_storage().data_ptr()
        if ptr not in params:  # the input counts: this layer is what keeps it alive
            seen[ptr] = t.untyped_storage().nbytes()
        return t

    _sync(device)
    base = torch.cuda.memory_allocated() if device.type == "cuda" else 0
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        y = m(x)
    saved = sum(seen.values())
    out = y.untyped_storage().nbytes()
    y.sum().backward()
    _sync(device)
    if device.type == "cuda":
        return saved, torch.cuda.max_memory_allocated() - base
    return saved, saved + out


def run(device, repeats: int, shapes) -> dict:
    rows = []
    for b, c, n in shapes:
        torch.manual_seed(0)
        mods = {name: build(name, c, device) for name in CONTENDERS}
        x = torch.randn(b, c, n, n, device=device, requires_grad=True)
        for m in mods.values():  # warm-up: allocator, kernels, lru caches
            for _ in range(2):
                time_forward(m, x, device)
                time_train(m, x, device)
        times = {name: {"forward": [], "train": []} for name in CONTENDERS}
        for r in range(repeats):
            order = CONTENDERS[r % len(CONTENDERS):] + CONTENDERS[: r % len(CONTENDERS)]
            for name in order:
                times[name]["forward"].append(time_forward(mods[name], x, device))
                times[name]["train"].append(time_train(mods[name], x, device))
        for name in CONTENDERS:
            rows.append({
                "shape": [b, c, n],
                "contender": name,
                "forward_ms": 1e3 * statistics.median(times[name]["forward"]),
                "train_ms": 1e3 * statistics.median(times[name]["train"]),
                **dict(zip(("saved_bytes", "peak_bytes"), memory(mods[name], x, device),
                           strict=True)),
            })
    return {"rows": rows, "summary": summarize(rows, shapes)}


def summarize(rows, shapes) -> dict:
    """Per contender: median over the suite of its per-shape ratio to conv_t and to naive."""
    by = {(tuple(r["shape"]), r["contender"]): r for r in rows}
    out = {}
    for name in CONTENDERS:
        entry = {}
        for metric in ("forward_ms", "train_ms", "saved_bytes", "peak_bytes"):
            for ref in ("conv_t", "naive"):
                ratios = [by[(tuple(s), name)][metric] / by[(tuple(s), ref)][metric]
                          for s in shapes]
                entry[f"{metric.rsplit('_', 1)[0]}_vs_{ref}"] = statistics.median(ratios)
        out[name] = entry
    fused = out["resize_fused"]
    out["targets"] = {
        "train_time_vs_conv_t<=1.0": fused["train_vs_conv_t"] <= 1.0,
        "forward_time_vs_conv_t<=1.0": fused["forward_vs_conv_t"] <= 1.0,
        "train_speedup_vs_naive>=2": 1 / fused["train_vs_naive"] >= 2.0,
        "forward_speedup_vs_naive>=2": 1 / fused["forward_vs_naive"] >= 2.0,
        "saved_memory_vs_naive<=0.5": fused["saved_vs_naive"] <= 0.5,
        "peak_memory_vs_naive<=0.5": fused["peak_vs_naive"] <= 0.5,
    }
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    if args.device == "cuda" and not torch.cuda.is_available():
        print("error: --device cuda but CUDA is not available", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    shapes = SHAPES
    if device.type == "cuda":  # a GPU needs more work per call to be measured at all
        shapes = [(8 * b, c, 2 * n) for b, c, n in SHAPES]
    result = run(device, args.repeats, shapes)
    meta = {
        "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "repeats": args.repeats,
        "peak": "allocator peak over forward+backward" if device.type == "cuda"
        else "saved for backward + output",
    }
    if args.json:
        print(json.dumps({"meta": meta, **result}, indent=2))
        return 0
    print(" ".join(f"{k}={v}" for k, v in meta.items()))
    print(f"{'shape (B,C,N)':<16}{'contender':<14}{'fwd ms':>9}{'train ms':>10}"
          f"{'saved MiB':>11}{'peak MiB':>10}")
    for r in result["rows"]:
        print(f"{str(tuple(r['shape'])):<16}{r['contender']:<14}{r['forward_ms']:>9.2f}"
              f"{r['train_ms']:>10.2f}{r['saved_bytes'] / 2**20:>11.2f}"
              f"{r['peak_bytes'] / 2**20:>10.2f}")
    print("\nmedian over the suite of per-shape ratios (lower is better):")
    print(f"{'contender':<14}{'fwd/conv_t':>11}{'fwd/naive':>10}{'train/conv_t':>13}"
          f"{'train/naive':>12}{'saved/naive':>12}{'peak/naive':>11}")
    for name in CONTENDERS:
        s = result["summary"][name]
        print(f"{name:<14}{s['forward_vs_conv_t']:>11.2f}{s['forward_vs_naive']:>10.2f}"
              f"{s['train_vs_conv_t']:>13.2f}{s['train_vs_naive']:>12.2f}"
              f"{s['saved_vs_naive']:>12.2f}{s['peak_vs_naive']:>11.2f}")
    print("targets:", ", ".join(f"{k}: {'met' if v else 'MISSED'}"
                                for k, v in result["summary"]["targets"].items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
