"""Time and memory of x2 upsampling layers, 1D/2D/3D, side by side and interleaved in one run.

Contenders (all C -> C channels, output 2x the input on every spatial axis):
  resize_fused  ResizeConvNd(3, nearest, x2), fused, with the per-shape timed choice of form
                (``checkerfree.layers.resize_conv.benchmark = True``; the chosen form is listed)
  naive         nn.Upsample(nearest, x2) then nn.ConvNd(3)
  conv_t        nn.ConvTransposeNd(4, 2, 1): the layer the resize-convolution replaces
  subpixel      SubPixelConvNd.from_conv_transpose(that ConvTranspose): as ``convert`` builds it
  resize_chunked  the same ResizeConvNd with ``resize_conv.form = "chunked"``: the fused form
                that trades a few more calls for memory (blocks of the batch or of the output
                channels; never two output-sized tensors at once)

Per shape and repeat the contenders run round-robin (the starting one rotates), so that
drifting machine load hits all of them alike; each figure is the fastest of the repeats.
"forward" is inference (``torch.no_grad``), "train" is forward + backward with gradients for
the input and the parameters (the output's gradient is made once, outside the timing, in
the layout of the contender's output: ``like_output``).

Memory, per contender, over one forward + backward:
  saved  bytes of the tensors autograd saves for backward, counted once per storage,
         parameters excluded (the naive path's upsampled tensor shows up here);
  peak   the peak of the bytes allocated during forward + backward, output and gradients
         included, above what was allocated before the call: on CPU the running sum of every
         allocation and free the profiler records (operators' internal temporaries included),
         on CUDA ``torch.cuda.max_memory_allocated``.
  bound  the least any exact forward + backward holds as ``peak`` counts it: the output (alive
         until the backward returns), the input's gradient and every parameter's gradient
         (all made during the call and alive at its end); "bound / naive peak" above 0.5
         would make the peak target unattainable on that shape.

Summary: per contender the median and the worst (largest) over the shapes of its per-shape
ratio to conv_t and to naive; the targets of issue 14 on fused / conv_t (train) and
naive / fused (train, 2D).

Variants: unless ``--no-variants`` (or a run that is itself bfloat16 or channels-last), the
same measurement follows on ``VARIANT_SHAPES`` in bfloat16 and in channels-last float32
(2D and 3D), each with its own summary: the bfloat16 and channels-last columns.

Usage: python benchmarks/upsample.py [--json] [--device cpu|cuda] [--repeats N] [--threads T]
                                      [--dtype float32|bfloat16] [--channels-last] [--dims 1 2 3]
                                      [--no-variants] [--markdown] [--from-json PATH]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import torch
from torch import nn

from checkerfree.layers import (
    ResizeConv1d,
    ResizeConv2d,
    ResizeConv3d,
    SubPixelConv1d,
    SubPixelConv2d,
    SubPixelConv3d,
    resize_conv,
)

# (dims, batch, channels, size): from few wide channels to many narrow ones per axis count.
SHAPES = [
    (1, 8, 64, 256), (1, 4, 128, 512), (1, 16, 32, 1024), (1, 2, 256, 128),
    (2, 2, 384, 20), (2, 8, 64, 32), (2, 4, 64, 64), (2, 16, 32, 32), (2, 2, 128, 32),
    (2, 1, 32, 128), (2, 24, 192, 12),
    (3, 2, 32, 16), (3, 1, 64, 12), (3, 4, 16, 20),
]
# The bfloat16 and channels-last columns: a subset (channels-last has no 1D layout).
VARIANT_SHAPES = [
    (1, 8, 64, 256), (1, 2, 256, 128),
    (2, 8, 64, 32), (2, 4, 64, 64), (2, 2, 128, 32), (2, 24, 192, 12),
    (3, 2, 32, 16), (3, 1, 64, 12),
]
VARIANTS = {"bfloat16": (torch.bfloat16, False), "channels_last": (torch.float32, True)}
CONTENDERS = ("resize_fused", "naive", "conv_t", "subpixel", "resize_chunked")
RESIZE = {1: ResizeConv1d, 2: ResizeConv2d, 3: ResizeConv3d}
SUBPIXEL = {1: SubPixelConv1d, 2: SubPixelConv2d, 3: SubPixelConv3d}
CONV = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
CONV_T = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}


class _Chunked(nn.Module):
    """A ResizeConv whose forward runs with ``resize_conv.form = "chunked"`` (its backward
    follows from the autograd node that form makes)."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        before, resize_conv.form = resize_conv.form, "chunked"
        try:
            return self.inner(x)
        finally:
            resize_conv.form = before


