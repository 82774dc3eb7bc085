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
   Target: >= 0.8x of decode-only. Two folders: *clean* (the photographs as they are: no
   significant period, so no hotspot is computed) and *mixed* (1 file in 4 carries a
   4-grey-level checkerboard of period 2, 4 or 8 and is flagged: the hotspot is computed
   for those, so its cost scales with the share of patterned files).

Run: ``python benchmarks/score.py [--json] [--quick] [--doc docs/performance.md]
[--baseline COMMIT]``.
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

from checkerfree.engines.local import default_workers, score_files
from checkerfree.io import read_image
from checkerfree.score.batch import ImageScorer
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


#: The mixed folder: this share of its files carries a checkerboard (:func:`_folder`).
MIXED = 0.25

#: Peak-to-peak grey levels of the mixed folder's patterns (flagged 98% of the time on
#: photographs, docs/score.md).
PATTERN_LEVELS = 4


def _folder(size: int, count: int, patterned: float = 0.0) -> np.ndarray:
    """:func:`_photos`, with a ``+-PATTERN_LEVELS/2`` checkerboard of period 2, 4, 8 in turn
    added to ``round(patterned * count)`` of them, spread evenly (before 8-bit rounding)."""
    images = _photos(size, count)
    n = round(patterned * count)
    i, j = np.indices((size, size))
    for m, k in enumerate(range(0, count, count // n) if n else []):
        if m == n:
            break
        s = PERIODS[m % len(PERIODS)]
        images[k] += PATTERN_LEVELS / 2 * (-1.0) ** (i // (s // 2) + j // (s // 2))
    return images


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


#: Stages of the engine's path, each the cumulative time of the functions named (module file
#: ending, function name), less that of the functions after ``"-"`` (called inside them, and
#: a stage of their own): what ``--stages`` reports per file, on one thread.
_DFT = [("checkerfree/score/lattice.py", "_folded_table"),
        ("checkerfree/score/lattice.py", "half")]
STAGES = {
    "decode (Pillow)": [("PIL/ImageFile.py", "load")],
    "to float32 CHW": [("checkerfree/io.py", "_pixels"), ("checkerfree/io.py", "_chw"),
                       ("~", "<built-in method numpy.ascontiguousarray>"),
                       ("checkerfree/score/layout.py", "as_batch")],
    "finite checks": [("checkerfree/finite.py", "check_finite")],
    "batch copy": [("checkerfree/score/batch.py", "_stack")],
    # Before the folded bins, period_bins made the rfftn; now lattice_excess's first gather
    # makes the folded DFT (_folded_table), or the rfftn where it does not fold (half).
    "crop + periodic + DFT": [("checkerfree/score/lattice.py", "period_bins"), *_DFT],
    "lattice_excess": [("checkerfree/score/lattice.py", "lattice_excess"), "-", *_DFT],
    "period search (auto)": [("checkerfree/score/periods.py", "find_periods")],
    "hotspot": [("checkerfree/score/hotspot.py", "lattice_hotspot"),
                ("checkerfree/score/heatmap.py", "heat_power"),
                ("checkerfree/score/heatmap.py", "hotspot")],
    "strongest channel": [("checkerfree/score/batch.py", "_strongest_channel")],
    "explain + rows": [("checkerfree/score/checkerboard.py", "_explain"),
                       ("checkerfree/score/checkerboard.py", "to_rows")],
}


def bench_stages(count: int, size: int, repeat: int, periods=PERIODS,
                 patterned: float = 0.0) -> dict:
    """CPU milliseconds per file of each stage of decode + score, one thread, by cProfile.

    The scorer's own path (``ImageScorer.decode`` then ``score_decoded``, the calls the
    engine makes) runs ``repeat`` times under :mod:`cProfile` with ``torch.set_num_threads(1)``;
    a stage is the cumulative time of its functions (:data:`STAGES`; none calls another
    stage's), ``total`` the whole path, ``other`` what no stage names (Python glue, the
    score's own arithmetic). The stages name functions of this tree and of the one before it
    (``--baseline``), so that both are cut alike. ``patterned``: the share of files with a
    checkerboard (:func:`_folder`). 8-bit pixels reach the score as ``uint8`` and are
    converted where they are read (``_folded_table``). The profiler's own cost per call
    inflates the path of many small calls (the score) more than that of a few long ones
    (decoding), so ``decode_plain_ms`` and ``score_plain_ms``, the CPU bound's inputs, are
    timed without it: thread CPU time of the same calls, the fastest of ``max(3, repeat)``.
    """
    import cProfile
    import pstats

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with tempfile.TemporaryDirectory() as folder:
            paths = _write_pngs(folder, _folder(size, count, patterned))
            scorer = ImageScorer(periods=periods, batch_size=8)
            scorer.score_decoded([scorer.decode(p) for p in paths])  # warm-up
            plain: dict[str, list[float]] = {"decode": [], "score": []}
            for _ in range(max(3, repeat)):
                start = time.thread_time()
                decoded = [scorer.decode(p) for p in paths]
                plain["decode"].append(time.thread_time() - start)
                start = time.thread_time()
                scorer.score_decoded(decoded)
                plain["score"].append(time.thread_time() - start)
            profile = cProfile.Profile(timer=time.thread_time)
            profile.enable()
            for _ in range(repeat):
                scorer.score_decoded([scorer.decode(p) for p in paths])
            profile.disable()
    finally:
        torch.set_num_threads(threads)
    stats = pstats.Stats(profile).stats
    per_file = 1e3 / (count * repeat)

    def cumulative(names):
        if "-" in names:
            cut = names.index("-")
            return cumulative(names[:cut]) - cumulative(names[cut + 1 :])
        return sum(cum for (file, _, fn), (_, _, _, cum, _) in stats.items()
                   if any(file.endswith(end) and fn == name for end, name in names))

    out = {name: per_file * cumulative(names) for name, names in STAGES.items()}
    decode = per_file * cumulative([("checkerfree/score/batch.py", "decode")])
    score = per_file * cumulative([("checkerfree/score/batch.py", "score_decoded")])
    out["total"] = decode + score
    out["other"] = out["total"] - sum(v for k, v in out.items() if k != "total")
    return {"periods": list(periods) if not isinstance(periods, str) else periods,
            "files": count, "size": size, "patterned": patterned, "ms_per_file": out,
            "decode_ms_per_file": decode, "score_ms_per_file": score,
            "decode_plain_ms_per_file": 1e3 * min(plain["decode"]) / count,
            "score_plain_ms_per_file": 1e3 * min(plain["score"]) / count}


def _write_pngs(folder: str, images: np.ndarray) -> list[str]:
    from PIL import Image

    paths = []
    for k, image in enumerate(images):
        path = Path(folder) / f"photo{k:03d}.png"
        Image.fromarray(np.clip(image.transpose(1, 2, 0), 0, 255).astype(np.uint8)).save(path)
        paths.append(str(path))
    return paths


def bench_files(count: int, size: int, repeat: int, ray: bool = False,
                patterned: float = 0.0) -> dict:
    from checkerfree.engines.processes import ScoringPool

    workers = default_workers()
    with tempfile.TemporaryDirectory() as folder:
        paths = _write_pngs(folder, _folder(size, count, patterned))
        scorer = ImageScorer(periods=PERIODS, batch_size=8)

        def decode_only(threads=workers):
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(read_image, paths))

        def engine(threads=workers):
            rows = list(score_files(paths, scorer, workers=threads))
            assert all(row["error"] is None for row in rows)

        decoded = [scorer.decode(p) for p in paths]

        def score_only():  # the same batches, already decoded: the engine's lower bound
            scorer.score_decoded(decoded)

        # Worker processes (one decoding thread and one torch thread each), started once
        # outside the timing: their start-up is a fixed cost per run, reported apart.
        started = time.perf_counter()
        pool = ScoringPool(scorer, workers, threads=1)
        pool.start()
        startup = time.perf_counter() - started

        def processes():
            rows = list(pool.score_files(paths))
            assert all(row["error"] is None for row in rows)

        try:
            decode_only()
            processes()  # warm-up: each worker's first batch plans its FFTs
            # Contenders interleaved, each run `repeat` times, the fastest kept: a machine
            # whose load drifts during the run shifts them alike.
            times: dict[str, list[float]] = {}
            contenders = {"decode": decode_only, "score": score_only, "engine": engine,
                          "processes": processes, "decode_1": lambda: decode_only(1),
                          "engine_1": lambda: engine(1)}
            for _ in range(repeat):
                for name, fn in contenders.items():
                    times.setdefault(name, []).append(_best(fn, 1))
        finally:
            pool.close()
        best = {name: min(values) for name, values in times.items()}
        # CPU seconds per file of each stage (all threads of the process): what an engine
        # that keeps every core busy pays, whatever else loads the machine meanwhile.
        cpu = {}
        for name in ("decode", "score"):
            start = time.process_time()
            contenders[name]()
            cpu[name] = (time.process_time() - start) / count
        result = {
            "files": count, "size": size, "workers": workers, "patterned": patterned,
            "flagged": sum(bool(row["flagged"]) for row in scorer.score_decoded(decoded)),
            "engine_files_per_s": count / best["engine"],
            "decode_only_files_per_s": count / best["decode"],
            "score_only_files_per_s": count / best["score"],
            "processes_files_per_s": count / best["processes"],
            "processes_startup_s": startup,
            "ratio": best["decode"] / best["engine"],
            "processes_ratio": best["decode"] / best["processes"],
            "ratio_to_slower_stage": min(best["engine"], max(best["decode"], best["score"]))
            / best["engine"],
            "decode_cpu_ms_per_file": 1e3 * cpu["decode"],
            "score_cpu_ms_per_file": 1e3 * cpu["score"],
            "cpu_bound_ratio": cpu["decode"] / (cpu["decode"] + cpu["score"]),
            "engine_1_worker_files_per_s": count / best["engine_1"],
            "decode_only_1_worker_files_per_s": count / best["decode_1"],
            "engine_scaling": best["engine_1"] / best["engine"],
            "processes_scaling": best["engine_1"] / best["processes"],
            "decode_scaling": best["decode_1"] / best["decode"],
        }
        if ray:
            result.update(_bench_ray(paths, workers, repeat))
    return result


def _bench_ray(paths: list[str], workers: int, repeat: int) -> dict:
    """Files per second on a local Ray (started once, outside the timing), ``workers`` actors."""
    import ray

    from checkerfree.engines.ray_engine import score_files_ray

    started = time.perf_counter()
    ray.init(num_cpus=workers, include_dashboard=False, logging_level="ERROR",
             log_to_driver=False)
    startup = time.perf_counter() - started
    try:
        def run():
            return score_files_ray(paths, {"periods": PERIODS}, concurrency=workers)

        run()  # warm-up: the actors import torch and checkerfree once
        t = _best(run, repeat)
    finally:
        ray.shutdown()
    return {"ray_files_per_s": len(paths) / t, "ray_startup_s": startup}


def _markdown(result: dict) -> str:
    lines = ["## Score", "",
             f"`{result['command']}` on {result['machine']} (torch {result['torch']}, "
             f"{result['torch_threads']} threads; load average {result['load']:.1f} when it "
             "started: the machine is shared, and busy cores slow torch's threads most).", "",
             "| tensors | torch img/s | with hotspot (gated) | numpy img/s | speed-up (target >= 5x) "
             "| max diff |",
             "|---|---|---|---|---|---|"]
    for row in result["tensors"]:
        lines.append(
            f"| {row['batch']} x RGB {row['size']}² | {row['torch_images_per_s']:.1f} | "
            f"{row['torch_with_hotspot_images_per_s']:.1f} | {row['numpy_images_per_s']:.1f} | "
            f"{row['speedup']:.1f}x | {row['max_abs_diff_grey_levels']:.1e} |")
    f = result["files"]
    folders = [("clean", f)] + ([("mixed", result["files_mixed"])]
                                if "files_mixed" in result else [])
    n = f["workers"]
    lines += ["", "| folder (PNG RGB 512²) | flagged | engine files/s | decode-only files/s "
              "| ratio (target >= 0.8x) | score-only files/s | engine / slower stage |",
              "|---|---|---|---|---|---|---|"]
    for name, g in folders:
        lines.append(
            f"| {name}: {g['files']} files, {n} threads | {g['flagged']} of {g['files']} | "
            f"{g['engine_files_per_s']:.1f} | {g['decode_only_files_per_s']:.1f} | "
            f"**{g['ratio']:.2f}x** | {g['score_only_files_per_s']:.1f} | "
            f"{g['ratio_to_slower_stage']:.2f}x |")
    lines += ["", "| engine (`checkerfree score`), clean folder | files/s | decode-only files/s, "
              "same cores | ratio | scaling from 1 |", "|---|---|---|---|---|",
              f"| 1 decoding thread, 1 scoring thread (`--workers 1`) | "
              f"{f['engine_1_worker_files_per_s']:.1f} | "
              f"{f['decode_only_1_worker_files_per_s']:.1f} | "
              f"{f['engine_1_worker_files_per_s'] / f['decode_only_1_worker_files_per_s']:.2f}x"
              " | 1.00x |",
              f"| {n} decoding threads, 1 scoring thread (`--workers {n}`) | "
              f"{f['engine_files_per_s']:.1f} | {f['decode_only_files_per_s']:.1f} | "
              f"{f['ratio']:.2f}x | {f['engine_scaling']:.2f}x |",
              f"| {n} processes, 1 decoding + 1 torch thread each (`--processes {n}`) | "
              f"{f['processes_files_per_s']:.1f} | {f['decode_only_files_per_s']:.1f} | "
              f"{f['processes_ratio']:.2f}x | {f['processes_scaling']:.2f}x |"]
    if "ray_files_per_s" in f:
        lines.append(f"| Ray, local, {n} actors (`--engine ray --workers {n}`) | "
                     f"{f['ray_files_per_s']:.1f} | {f['decode_only_files_per_s']:.1f} | "
                     f"{f['ray_files_per_s'] / f['decode_only_files_per_s']:.2f}x | "
                     f"{f['ray_files_per_s'] / f['engine_1_worker_files_per_s']:.2f}x |")
    lines += ["", "Ratio: engine files/s over decode-only files/s (decode-only: "
              "`checkerfree.io.read_image`, which also converts to float32). The clean folder "
              "is scikit-image's astronaut, coffee, chelsea and rocket, resized to 512² and "
              "shifted per file: no period is significant in any, so no hotspot is computed; "
              f"in the mixed one {MIXED:.0%} of the files carry a {PATTERN_LEVELS}-grey-level "
              "checkerboard of period 2, 4 or 8 (flagged: their hotspot is computed). The "
              "hotspot's cost scales with the share of files that have a significant period. "
              "Start-up, paid once per run and kept out of the timing: worker processes "
              f"{f['processes_startup_s']:.1f} s"
              + (f", Ray {f['ray_startup_s']:.1f} s" if "ray_startup_s" in f else "") + ".", ""]
    tables = [(name, result[key]) for name, key in (("clean", "stages"),
                                                     ("mixed", "stages_mixed"))
              if result.get(key)]
    verdict = ", ".join(f"{name} {g['ratio']:.2f}x" for name, g in folders)
    bounds = {name: st["after"]["decode_ms"] / (st["after"]["decode_ms"] + st["after"]["score_ms"])
              for name, st in tables}
    steady = ", ".join(f"{name} {b:.2f}x" for name, b in bounds.items())
    met = all(b >= 0.8 for b in bounds.values()) if bounds else all(
        g["ratio"] >= 0.8 for _, g in folders)
    lines += [f"Files: the engine ran at {verdict} of decode-only in this run; a loaded machine "
              "moves these by a tenth from run to run (decode-only itself stops scaling with "
              "threads when other work holds the cores, which leaves the engine room), so the "
              "verdict is the CPU bound of the stage tables below"
              + (f" ({steady}): the >= 0.8x target is "
                 + ", ".join(f"{'met' if b >= 0.8 else '**not met**'} on the {name} folder"
                             for name, b in bounds.items())
                 if bounds else f": {'met' if met else '**not met**'}")
              + ". The local engine scores with the torch intra-op threads its decoding threads "
              "leave (one here): with torch's default, one per core, its spinning threads and "
              "the decoders fought for the 2 cores.", ""]
    for name, st in tables:
        if name == "mixed" and bounds.get(name, 1) < 0.8 and st["after"].get("hotspot"):
            flagged = result["files_mixed"]["flagged"] / result["files_mixed"]["files"]
            lines += [f"What keeps the mixed folder under 0.8x is the hotspot of its flagged "
                      f"files (`score/hotspot.py`): {st['after']['hotspot']:.2f} ms per file "
                      f"in the stage table, about {st['after']['hotspot'] / flagged:.1f} ms per "
                      "flagged file, as much as decoding one.", ""]
        after, prior = st["after"], st.get("before")
        bound = after["decode_ms"] / (after["decode_ms"] + after["score_ms"])
        was = ""
        if prior:
            was = (f" (before: {prior['decode_ms']:.1f} and {prior['score_ms']:.1f} ms, "
                   f"{prior['decode_ms'] / (prior['decode_ms'] + prior['score_ms']):.2f}x)")
        lines += [f"CPU per file on one thread, {name} folder (after; timed without the "
                  f"profiler): decoding {after['decode_ms']:.1f} ms, scoring with the hotspot "
                  f"{after['score_ms']:.1f} ms; an engine that keeps every core busy runs at "
                  f"most at decode / (decode + score) = **{bound:.2f}x** of decode-only, on "
                  f"any number of cores{was}.", ""]
    if tables:
        before = all(st.get("before") for _, st in tables)
        head = "| stage (CPU ms per file, 1 thread) |"
        rule = "|---|"
        for name, _ in tables:
            head += (f" {name} before | {name} after |" if before else f" {name} |")
            rule += "---|---|" if before else "---|"
        lines += [head, rule]
        stages = [k for k in tables[0][1]["after"] if k not in ("total", "decode_ms",
                                                                  "score_ms")]
        for stage in stages + ["total"]:
            cells = []
            for _, st in tables:
                for side in (("before", "after") if before else ("after",)):
                    cells.append(st[side][stage])
            if stage != "total" and max(cells) < 0.005:
                continue
            fmt = (lambda v: f"**{v:.2f}**") if stage == "total" else (lambda v: f"{v:.2f}")
            label = "**total**" if stage == "total" else stage
            lines.append(f"| {label} | " + " | ".join(fmt(v) for v in cells) + " |")
        st = tables[0][1]
        lines += ["", f"Stages: `bench_stages` ({st['files']} PNG RGB {st['size']}² per folder, "
                  "periods (2, 4, 8), hotspot on): `ImageScorer.decode` then `score_decoded` "
                  "under cProfile with `torch.set_num_threads(1)`, thread CPU time; a stage is "
                  "the cumulative time of its functions (`STAGES`), `other` the rest (Python "
                  "glue and the score's own arithmetic). The profiler's cost per call inflates "
                  "the score's many small calls more than decoding's few long ones, so the "
                  "totals exceed the decode and score times above (timed without it, the "
                  "same calls, the fastest of 3), which the bound uses."
                  + (f" Before: the same script on the `src` of `{st['baseline']}` (the tree "
                     "before this work), run alternately with after, in subprocesses, "
                     f"{st['rounds']} rounds, the smallest per stage." if before else ""), ""]
    lines += ["Tensors: `checkerboard_score(hotspot=False)` against the numpy per-image loop of "
              "the same quantity (max diff: their largest disagreement, grey levels). Files: "
              "the engine with the hotspot, against decoding alone with the same threads, and "
              "against scoring the already decoded images alone (the engine cannot beat the "
              "slower of the two stages). Contenders run interleaved, fastest of the repeats.", "",
              "How the score is computed (the definition in `docs/score.md` is unchanged, values "
              "agree with the former full-spectrum implementation to float32 rounding, exactly "
              "in float64): images (2-D) no longer take an `rfftn`. The bins the score reads "
              "are the lattice of each period and the floor neighbourhoods around them: boxes of "
              "radius 3 and, for stripe bins, lines of radius 16 along the row or column "
              "through zero. With `f` the lcm of the periods that crop alike (8 for 2, 4, 8), "
              "every box bin is `k n / f + o`, `|o| <= 3`, and its DFT is "
              "`sum_r e^{-2 pi i k r / f} e^{-2 pi i o r / n} sum_q x[f q + r] "
              "e^{-2 pi i o q / (n / f)}`: one real matrix product of 7 cosine and sine rows over "
              "`q` (`score/lattice.py`, `_folded_table`; about 7 multiply-adds per sample "
              "against an `rfftn`'s ~45 flops at 512²), the same on the other axis on 7x fewer "
              "values, then per channel one 56 x 56 complex matrix each side (twiddles and the "
              "8-point DFTs). The stripe lines are the 1-D DFTs of the row and column sums, in "
              "float64. 8-bit batches reach it as `uint8`, converted one channel at a time into "
              "a buffer in cache that the product reads (no float32 copy of the batch). Bins "
              "outside those blocks (`periods=\"auto\"`'s search, heat maps, other sizes: "
              "below 4 x 56 samples per side at f = 8) still use the `rfftn`, made when first "
              "needed. The periodic component's correction is evaluated at the bins from the "
              "1-D DFTs of the border jumps, as before.", "",
              "What the engine skips (from the rounds before this one): the hotspot (the "
              "coherence scan of `score/hotspot.py`, `docs/score.md`) is computed only for the "
              "items with a significant period, in one batched call over them (elsewhere the "
              "most coherent box is the largest value of noise, and the row's `hotspot` is "
              "null); 8-bit pixels stay `uint8` from the decoder to the folded DFT (a quarter of "
              "the bytes to stack; converted there, a channel at a time) and integers "
              "need no finite check (float inputs, `.npy` and float audio, are still checked); "
              "8-bit samples are read planar, one Pillow band per channel, so the batch copy is "
              "a plain one. The hotspot itself, where computed: the channel mean's Laplacian "
              "cut into sub-boxes, one batched `rfftn` of them, the lattice bins kept, box sums "
              "by cumulative sums (`docs/score.md`, Heat map and hotspot).", "",
              "Plan for more cores: `--processes N` runs N scorers (one torch thread, one "
              "decoding thread each, pixels never leave their process), so throughput grows "
              "with cores as decode-only does and the ratio stays at the CPU-bound ratio; the "
              "threads engine has one scoring thread and stops scaling once that thread is busy "
              "(torch's intra-op threads add little on these FFT sizes). `--engine ray` runs "
              "the same scorer per actor across machines, at a start-up cost. What is left of "
              "the scoring on a clean folder is mostly the folded DFT's first matrix product "
              "(the stage \"crop + periodic + DFT\"); a folder of mostly patterned files pays "
              "the hotspot "
              "on each (the stage table's mixed columns), and scoring on a GPU "
              "(`ImageScorer(device=\"cuda\")`, not measured here) would leave the CPU to "
              "decoding.", ""]
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


def bench_stage_pair(baseline: str, count: int, size: int, repeat: int, rounds: int,
                     patterned: float = 0.0) -> dict:
    """:func:`bench_stages` of this tree and of another checkerfree source tree ``baseline``
    (a folder holding ``checkerfree``, or a git commit of this repository, whose ``src`` is
    extracted to a temporary folder), in alternating subprocesses, ``rounds`` each, the
    smallest time per stage kept: the before/after table of ``docs/performance.md``.
    """
    import subprocess

    if not Path(baseline).is_dir():
        with tempfile.TemporaryDirectory() as folder:
            root = Path(__file__).resolve().parents[1]
            archive = subprocess.run(["git", "-C", str(root), "archive", baseline, "src"],
                                     check=True, capture_output=True).stdout
            subprocess.run(["tar", "-x", "-C", folder], input=archive, check=True)
            result = bench_stage_pair(str(Path(folder) / "src"), count, size, repeat, rounds,
                                      patterned)
        result["baseline"] = baseline
        return result
    here = str(Path(__import__("checkerfree").__file__).resolve().parents[1])
    script = str(Path(__file__).resolve())
    args = [sys.executable, script, "--stages-only", "--files", str(count), "--size", str(size),
            "--repeat", str(repeat), "--patterned", str(patterned)]
    runs: dict[str, list[dict]] = {"before": [], "after": []}
    for _ in range(rounds):
        for name, src in (("before", baseline), ("after", here)):
            env = dict(os.environ, PYTHONPATH=src)
            out = subprocess.run(args, env=env, check=True, capture_output=True, text=True)
            found = json.loads(out.stdout)
            runs[name].append({**found["ms_per_file"],
                               "decode_ms": found["decode_plain_ms_per_file"],
                               "score_ms": found["score_plain_ms_per_file"]})
    best = {name: {stage: min(run[stage] for run in found) for stage in found[0]}
            for name, found in runs.items()}
    return {"files": count, "size": size, "repeat": repeat, "rounds": rounds,
            "patterned": patterned, "baseline": baseline, **best}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--quick", action="store_true", help="fewer images and repeats")
    parser.add_argument("--doc", metavar="FILE", help="append the Score section to FILE")
    parser.add_argument("--ray", action="store_true", help="also time the Ray engine (local)")
    parser.add_argument("--baseline", metavar="SRC",
                        help="also time each stage with the checkerfree of SRC (a src folder, "
                        "or a git commit of this repository), alternating with this one: "
                        "before/after")
    parser.add_argument("--from-json", metavar="FILE",
                        help="no measurement: the Score section from the --json output in FILE "
                        "(with --doc, into that file)")
    parser.add_argument("--stages-only", action="store_true",
                        help="print only the per-stage JSON (used by --baseline)")
    parser.add_argument("--files", type=int, default=16, help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, default=512, help=argparse.SUPPRESS)
    parser.add_argument("--repeat", type=int, default=2, help=argparse.SUPPRESS)
    parser.add_argument("--patterned", type=float, default=0.0,
                        help="--stages-only: the share of files with a checkerboard")
    args = parser.parse_args(argv)
    if args.stages_only:
        json.dump(bench_stages(args.files, args.size, args.repeat, patterned=args.patterned),
                  sys.stdout)
        return 0
    if args.from_json:
        result = json.loads(Path(args.from_json).read_text())
        if args.doc:
            _append_doc(Path(args.doc), _markdown(result))
        else:
            print(_markdown(result))
        return 0
    repeat = 1 if args.quick else 3
    result = {
        "command": "python benchmarks/score.py" + (" --quick" if args.quick else "")
        + (" --ray" if args.ray else "")
        + (f" --baseline {args.baseline}" if args.baseline else ""),
        "machine": f"{platform.machine()}, {len(os.sched_getaffinity(0))} CPUs",
        "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
        "load": os.getloadavg()[0],
        "tensors": [bench_tensors(256, 8 if args.quick else 16, repeat),
                    bench_tensors(1024, 2 if args.quick else 4, repeat)],
        "files": bench_files(16 if args.quick else 40, 512, repeat, ray=args.ray),
        "files_mixed": bench_files(16 if args.quick else 40, 512, repeat, patterned=MIXED),
    }
    for key, share in (("stages", 0.0), ("stages_mixed", MIXED)):
        if args.baseline:
            result[key] = bench_stage_pair(args.baseline, 16, 512, 1 if args.quick else 2,
                                           2 if args.quick else 3, patterned=share)
        else:
            found = bench_stages(16, 512, 1 if args.quick else 2, patterned=share)
            result[key] = {"files": 16, "size": 512, "patterned": share,
                           "after": {**found["ms_per_file"],
                                     "decode_ms": found["decode_plain_ms_per_file"],
                                     "score_ms": found["score_plain_ms_per_file"]}}
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
