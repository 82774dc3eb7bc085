"""Calibrate the checkerboard score: false alarms on real photographs, detection of faint patterns.

Builds a set from the photographs and textures that ship with scikit-image (nothing is
downloaded): each as shipped, in grey, re-saved as JPEG at qualities 95/75/50/30 (PIL) and
cropped to odd sizes. Then the same images with faint periodic patterns added (periods 2, 4
and 8; 2, 4 and 8 grey levels peak to peak; 8-bit rounding), of the kinds transposed
convolutions make:

- ``checker``: a +-a/2 checkerboard of period s;
- ``stripes``: +-a/2 stripes of period s along one axis (a 1-D artifact);
- ``overlap``: the contribution map of log2(s) stacked ConvTranspose(kernel 3, stride 2)
  layers applied to ones (the uneven overlap of Odena et al.);
- ``subkernel``: random per-phase gains (a random sub-kernel for each of the s*s phases);
- ``local``: a random-sub-kernel pattern confined to one 64x64 window, where the heat map's
  hotspot should land.

Every number is on the *decision value* of ``flagged``: the largest period value whose peak
is significant (``significance > MIN_SIGNIFICANCE``), 0 when none is. Reports the
false-alarm rate on the clean images at the threshold, detection rates per
period/amplitude/kind, AUROC (clean against patterned), the hotspot rate for local patterns,
and the threshold to use: ``MARGIN`` times the largest clean decision value, rounded up to
0.05.

The audit decides with the same rule (``checkerfree.audit.probes.item_values``: an item of
the contrast-stretched probe output is flagged as the score flags a picture; the verdict is
``artifacts`` when at least half the items of some probe kind are). The ``--audit`` section measures that
decision on models, random init, nothing downloaded: the built-in examples, MONAI and
diffusers models, and converted ones; ``expected`` is what theory says (uneven or
phase-imbalanced transposed convolutions and unbalanced sub-pixel layers paint a pattern;
resize-convolutions, ICNR sub-pixel layers with a pad-pool and converted models do not; a
strided classifier's input gradient carries its backward transposed convolution).

The same measurements are made on **audio** (synthetic music-like and speech-like signals
at 16 and 44.1 kHz, 16-bit, with period-4 and period-8 lattices of 3e-4 to 1e-2 full scale
peak to peak; :mod:`synthetic`) and **volumes** (smooth random fields and photograph stacks,
64^3, with period-2 and period-4 lattices of 2/4/8 grey levels), each with its own threshold
by the same rule (``MARGIN`` times the largest clean value, at least ``AUDIO_FLOOR`` full
scale for audio and 0.05 grey levels for volumes).

**Published detectors side by side** (:mod:`detectors`): on the same images, Durall et al.'s
azimuthal average and Dzanic et al.'s spectral decay fit, each with a logistic regression
trained on a held-apart half of the source photographs (seeded; every variant and pattern of a
photograph is on one side), against the score's decision value with no training; AUROC per
amplitude on the other half. Then the same on outputs of random-init decoders
(:mod:`decoders`: ``ConvTranspose`` decoders positive, the same architectures upsampling by
resizing negative; trained on half the photographs and init seeds, tested on the others), per
network (one family at one test seed), per family, pooled over every pair and pooled within
families. Beside our decision value, two variants with no training either: ``per kind``
(:mod:`per_kind`: a bin kind whose floor over-predicts counts 0 instead of cancelling the
others) and, on the decoders, ``periods="auto"``.

    python benchmarks/calibration.py            # markdown tables (docs/score.md, docs/audit.md)
    python benchmarks/calibration.py --json     # one JSON document
    python benchmarks/calibration.py --quick    # a few images, for a smoke run (< 3 minutes)
    python benchmarks/calibration.py --audit    # only the audit's decision on models
    python benchmarks/calibration.py --periods 2,4,8   # or auto: passed to checkerboard_score
    python benchmarks/calibration.py --from-json run.json   # the tables of a saved --json run
    python benchmarks/calibration.py --hotspot  # only the hotspot's local trials, and the oracles
"""

from __future__ import annotations

import argparse
import io
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))  # the sibling benchmark modules
import decoders
import detectors
import per_kind
import synthetic

from checkerfree.errors import InvalidArgumentError
from checkerfree.score.checkerboard import (
    DEFAULT_THRESHOLD,
    MIN_SIGNIFICANCE,
    checkerboard_score,
)

PHOTOS = [
    "astronaut", "camera", "chelsea", "coffee", "rocket", "immunohistochemistry",
    "hubble_deep_field", "retina", "moon", "coins", "clock", "page", "text", "cell",
    "microaneurysms",
]
TEXTURES = ["brick", "grass", "gravel"]
QUICK = ["astronaut", "camera", "coffee", "grass", "gravel", "immunohistochemistry"]
QUALITIES = (95, 75, 50, 30)
PERIODS = (2, 4, 8)
AMPLITUDES = (2, 4, 8)
KINDS = ("checker", "stripes", "overlap", "subkernel")
WINDOW = 64
# Head-room over the largest clean score: images outside the set will spread a little wider.
MARGIN = 1.25
# Audio: sample rates, pattern periods and amplitudes (full scale peak to peak: -70 to -40 dB).
RATES = (16000, 44100)
AUDIO_PERIODS = (4, 8)
AUDIO_AMPLITUDES = (3e-4, 1e-3, 3e-3, 1e-2)
#: The least audio threshold (full scale), -80 dB: where every clean value is 0.
AUDIO_FLOOR = 1e-4
AUDIO_WINDOW = 4096  # samples of a local pattern
# Volumes: side, pattern periods and amplitudes (grey levels), local window side.
VOLUME_SIZE = 64
VOLUME_PERIODS = (2, 4)
VOLUME_WINDOW = 16
SIGNAL_KINDS = ("checker", "subkernel")
# Which seed splits the source photographs into the detectors' train and test halves.
SPLIT_SEED = 1
DURALL_BINS = 64
# Variants of our decision value scored beside it (no training either; see compare()).
VARIANTS = ("ours_kinds", "ours_auto")


def load(name: str) -> np.ndarray:
    """A scikit-image sample as uint8 (H, W) or (H, W, 3); very large ones centre-cropped."""
    import skimage.data

    image = np.asarray(getattr(skimage.data, name)())
    if image.ndim == 3:
        image = image[..., :3]
    h, w = image.shape[:2]
    if max(h, w) > 1024:  # retina: keep the run short; a crop is still the same photograph
        top, left = (h - 768) // 2, (w - 768) // 2
        image = image[top : top + 768, left : left + 768]
    return image.astype(np.uint8)


def grey(image: np.ndarray) -> np.ndarray:
    """ITU-R 601 luma, rounded to 8 bits."""
    if image.ndim == 2:
        return image
    return np.clip(np.round(image @ np.array([0.299, 0.587, 0.114])), 0, 255).astype(np.uint8)


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    """Round-trip through PIL's JPEG encoder (default 4:2:0 chroma subsampling for colour)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    return np.asarray(Image.open(buffer).convert("RGB" if image.ndim == 3 else "L"))


def odd_crop(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A crop with odd height and width (about 60-95% of each side) at a random place."""
    h, w = image.shape[:2]
    ch = int(rng.integers(int(0.6 * h), h)) | 1
    cw = int(rng.integers(int(0.6 * w), w)) | 1
    ch, cw = min(ch, h - (1 - h % 2)), min(cw, w - (1 - w % 2))
    top, left = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    return image[top : top + ch, left : left + cw]