def build(name: str, dims: int, c: int, device, dtype) -> nn.Module:
    kw = {"device": device, "dtype": dtype}
    if name == "resize_fused":
        return RESIZE[dims](c, c, 3, padding=1, scale_factor=2, **kw)
    if name == "resize_chunked":
        return _Chunked(RESIZE[dims](c, c, 3, padding=1, scale_factor=2, **kw))
    if name == "naive":
        return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                             CONV[dims](c, c, 3, padding=1, **kw))
    conv_t = CONV_T[dims](c, c, 4, stride=2, padding=1, **kw)
    return conv_t if name == "conv_t" else SUBPIXEL[dims].from_conv_transpose(conv_t)


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def like_output(m, x, g) -> torch.Tensor:
    """``g``'s values in the layout of ``m``'s output: the gradient the next layer's backward
    hands over (PyTorch layers keep their input's memory format, so the fused layer's
    channels-last output gets a channels-last gradient), made outside the timing. With
    autograd on: the form the fused layer's timed choice keeps may differ without it."""
    return torch.empty_like(m(x).detach()).copy_(g)


def time_forward(m, x, device) -> float:
    _sync(device)
    t = time.perf_counter()
    with torch.no_grad():
        m(x)
    _sync(device)
    return time.perf_counter() - t


def time_train(m, x, g, device) -> float:
    m.zero_grad(set_to_none=True)
    x.grad = None
    _sync(device)
    t = time.perf_counter()
    m(x).backward(g)
    _sync(device)
    return time.perf_counter() - t


def _cpu_peak(fn) -> int:
    """Peak of the bytes allocated while ``fn`` runs, above the start, from every allocation.

    The profiler records each CPU allocation and free, with its size, as a ``[memory]`` event
    (in its trace, also those inside an operator); their running sum in time order is the live
    byte count at every allocation, so a temporary an operator makes and frees inside itself
    (``conv_transpose`` on a contiguous CPU input makes two output-sized ones) counts too.
    """
    import os
    import tempfile

    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    fd, path = tempfile.mkstemp(suffix=".json")
    os.close(fd)
    try:
        prof.export_chrome_trace(path)
        with open(path) as f:
            events = json.load(f)["traceEvents"]
    finally:
        os.unlink(path)
    sizes = sorted((e["ts"], e["args"]["Bytes"]) for e in events if e.get("name") == "[memory]")
    live = peak = 0
    for _t, nbytes in sizes:
        live += nbytes
        peak = max(peak, live)
    return peak


def memory(m, x, g, device) -> tuple[int, int]:
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

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        m(x)
    saved = sum(seen.values())
    m.zero_grad(set_to_none=True)
    x.grad = None

    def step():
        m(x).backward(g)
        _sync(device)

    if device.type == "cuda":
        _sync(device)
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        step()
        return saved, torch.cuda.max_memory_allocated() - base
    return saved, _cpu_peak(step)


def peak_bound(m, x, g) -> int:
    """Bytes of the output, the input's gradient and the parameters' gradients: what every
    exact implementation holds at the end of one forward + backward (see ``memory``)."""
    return g.nbytes + x.nbytes + sum(p.nbytes for p in m.parameters() if p.requires_grad)


def _input(dims, b, c, n, device, dtype, channels_last):
    x = torch.randn(b, c, *(n,) * dims, device=device, dtype=dtype)
    if channels_last and dims > 1:
        x = x.contiguous(memory_format=torch.channels_last if dims == 2
                         else torch.channels_last_3d)
    return x.requires_grad_()


