"""Time checkerfree.audit against one forward+backward of the same model on the same input.

For each model: the median time of one forward+backward pass on a batch of the audit's probe
shape, the time of a full audit (inventory, forward and gradient probes over every seed,
ablations; after one warm-up audit, as the pass is timed after a warm-up), and their ratio
(target: at most 20). Prints one JSON document.

    python benchmarks/audit.py [--json] [--seeds 3] [--repeats 5] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import warnings

import torch

from checkerfree.audit import audit
from checkerfree.zoo import EXAMPLES

MODELS = ("dcgan", "dcgan-resize", "unet", "espcn", "audio-decoder", "volume-decoder",
          "classifier-strided")


def _monai_unet():
    from monai.networks.nets import BasicUNet

    return BasicUNet(spatial_dims=2, in_channels=1, out_channels=1,
                     features=(16, 16, 32, 64, 128, 16), upsample="deconv"), (2, 1, 128, 128)


def fwd_bwd(model, shape, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        x = torch.randn(shape, requires_grad=shape[2:] and max(shape[2:]) > 4 or False)
        t0 = time.perf_counter()
        y = model(x)
        y = y if isinstance(y, torch.Tensor) else y[0]
        y.sum().backward()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print only the JSON document")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")
    cases = [(name, EXAMPLES[name].factory, EXAMPLES[name].input_shape) for name in MODELS]
    cases.append(("monai-basicunet-deconv", lambda: _monai_unet()[0], _monai_unet()[1]))
    rows = []
    for name, factory, shape in cases:
        torch.manual_seed(0)
        model = factory()
        fwd_bwd(model, shape, 2)  # warm-up
        t_pass = fwd_bwd(model, shape, args.repeats)
        audit(model, input_shape=shape, seeds=args.seeds)  # warm-up: per-shape tables, photos
        t0 = time.perf_counter()
        report = audit(model, input_shape=shape, seeds=args.seeds)
        t_audit = time.perf_counter() - t0
        row = {"model": name, "input_shape": list(shape), "pass_ms": round(t_pass * 1e3, 2),
               "audit_ms": round(t_audit * 1e3, 1), "ratio": round(t_audit / t_pass, 1),
               "verdict": report.verdict}
        rows.append(row)
        if not args.json:
            print(row)
    doc = {"benchmark": "audit", "torch": torch.__version__, "threads": args.threads,
           "seeds": args.seeds, "rows": rows,
           "median_ratio": statistics.median(r["ratio"] for r in rows)}
    print(json.dumps(doc, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