def clean_set(names: list[str], rng: np.random.Generator) -> list[tuple[str, np.ndarray]]:
    """Every clean variant of every image, named ``image/variant``."""
    items = []
    for name in names:
        image = load(name)
        items.append((f"{name}/png", image))
        if image.ndim == 3:
            items.append((f"{name}/grey", grey(image)))
        for q in QUALITIES:
            items.append((f"{name}/jpeg{q}", jpeg(image, q)))
        items.append((f"{name}/odd", odd_crop(image, rng)))
        items.append((f"{name}/odd-jpeg75", odd_crop(jpeg(image, 75), rng)))
    return items


def overlap_tile(s: int) -> np.ndarray:
    """One period of the 2-D contribution map of log2(s) stacked ConvTranspose(3, stride 2)."""
    counts = torch.ones(1, 1, 4 * s)
    for _ in range(int(math.log2(s))):
        counts = torch.nn.functional.conv_transpose1d(counts, torch.ones(1, 1, 3), stride=2)
    mid = counts.shape[-1] // 2 // s * s
    row = counts[0, 0, mid : mid + s].numpy()
    return np.outer(row, row)


def pattern(kind: str, s: int, amplitude: float, shape, rng: np.random.Generator) -> np.ndarray:
    """A zero-mean pattern of period ``s``, ``amplitude`` peak to peak, random phase."""
    if kind == "checker":
        k = np.arange(s) // max(1, s // 2)
        tile = (-1.0) ** (k[:, None] + k[None, :])
    elif kind == "stripes":
        k = (-1.0) ** (np.arange(s) // max(1, s // 2))
        tile = np.repeat(k[:, None], s, 1) if rng.integers(2) else np.repeat(k[None, :], s, 0)
    elif kind == "overlap":
        tile = overlap_tile(s)
    else:  # subkernel, local
        tile = rng.normal(size=(s, s))
    tile = tile - tile.mean()
    tile = tile * amplitude / (tile.max() - tile.min())
    h, w = shape
    dy, dx = rng.integers(0, s, size=2)
    reps = (h // s + 2, w // s + 2)
    return np.tile(tile, reps)[dy : dy + h, dx : dx + w]


def add(image: np.ndarray, pat: np.ndarray) -> np.ndarray:
    """Add a (H, W) pattern to every channel, round and clip to 8 bits."""
    if image.ndim == 3:
        pat = pat[..., None]
    return np.clip(np.round(image.astype(np.float64) + pat), 0, 255).astype(np.uint8)


def score_periods(periods=None) -> dict:
    """Keyword arguments giving ``checkerboard_score`` the ``--periods`` (none: its default)."""
    return {} if periods is None else {"periods": periods}


def measure(image: np.ndarray, hotspot: bool = False, periods=None):
    """Score one uint8 image (grey levels as float32) at ``periods`` (None: the default)."""
    x = torch.from_numpy(image.astype(np.float32))
    x = x[None, None] if x.ndim == 2 else x.permute(2, 0, 1)[None]
    return checkerboard_score(x, hotspot=hotspot, **score_periods(periods))


def kinds_value(image: np.ndarray, periods=None) -> float:
    """:func:`per_kind.decision` of one uint8 image (given periods, else the fixed ones)."""
    x = torch.from_numpy(image.astype(np.float32))
    x = x[None, None] if x.ndim == 2 else x.permute(2, 0, 1)[None]
    chosen = periods if isinstance(periods, tuple) else per_kind.FIXED_PERIODS
    return float(per_kind.decision(x, chosen)[0])


def measure_signal(x: np.ndarray, hotspot: bool = False, periods=None):
    """Score one signal or volume (no channel axis; its own units) at ``periods``."""
    t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))[None, None]
    return checkerboard_score(t, spatial_dims=x.ndim, hotspot=hotspot, **score_periods(periods))


def decision_value(result) -> float:
    """The largest period value whose peak is significant: what ``flagged`` compares."""
    return max(
        [v.item() for s, v in result.periods.items()
         if result.significance[s].item() > MIN_SIGNIFICANCE] or [0.0]
    )


def auroc(negatives: list[float], positives: list[float]) -> float:
    """P(score of a positive > score of a negative), ties counted half (Mann-Whitney).

    >>> auroc([0.0, 1.0], [1.0, 2.0])
    0.875
    """
    return detectors.auroc(negatives, positives)


def features(image: np.ndarray, bins: int = DURALL_BINS) -> dict:
    """The two published detectors' feature vectors of one image (:mod:`detectors`)."""
    return {"durall": detectors.azimuthal_average(image, bins),
            "dzanic": detectors.spectral_decay(image)}


