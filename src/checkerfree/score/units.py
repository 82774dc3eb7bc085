"""Units per kind of input: the default flag threshold, and the tones of a lattice in Hz.

The score is in the input's own units (:mod:`checkerfree.score.checkerboard`), so the
threshold that says "an artifact that matters" depends on what the numbers are:

- **image** (``0..255`` grey levels): :data:`~checkerfree.score.checkerboard.DEFAULT_THRESHOLD`,
  calibrated on photographs by ``benchmarks/calibration.py``;
- **audio** (full scale, ``-1..1``): :data:`AUDIO_THRESHOLD` ``= DEFAULT_THRESHOLD / 255``,
  the image threshold on the same fraction of the full range (``2.2e-3`` full scale
  peak-to-peak, about -53 dBFS); derived, not yet calibrated on recordings;
- **array** (``.npy``, ``.npz``, NIfTI; units unknown): the same fraction of the item's own
  range, ``DEFAULT_THRESHOLD / 255 * (max - min)``, which for an 8-bit image stored as an
  array is the image threshold again.

A period-``s`` lattice along time puts its tones at ``k fs / s``, ``k = 1 .. s/2``
(:func:`lattice_frequencies`): a ``ConvTranspose1d`` of stride ``s`` in a vocoder rings there.

>>> round(AUDIO_THRESHOLD, 5), lattice_frequencies((2, 4, 8), 16000)
(0.00216, {'2': [8000.0], '4': [4000.0], '8': [2000.0, 6000.0]})
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from checkerfree.score.checkerboard import DEFAULT_THRESHOLD

__all__ = ["AUDIO_THRESHOLD", "default_threshold", "lattice_frequencies", "UNITS"]

#: Flag threshold for audio, in full scale: the image threshold's fraction of the range.
AUDIO_THRESHOLD = DEFAULT_THRESHOLD / 255

#: The unit of the score for each kind (shown in docs and rows).
UNITS = {"image": "grey levels", "audio": "full scale", "array": "the array's own units"}


def default_threshold(kind: str, values: np.ndarray | None = None) -> float:
    """The flag threshold of an item of ``kind`` (``values``: the item, for arrays).

    >>> import numpy as np
    >>> default_threshold("array", np.array([0.0, 255.0])) == default_threshold("image")
    True
    """
    if kind == "image":
        return DEFAULT_THRESHOLD
    if kind == "audio":
        return AUDIO_THRESHOLD
    span = float(np.max(values)) - float(np.min(values)) if values is not None else 255.0
    return DEFAULT_THRESHOLD / 255 * span


def lattice_frequencies(periods: Iterable[int], sample_rate: float) -> dict[str, list[float]]:
    """The frequencies in Hz, up to Nyquist, that each period's value measures.

    Period ``s``'s lattice is ``k fs / s``, ``k = 1 .. s/2``; as in the score, a frequency
    that is also on the lattice of a smaller listed period dividing ``s`` is counted under
    that period (with ``(2, 4)``, ``fs/2`` is period 2's; period 4 keeps ``fs/4``).

    >>> lattice_frequencies((3,), 48000), lattice_frequencies((4,), 16000)
    ({'3': [16000.0]}, {'4': [4000.0, 8000.0]})
    """
    periods = sorted(set(periods))
    out = {}
    for s in periods:
        smaller = [t for t in periods if t < s and s % t == 0]
        out[str(s)] = [k * sample_rate / s for k in range(1, s // 2 + 1)
                       if not any((k * t) % s == 0 for t in smaller)]
    return out