def run(device, repeats: int, shapes, dtype=torch.float32, channels_last=False) -> dict:
    rows = []
    resize_conv.benchmark, resize_conv.form = True, None
    resize_conv.choices.clear()
    for dims, b, c, n in shapes:
        torch.manual_seed(0)
        mods = {name: build(name, dims, c, device, dtype) for name in CONTENDERS}
        x = _input(dims, b, c, n, device, dtype, channels_last)
        g = torch.randn_like(mods["conv_t"](x))
        grads = {}
        for name, m in mods.items():  # warm-up: allocator, kernels, caches, the fused trial
            for _ in range(2):
                time_forward(m, x, device)
                time_train(m, x, g, device)
            grads[name] = like_output(m, x, g)
        times = {name: {"forward": [], "train": []} for name in CONTENDERS}
        for r in range(repeats):
            order = CONTENDERS[r % len(CONTENDERS):] + CONTENDERS[: r % len(CONTENDERS)]
            for name in order:
                times[name]["forward"].append(time_forward(mods[name], x, device))
                times[name]["train"].append(time_train(mods[name], x, grads[name], device))
        # The form the timed choice kept for training (the key's last field: autograd on).
        chosen = sorted({v for k, v in resize_conv.choices.items()
                         if k[0] == tuple(x.shape) and k[-1]})
        for name in CONTENDERS:
            rows.append({
                "shape": [dims, b, c, n],
                "contender": name,
                "forward_ms": 1e3 * min(times[name]["forward"]),
                "train_ms": 1e3 * min(times[name]["train"]),
                **dict(zip(("saved_bytes", "peak_bytes"),
                           memory(mods[name], x, grads[name], device), strict=True)),
                **({"forms": chosen, "bound_bytes": peak_bound(mods[name], x, g)}
                   if name == "resize_fused" else {}),
            })
    resize_conv.benchmark = False
    return {"rows": rows, "summary": summarize(rows, shapes)}


def summarize(rows, shapes) -> dict:
    """Per contender: median and worst over the suite of its per-shape ratio to conv_t, naive."""
    by = {(tuple(r["shape"]), r["contender"]): r for r in rows}
    out = {}
    for name in CONTENDERS:
        entry = {}
        for metric in ("forward_ms", "train_ms", "saved_bytes", "peak_bytes"):
            for ref in ("conv_t", "naive"):
                ratios = [by[(tuple(s), name)][metric] / by[(tuple(s), ref)][metric]
                          for s in shapes]
                key = f"{metric.rsplit('_', 1)[0]}_vs_{ref}"
                entry[key] = statistics.median(ratios)
                entry[key + "_worst"] = max(ratios)
        out[name] = entry
    fused = out["resize_fused"]
    flat = [s for s in shapes if s[0] == 2]
    speedup_2d = [by[(tuple(s), "naive")]["train_ms"] / by[(tuple(s), "resize_fused")]["train_ms"]
                  for s in flat]
    out["naive_over_fused_train_2d"] = {
        "median": statistics.median(speedup_2d) if speedup_2d else None,
        "worst": min(speedup_2d) if speedup_2d else None,
    }
    bounds = [by[(tuple(s), "resize_fused")]["bound_bytes"] / by[(tuple(s), "naive")]["peak_bytes"]
              for s in shapes]
    out["bound_vs_naive_peak"] = {"median": statistics.median(bounds), "worst": max(bounds)}
    out["targets"] = {
        "median train fused/conv_t <= 1.0": fused["train_vs_conv_t"] <= 1.0,
        "worst train fused/conv_t <= 1.1": fused["train_vs_conv_t_worst"] <= 1.1,
        "median train naive/fused (2D) >= 2": bool(speedup_2d)
        and statistics.median(speedup_2d) >= 2.0,
        "worst peak fused/naive <= 0.5": fused["peak_vs_naive_worst"] <= 0.5,
        "median peak chunked/naive <= 0.5": out["resize_chunked"]["peak_vs_naive"] <= 0.5,
        "worst peak chunked/naive <= 0.5": out["resize_chunked"]["peak_vs_naive_worst"] <= 0.5,
    }
    return out


def bound(by: dict, s) -> float:
    """``peak_bound`` over the naive path's peak on shape ``s`` (``by``: rows by shape and
    contender)."""
    return by[(s, "resize_fused")]["bound_bytes"] / by[(s, "naive")]["peak_bytes"]


