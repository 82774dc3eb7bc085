"""``periods="auto"`` against the fixed periods (2, 4, 8): false alarms and detection.

The clean set is :mod:`calibration`'s (the photographs and textures that ship with
scikit-image, as shipped, grey, JPEG 95/75/50/30 and odd crops; nothing is downloaded).
Each clean image is scored with the fixed periods and with ``"auto"``; a false alarm is a
clean image flagged. Then patterns of periods 3, 5, 14, 16 and 32 (the kinds ``checker`` and
``subkernel`` of :func:`calibration.pattern`, 2 and 4 grey levels peak to peak, random
phase, 8-bit rounding) go on the as-shipped, grey and JPEG-50 images: detection is the share
flagged, ``dominant`` the share whose reported period (``ScoreResult.period``) is the
pattern's period on both axes.

Beyond the calibration set: ``CROPS`` random crops (seeded, sides from 64 up) of each of the
two pictures of text, ``page`` and ``text`` (ruled notebook paper), the content with
periodic structure of its own; and the cost of ``"auto"`` against (2, 4, 8) on a 512x512 RGB
photograph, with and without the hotspot, and on 10 s of 48 kHz audio: the fastest of
``REPEATS`` (audio: a fifth) interleaved runs in one process, one thread, as a ratio; and
on a folder of PNGs against decoding it (:func:`folder`).

    python benchmarks/periods.py            # markdown tables (docs/score.md)
    python benchmarks/periods.py --json     # one JSON document
    python benchmarks/periods.py --quick    # a few images, for a smoke run
    python benchmarks/periods.py --timing   # only the cost of auto against (2, 4, 8)
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import calibration  # noqa: E402  (the calibration set, shared)

from checkerfree.score.checkerboard import checkerboard_score  # noqa: E402

PERIODS = (3, 5, 14, 16, 32)
AMPLITUDES = (2, 4)
KINDS = ("checker", "subkernel")
QUICK = ["astronaut", "camera", "coffee", "grass", "gravel", "brick"]
CROPS = 30
REPEATS = 40


def measure(image: np.ndarray, periods):
    x = torch.from_numpy(image.astype(np.float32))
    x = x[None, None] if x.ndim == 2 else x.permute(2, 0, 1)[None]
    return checkerboard_score(x, periods, hotspot=False)


def run(quick: bool) -> dict:
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    names = QUICK if quick else calibration.PHOTOS + calibration.TEXTURES
    started = time.perf_counter()
    clean = calibration.clean_set(names, rng)
    alarms = {"fixed": [], "auto": []}
    worst = {"fixed": (0.0, ""), "auto": (0.0, "")}
    for name, image in clean:
        for mode, periods in (("fixed", (2, 4, 8)), ("auto", "auto")):
            r = measure(image, periods)
            if bool(r.flagged[0]):
                alarms[mode].append(f"{name}: {r.reason[0]}")
            # The largest value that would flag with the threshold at 0 (significant ones).
            value = max([r.periods[s].item() for s in r.periods
                         if r.significance[s].item() > r.required[s]] or [0.0])
            if value > worst[mode][0]:
                worst[mode] = (value, name)
    bases = [(n, im) for n, im in clean if n.split("/")[1] in ("png", "grey", "jpeg50")]
    detection = []
    for s in PERIODS:
        for amplitude in AMPLITUDES:
            for kind in KINDS:
                flagged = {"fixed": [], "auto": []}
                dominant = []
                for _, image in bases:
                    if min(image.shape[:2]) < 4 * s:
                        continue
                    pat = calibration.pattern(kind, s, amplitude, image.shape[:2], rng)
                    patterned = calibration.add(image, pat)
                    fixed = measure(patterned, (2, 4, 8))
                    auto = measure(patterned, "auto")
                    flagged["fixed"].append(bool(fixed.flagged[0]))
                    flagged["auto"].append(bool(auto.flagged[0]))
                    dominant.append(auto.period[0].tolist() == [s, s])
                detection.append({
                    "period": s, "amplitude": amplitude, "kind": kind, "n": len(dominant),
                    "fixed": float(np.mean(flagged["fixed"])),
                    "auto": float(np.mean(flagged["auto"])),
                    "dominant": float(np.mean(dominant)),
                })
    return {
        "command": "python benchmarks/periods.py" + (" --quick" if quick else ""),
        "crops": crops(CROPS // 3 if quick else CROPS),
        "timing": timing(REPEATS // 3 if quick else REPEATS),
        "images": names,
        "clean": {
            "n": len(clean),
            "false_alarms_fixed": len(alarms["fixed"]),
            "false_alarms_auto": len(alarms["auto"]),
            "alarms_auto": alarms["auto"],
            "max_significant_value_fixed": worst["fixed"][0],
            "max_item_fixed": worst["fixed"][1],
            "max_significant_value_auto": worst["auto"][0],
            "max_item_auto": worst["auto"][1],
        },
        "detection": detection,
        "examples": examples(),
        "seconds": round(time.perf_counter() - started, 1),
    }


def crops(count: int) -> dict:
    """Random crops of the two pictures of text: how many each mode flags, and the reasons."""
    rng = np.random.default_rng(1)
    out = {}
    for name in ("page", "text"):
        image = calibration.load(name)
        h, w = image.shape[:2]
        flagged = {"fixed": 0, "auto": 0}
        reasons = []
        for _ in range(count):
            ch, cw = int(rng.integers(64, h + 1)), int(rng.integers(64, w + 1))
            top, left = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
            crop = np.ascontiguousarray(image[top : top + ch, left : left + cw])
            for mode, periods in (("fixed", (2, 4, 8)), ("auto", "auto")):
                r = measure(crop, periods)
                flagged[mode] += bool(r.flagged[0])
                if mode == "auto" and bool(r.flagged[0]):
                    reasons.append(f"{ch}x{cw}: {r.reason[0]}")
        out[name] = {"n": count, **flagged, "reasons": reasons}
    return out


def timing(repeats: int) -> dict:
    """Milliseconds per 512x512 RGB photograph, fastest of ``repeats`` interleaved runs."""
    image = calibration.load("astronaut")
    x = torch.from_numpy(image.astype(np.float32)).permute(2, 0, 1)[None]
    out = {}
    for hotspot in (False, True):
        best = {"fixed": math.inf, "auto": math.inf}
        for _ in range(repeats):
            for mode, periods in (("fixed", (2, 4, 8)), ("auto", "auto")):
                started = time.perf_counter()
                checkerboard_score(x, periods, hotspot=hotspot)
                best[mode] = min(best[mode], time.perf_counter() - started)
        out["hotspot" if hotspot else "no_hotspot"] = {
            "fixed_ms": round(best["fixed"] * 1e3, 1), "auto_ms": round(best["auto"] * 1e3, 1),
            "ratio": round(best["auto"] / best["fixed"], 2)}
    # 10 s of 48 kHz noise-like audio, no hotspot: 4094 periods searched.
    g = torch.Generator().manual_seed(0)
    audio = 0.1 * torch.randn(1, 1, 480000, generator=g)
    best = {"fixed": math.inf, "auto": math.inf}
    for _ in range(max(1, repeats // 5)):
        for mode, periods in (("fixed", (2, 4, 8)), ("auto", "auto")):
            started = time.perf_counter()
            checkerboard_score(audio, periods, spatial_dims=1, hotspot=False, threshold=1e-4)
            best[mode] = min(best[mode], time.perf_counter() - started)
    out["audio_10s"] = {"fixed_ms": round(best["fixed"] * 1e3, 1),
                        "auto_ms": round(best["auto"] * 1e3, 1),
                        "ratio": round(best["auto"] / best["fixed"], 2)}
    out["folder"] = folder(max(1, repeats // 8))
    return out


def folder(repeats: int, count: int = 16, size: int = 512) -> dict:
    """Milliseconds per file of a folder of ``count`` PNGs (:mod:`score`'s mixed folder: its
    photographs, 1 in 4 with a 4-grey-level pattern of period 2, 4 or 8), one thread:
    decoding alone, and scoring the decoded files (``ImageScorer``, hotspot on) with
    (2, 4, 8) and with ``"auto"``, fastest of ``repeats`` interleaved runs. ``ratio`` is
    decode / (decode + score): the throughput of decode-then-score against decode-only."""
    import tempfile

    import score as throughput  # benchmarks/score.py: the folder it measures

    from checkerfree.io import read_image
    from checkerfree.score.batch import ImageScorer

    with tempfile.TemporaryDirectory() as tmp:
        paths = throughput._write_pngs(tmp, throughput._folder(size, count, throughput.MIXED))
        scorers = {"fixed": ImageScorer(periods=(2, 4, 8), batch_size=8),
                   "auto": ImageScorer(periods="auto", batch_size=8)}
        decoded = [scorers["fixed"].decode(p) for p in paths]
        contenders = {"decode": lambda: [read_image(p) for p in paths]}
        contenders.update({mode: (lambda s=s: s.score_decoded(decoded))
                           for mode, s in scorers.items()})
        best = dict.fromkeys(contenders, math.inf)
        for _ in range(repeats):
            for name, fn in contenders.items():
                started = time.perf_counter()
                fn()
                best[name] = min(best[name], time.perf_counter() - started)
    ms = {name: 1e3 * t / count for name, t in best.items()}
    return {"decode_ms": round(ms["decode"], 2),
            **{f"{mode}_ms": round(ms[mode], 2) for mode in scorers},
            **{f"{mode}_ratio": round(ms["decode"] / (ms["decode"] + ms[mode]), 2)
               for mode in scorers}}


def examples() -> list[str]:
    """The reason text of three decisions (docs/score.md): flagged, significant but below
    the threshold, large but not significant."""
    g = torch.Generator().manual_seed(0)
    i, j = torch.meshgrid(torch.arange(64), torch.arange(64), indexing="ij")
    base = torch.linspace(0, 200, 64).repeat(64, 1) + 2 * torch.randn(64, 64, generator=g)
    noise = torch.rand(8, 1, 16, 16, generator=torch.Generator().manual_seed(0)) * 255
    return [checkerboard_score(base + 3 * (-1.0) ** (i + j)).reason[0],
            checkerboard_score(base + 0.2 * (-1.0) ** (i + j)).reason[0],
            checkerboard_score(noise).reason[0]]


def markdown(report: dict) -> str:
    c = report["clean"]
    lines = [
        f"`{report['command']}` ({report['seconds']:.0f} s):",
        "",
        f"Clean images: {c['n']}; flagged with periods (2, 4, 8): {c['false_alarms_fixed']}, "
        f"with `auto`: {c['false_alarms_auto']}. Largest significant value: "
        f"{c['max_significant_value_fixed']:.2f} ({c['max_item_fixed']}) fixed, "
        f"{c['max_significant_value_auto']:.2f} ({c['max_item_auto']}) auto.",
        "",
        "| period | grey levels | kind | n | flagged (2, 4, 8) | flagged auto | dominant = period |",
        "|---:|---:|---|---:|---:|---:|---:|",
    ]
    for row in report["detection"]:
        lines.append(f"| {row['period']} | {row['amplitude']} | {row['kind']} | {row['n']} | "
                     f"{row['fixed']:.0%} | {row['auto']:.0%} | {row['dominant']:.0%} |")
    lines.append("")
    for name, row in report["crops"].items():
        lines.append(f"Random crops of `{name}`: {row['n']}; flagged with (2, 4, 8): "
                     f"{row['fixed']}, with `auto`: {row['auto']}.")
    for name, row in report["crops"].items():
        lines += [f"- `{name}` crop flagged by auto: {reason}" for reason in row["reasons"]]
    lines.append("")
    lines += timing_lines(report["timing"])
    lines.append("")
    for alarm in c["alarms_auto"]:
        lines.append(f"- auto false alarm: {alarm}")
    lines += ["", "Reasons (`examples()`):", ""] + [f"- `{r}`" for r in report["examples"]]
    return "\n".join(lines)


def timing_lines(timing: dict) -> list[str]:
    out = []
    for kind, row in timing.items():
        if kind == "folder":
            out.append(f"Folder of 16 512x512 PNGs (1 in 4 patterned, hotspot on), per file: "
                       f"decode {row['decode_ms']} ms, score (2, 4, 8) {row['fixed_ms']} ms, "
                       f"auto {row['auto_ms']} ms; decode-then-score against decode-only "
                       f"{row['fixed_ratio']:.2f}x (2, 4, 8), {row['auto_ratio']:.2f}x auto "
                       f"(1 thread).")
            continue
        what = ("10 s of 48 kHz audio" if kind == "audio_10s"
                else f"a 512x512 RGB photograph ({kind.replace('_', ' ')})")
        out.append(f"Cost on {what}: (2, 4, 8) {row['fixed_ms']} ms, auto {row['auto_ms']} ms, "
                   f"ratio {row['ratio']:.2f} (fastest of interleaved runs, 1 thread).")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--quick", action="store_true", help="a few images only")
    parser.add_argument("--timing", action="store_true", help="only the cost of auto")
    args = parser.parse_args(argv)
    if args.timing:
        torch.set_num_threads(1)
        report = {"command": "python benchmarks/periods.py --timing", "timing": timing(REPEATS)}
        print(json.dumps(report, indent=2) if args.json else "\n".join(
            [f"`{report['command']}`:", ""] + timing_lines(report["timing"])))
        return 0
    report = run(args.quick)
    print(json.dumps(report, indent=2) if args.json else markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
