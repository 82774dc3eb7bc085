"""Throughput of the checkerboard score: batched torch against numpy per image; files against
decode-only, side by side in one run.

1. Tensors: images per second of ``checkerboard_score`` (``hotspot=False``, the same quantity
   as the baseline; and with the hotspot, for reference) on batches of RGB 256x256 and
   1024x1024 images, against a plain numpy implementation of the same lattice energy
   (crop, periodic component, ``numpy.fft.fft2``, lattice bins over their neighbourhood
   floor) in a Python loop over images. The largest difference of the per-period values is
   printed: the two compute one quantity. Target: >= 5x.
2. Files: files per second of the full local engine (``checkerfree.engines.local``: decode in
   threads, score in batches, hotspot included) over a folder of PNGs written from
   scikit-image's photographs, against decoding the same files alone with the same threads.
   Target: >= 0.8x of decode-only.

Run: ``python benchmarks/score.py [--json] [--quick] [--doc docs/performance.md]``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from checkerfree.score.batch import ImageScorer
from checkerfree.engines.local import default_workers, score_files
from checkerfree.io import read_image
from checkerfree.score.checkerboard import checkerboard_score

PERIODS = (2, 4, 8)
RADIUS = {1: 16, 2: 3}


def _periodic_fft(x: np.ndarray, block: int) -> np.ndarray:
    """numpy DFT of the periodic component of ``x`` ``(C, H, W)`` (Moisan 2011, block jumps)."""
    spectrum = np.fft.fft2(x)
    border = np.zeros_like(spectrum)
    denominator = np.zeros(x.shape[-2:])
    for axis in (1, 2):
        n = x.shape[axis]
        first = np.take(x, range(block), axis=axis)
        last = np.take(x, range(n - block, n), axis=axis)
        jump = (last - first).mean(axis, keepdims=True) * ((n - 1) / (n - block))
        other = 2 if axis == 1 else 1
        jump_hat = np.fft.fft(jump, axis=other)
        angle = 2 * np.pi * np.arange(n) / n
        shape = [1, 1, 1]
        shape[axis] = n
        border = border + jump_hat * (1 - np.exp(1j * angle)).reshape(shape)
        denominator = denominator + (2 * np.cos(angle) - 2).reshape(shape[1:])
    denominator[0, 0] = 1.0
    smooth = border / denominator
    smooth[..., 0, 0] = 0
    return spectrum - smooth


def numpy_score(image: np.ndarray, periods=PERIODS) -> dict[int, float]:
    """Per-period amplitude of one ``(C, H, W)`` image, numpy only (the baseline)."""
    values = {}
    for s in periods:
        h, w = (m - m % s for m in image.shape[1:])
        crop = image[:, :h, :w].astype(np.float64)
        power = (np.abs(_periodic_fft(crop, s) / (h * w)) ** 2).mean(0)
        divisors = [p for p in periods if p < s and s % p == 0]
        excess = 0.0
        for k in itertools.product(range(s), repeat=2):
            if not any(k) or any(all(c % (s // p) == 0 for c in k) for p in divisors):
                continue
            b = (k[0] * h // s, k[1] * w // s)
            free = [c != 0 for c in k]
            r = RADIUS[sum(free)]
            around = []
            for o in itertools.product(*[range(-min(r, (m - 1) // 2), min(r, (m - 1) // 2) + 1)
                                         if f else range(1) for m, f in zip((h, w), free)]):
                if o[0] % (h // s) == 0 and o[1] % (w // s) == 0:
                    continue
                around.append(power[(b[0] + o[0]) % h, (b[1] + o[1]) % w])
            excess += power[b] - np.mean(around)
        values[s] = 2 * np.sqrt(max(excess, 0.0))
    return values


def _photos(size: int, count: int) -> np.ndarray:
    """``count`` RGB crops of scikit-image photographs, resized to ``size`` x ``size``."""
    from skimage import data, transform

    sources = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket()]
    images = []
    for k in range(count):
        picture = sources[k % len(sources)]
        resized = transform.resize(picture, (size, size), anti_aliasing=True, preserve_range=True)
        images.append(np.roll(resized, 7 * k, axis=1).transpose(2, 0, 1))
    return np.stack(images).astype(np.float32)


def _best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_tensors(size: int, batch: int, repeat: int) -> dict:
    images = _photos(size, batch)
    x = torch.from_numpy(images)
    checkerboard_score(x[:1], periods=PERIODS)  # warm-up (plans, allocations)
    t_torch = _best(lambda: checkerboard_score(x, periods=PERIODS, hotspot=False), repeat)
    t_hot = _best(lambda: checkerboard_score(x, periods=PERIODS), repeat)
    t_numpy = _best(lambda: [numpy_score(im) for im in images], repeat)
    ours = checkerboard_score(x, periods=PERIODS, hotspot=False).periods
    ref = [numpy_score(im) for im in images]
    diff = max(abs(float(ours[s][i]) - ref[i][s]) for i in range(batch) for s in PERIODS)
    return {
        "size": size, "batch": batch,
        "torch_images_per_s": batch / t_torch,
        "torch_with_hotspot_images_per_s": batch / t_hot,
        "numpy_images_per_s": batch / t_numpy,
        "speedup": t_numpy / t_torch,
        "max_abs_diff_grey_levels": diff,
    }


def bench_files(count: int, size: int, repeat: int) -> dict:
    from PIL import Image

    workers = default_workers()
    with tempfile.TemporaryDirectory() as folder:
        images = _photos(size, count)
        paths = []
        for k, image in enumerate(images):
            path = Path(folder) / f"photo{k:03d}.png"
            Image.fromarray(np.clip(image.transpose(1, 2, 0), 0, 255).astype(np.uint8)).save(path)
            paths.append(str(path))
        scorer = ImageScorer(periods=PERIODS, batch_size=8)

        def decode_only():
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(read_image, paths))

        def engine():
            rows = list(score_files(paths, scorer, workers=workers))
            assert all(row["error"] is None for row in rows)

        decoded = [scorer.decode(p) for p in paths]

        def score_only():  # the same batches, already decoded: the engine's lower bound
            scorer.score_decoded(decoded)

        decode_only()
        t_decode = _best(decode_only, repeat)
        t_score = _best(score_only, repeat)
        t_engine = _best(engine, repeat)
    return {
        "files": count, "size": size, "workers": workers,
        "engine_files_per_s": count / t_engine,
        "decode_only_files_per_s": count / t_decode,
        "score_only_files_per_s": count / t_score,
        "ratio": t_decode / t_engine,
        "ratio_to_slower_stage": min(t_engine, max(t_decode, t_score)) / t_engine,
    }


def _markdown(result: dict) -> str:
    lines = ["## Score", "",
             f"`{result['command']}` on {result['machine']} (torch {result['torch']}, "
             f"{result['torch_threads']} threads).", "",
             "| tensors | torch img/s | with hotspot | numpy img/s | speed-up (target >= 5x) | max diff |",
             "|---|---|---|---|---|---|"]
    for row in result["tensors"]:
        lines.append(
            f"| {row['batch']} x RGB {row['size']}² | {row['torch_images_per_s']:.1f} | "
            f"{row['torch_with_hotspot_images_per_s']:.1f} | {row['numpy_images_per_s']:.1f} | "
            f"{row['speedup']:.1f}x | {row['max_abs_diff_grey_levels']:.1e} |")
    f = result["files"]
    lines += ["", "| files | engine files/s | decode-only files/s | ratio (target >= 0.8x) "
              "| score-only files/s | engine / slower stage |",
              "|---|---|---|---|---|---|",
              f"| {f['files']} PNG RGB {f['size']}², {f['workers']} threads | "
              f"{f['engine_files_per_s']:.1f} | {f['decode_only_files_per_s']:.1f} | "
              f"{f['ratio']:.2f}x | {f['score_only_files_per_s']:.1f} | "
              f"{f['ratio_to_slower_stage']:.2f}x |", "",
              "Tensors: `checkerboard_score(hotspot=False)` against the numpy per-image loop of "
              "the same quantity (max diff: their largest disagreement, grey levels). Files: "
              "the engine with the hotspot, against decoding alone with the same threads, and "
              "against scoring the already decoded images alone (the engine cannot beat the "
              "slower of the two stages).", "",
              "How the score is computed (the definition in `docs/score.md` is unchanged, values "
              "agree with the former full-spectrum implementation to float32 rounding, exactly "
              "in float64): one `rfftn` per item and crop shape, shared by every period whose "
              "crop coincides (all of them when the size is a multiple of each period); the "
              "periodic component's spectrum is evaluated only at the lattice bins and their "
              "floor neighbourhoods (a few thousand bins), the smooth component there from the "
              "1-D DFTs of the border jumps, the other half of the spectrum by conjugate "
              "symmetry. No full-size complex temporary is built per period. The score without "
              "the hotspot costs about 1.3x one `rfft2` of the batch.", "",
              "The hotspot (`checkerboard_heatmap`'s whitened search) is now the dominant cost: "
              "per lattice bin and each of its 2d floor probes, a Gaussian window of the "
              "spectrum (3.5 sigma, 36x36 bins at 512², 72x72 at 1024²) is gathered and "
              "inverse-transformed; over the 63 bins of periods (2, 4, 8) that is about 1.5x "
              "the image's size in complex values per channel, so it costs several FFTs of the "
              "image however it is arranged (it is done in cache-sized chunks, with the index "
              "and weight plans cached per shape).", "",
              "Files: the engine's target (>= 0.8x of decode-only) is **not met**. Decoding a "
              "512² PNG costs a few milliseconds of CPU; scoring it with the hotspot costs "
              "more than that on this 2-core machine (score-only files/s above), so the engine "
              "is bound by the scoring stage; it runs at about 0.8x of that stage alone "
              "(engine / slower stage: the decoding threads and torch share the 2 cores). Reaching 0.8x of decode-only would need the "
              "score with hotspot at about a quarter of the decode's CPU time, below even one "
              "FFT of the image here; on a GPU (`ImageScorer(device=\"cuda\")`) the scoring "
              "stage moves off the CPU.", ""]
    return "\n".join(lines)


def _append_doc(path: Path, section: str) -> None:
    """Replace our own "## Score" section in ``path`` (or append it), keeping the others."""
    text = path.read_text() if path.exists() else "# Performance\n\n"
    start = text.find("\n## Score\n")
    if start >= 0:
        end = text.find("\n## ", start + 1)
        text = text[: start + 1] + (text[end + 1 :] if end >= 0 else "")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text.rstrip("\n") + "\n\n" + section)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--quick", action="store_true", help="fewer images and repeats")
    parser.add_argument("--doc", metavar="FILE", help="append the Score section to FILE")
    args = parser.parse_args(argv)
    repeat = 1 if args.quick else 3
    result = {
        "command": "python benchmarks/score.py" + (" --quick" if args.quick else ""),
        "machine": f"{platform.machine()}, {len(os.sched_getaffinity(0))} CPUs",
        "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
        "tensors": [bench_tensors(256, 8 if args.quick else 16, repeat),
                    bench_tensors(1024, 2 if args.quick else 4, repeat)],
        "files": bench_files(16 if args.quick else 40, 512, repeat),
    }
    if args.doc:
        _append_doc(Path(args.doc), _markdown(result))
    if args.json:
        json.dump(result, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        print(_markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
