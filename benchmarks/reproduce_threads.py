"""Milliseconds per training step of each model ``checkerfree reproduce`` trains, at T threads.

The measurement behind ``DEFAULT_THREADS = 1`` (checkerfree.experiments.runner) and the
``--threads`` note in docs/reproduce.md: run it once with ``--threads 1`` and once with
``--threads 2`` on the same machine, close in time, and compare. Each model trains for
``--steps`` steps from its real settings (the full run's sizes).

Usage: python benchmarks/reproduce_threads.py [--threads T] [--steps N] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import torch


def measure(steps: int) -> dict[str, float]:
    """Mean milliseconds per step of every super-resolution upsampler, classifier and GAN."""
    from checkerfree.experiments import training
    from checkerfree.experiments.classifiers import DOWNSAMPLING, train_classifier
    from checkerfree.experiments.gan import train_gan_run
    from checkerfree.experiments.upsamplers import UPSAMPLERS

    out = {}
    for kind in UPSAMPLERS:
        out[f"sr {kind}"] = training.train_sr(kind, 0, training.SRSettings(steps=steps)).step_ms
    for design in DOWNSAMPLING:
        t0 = time.perf_counter()
        train_classifier(design, 0, steps)
        out[f"classifier {design}"] = 1000 * (time.perf_counter() - t0) / steps
    for kind, stride in (("deconv-k3", 1), ("subpixel-icnr", 2)):
        t0 = time.perf_counter()
        train_gan_run(kind, stride, 0, steps)
        out[f"gan {kind}, critic stride {stride}"] = 1000 * (time.perf_counter() - t0) / steps
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    result = measure(args.steps)
    if args.json:
        print(json.dumps({"threads": args.threads, "steps": args.steps, "ms_per_step": result}))
    else:
        for name, ms in result.items():
            print(f"{name:32s} {ms:8.1f} ms/step ({args.threads} thread(s))")
    return 0


if __name__ == "__main__":
    sys.exit(main())
