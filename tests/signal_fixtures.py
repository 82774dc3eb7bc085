"""Synthetic audio and volumes for the signal tests: music-like, speech-like, smooth volumes.

Built from their definitions (harmonic tones, formant filters, polynomials), so a test knows
what is in them: no lattice unless one is added with :func:`lattice_pattern`.
"""

from __future__ import annotations

import numpy as np


def music(fs: int, seconds: float, channels: int, seed: int = 0) -> np.ndarray:
    """``(C, L)`` chords of harmonic tones with vibrato and a decaying envelope, +-0.6 peak."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(fs * seconds)) / fs
    out = []
    for c in range(channels):
        x = np.zeros_like(t)
        for f0 in rng.uniform(180, 420, 3):
            vibrato = 1 + 0.006 * np.sin(2 * np.pi * rng.uniform(4, 7) * t + rng.uniform(0, 6))
            phase = 2 * np.pi * np.cumsum(f0 * vibrato) / fs
            for h in range(1, 16):
                if h * f0 * 1.01 < fs / 2:
                    x += np.sin(h * phase + rng.uniform(0, 6)) / h
        envelope = np.minimum(1, t / 0.02) * np.exp(-1.5 * (t % 0.5))
        out.append(x * envelope)
    out = np.stack(out)
    return 0.6 * out / np.abs(out).max()


def speech(fs: int, seconds: float, channels: int, seed: int = 0) -> np.ndarray:
    """``(C, L)`` noise through three formant resonators, amplitude-modulated at syllable
    rate (4 Hz), +-0.5 peak."""
    from scipy.signal import lfilter

    rng = np.random.default_rng(seed)
    n = int(fs * seconds)
    t = np.arange(n) / fs
    out = []
    for _ in range(channels):
        source = rng.standard_normal(n)
        y = np.zeros(n)
        for freq, width in ((700, 110), (1220, 120), (2600, 160)):
            r = np.exp(-np.pi * width / fs)
            theta = 2 * np.pi * freq / fs
            y += lfilter([1 - r], [1, -2 * r * np.cos(theta), r * r], source)
        y *= (0.5 * (1 + np.sin(2 * np.pi * 4 * t + rng.uniform(0, 6)))) ** 2
        out.append(y)
    out = np.stack(out)
    return 0.5 * out / np.abs(out).max()


def lattice_pattern(period: int, peak: float, length: int, seed: int = 1) -> np.ndarray:
    """A random sequence repeating every ``period`` samples, ``+-peak``, with only the tones
    of order exactly ``period`` (``k`` odd in ``k fs / period`` for a power of two): what a
    stride-``period`` ``ConvTranspose1d`` adds beyond the shorter periods' lattices."""
    rng = np.random.default_rng(seed)
    spectrum = np.fft.rfft(rng.standard_normal(period))
    k = np.arange(spectrum.size)
    spectrum[np.gcd(k, period) != 1] = 0
    one = np.fft.irfft(spectrum, period)
    one *= peak / np.abs(one).max()
    return np.tile(one, length // period + 1)[:length]


def smooth_volume(n: int) -> np.ndarray:
    """A smooth ``(n, n, n)`` volume in ``0..1``: a blob on a ramp (an organ on a gradient)."""
    z, y, x = np.indices((n, n, n)) / (n - 1)
    blob = np.exp(-((x - 0.4) ** 2 + (y - 0.5) ** 2 + (z - 0.6) ** 2) / 0.05)
    return 0.3 * (x + 0.5 * y) / 1.5 + 0.7 * blob
