"""Clean synthetic signals and lattice patterns for calibrating the score beyond photographs.

Audio (full scale, ``-1..1``, rounded to 16 bits as a WAV file stores it):

- :func:`music_like`: a melody of notes, each a harmonic tone (fundamental 110-880 Hz,
  partials falling as ``1/k``, up to the Nyquist frequency) with an attack-decay envelope and a
  slight vibrato, plus a quieter sustained chord;
- :func:`speech_like`: voiced syllables (a glottal pulse train at 90-240 Hz with a moving
  pitch contour, through three formant resonators that move from vowel to vowel) alternating
  with unvoiced noise bursts (fricatives), under a syllabic envelope of about 4 Hz.

Volumes (grey levels ``0..255``, rounded to 8 bits):

- :func:`smooth_volume`: Gaussian-filtered white noise (a smooth random field) plus a little
  sensor noise;
- :func:`photo_stack`: slices blending from one crop of a scikit-image photograph to another
  (photographic in-plane, smooth along depth).

:func:`lattice_pattern` is the zero-mean period-``s`` pattern added to any of them.

>>> import numpy as np
>>> x = music_like(16000, 0.25, np.random.default_rng(0))
>>> x.shape, bool(np.abs(x).max() <= 0.5 + 1e-4)
((4000,), True)
"""

from __future__ import annotations

import numpy as np

from checkerfree.errors import InvalidArgumentError

__all__ = ["lattice_pattern", "music_like", "photo_stack", "quantise_16", "smooth_volume",
           "speech_like"]

#: Peak level of the clean audio, full scale: a mastered track's head-room.
PEAK = 0.5


def quantise_16(x: np.ndarray) -> np.ndarray:
    """Round to the 16-bit grid of a WAV file (steps of 1/32767 full scale)."""
    return np.round(np.clip(x, -1, 1) * 32767) / 32767


def _normalise(x: np.ndarray) -> np.ndarray:
    return quantise_16(x * PEAK / max(np.abs(x).max(), 1e-12))


def music_like(rate: int, seconds: float, rng: np.random.Generator) -> np.ndarray:
    """A synthetic melody over a chord at ``rate`` Hz (see the module doc), peak ``PEAK``."""
    n = int(rate * seconds)
    t = np.arange(n) / rate
    out = np.zeros(n)
    # The chord: three sustained tones a major triad apart, quiet.
    root = 110 * 2 ** rng.uniform(0, 2)
    for ratio in (1.0, 1.26, 1.5):
        out += 0.15 * np.sin(2 * np.pi * root * ratio * t + rng.uniform(0, 2 * np.pi))
    start = 0
    while start < n:
        length = int(rate * rng.uniform(0.08, 0.35))
        f0 = 110 * 2 ** rng.uniform(0, 3)
        tt = np.arange(min(length, n - start)) / rate
        vibrato = 1 + 0.004 * np.sin(2 * np.pi * rng.uniform(4, 7) * tt)
        phase = 2 * np.pi * f0 * np.cumsum(vibrato) / rate
        envelope = (1 - np.exp(-tt / 0.01)) * np.exp(-tt / rng.uniform(0.1, 0.4))
        note = sum(np.sin(k * phase + rng.uniform(0, 2 * np.pi)) / k
                   for k in range(1, 13) if k * f0 < rate / 2)
        out[start : start + len(tt)] += envelope * note
        start += length
    return _normalise(out)


def speech_like(rate: int, seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Synthetic syllables at ``rate`` Hz (see the module doc), peak ``PEAK``."""
    from scipy.signal import lfilter

    n = int(rate * seconds)
    out = np.zeros(n)
    vowels = [(700, 1200, 2600), (300, 2300, 3000), (500, 900, 2400), (400, 1900, 2550)]
    start = 0
    while start < n:
        length = min(int(rate * rng.uniform(0.12, 0.3)), n - start)
        tt = np.arange(length) / rate
        if rng.uniform() < 0.7:  # voiced: pulses through formants
            f0 = rng.uniform(90, 240) * (1 + 0.15 * np.sin(2 * np.pi * rng.uniform(1, 3) * tt))
            phase = np.cumsum(f0 / rate)
            source = np.diff(np.floor(phase), prepend=0.0) - 1.0 / max(1, rate / f0.mean())
            segment = source
            for formant, bandwidth in zip(vowels[rng.integers(len(vowels))], (80, 100, 120)):
                formant = min(formant, 0.45 * rate)
                r = np.exp(-np.pi * bandwidth / rate)
                theta = 2 * np.pi * formant / rate
                segment = lfilter([1 - r], [1, -2 * r * np.cos(theta), r * r], segment)
        else:  # a fricative: high-passed noise
            segment = np.diff(rng.normal(size=length + 1)) * 0.3
        envelope = np.sin(np.pi * np.arange(length) / max(length - 1, 1)) ** 2
        out[start : start + length] += envelope * segment / max(np.abs(segment).max(), 1e-12)
        start += length + int(rate * rng.uniform(0.0, 0.08))  # pauses between syllables
    return _normalise(out)


def smooth_volume(size: int, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """A ``size^3`` smooth random field in grey levels: mean 128, spread 30, sensor noise 1."""
    from scipy.ndimage import gaussian_filter

    field = gaussian_filter(rng.normal(size=(size,) * 3), sigma, mode="wrap")
    field = 128 + 30 * field / field.std() + rng.normal(size=field.shape)
    return np.clip(np.round(field), 0, 255)


def photo_stack(image: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` slices blending linearly from one ``size x size`` crop of a grey photograph to
    another, rounded to 8 bits: photographic in every slice, smooth along depth.

    (Crops shifted one row per slice would put the photograph's whole spectrum on the plane
    ``f_depth = -f_row``, lattice bins included: a texture no scanner makes.)
    """
    h, w = image.shape[:2]
    a, b = [image[t : t + size, c : c + size].astype(np.float64)
            for t, c in zip(rng.integers(0, h - size + 1, 2), rng.integers(0, w - size + 1, 2))]
    weight = np.linspace(0, 1, size)[:, None, None]
    return np.round((1 - weight) * a + weight * b)


def lattice_pattern(kind: str, s: int, amplitude: float, shape: tuple[int, ...],
                    rng: np.random.Generator) -> np.ndarray:
    """A zero-mean period-``s`` pattern on ``shape`` (any rank), ``amplitude`` peak to peak.

    ``checker``: the sign alternates between blocks of ``s / 2`` samples along every axis (a
    square wave for signals, a checkerboard for images and volumes); ``subkernel``: random
    gains per phase (what a transposed convolution's unequal sub-kernels paint). Random
    phase.

    >>> p = lattice_pattern("checker", 4, 2.0, (8,), np.random.default_rng(0))
    >>> sorted(set(p.tolist())), p.shape
    ([-1.0, 1.0], (8,))
    """
    d = len(shape)
    if kind == "checker":
        k = np.indices((s,) * d) // max(1, s // 2)
        tile = (-1.0) ** k.sum(0)
    elif kind == "subkernel":
        tile = rng.normal(size=(s,) * d)
    else:
        raise InvalidArgumentError(f"kind must be 'checker' or 'subkernel', got {kind!r}")
    tile = tile - tile.mean()
    tile = tile * amplitude / (tile.max() - tile.min())
    offset = rng.integers(0, s, size=d)
    reps = tuple(n // s + 2 for n in shape)
    tiled = np.tile(tile, reps)
    return tiled[tuple(slice(o, o + n) for o, n in zip(offset, shape))]