def markdown(doc: dict) -> str:
    """The per-shape table (train ms, peak MiB) and the summary, as docs/performance.md has them."""
    meta, rows, summary = doc["meta"], doc["rows"], doc["summary"]
    by = {(tuple(r["shape"]), r["contender"]): r for r in rows}
    shapes = list(dict.fromkeys(tuple(r["shape"]) for r in rows))
    lines = [(f"{meta['device']}, torch {meta['torch']}, {meta['threads']} threads, "
             f"{meta['dtype']}{', channels-last' if meta['channels_last'] else ''}, "
             f"{meta['statistic']}."), "",
             ("| shape (d, B, C, N) | fused train ms | conv_t | naive | subpixel | chunked "
             "| fused / conv_t | naive / fused | fused form (train) | fused / naive peak "
             "| chunked / conv_t | chunked / naive peak | bound / naive peak |"),
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for s in shapes:
        t = {c: by[(s, c)]["train_ms"] for c in CONTENDERS}
        peak = {c: by[(s, c)]["peak_bytes"] / by[(s, "naive")]["peak_bytes"]
                for c in CONTENDERS}
        lines.append(
            f"| {s} | {t['resize_fused']:.1f} | {t['conv_t']:.1f} | {t['naive']:.1f} | "
            f"{t['subpixel']:.1f} | {t['resize_chunked']:.1f} | "
            f"{t['resize_fused'] / t['conv_t']:.2f} | "
            f"{t['naive'] / t['resize_fused']:.2f} | "
            f"{', '.join(by[(s, 'resize_fused')].get('forms', []))} | "
            f"{peak['resize_fused']:.2f} | {t['resize_chunked'] / t['conv_t']:.2f} | "
            f"{peak['resize_chunked']:.2f} | {bound(by, s):.2f} |")
    lines += ["", ("| contender | train / conv_t median (worst) | forward / conv_t | "
              "train / naive | peak / naive |"), "|---|---|---|---|---|"]
    for name in CONTENDERS:
        e = summary[name]
        cells = [f"{e[k]:.2f} ({e[k + '_worst']:.2f})" for k in
                 ("train_vs_conv_t", "forward_vs_conv_t", "train_vs_naive", "peak_vs_naive")]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    sp = summary["naive_over_fused_train_2d"]
    if sp["median"] is not None:
        lines += ["", (f"naive / fused, train, 2D shapes: median {sp['median']:.2f}, "
                      f"worst {sp['worst']:.2f}.")]
    b = summary["bound_vs_naive_peak"]
    lines += ["", (f"bound / naive peak: median {b['median']:.2f}, worst {b['worst']:.2f} "
                   "(no exact form can peak below the bound).")]
    lines += ["", "Targets: " + "; ".join(f"{k}: {'met' if v else 'missed'}"
                                          for k, v in summary["targets"].items()) + "."]
    if doc.get("variants"):
        lines += ["", variants_markdown(doc)]
    return "\n".join(lines)


def variants_markdown(doc: dict) -> str:
    """The bfloat16 and channels-last columns next to float32, per shape, and their summaries."""
    base = {(tuple(r["shape"]), r["contender"]): r for r in doc["rows"]}
    names = list(doc["variants"])
    by = {n: {(tuple(r["shape"]), r["contender"]): r for r in doc["variants"][n]["rows"]}
          for n in names}
    shapes = list(dict.fromkeys(tuple(r["shape"]) for n in names
                                for r in doc["variants"][n]["rows"]))

    def ratio(table, s, num, den, metric="train_ms"):
        if (s, num) not in table:
            return "-"
        return f"{table[(s, num)][metric] / table[(s, den)][metric]:.2f}"

    head = ["shape (d, B, C, N)", "fused / conv_t float32"]
    head += [f"fused / conv_t {n}" for n in names] + [f"naive / fused {n}" for n in names]
    head += [f"fused form {n}" for n in names] + [f"fused / naive peak {n}" for n in names]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for s in shapes:
        cells = [str(s), ratio(base, s, "resize_fused", "conv_t")]
        cells += [ratio(by[n], s, "resize_fused", "conv_t") for n in names]
        cells += [ratio(by[n], s, "naive", "resize_fused") for n in names]
        cells += [", ".join(by[n][(s, "resize_fused")].get("forms", []))
                  if (s, "resize_fused") in by[n] else "-" for n in names]
        cells += [ratio(by[n], s, "resize_fused", "naive", "peak_bytes") for n in names]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    for n in names:
        v = doc["variants"][n]
        e, sp = v["summary"]["resize_fused"], v["summary"]["naive_over_fused_train_2d"]
        text = (f"{n} ({v['meta']['dtype']}{', channels-last' if v['meta']['channels_last'] else ''}"
                f", {len(shapes_of(v))} shape{'s' if len(shapes_of(v)) > 1 else ''}): "
                f"fused / conv_t train median "
                f"{e['train_vs_conv_t']:.2f} (worst {e['train_vs_conv_t_worst']:.2f}), forward "
                f"{e['forward_vs_conv_t']:.2f} ({e['forward_vs_conv_t_worst']:.2f})")
        if sp["median"] is not None:
            text += f"; naive / fused, train, 2D: median {sp['median']:.2f}"
        text += (f"; peak fused / naive median {e['peak_vs_naive']:.2f} "
                 f"(worst {e['peak_vs_naive_worst']:.2f}).")
        lines.append(text)
    return "\n".join(lines)


def shapes_of(doc: dict) -> list:
    return list(dict.fromkeys(tuple(r["shape"]) for r in doc["rows"]))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--channels-last", action="store_true",
                        help="2D inputs channels_last, 3D channels_last_3d")
    parser.add_argument("--dims", type=int, nargs="+", default=[1, 2, 3], choices=[1, 2, 3])
    parser.add_argument("--no-variants", action="store_true",
                        help="skip the bfloat16 and channels-last runs on VARIANT_SHAPES")
    parser.add_argument("--markdown", action="store_true",
                        help="print the tables of docs/performance.md")
    parser.add_argument("--from-json", metavar="PATH",
                        help="render a saved --json run instead of measuring")
    args = parser.parse_args(argv)
    if args.from_json:
        with open(args.from_json) as f:
            print(markdown(json.load(f)))
        return 0
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    if args.device == "cuda" and not torch.cuda.is_available():
        print("error: --device cuda but CUDA is not available", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    def grow(shape):  # a GPU needs more work per call to be measured at all
        d, b, c, n = shape
        return (d, 8 * b, c, 2 * n) if device.type == "cuda" else shape

    shapes = [grow(s) for s in SHAPES if s[0] in args.dims]
    result = run(device, args.repeats, shapes, getattr(torch, args.dtype), args.channels_last)
    meta = {
        "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "dtype": args.dtype,
        "channels_last": args.channels_last,
        "repeats": args.repeats,
        "statistic": f"fastest of {args.repeats} interleaved runs",
    }
    doc = {"meta": meta, **result}
    if not args.no_variants and args.dtype == "float32" and not args.channels_last:
        doc["variants"] = {}
        for name, (dtype, channels_last) in VARIANTS.items():
            vshapes = [grow(v) for v in VARIANT_SHAPES
                       if v[0] in args.dims and not (channels_last and v[0] == 1)]
            if vshapes:
                doc["variants"][name] = {
                    "meta": {**meta, "dtype": str(dtype).removeprefix("torch."),
                             "channels_last": channels_last},
                    **run(device, args.repeats, vshapes, dtype, channels_last)}
    if args.json:
        print(json.dumps(doc, indent=2))
        return 0
    if args.markdown:
        print(markdown(doc))
        return 0
    print(" ".join(f"{k}={v}" for k, v in meta.items()))
    print(f"{'shape (d,B,C,N)':<18}{'contender':<14}{'fwd ms':>9}{'train ms':>10}"
          f"{'saved MiB':>11}{'peak MiB':>10}  form")
    for r in result["rows"]:
        print(f"{tuple(r['shape'])!s:<18}{r['contender']:<14}{r['forward_ms']:>9.2f}"
              f"{r['train_ms']:>10.2f}{r['saved_bytes'] / 2**20:>11.2f}"
              f"{r['peak_bytes'] / 2**20:>10.2f}  {','.join(r.get('forms', []))}")
    print("\nper-shape ratios over the suite, median (worst):")
    print(f"{'contender':<14}{'fwd/conv_t':>14}{'train/conv_t':>14}{'train/naive':>14}"
          f"{'peak/naive':>14}")
    for name in CONTENDERS:
        s = result["summary"][name]
        cells = [f"{s[k]:.2f} ({s[k + '_worst']:.2f})" for k in
                 ("forward_vs_conv_t", "train_vs_conv_t", "train_vs_naive", "peak_vs_naive")]
        print(f"{name:<14}" + "".join(f"{c:>14}" for c in cells))
    sp = result["summary"]["naive_over_fused_train_2d"]
    if sp["median"] is not None:
        print(f"naive/fused train, 2D: median {sp['median']:.2f}, worst {sp['worst']:.2f}")
    b = result["summary"]["bound_vs_naive_peak"]
    print(f"bound/naive peak: median {b['median']:.2f}, worst {b['worst']:.2f}")
    print("targets:", ", ".join(f"{k}: {'met' if v else 'MISSED'}"
                                for k, v in result["summary"]["targets"].items()))
    if doc.get("variants"):
        print()
        print(variants_markdown(doc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
