"""Peak memory and time of checkerfree.audit on large outputs, as a multiple of the output.

Each case audits ``nn.Upsample(scale_factor=2)`` + a 1x1 convolution (seeds=1) in a fresh
process and reports the peak resident memory beyond the interpreter's (after imports), in
MiB and as a multiple of the output's bytes (float32). Prints one JSON document.

    python benchmarks/audit_memory.py [--shapes 1,3,1200,1200 1,1,64,64,64]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

DEFAULT_SHAPES = ("1,3,1200,1200", "1,1,64,64,64")

_CHILD = """
import resource, sys, time
import torch, torch.nn as nn
from checkerfree.audit import audit

torch.set_num_threads(2)
shape = tuple(int(v) for v in sys.argv[1].split(","))
conv = (nn.Conv1d, nn.Conv2d, nn.Conv3d)[len(shape) - 3]
model = nn.Sequential(nn.Upsample(scale_factor=2), conv(shape[1], shape[1], 1))
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
report = audit(model, input_shape=shape, seeds=1)
seconds = time.perf_counter() - start
extra = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) * 1024  # KiB on Linux
out_bytes = 4 * 2 ** (len(shape) - 2) * torch.Size(shape).numel()
print(report.verdict, extra, out_bytes, seconds)
"""


def measure(shape: str) -> dict:
    """Audit the x2 upsampler at input ``shape`` (``"N,C,..."``) in a fresh process."""
    out = subprocess.run([sys.executable, "-c", _CHILD, shape], capture_output=True,
                         text=True, check=True)
    verdict, extra, out_bytes, seconds = out.stdout.split()
    extra, out_bytes = int(extra), int(out_bytes)
    return {"input_shape": shape, "verdict": verdict, "seconds": round(float(seconds), 2),
            "output_mib": round(out_bytes / 2 ** 20, 1), "peak_extra_mib": round(extra / 2 ** 20),
            "ratio": round(extra / out_bytes, 1)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", nargs="+", default=list(DEFAULT_SHAPES))
    args = parser.parse_args(argv)
    print(json.dumps([measure(s) for s in args.shapes], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
