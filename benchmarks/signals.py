"""False alarms and detection on audio and volumes, with the derived default thresholds.

Audio: music-like (harmonic tones with vibrato and an envelope) and speech-like (noise through
three formant resonators, amplitude-modulated) signals of 1.5 s, at 16 kHz and 44.1 kHz, mono
and stereo, 5 seeds each (tests/signal_fixtures.py), written as 16-bit WAV and scored from the
file by ``ImageScorer`` (periods 2, 4, 8; ``AUDIO_THRESHOLD``). Patterned: the same signals plus
a ``ConvTranspose1d``-style pattern repeating every 4 or 8 samples, only the tones of that order
(``k fs / s``, ``k`` odd), ``+-peak`` full scale. "deciding" counts files whose largest period
value is the period added.

Volumes: smooth 64^3 volumes in 0..1 (a blob on a ramp) plus Gaussian noise of sigma 0.01, as
``.npy`` with ``--spatial-dims 3``, clean and plus a ``+-a/2`` period-2 lattice (threshold:
0.55/255 of each volume's range).

Run: ``python benchmarks/signals.py [--json]``. docs/score.md quotes its tables.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from signal_fixtures import lattice_pattern, music, speech, smooth_volume  # noqa: E402

from checkerfree.score.batch import ImageScorer  # noqa: E402

SECONDS = 1.5
SEEDS = range(5)
PEAKS = (1e-3, 2e-3, 4e-3)
VOLUME_AMPLITUDES = (0.005, 0.01, 0.02)


def audio_rows(folder: Path) -> list[dict]:
    scorer = ImageScorer()
    out = []
    for gen in (music, speech):
        for fs in (16000, 44100):
            for channels in (1, 2):
                for seed in SEEDS:
                    clean = gen(fs, SECONDS, channels, seed=seed)
                    cases = [(None, 0.0, clean)]
                    for period in (4, 8):
                        for peak in PEAKS:
                            pattern = lattice_pattern(period, peak, clean.shape[1], seed=seed)
                            cases.append((period, peak, clean + pattern))
                    for period, peak, samples in cases:
                        path = folder / "x.wav"
                        soundfile.write(path, samples.T, fs, subtype="PCM_16")
                        [row] = scorer([path])
                        deciding = max(row["periods"], key=row["periods"].get)
                        out.append({"signal": gen.__name__, "fs": fs, "channels": channels,
                                    "period": period, "peak": peak,
                                    "flagged": row["flagged"],
                                    "deciding": deciding == str(period)})
    return out


def volume_rows(folder: Path) -> list[dict]:
    scorer = ImageScorer(spatial_dims=3)
    n = 64
    lattice = 0.5 * (-1.0) ** np.indices((n, n, n)).sum(0)
    out = []
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        clean = smooth_volume(n) + 0.01 * rng.standard_normal((n, n, n))
        for amplitude in (0.0, *VOLUME_AMPLITUDES):
            path = folder / "v.npy"
            np.save(path, (clean + amplitude * lattice).astype(np.float32))
            [row] = scorer([path])
            out.append({"amplitude": amplitude, "flagged": row["flagged"],
                        "value": row["periods"]["2"]})
    return out


def tables(audio: list[dict], volumes: list[dict]) -> str:
    lines = ["| signal | clean: false alarms | " + " | ".join(
        f"period {s}, +-{p:g}: detected (deciding)" for s in (4, 8) for p in PEAKS) + " |",
        "|---|---|" + "---|" * (2 * len(PEAKS))]
    for signal in ("music", "speech"):
        rows = [r for r in audio if r["signal"] == signal]
        clean = [r for r in rows if r["period"] is None]
        cells = [f"{sum(r['flagged'] for r in clean)}/{len(clean)}"]
        for s in (4, 8):
            for p in PEAKS:
                hit = [r for r in rows if r["period"] == s and r["peak"] == p]
                cells.append(f"{sum(r['flagged'] for r in hit)}/{len(hit)} "
                             f"({sum(r['deciding'] for r in hit)})")
        lines.append(f"| {signal} | " + " | ".join(cells) + " |")
    lines += ["", "| volume lattice (p-p) | n | flagged | median period-2 value |",
              "|---|---|---|---|"]
    for amplitude in (0.0, *VOLUME_AMPLITUDES):
        rows = [r for r in volumes if r["amplitude"] == amplitude]
        median = float(np.median([r["value"] for r in rows]))
        lines.append(f"| {amplitude:g} | {len(rows)} | {sum(r['flagged'] for r in rows)} "
                     f"| {median:.4f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        audio = audio_rows(Path(folder))
        volumes = volume_rows(Path(folder))
    seconds = time.perf_counter() - start
    if args.json:
        print(json.dumps({"audio": audio, "volumes": volumes, "seconds": seconds}))
    else:
        print(f"Command: `python benchmarks/signals.py` ({seconds:.1f} s)\n")
        print(tables(audio, volumes))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
