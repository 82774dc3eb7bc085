"""Audio through the scorer: lattices of period 4 and 8 found at the right frequencies in Hz.

Music-like and speech-like signals (tests/signal_fixtures.py) at 16 kHz and 44.1 kHz, mono and
stereo, written with soundfile as WAV (16-bit) or FLAC: clean they are not flagged; with a
period-4 or period-8 ``ConvTranspose1d``-style pattern of +-3e-3 full scale they are, the
deciding period is the one added, and its tones are where ``numpy.fft`` puts them.
"""

from __future__ import annotations

import numpy as np
import pytest

soundfile = pytest.importorskip("soundfile")
pytest.importorskip("scipy")

from checkerfree.score.batch import ImageScorer  # noqa: E402
from checkerfree.score.units import AUDIO_THRESHOLD, lattice_frequencies  # noqa: E402

from signal_fixtures import lattice_pattern, music, speech  # noqa: E402

SECONDS = 1.5
PEAK = 3e-3
CASES = [(gen, fs, ch) for gen in (music, speech) for fs in (16000, 44100) for ch in (1, 2)]


def _ids(case):
    gen, fs, ch = case
    return f"{gen.__name__}-{fs}-{ch}ch"


def _write(tmp_path, name, samples, fs):
    path = tmp_path / name
    soundfile.write(path, samples.T, fs, subtype="PCM_16")  # WAV or FLAC, from the name
    return path


def _tones(pattern: np.ndarray, period: int, fs: int) -> list[float]:
    """The reference: frequencies of the non-zero bins of one period's DFT, up to Nyquist."""
    spectrum = np.fft.rfft(pattern[:period])
    return [k * fs / period for k in range(1, spectrum.size) if abs(spectrum[k]) > 1e-9]


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_clean_audio_is_not_flagged(tmp_path, case):
    gen, fs, ch = case
    path = _write(tmp_path, "clean.wav", gen(fs, SECONDS, ch), fs)
    [row] = ImageScorer()([path])
    assert row["error"] is None and row["kind"] == "audio"
    assert row["flagged"] is False, row
    assert row["sample_rate"] == fs and row["channels"] == ch
    assert row["duration"] == pytest.approx(SECONDS)
    assert row["threshold"] == pytest.approx(AUDIO_THRESHOLD)


@pytest.mark.parametrize("period", [4, 8])
@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_audio_lattice_is_flagged_at_its_frequencies(tmp_path, case, period):
    gen, fs, ch = case
    clean = gen(fs, SECONDS, ch)
    pattern = lattice_pattern(period, PEAK, clean.shape[1], seed=period + ch)
    suffix = ".flac" if fs == 44100 else ".wav"
    path = _write(tmp_path, "lattice" + suffix, clean + pattern, fs)
    [row] = ImageScorer()([path])
    assert row["error"] is None and row["flagged"] is True, row
    deciding = max(row["periods"], key=row["periods"].get)
    assert deciding == str(period)
    # Theory: the value is twice the pattern's RMS (the same pattern in every channel). A
    # music harmonic within the floor's 16 bins of a lattice tone raises the floor, so music
    # may read lower (never higher); speech's floor is broadband.
    rms = float(np.sqrt(np.mean(pattern[:period] ** 2)))
    ratio = row["periods"][str(period)] / (2 * rms)
    assert (0.85 if gen is speech else 0.5) < ratio < 1.15, ratio
    assert row["frequencies"][str(period)] == _tones(pattern, period, fs)
    assert row["hotspot"][0] in range(clean.shape[1])


def test_lattice_frequencies_against_brute_force():
    """Every frequency ``k fs / s`` up to Nyquist, each under the smallest listed period
    whose lattice holds it (the score's rule), checked by enumerating the bins of a DFT."""
    fs, periods = 48000, (2, 3, 4, 6, 8, 12)
    found = lattice_frequencies(periods, fs)
    n = 24 * 4  # a common multiple: every lattice frequency is a bin
    owner = {}
    for s in periods:
        for b in range(1, n // 2 + 1):
            if (b * s) % n == 0 and b not in owner:
                owner[b] = s
    want = {str(s): sorted(b * fs / n for b, t in owner.items() if t == s) for s in periods}
    assert found == want
    assert sum(len(v) for v in found.values()) == len(owner)


def test_truncated_wav_is_a_row_error(tmp_path):
    path = _write(tmp_path, "full.wav", speech(16000, 0.5, 1), 16000)
    cut = tmp_path / "cut.wav"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    rows = ImageScorer()([cut, path])
    assert rows[0]["error"].startswith("truncated WAV: its data chunk declares")
    assert rows[0]["score"] is None and rows[1]["error"] is None


def test_cut_flac_and_garbage_are_row_errors(tmp_path):
    path = _write(tmp_path, "full.flac", speech(16000, 0.5, 1), 16000)
    cut = tmp_path / "cut.flac"
    cut.write_bytes(path.read_bytes()[:200])
    header = tmp_path / "head.wav"
    header.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt ")
    rows = ImageScorer()([cut, header])
    assert all(row["error"].startswith("cannot decode audio") for row in rows), rows


def test_spatial_dims_is_for_arrays_audio_stays_one_dimensional(tmp_path):
    path = _write(tmp_path, "a.wav", speech(16000, 0.2, 1), 16000)
    [row] = ImageScorer(spatial_dims=2)([path])
    assert row["error"] is None and row["spatial_dims"] == 1 and row["size"] == [3200]


def test_multichannel_power_is_averaged(tmp_path):
    """A pattern in one channel of two reads 1/sqrt(2) of its mono value (the channel mean
    of the lattice power: docs/score.md)."""
    fs = 16000
    clean = music(fs, 1.0, 1)
    pattern = lattice_pattern(4, PEAK, clean.shape[1])
    mono = ImageScorer()([_write(tmp_path, "m.wav", clean + pattern, fs)])[0]["periods"]["4"]
    stereo = np.concatenate([clean + pattern, clean])
    both = ImageScorer()([_write(tmp_path, "s.wav", stereo, fs)])[0]["periods"]["4"]
    assert both == pytest.approx(mono / np.sqrt(2), rel=0.05)


def test_audio_sample_limit_is_checked_from_the_header(tmp_path):
    path = _write(tmp_path, "long.flac", speech(16000, 0.5, 2), 16000)
    [row] = ImageScorer(max_pixels=1000)([path])
    assert row["error"] == ("refused: 2 channels x 8000 frames = 16000 samples > limit 4000 "
                            "(raise it with --max-pixels)")
