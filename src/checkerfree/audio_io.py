"""Audio files in: WAV, FLAC and Ogg through libsndfile (``soundfile``, extra ``audio``).

:func:`read_audio` returns float32 ``(C, L)`` samples in *full scale* (``-1..1``: a 16-bit
PCM sample ``v`` reads ``v / 32768``), every channel kept, at the file's own sample rate, and
an :class:`AudioInfo`. Full scale is the unit of the score for audio: a period-``s`` pattern
of ``+-1e-3`` reads ``2e-3`` whatever the bit depth.

A WAV file cut short is refused: libsndfile would read the frames that are there and say
nothing, so the size its ``data`` chunk declares is checked against the file
(:func:`check_wav_data`). FLAC and Ogg streams fail in libsndfile's decoder when cut.

>>> import tempfile, pathlib, numpy as np, soundfile
>>> path = pathlib.Path(tempfile.mkdtemp()) / "tone.wav"
>>> soundfile.write(path, np.full((800, 2), 0.5), 16000, subtype="PCM_16")
>>> samples, info = read_audio(path)
>>> samples.shape, float(samples[0, 0]), info.sample_rate, info.subtype, info.duration
((2, 800), 0.5, 16000, 'PCM_16', 0.05)
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

import numpy as np

from checkerfree.errors import InputFileError, require

__all__ = ["AudioInfo", "read_audio", "check_wav_data"]

# Bits per sample of libsndfile's subtypes; the others (compressed: Vorbis, Opus) have none.
_BITS = {"PCM_S8": 8, "PCM_U8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32, "FLOAT": 32,
         "DOUBLE": 64, "ULAW": 8, "ALAW": 8}


@dataclass(frozen=True)
class AudioInfo:
    """What an audio file holds: ``format`` (WAV, FLAC, OGG), libsndfile's ``subtype``
    (``PCM_16``, ``FLOAT``, ``VORBIS``), ``bit_depth`` (None when compressed),
    ``sample_rate`` in Hz, ``channels``, ``frames`` and ``duration`` in seconds."""

    format: str
    subtype: str
    bit_depth: int | None
    sample_rate: int
    channels: int
    frames: int

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate


def check_wav_data(path: str | os.PathLike, shown: str | None = None) -> None:
    """Raise :class:`~checkerfree.errors.InputFileError` when the WAV file's ``data`` chunk
    declares more bytes than the file holds (a truncated download or copy).

    RIFF layout: ``RIFF <size> WAVE`` then chunks ``<id:4> <size:u32 little-endian> <bytes>``,
    padded to even sizes. A size of 0 or ``0xFFFFFFFF`` is a stream written without seeking
    back (or RF64, whose real size is in its ``ds64`` chunk): nothing to check there.

    >>> import tempfile, pathlib
    >>> cut = pathlib.Path(tempfile.mkdtemp()) / "cut.wav"
    >>> _ = cut.write_bytes(b"RIFF\\x00\\x00\\x00\\x00WAVEdata\\x10\\x00\\x00\\x00\\x00\\x00")
    >>> check_wav_data(cut)
    Traceback (most recent call last):
    ...
    checkerfree.errors.InputFileError: ...cut.wav: truncated WAV: its data chunk declares 16 bytes, the file holds 2
    """
    shown = os.fspath(path) if shown is None else shown
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        if fh.read(4) != b"RIFF":
            return  # RF64: sizes live in the ds64 chunk; libsndfile checks them
        fh.seek(12)
        offset = 12
        while offset + 8 <= size:
            header = fh.read(8)
            chunk, length = header[:4], struct.unpack("<I", header[4:])[0]
            if chunk == b"data":
                held = size - offset - 8
                if length not in (0, 0xFFFFFFFF) and length > held:
                    raise InputFileError(
                        shown, f"truncated WAV: its data chunk declares {length} bytes, "
                        f"the file holds {held}")
                return
            offset += 8 + length + (length & 1)
            fh.seek(offset)


def read_audio(
    path: str | os.PathLike, *, max_values: int | None = None, shown: str | None = None
) -> tuple[np.ndarray, AudioInfo]:
    """Decode an audio file to float32 ``(C, L)`` samples in full scale and its :class:`AudioInfo`.

    Raises :class:`~checkerfree.errors.InputFileError` for a file libsndfile cannot open or
    decode, a truncated WAV, no frames, or more than ``max_values`` samples (all channels;
    checked from the header, before decoding). ``shown`` is the name errors give (``-`` for
    standard input).
    """
    soundfile = require("soundfile", "audio")
    shown = os.fspath(path) if shown is None else shown
    try:
        header = soundfile.info(os.fspath(path))
    except (soundfile.SoundFileError, RuntimeError) as exc:
        raise InputFileError(shown, f"cannot decode audio ({_reason(exc)})") from None
    if header.format == "WAV" or header.format == "WAVEX":
        check_wav_data(path, shown)
    frames, channels = int(header.frames), int(header.channels)
    if frames <= 0:
        raise InputFileError(shown, "audio file with no samples")
    if max_values is not None and frames * channels > max_values:
        raise InputFileError(
            shown, f"refused: {channels} channels x {frames} frames = {frames * channels} "
            f"samples > limit {max_values} (raise it with --max-pixels)")
    try:
        samples, rate = soundfile.read(os.fspath(path), dtype="float32", always_2d=True)
    except (soundfile.SoundFileError, RuntimeError) as exc:
        raise InputFileError(shown, f"cannot decode audio ({_reason(exc)})") from None
    except MemoryError:
        raise InputFileError(shown, "not enough memory to decode") from None
    if samples.shape[0] == 0:
        raise InputFileError(shown, "audio file with no samples")
    info = AudioInfo("WAV" if header.format == "WAVEX" else header.format, header.subtype,
                     _BITS.get(header.subtype), int(rate), samples.shape[1], samples.shape[0])
    return np.ascontiguousarray(samples.T), info


def _reason(exc: Exception) -> str:
    """libsndfile's message without the file name it repeats."""
    text = str(exc)
    return text.split(": ", 1)[1] if text.startswith("Error opening") and ": " in text else text