def split_sources(names: list[str], seed: int = SPLIT_SEED) -> set[str]:
    """The training half of the source names (a seeded permutation, the first half)."""
    order = np.random.default_rng(seed).permutation(len(names))
    return {names[i] for i in order[: len(names) // 2]}


def compare(train_neg: list[dict], train_pos: list[dict], test_neg: list[dict],
            test_pos: list[dict], pairs=None) -> dict:
    """AUROC on the test records of ours (no training) and of each trained baseline.

    A record has ``"ours"`` (the decision value), optionally the variants of
    :data:`VARIANTS` (``"ours_kinds"``: :func:`per_kind.decision`; ``"ours_auto"``: the
    decision value at ``periods="auto"``), and the feature vectors ``"durall"`` and
    ``"dzanic"``; each baseline's logistic regression is fitted on the training records.
    ``pairs`` (a function of a record, e.g. its decoder family) counts only the test pairs
    whose negative and positive share it (:func:`grouped_auroc`); None counts every pair.
    ``ours_wins``: ``yes`` when our AUROC is above both, ``tie`` when the best baseline's is
    within 0.0005 of it, else ``no``; ``kinds_wins`` the same for ``"ours_kinds"``.
    """
    def area(neg_values, pos_values):
        if pairs is None:
            return auroc(neg_values, pos_values)
        return grouped_auroc([pairs(r) for r in test_neg], neg_values,
                             [pairs(r) for r in test_pos], pos_values)

    row = {"n_train": [len(train_neg), len(train_pos)], "n_test": [len(test_neg), len(test_pos)]}
    for key in ("ours", *VARIANTS):
        if all(key in r for r in test_neg + test_pos):
            row[key] = area([r[key] for r in test_neg], [r[key] for r in test_pos])
    labels = [0] * len(train_neg) + [1] * len(train_pos)
    for name in ("durall", "dzanic"):
        model = detectors.LogisticRegression().fit(
            np.stack([r[name] for r in train_neg + train_pos]), labels)
        row[name] = area(model.decision(np.stack([r[name] for r in test_neg])),
                         model.decision(np.stack([r[name] for r in test_pos])))
    best = max(row["durall"], row["dzanic"])
    for key, verdict in (("ours", "ours_wins"), ("ours_kinds", "kinds_wins")):
        if key in row:
            row[verdict] = ("tie" if abs(row[key] - best) <= 5e-4 else
                            "yes" if row[key] > best else "no")
    return row


def grouped_auroc(neg_groups, negatives, pos_groups, positives) -> float:
    """AUROC over the positive-negative pairs of the same group only, ties counted half.

    The pair-weighted mean of each group's :func:`auroc`:
    ``sum_g n_g^- n_g^+ AUROC_g / sum_g n_g^- n_g^+``; groups with one class only add no pair.

    >>> grouped_auroc(["a", "b"], [0.0, 5.0], ["a", "b"], [1.0, 6.0])
    1.0
    """
    neg, pos = np.asarray(negatives, dtype=np.float64), np.asarray(positives, dtype=np.float64)
    neg_groups, pos_groups = np.asarray(neg_groups, dtype=object), np.asarray(pos_groups,
                                                                               dtype=object)
    total = weight = 0.0
    for g in sorted(set(neg_groups) & set(pos_groups), key=str):
        n, p = neg[neg_groups == g], pos[pos_groups == g]
        total += auroc(n, p) * len(n) * len(p)
        weight += len(n) * len(p)
    if weight == 0:
        raise InvalidArgumentError("grouped_auroc needs a group with both classes, got "
                                   f"negative groups {sorted(set(neg_groups), key=str)} and "
                                   f"positive groups {sorted(set(pos_groups), key=str)}")
    return float(total / weight)


def threshold_for(clean_values: list[float], floor: float, step: float) -> float:
    """``MARGIN`` times the largest clean value, rounded up to ``step``, at least ``floor``."""
    return max(floor, math.ceil(MARGIN * max(clean_values) / step) * step)


def run(quick: bool, periods=None) -> dict:
    """Build the set, score it, and summarise; also the detectors' comparison on it."""
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    names = QUICK if quick else PHOTOS + TEXTURES
    started = time.perf_counter()
    clean = clean_set(names, rng)
    clean_scores, clean_records = {}, []
    for name, image in clean:
        clean_scores[name] = decision_value(measure(image, periods=periods))
        clean_records.append({"source": name.split("/")[0], "ours": clean_scores[name],
                              "ours_kinds": kinds_value(image, periods), **features(image)})
    worst = max(clean_scores, key=clean_scores.get)
    threshold = threshold_for(list(clean_scores.values()), 0.05, 0.05)

    # Patterns go on the as-shipped image, its grey version, a JPEG-50 decode and an odd crop.
    bases = [(n, im) for n, im in clean if n.split("/")[1] in ("png", "grey", "jpeg50", "odd")]
    kinds = KINDS[::3] if quick else KINDS
    detected: dict[tuple, list[float]] = {}
    pattern_records: list[dict] = []
    for base_name, image in bases:
        for s in PERIODS:
            for amplitude in AMPLITUDES:
                for kind in kinds:
                    pat = pattern(kind, s, amplitude, image.shape[:2], rng)
                    patterned = add(image, pat)
                    value = decision_value(measure(patterned, periods=periods))
                    detected.setdefault((kind, s, amplitude), []).append(value)
                    pattern_records.append({"source": base_name.split("/")[0],
                                            "amplitude": amplitude, "ours": value,
                                            "ours_kinds": kinds_value(patterned, periods),
                                            **features(patterned)})

    spots = run_hotspot(bases, clean, threshold, periods)

    clean_values = list(clean_scores.values())
    rows = []
    for (kind, s, amplitude), values in sorted(detected.items(), key=lambda kv: kv[0][1:]):
        rows.append(
            {
                "kind": kind,
                "period": s,
                "amplitude": amplitude,
                "n": len(values),
                "detected": float(np.mean(np.asarray(values) > threshold)),
                "median_score": float(np.median(values)),
                "auroc": auroc(clean_values, values),
            }
        )
    by_amplitude = {}
    for amplitude in AMPLITUDES:
        values = [v for (k, s, a), vs in detected.items() if a == amplitude for v in vs]
        by_amplitude[str(amplitude)] = {
            "n": len(values),
            "detected": float(np.mean(np.asarray(values) > threshold)),
            "auroc": auroc(clean_values, values),
        }
    train = split_sources(names)
    comparison = []
    for amplitude in AMPLITUDES:
        pos = [r for r in pattern_records if r["amplitude"] == amplitude]
        row = compare([r for r in clean_records if r["source"] in train],
                      [r for r in pos if r["source"] in train],
                      [r for r in clean_records if r["source"] not in train],
                      [r for r in pos if r["source"] not in train])
        comparison.append({"set": f"images, {amplitude} grey levels", **row})
    return {
        "command": command_line(quick, periods),
        "periods": "default" if periods is None else periods,
        "images": names,
        "detectors_train_sources": sorted(train),
        "detectors": comparison,
        # The per-kind variant's own false alarms on the clean set (at the library's threshold).
        "kinds_clean": {
            "max_score": max(r["ours_kinds"] for r in clean_records),
            "false_alarms_at_default": sum(r["ours_kinds"] > DEFAULT_THRESHOLD
                                           for r in clean_records),
            "n": len(clean_records),
        },
        "clean": {
            "n": len(clean_values),
            "max_score": clean_scores[worst],
            "max_item": worst,
            "p99_score": float(np.quantile(clean_values, 0.99)),
            "median_score": float(np.median(clean_values)),
            "false_alarms": int(np.sum(np.asarray(clean_values) > threshold)),
            "false_alarms_at_default": int(np.sum(np.asarray(clean_values) > DEFAULT_THRESHOLD)),
        },
        "threshold": threshold,
        "default_threshold": DEFAULT_THRESHOLD,
        "margin": MARGIN,
        "by_amplitude": by_amplitude,
        "hotspot_inside": spots["hotspot_inside"],
        "rows": rows,
        "local": spots["local"],
        "hotspot": spots,
        "seconds": round(time.perf_counter() - started, 1),
    }


# The local-pattern trials draw from their own seed, so `--hotspot` alone repeats the full run's.
HOTSPOT_SEED = 11


def as_tensor(image: np.ndarray) -> torch.Tensor:
    """A uint8 ``(H, W)`` or ``(H, W, 3)`` image as a float64 ``(1, C, H, W)`` tensor."""
    x = torch.from_numpy(image.astype(np.float64))
    return x[None, None] if x.ndim == 2 else x.permute(2, 0, 1)[None]


def oracle_hotspot(image: np.ndarray, template: np.ndarray) -> tuple[int, int]:
    """Where a matched filter that knows the added window puts the hotspot: ``(row, col)``.

    The ceiling for any blind scan at the same pre-filter: the input's channel mean and the
    ``(WINDOW, WINDOW)`` pattern as added (tile, period and phase known; place unknown) both
    go through the scan's discrete Laplacian (``checkerfree.score.hotspot._laplacian``), the
    filter is their cross-correlation ``c(u, v) = sum_ij y(u + i, v + j) t(i, j)`` at every
    place the whole window fits (by FFT), and the largest ``c`` gives the window's top-left;
    that is snapped to the nearest box of the scan's grid (tops at ``1 + 8 p``, a sub-box
    apart), whose centre is returned, as the scan returns its box's centre. Under white
    noise after the pre-filter this is the maximum-likelihood place.

    >>> rng = np.random.default_rng(0)
    >>> image = rng.normal(100, 5, (200, 200))
    >>> tile = rng.normal(size=(64, 64))
    >>> image[100:164, 40:104] += tile
    >>> oracle_hotspot(np.round(image).astype(np.uint8), tile)
    (128, 72)
    """
    from checkerfree.score.hotspot import _laplacian, box_geometry

    y = _laplacian(as_tensor(image).mean(1), 2)[0]
    t = _laplacian(torch.from_numpy(np.asarray(template, dtype=np.float64))[None], 2)[0]
    h, w = y.shape
    spectrum = torch.fft.rfft2(y) * torch.fft.rfft2(t, s=(h, w)).conj()
    corr = torch.fft.irfft2(spectrum, s=(h, w))[: h - t.shape[0] + 1, : w - t.shape[1] + 1]
    u, v = np.unravel_index(int(corr.argmax()), tuple(corr.shape))
    # The template's interior starts 1 sample into the window, as y's starts 1 into the image:
    # y index u is image row u + 1, so the window's top is u. The scan's boxes start at
    # image rows 1 + step p (p < places); centre 1 + side / 2 - 0.5 + step p, floored.
    q, k = box_geometry(2, 2, WINDOW / 4)
    step = k * 2
    side = q * step
    out = []
    for start, n in ((u, h), (v, w)):
        places = n // step - q + 1
        p = min(max(round((start - 1) / step), 0), places - 1)
        out.append(math.floor(1 + side / 2 - 0.5 + step * p))
    return out[0], out[1]


def _subbox_coefficients(y: torch.Tensor, step: int) -> torch.Tensor:
    """Each ``step x step`` sub-box's half-spectrum DFT: ``(U0, U1, step, step // 2 + 1)``."""
    u0, u1 = y.shape[0] // step, y.shape[1] // step
    blocks = y[: u0 * step, : u1 * step].reshape(u0, step, u1, step).permute(0, 2, 1, 3)
    return torch.fft.rfftn(blocks, dim=(2, 3))


def whitened_oracle_hotspot(image: np.ndarray, template: np.ndarray, top: int, left: int,
                            s: int) -> tuple[int, int]:
    """A matched filter whitened sub-box by sub-box, knowing the pattern: ``(row, col)``.

    The stronger ceiling (:func:`oracle_hotspot` weighs every place and frequency of the
    Laplacian the same, and a photograph's texture is neither white nor even): on the scan's
    grid of boxes (64 sub-boxes of 8x8, one sub-box apart) and its sub-box DFT ``c_bj`` at the
    ``K = s**2 - 1`` non-zero lattice bins of the period ``s``, with the known pattern's own
    coefficients ``t_bj`` (the pattern alone, at its place, through the same Laplacian), each
    box's generalised likelihood ratio of "this pattern here" under Gaussian noise of unknown
    power in each sub-box (estimated from its lattice bins, with and without the pattern),

        L = sum_j K log((sum_b |c_bj|^2 + r) / (sum_b |c_bj - t_bj|^2 + r)),

    ``r`` the scan's regulariser (``0.03`` of the mean over sub-boxes; a complex bin and its
    conjugate counted twice); the largest ``L``'s box centre. It knows the pattern's tile,
    period and phase through ``t`` (``top``, ``left`` place it to build ``t``), and searches
    every box of the scan's grid; a sub-box of strong texture weighs little, and one the
    pattern does not reach adds nothing.

    >>> rng = np.random.default_rng(0)
    >>> image = rng.normal(100, 5, (200, 200))
    >>> tile = np.tile(rng.normal(size=(4, 4)), (16, 16))
    >>> image[100:164, 40:104] += tile
    >>> whitened_oracle_hotspot(np.round(image).astype(np.uint8), tile, 100, 40, 4)  # inside
    (136, 72)
    """
    from checkerfree.score.hotspot import _REGULAR, _box_sum, _laplacian, box_geometry

    q, k = box_geometry(2, 2, WINDOW / 4)
    step = 2 * k
    x = as_tensor(image)
    placed = torch.zeros(x.shape[2:], dtype=torch.float64)
    placed[top : top + template.shape[0], left : left + template.shape[1]] = torch.from_numpy(
        np.asarray(template, dtype=np.float64))
    c = _subbox_coefficients(_laplacian(x.mean(1), 2)[0], step)
    t = _subbox_coefficients(_laplacian(placed[None], 2)[0], step)
    # Half-spectrum columns 0 and step / 2 stand for themselves, the others for a conjugate too.
    column = torch.arange(c.shape[-1])
    count = torch.where((column == 0) | (2 * column == step), 1.0, 2.0).double()
    lattice = torch.zeros(c.shape[-2:], dtype=torch.float64)
    lattice[:: step // s, :: step // s] = 1
    lattice[0, 0] = 0  # the sub-box mean
    weight = count * lattice
    power = ((c.real.square() + c.imag.square()) * weight).sum((2, 3))
    residual = (((c - t).real.square() + (c - t).imag.square()) * weight).sum((2, 3))
    regular = _REGULAR * power.mean()
    ratio = (s * s - 1) * torch.log((power + regular) / (residual + regular))
    total = _box_sum(ratio, q, (0, 1))
    u, v = np.unravel_index(int(total.argmax()), tuple(total.shape))
    side = q * step
    return (math.floor(1 + side / 2 - 0.5 + step * u),
            math.floor(1 + side / 2 - 0.5 + step * v))

def hotspot_trials(bases, rng: np.random.Generator):
    """``(variant, s, amplitude, top, left, window_pattern, patterned)`` per local trial."""
    for base_name, image in bases:
        h, w = image.shape[:2]
        if min(h, w) < 2 * WINDOW:
            continue
        for s in PERIODS:
            for amplitude in AMPLITUDES:
                top = int(rng.integers(0, h - WINDOW + 1))
                left = int(rng.integers(0, w - WINDOW + 1))
                window = pattern("subkernel", s, amplitude, (WINDOW, WINDOW), rng)
                pat = np.zeros((h, w))
                pat[top : top + WINDOW, left : left + WINDOW] = window
                yield base_name, s, amplitude, top, left, window, add(image, pat)


def _rate(hits: list[bool]):
    return float(np.mean(hits)) if hits else None


def scan_z(image: np.ndarray, periods) -> dict[int, float]:
    """The coherence scan's largest ``z`` per period (``checkerfree.score.hotspot``), with
    the periods grouped as ``lattice_hotspot`` scans them (the default 2, 4, 8: together)."""
    from checkerfree.score.hotspot import _laplacian, _scan, box_geometry

    y = _laplacian(as_tensor(image).float().mean(1), 2)
    groups: dict[tuple[int, int], list[int]] = {}
    for s in periods:
        q, k = box_geometry(s, 2, WINDOW / 4)
        groups.setdefault((q, k * s), []).append(s)
    out = {}
    for (q, step), group in groups.items():
        scans = _scan(y, tuple(group), 2, q, step)
        if scans is not None:
            out.update({s: float(scans[s].max()) for s in group})
    return out


def run_hotspot(bases, clean, threshold: float, periods=None) -> dict:
    """Hotspot accuracy on local 64x64 patterns: ours, the oracles, and conditioned rates.

    Per trial: whether our hotspot (``checkerboard_score``'s) and the two oracles'
    (:func:`oracle_hotspot`, :func:`whitened_oracle_hotspot`) land inside the window, whether
    the score flags the image (its decision value above ``threshold``), and whether the
    scan's largest ``z`` of some period exceeds that period's largest ``z`` on the clean set
    (``z_detected``: the scan sees a local lattice no clean image shows). Rates per
    amplitude, per period and amplitude, and per base variant (png, grey, jpeg50, odd).
    """
    scan_periods = periods if isinstance(periods, tuple) else PERIODS
    clean_z: dict[int, float] = {}
    for _, image in clean:
        for s, z in scan_z(image, scan_periods).items():
            clean_z[s] = max(clean_z.get(s, -math.inf), z)
    trials = []
    for base_name, s, a, top, left, window, patterned in hotspot_trials(
            bases, np.random.default_rng(HOTSPOT_SEED)):
        result = measure(patterned, hotspot="always", periods=periods)
        row, col = result.hotspot[0].tolist()
        orow, ocol = oracle_hotspot(patterned, window)
        wrow, wcol = whitened_oracle_hotspot(patterned, window, top, left, s)
        z = scan_z(patterned, scan_periods)
        trials.append({
            "variant": base_name.split("/")[1], "period": s, "amplitude": a,
            "inside": top <= row < top + WINDOW and left <= col < left + WINDOW,
            "oracle": top <= orow < top + WINDOW and left <= ocol < left + WINDOW,
            "whitened_oracle": top <= wrow < top + WINDOW and left <= wcol < left + WINDOW,
            "flagged": decision_value(result) > threshold,
            "z_detected": any(z[p] > clean_z[p] for p in z),
        })

    def summary(ts: list[dict]) -> dict:
        flagged = [t for t in ts if t["flagged"]]
        seen = [t for t in ts if t["z_detected"]]
        return {"n": len(ts), "hotspot_inside": _rate([t["inside"] for t in ts]),
                "oracle_inside": _rate([t["oracle"] for t in ts]),
                "whitened_oracle_inside": _rate([t["whitened_oracle"] for t in ts]),
                "detected": _rate([t["flagged"] for t in ts]), "n_flagged": len(flagged),
                "inside_if_flagged": _rate([t["inside"] for t in flagged]),
                "z_detected": _rate([t["z_detected"] for t in ts]),
                "inside_if_z_detected": _rate([t["inside"] for t in seen]),
                "oracle_if_z_detected": _rate([t["oracle"] for t in seen]),
                "whitened_oracle_if_z_detected": _rate([t["whitened_oracle"] for t in seen])}

    by_amplitude = {str(a): summary([t for t in trials if t["amplitude"] == a])
                    for a in AMPLITUDES}
    local = [{"period": s, "amplitude": a,
              **summary([t for t in trials if t["period"] == s and t["amplitude"] == a])}
             for s in PERIODS for a in AMPLITUDES]
    variants = sorted({t["variant"] for t in trials})
    by_variant = [{"variant": v, "amplitude": a,
                   **summary([t for t in trials if t["variant"] == v and t["amplitude"] == a])}
                  for v in variants for a in AMPLITUDES]
    return {"seed": HOTSPOT_SEED, "clean_max_z": {str(p): z for p, z in clean_z.items()},
            "threshold": threshold,
            "hotspot_inside": {a: v["hotspot_inside"] for a, v in by_amplitude.items()},
            "by_amplitude": by_amplitude, "local": local, "by_variant": by_variant}


def run_hotspot_only(quick: bool, periods=None) -> dict:
    """``--hotspot``: the clean set (for the threshold), the local trials, and the hotspot
    rates of the audio and volume runs (:func:`run_audio`, :func:`run_volumes`)."""
    torch.set_num_threads(1)
    started = time.perf_counter()
    names = QUICK if quick else PHOTOS + TEXTURES
    clean = clean_set(names, np.random.default_rng(0))  # run()'s first draws: the same set
    values = [decision_value(measure(image, periods=periods)) for _, image in clean]
    threshold = threshold_for(values, 0.05, 0.05)
    bases = [(n, im) for n, im in clean if n.split("/")[1] in ("png", "grey", "jpeg50", "odd")]
    out = run_hotspot(bases, clean, threshold, periods)
    # The same scan on the signals' and volumes' local windows (their full runs' numbers).
    for kind, runner in (("audio", run_audio), ("volumes", run_volumes)):
        out[kind] = {a: v["hotspot_inside"] for a, v in runner(quick, periods)["by_amplitude"].items()}
    out["command"] = command_line(quick, periods) + " --hotspot"
    out["seconds"] = round(time.perf_counter() - started, 1)
    return out


def _cell(value) -> str:
    return "-" if value is None else f"{value:.1%}"


def hotspot_markdown(report: dict) -> str:
    """The hotspot tables for docs/score.md: ours beside the oracle, unconditioned and not."""
    lines = ["Clean set's largest scan `z` per period: " + ", ".join(
                 f"{p}: {z:.2f}" for p, z in report["clean_max_z"].items())
             + f"; score threshold {report['threshold']:.2f} grey levels.", "",
             ("| amplitude (p-p) | n | ours inside | matched filter | whitened matched filter | "
              "flagged | ours if flagged | z above clean | ours if z above clean | "
              "whitened m.f. if z above clean |"),
             "|---|---|---|---|---|---|---|---|---|---|"]
    rows = [(a, v) for a, v in report["by_amplitude"].items()]
    rows += [(f"{r['amplitude']}, period {r['period']}", r) for r in report["local"]]
    rows += [(f"{r['amplitude']}, {r['variant']}", r) for r in report["by_variant"]]
    for label, v in rows:
        lines.append(f"| {label} | {v['n']} | {_cell(v['hotspot_inside'])} | "
                     f"{_cell(v['oracle_inside'])} | {_cell(v['whitened_oracle_inside'])} | "
                     f"{_cell(v['detected'])} | {_cell(v['inside_if_flagged'])} "
                     f"({v['n_flagged']}) | {_cell(v['z_detected'])} | "
                     f"{_cell(v['inside_if_z_detected'])} | "
                     f"{_cell(v['whitened_oracle_if_z_detected'])} |")
    for kind in ("audio", "volumes"):
        if kind in report:
            lines += ["", f"{kind.capitalize()}, hotspot inside the local window: " + ", ".join(
                f"{a}: {_cell(v)}" for a, v in report[kind].items())]
    return "\n".join(lines)


def command_line(quick: bool, periods=None) -> str:
    """The command that reproduces a report (for its header)."""
    line = "python benchmarks/calibration.py" + (" --quick" if quick else "")
    if periods is not None:
        line += " --periods " + (periods if isinstance(periods, str) else
                                 ",".join(str(p) for p in periods))
    return line


def _signal_summary(clean: dict[str, float], detected: dict[tuple, list[float]],
                    local: dict[float, list[tuple[float, bool]]], threshold: float,
                    amplitudes) -> dict:
    """False alarms, detection, AUROC and hotspot rate per amplitude (audio, volumes)."""
    clean_values = list(clean.values())
    worst = max(clean, key=clean.get)
    by_amplitude = {}
    for a in amplitudes:
        values = [v for (kind, s, aa), vs in detected.items() if aa == a for v in vs]
        hits = local.get(a, [])
        by_amplitude[f"{a:g}"] = {
            "n": len(values),
            "detected": float(np.mean(np.asarray(values) > threshold)),
            "auroc": auroc(clean_values, values),
            "hotspot_inside": float(np.mean([i for _, i in hits])) if hits else None,
            "n_local": len(hits),
        }
    rows = [{"kind": kind, "period": s, "amplitude": a, "n": len(vs),
             "detected": float(np.mean(np.asarray(vs) > threshold)),
             "median_score": float(np.median(vs))}
            for (kind, s, a), vs in sorted(detected.items(), key=lambda kv: kv[0][1:])]
    return {"clean": {"n": len(clean_values), "max_score": clean[worst], "max_item": worst,
                      "median_score": float(np.median(clean_values)),
                      "false_alarms": int(np.sum(np.asarray(clean_values) > threshold))},
            "threshold": threshold, "by_amplitude": by_amplitude, "rows": rows}


def _patterned(clean_items, periods_added, amplitudes, window, rng, score):
    """Score every clean item with every pattern added (whole item) and a local one (window).

    ``clean_items`` is ``[(name, array, rounding)]`` where ``rounding`` puts a sum back on the
    item's storage grid; returns the ``detected`` and ``local`` dicts of :func:`_signal_summary`.
    """
    detected: dict[tuple, list[float]] = {}
    local: dict[float, list[tuple[float, bool]]] = {}
    for name, x, rounding in clean_items:
        for s in periods_added:
            for a in amplitudes:
                for kind in SIGNAL_KINDS:
                    pat = synthetic.lattice_pattern(kind, s, a, x.shape, rng)
                    detected.setdefault((kind, s, a), []).append(
                        decision_value(score(rounding(x + pat), False)))
                # A local pattern: one window somewhere inside; does the hotspot land in it?
                start = [int(rng.integers(0, n - window + 1)) for n in x.shape]
                box = tuple(slice(b, b + window) for b in start)
                pat = np.zeros_like(x)
                pat[box] = synthetic.lattice_pattern("subkernel", s, a, (window,) * x.ndim, rng)
                result = score(rounding(x + pat), "always")
                spot = result.hotspot[0].tolist()
                inside = all(b <= c < b + window for b, c in zip(start, spot))
                local.setdefault(a, []).append((decision_value(result), inside))
    return detected, local


def run_audio(quick: bool, periods=None) -> dict:
    """Clean synthetic music and speech at 16 and 44.1 kHz, then with period-4/8 lattices."""
    torch.set_num_threads(1)
    rng = np.random.default_rng(2)
    started = time.perf_counter()
    seeds, seconds = (2, 0.5) if quick else (6, 1.0)
    items = []
    for rate in RATES:
        for source in (synthetic.music_like, synthetic.speech_like):
            for k in range(seeds):
                name = f"{source.__name__.replace('_like', '')}/{rate}/{k}"
                items.append((name, source(rate, seconds, rng), synthetic.quantise_16))

    def score(x, hotspot):
        return measure_signal(x, hotspot=hotspot, periods=periods)

    clean = {name: decision_value(score(x, False)) for name, x, _ in items}
    threshold = threshold_for(list(clean.values()), AUDIO_FLOOR, 1e-5)
    detected, local = _patterned(items, AUDIO_PERIODS, AUDIO_AMPLITUDES, AUDIO_WINDOW, rng, score)
    out = _signal_summary(clean, detected, local, threshold, AUDIO_AMPLITUDES)
    out.update(unit="full scale (-1..1), peak to peak", rates=list(RATES), seconds_each=seconds,
               periods_added=list(AUDIO_PERIODS), window=AUDIO_WINDOW,
               seconds=round(time.perf_counter() - started, 1))
    return out


def run_volumes(quick: bool, periods=None) -> dict:
    """Smooth random fields and photograph stacks, then with period-2/4 lattices."""
    torch.set_num_threads(1)
    rng = np.random.default_rng(3)
    started = time.perf_counter()
    size = VOLUME_SIZE
    items = []
    for sigma in (1.5, 3.0, 6.0):
        for k in range(1 if quick else 3):
            items.append((f"smooth/sigma{sigma:g}/{k}", synthetic.smooth_volume(size, sigma, rng)))
    for name in (["camera", "coffee"] if quick else ["camera", "coffee", "astronaut", "moon",
                                                       "brick", "grass"]):
        items.append((f"stack/{name}", synthetic.photo_stack(grey(load(name)), size, rng)))

    def rounding(x):
        return np.clip(np.round(x), 0, 255)

    def score(x, hotspot):
        return measure_signal(x, hotspot=hotspot, periods=periods)

    items = [(n, x, rounding) for n, x in items]
    clean = {name: decision_value(score(x, False)) for name, x, _ in items}
    threshold = threshold_for(list(clean.values()), 0.05, 0.05)
    detected, local = _patterned(items, VOLUME_PERIODS, AMPLITUDES, VOLUME_WINDOW, rng, score)
    out = _signal_summary(clean, detected, local, threshold, AMPLITUDES)
    out.update(unit="grey levels (0..255), peak to peak", size=size,
               periods_added=list(VOLUME_PERIODS), window=VOLUME_WINDOW,
               seconds=round(time.perf_counter() - started, 1))
    return out


def run_decoders(quick: bool, periods=None) -> dict:
    """The detectors' comparison on random-init decoder outputs (:mod:`decoders`)."""
    import warnings

    torch.set_num_threads(1)
    rng = np.random.default_rng(4)
    started = time.perf_counter()
    names = QUICK if quick else PHOTOS + TEXTURES
    seeds = range(2 if quick else 4)
    inputs = {n: decoders.crops(grey(load(n)), 2, rng) for n in names}
    train = split_sources(names)
    records: list[dict] = []
    for family in decoders.FAMILIES:
        for seed in seeds:
            batch = [x for n in names for x in inputs[n]]
            sources = [n for n in names for _ in inputs[n]]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pos, neg = decoders.decoder_outputs(family, seed, batch)
            for label, outputs in ((1, pos), (0, neg)):
                for source, y in zip(sources, outputs):
                    t = torch.from_numpy(y.astype(np.float32))[None, None]
                    records.append(
                        {"family": family, "source": source, "seed": seed, "label": label,
                         "ours": decision_value(measure_signal(y, periods=periods)),
                         "ours_auto": decision_value(measure_signal(y, periods="auto")),
                         "ours_kinds": float(per_kind.decision(t)[0]),
                         **features(y, decoders.SIZE // 2)})
    # Per network: how many ConvTranspose outputs carry no significant lattice at all.
    per_seed = [{"family": family, "seed": seed,
                 "positives_at_zero": sum(r["ours"] == 0 for r in mine),
                 "kinds_at_zero": sum(r["ours_kinds"] == 0 for r in mine),
                 "n": len(mine), "median": float(np.median([r["ours"] for r in mine])),
                 "kinds_median": float(np.median([r["ours_kinds"] for r in mine]))}
                for family in decoders.FAMILIES for seed in seeds
                for mine in [[r for r in records if r["family"] == family
                              and r["seed"] == seed and r["label"] == 1]]]
    return {"rows": decoder_rows(records, train), "per_seed": per_seed, "seeds": len(seeds),
            "crops_per_photo": 2, "size": decoders.SIZE,
            "seconds": round(time.perf_counter() - started, 1)}


def decoder_rows(records: list[dict], train: set[str]) -> list[dict]:
    """The decoder table: per network, per family, pooled, and pooled within families.

    A record has ``family``, ``seed``, ``source`` (its photograph), ``label`` (1: the
    ``ConvTranspose`` decoder's output) and what :func:`compare` reads. Training: the
    photographs of ``train`` through the even seeds; test: the others through the odd seeds.
    A *network* is one family at one test seed: its row tests the family's baselines (trained
    on that family's training part) on that seed's test items. ``all decoders`` trains one
    baseline on every family and counts every test pair, across families too (a
    BasicUNet positive against an AutoEncoder negative); ``all decoders, within family``
    is the same models counting only pairs of one family (:func:`grouped_auroc`), the question
    "is this decoder's output the deconv one or its resize twin".
    """
    def part(rs, training):
        side = [r for r in rs if (r["source"] in train) == training
                and (r["seed"] % 2 == 0) == training]
        return [r for r in side if r["label"] == 0], [r for r in side if r["label"] == 1]

    def by_label(rs):
        return [r for r in rs if r["label"] == 0], [r for r in rs if r["label"] == 1]

    rows = []
    families = list(dict.fromkeys(r["family"] for r in records))
    for family in families:
        mine = [r for r in records if r["family"] == family]
        (trn, trp), (ten, tep) = part(mine, True), part(mine, False)
        for seed in sorted({r["seed"] for r in ten + tep}):
            rows.append({"set": f"{family} seed {seed}", "family": family, "seed": seed,
                         **compare(trn, trp, *by_label([r for r in ten + tep
                                                        if r["seed"] == seed]))})
        rows.append({"set": family, "family": family, **compare(trn, trp, ten, tep)})
    (trn, trp), (ten, tep) = part(records, True), part(records, False)
    rows.append({"set": "all decoders", **compare(trn, trp, ten, tep)})
    rows.append({"set": "all decoders, within family",
                 **compare(trn, trp, ten, tep, pairs=lambda r: r["family"])})
    return rows


def _audit_models():
    """(name, factory, input shape, probe, expected verdict of that probe) per model."""
    from torch import nn

    from checkerfree import convert
    from checkerfree.zoo import EXAMPLES

    cases = []
    for name, ex in sorted(EXAMPLES.items()):
        probe = "gradient" if name.startswith("classifier") else "forward"
        cases.append((name, ex.factory, ex.input_shape, probe,
                      "artifacts" if ex.artifacts else "clean"))
    cases.append(("dcgan --eval", lambda: EXAMPLES["dcgan"].factory().eval(), (4, 100, 1, 1),
                  "forward", "artifacts"))
    try:
        from monai.networks import nets
        from monai.networks.blocks import SubpixelUpsample
    except ImportError:  # the table says which rows need the [test] extra
        nets = None
    if nets is not None:
        bunet = dict(spatial_dims=2, in_channels=1, out_channels=1,
                     features=(8, 8, 16, 16, 32, 8))
        seg = dict(spatial_dims=3, init_filters=8, in_channels=1, out_channels=1,
                   blocks_down=(1, 2), blocks_up=(1,), upsample_mode="deconv")
        ae = dict(spatial_dims=2, in_channels=1, out_channels=1, channels=(8, 16),
                  strides=(2, 2))
        cases += [
            ("monai BasicUNet deconv", lambda: nets.BasicUNet(upsample="deconv", **bunet),
             (2, 1, 64, 64), "forward", "artifacts"),
            ("monai BasicUNet deconv -> resize",
             lambda: convert(nets.BasicUNet(upsample="deconv", **bunet), to="resize"),
             (2, 1, 64, 64), "forward", "clean"),
            ("monai BasicUNet pixelshuffle (ICNR)",
             lambda: nets.BasicUNet(upsample="pixelshuffle", **bunet), (2, 1, 64, 64),
             "forward", "clean"),
            ("monai SegResNet 3D deconv", lambda: nets.SegResNet(**seg), (1, 1, 32, 32, 32),
             "forward", "artifacts"),
            ("monai SegResNet 3D deconv -> resize",
             lambda: convert(nets.SegResNet(**seg), to="resize"), (1, 1, 32, 32, 32),
             "forward", "clean"),
            ("monai AutoEncoder", lambda: nets.AutoEncoder(**ae), (2, 1, 32, 32), "forward",
             "artifacts"),
            ("monai AutoEncoder -> resize", lambda: convert(nets.AutoEncoder(**ae), to="resize"),
             (2, 1, 32, 32), "forward", "clean"),
            ("monai SubpixelUpsample (random bias)",
             lambda: SubpixelUpsample(2, 8, 8, apply_pad_pool=False), (2, 8, 16, 16),
             "forward", "artifacts"),
            ("monai SubpixelUpsample + pad-pool",
             lambda: SubpixelUpsample(2, 8, 8, apply_pad_pool=True), (2, 8, 16, 16),
             "forward", "clean"),
        ]
    try:
        from diffusers.models.upsampling import Upsample2D
    except ImportError:
        Upsample2D = None
    if Upsample2D is not None:
        cases += [
            ("diffusers Upsample2D transposed",
             lambda: Upsample2D(8, use_conv_transpose=True, out_channels=8), (2, 8, 16, 16),
             "forward", "artifacts"),
            ("diffusers Upsample2D transposed -> resize",
             lambda: convert(Upsample2D(8, use_conv_transpose=True, out_channels=8),
                             to="resize"), (2, 8, 16, 16), "forward", "clean"),
        ]
    cases.append(("PixelUnshuffle + convs", lambda: nn.Sequential(
        nn.PixelUnshuffle(2), nn.Conv2d(12, 8, 3, padding=1), nn.Conv2d(8, 1, 1)),
        (2, 3, 32, 32), "gradient", "artifacts"))
    return cases


def run_audit() -> dict:
    """The audit's decision (no attribution) on every model of :func:`_audit_models`."""
    import warnings

    from checkerfree.audit import audit

    torch.set_num_threads(1)
    started = time.perf_counter()
    rows = []
    for name, factory, shape, probe, expected in _audit_models():
        torch.manual_seed(0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = factory()
            report = audit(model, input_shape=shape, seeds=3, attribute=False)
        measured = report.forward if probe == "forward" else report.gradient
        deciding = measured.kinds.get(measured.deciding, {})
        rows.append({"model": name, "probe": probe, "expected": expected,
                     "verdict": measured.verdict, "score": round(measured.score, 2),
                     "flagged_fraction": round(measured.flagged_fraction, 3),
                     # What the verdict rests on: the deciding probe kind's own numbers (the
                     # median over every kind can read 0 when the constant batch decides).
                     "deciding": measured.deciding,
                     "deciding_items": deciding.get("items", 0),
                     "deciding_flagged": round(deciding.get("flagged_fraction", 0.0), 3),
                     "deciding_score": round(deciding.get("score", 0.0), 2),
                     "kinds": {k: {kk: round(vv, 3) for kk, vv in v.items()}
                               for k, v in measured.kinds.items()},
                     # Theory beside the measurement: each up site's overlap and phase balance.
                     "up_sites": [{"name": f.site.name, "overlap_ratio": d["overlap_ratio"],
                                   "phase_imbalance": d["phase_imbalance"],
                                   "reason": d["reason"]}
                                  for f, d in zip(report.layers, report.to_dict()["layers"])
                                  if d["direction"] == "up"],
                     "agrees": measured.verdict == expected})
    return {"command": "python benchmarks/calibration.py --audit",
            "rule": {"threshold": DEFAULT_THRESHOLD, "min_significance": MIN_SIGNIFICANCE,
                     "verdict": "artifacts when at least half the items of some probe kind "
                                  "(photo, smooth, latent, constant) are flagged"},
            "rows": rows, "agree": sum(r["agrees"] for r in rows), "n": len(rows),
            "seconds": round(time.perf_counter() - started, 1)}


def audit_markdown(report: dict) -> str:
    """The table for docs/audit.md."""
    lines = [f"Command: `{report['command']}` ({report['seconds']} s); rule: an item is flagged "
             f"when a period's value exceeds {report['rule']['threshold']} grey levels with "
             f"significance above {report['rule']['min_significance']}; "
             f"{report['rule']['verdict']}. Agreement with theory: {report['agree']}/"
             f"{report['n']}.",
             "",
             ("| model | probe | expected | verdict | deciding kind | its items flagged | "
              "its median score | all items flagged | median score, all kinds |"),
             "|---|---|---|---|---|---|---|---|---|"]
    for r in report["rows"]:
        decided = (f"{r['deciding']} | {r['deciding_flagged']:.0%} of {r['deciding_items']} | "
                   f"{r['deciding_score']:.2f}" if r.get("deciding") else "- | - | -")
        lines.append(f"| {r['model']} | {r['probe']} | {r['expected']} | {r['verdict']} | "
                     f"{decided} | {r['flagged_fraction']:.0%} | {r['score']:.2f} |")
    return "\n".join(lines)


def markdown(report: dict) -> str:
    """The tables for docs/score.md."""
    c = report["clean"]
    lines = [
        f"Command: `{report['command']}` ({report['seconds']} s)",
        "",
        f"Clean set: {c['n']} images; largest decision value {c['max_score']:.3f} "
        f"({c['max_item']}), "
        f"99th percentile {c['p99_score']:.3f}, median {c['median_score']:.3f} grey levels.",
        f"Threshold = {report['margin']} x largest clean value, rounded up to 0.05: "
        f"**{report['threshold']:.2f}** grey levels; false alarms at it: {c['false_alarms']}/"
        f"{c['n']} (at the current default {report['default_threshold']}: "
        f"{c['false_alarms_at_default']}).",
        "",
        "| amplitude (p-p) | n | detected | AUROC | hotspot inside 64x64 |",
        "|---|---|---|---|---|",
    ]
    for a, v in report["by_amplitude"].items():
        lines.append(
            f"| {a} | {v['n']} | {v['detected']:.1%} | {v['auroc']:.4f} | "
            f"{report['hotspot_inside'][a]:.1%} |"
        )
    lines += ["", "| kind | period | amplitude | n | detected | median score | AUROC |",
              "|---|---|---|---|---|---|---|"]
    for r in report["rows"]:
        lines.append(
            f"| {r['kind']} | {r['period']} | {r['amplitude']} | {r['n']} | {r['detected']:.1%} "
            f"| {r['median_score']:.2f} | {r['auroc']:.4f} |"
        )
    lines += ["", "| local 64x64: period | amplitude | n | hotspot inside | detected |",
              "|---|---|---|---|---|"]
    for r in report["local"]:
        lines.append(
            f"| {r['period']} | {r['amplitude']} | {r['n']} | {r['hotspot_inside']:.1%} "
            f"| {r['detected']:.1%} |"
        )
    return "\n".join(lines)


def signal_markdown(title: str, report: dict) -> str:
    """The table of one signal kind (audio, volumes) for docs/score.md."""
    c = report["clean"]
    lines = [(f"{title} ({report['seconds']} s): {c['n']} clean items, largest decision value "
              f"{c['max_score']:.3g} ({c['max_item']}), median {c['median_score']:.3g}; "
              f"threshold **{report['threshold']:.3g}** {report['unit'].split(',')[0]}; "
              f"false alarms at it: {c['false_alarms']}/{c['n']}."),
             "",
             "| amplitude (p-p) | n | detected | AUROC | hotspot inside window |",
             "|---|---|---|---|---|"]
    for a, v in report["by_amplitude"].items():
        spot = "n/a" if v["hotspot_inside"] is None else f"{v['hotspot_inside']:.1%}"
        lines.append(f"| {a} | {v['n']} | {v['detected']:.1%} | {v['auroc']:.4f} | {spot} |")
    lines += ["", "| kind | period | amplitude | n | detected | median score |",
              "|---|---|---|---|---|---|"]
    for r in report["rows"]:
        lines.append(f"| {r['kind']} | {r['period']} | {r['amplitude']:g} | {r['n']} | "
                     f"{r['detected']:.1%} | {r['median_score']:.3g} |")
    return "\n".join(lines)


def detectors_markdown(rows: list[dict]) -> str:
    """The side-by-side AUROC table of ours (and its variants) and the two published detectors."""
    lines = [("| test set | test clean / artifact | ours (no training) | ours, per kind | "
              "ours, periods=auto | Durall et al. 2020 (azimuthal average + LR) | "
              "Dzanic et al. 2020 (decay fit + LR) | ours wins | per kind wins |"),
             "|---|---|---|---|---|---|---|---|---|"]

    def cell(r, key):
        return f"{r[key]:.4f}" if key in r else "-"

    for r in rows:
        lines.append(f"| {r['set']} | {r['n_test'][0]} / {r['n_test'][1]} | {r['ours']:.4f} | "
                     f"{cell(r, 'ours_kinds')} | {cell(r, 'ours_auto')} | {r['durall']:.4f} | "
                     f"{r['dzanic']:.4f} | {r['ours_wins']} | {r.get('kinds_wins', '-')} |")
    return "\n".join(lines)


def kinds_clean_line(report: dict) -> str:
    """The per-kind variant's false alarms on the clean photographs (absent in old reports)."""
    k = report.get("kinds_clean")
    if k is None:
        return "(no per-kind measurement on the clean set in this report)"
    return (f"Per-kind decision value on the {k['n']} clean images: largest "
            f"{k['max_score']:.3f} grey levels, {k['false_alarms_at_default']} above the "
            f"default threshold {report['default_threshold']}.")


def per_seed_markdown(per_seed: list[dict]) -> str:
    """Per network (all photographs, both splits): ConvTranspose outputs read 0, and medians."""
    lines = [("| network | deconv outputs | read 0: ours | read 0: per kind | median: ours | "
              "median: per kind |"), "|---|---|---|---|---|---|"]
    for p in per_seed:
        lines.append(f"| {p['family']} seed {p['seed']} | {p['n']} | {p['positives_at_zero']} | "
                     f"{p.get('kinds_at_zero', '-')} | {p['median']:.2f} | "
                     + (f"{p['kinds_median']:.2f} |" if "kinds_median" in p else "- |"))
    return "\n".join(lines)


def parse_periods(text: str):
    """``--periods``: ``auto`` or comma-separated integers, passed to checkerboard_score."""
    if text.strip() == "auto":
        return "auto"
    try:
        values = tuple(int(p) for p in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected 'auto' or comma-separated integers such as 2,4,8, got {text!r}"
        ) from None
    return values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--quick", action="store_true",
                        help="a few images, signals and decoders only (under 3 minutes)")
    parser.add_argument("--audit", action="store_true",
                        help="only the audit's decision on models (docs/audit.md)")
    parser.add_argument("--periods", type=parse_periods, default=None,
                        help="periods for checkerboard_score: 'auto' or e.g. 2,4,8 "
                             "(default: the library's default)")
    parser.add_argument("--hotspot", action="store_true",
                        help="only the hotspot's local trials, beside the oracle")
    parser.add_argument("--from-json", metavar="FILE", default=None,
                        help="print the markdown of a saved --json run instead of running")
    args = parser.parse_args(argv)
    if args.from_json:
        with open(args.from_json) as handle:
            saved = json.load(handle)
        # A --hotspot run's JSON holds the hotspot part only.
        print(hotspot_markdown(saved) if "clean_max_z" in saved else full_markdown(saved))
        return 0
    started = time.perf_counter()
    if args.audit:
        audit_report = run_audit()
        print(json.dumps(audit_report, indent=2) if args.json else audit_markdown(audit_report))
        return 0
    try:
        if args.hotspot:
            spots = run_hotspot_only(args.quick, args.periods)
            print(json.dumps(spots, indent=2) if args.json else hotspot_markdown(spots))
            return 0
        report = run(args.quick, args.periods)
        report["audio"] = run_audio(args.quick, args.periods)
        report["volumes"] = run_volumes(args.quick, args.periods)
        report["decoders"] = run_decoders(args.quick, args.periods)
    except (ValueError, TypeError) as error:  # a --periods the score refuses: its own words
        print(f"calibration.py: {error}", file=sys.stderr)
        return 2
    report["detectors"] += report["decoders"]["rows"]
    report["audit"] = run_audit()
    report["total_seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(report, indent=2) if args.json else full_markdown(report))
    return 0


def full_markdown(report: dict) -> str:
    """Every table of a full report, in the order of docs/score.md, then docs/audit.md's."""
    spots = [hotspot_markdown(report["hotspot"])] if "hotspot" in report else []
    return "\n\n".join([
        markdown(report), *spots,
        signal_markdown("Audio", report["audio"]),
        signal_markdown("Volumes", report["volumes"]),
        f"Detectors ({report['decoders']['seconds']} s for the decoders; whole run "
        f"{report['total_seconds']} s):\n\n" + detectors_markdown(report["detectors"])
        + "\n\n" + kinds_clean_line(report)
        + "\n\n" + per_seed_markdown(report["decoders"]["per_seed"]),
        audit_markdown(report["audit"])])


if __name__ == "__main__":
    sys.exit(main())
