"""The format of an input from its first bytes (magic numbers), never from its name.

Files and standard input (``-``) are dispatched the same way: a renamed file is read as what it
is, and a format not listed here is refused before any decoder sees it.

========  ==============================================================  =========
format    first bytes                                                     kind
========  ==============================================================  =========
PNG       ``89 50 4E 47 0D 0A 1A 0A``                                     image
JPEG      ``FF D8 FF``                                                    image
WEBP      ``RIFF`` .... ``WEBP``                                          image
TIFF      ``II*\\0``, ``MM\\0*`` (BigTIFF ``II+\\0``, ``MM\\0+``)           image
WAV       ``RIFF`` .... ``WAVE``, ``RF64`` .... ``WAVE``                  audio
FLAC      ``fLaC``                                                        audio
OGG       ``OggS``                                                        audio
NPY       ``93 4E 55 4D 50 59`` (``\\x93NUMPY``)                           array
NPZ       ``PK 03 04`` or ``PK 05 06`` (a zip archive)                    array
NIFTI     NIfTI-1 ``n+1\\0`` at byte 344, NIfTI-2 ``n+2\\0`` at byte 4     volume
========  ==============================================================  =========

A gzip stream (``1F 8B``) is a NIfTI volume when its first decompressed bytes are one.

>>> sniff(b"\\x93NUMPY\\x01\\x00"), sniff(b"fLaC\\x00\\x00"), sniff(b"hello")
('NPY', 'FLAC', None)
"""

from __future__ import annotations

import zlib

__all__ = ["sniff", "kind_of", "HEAD_BYTES", "IMAGE_FORMATS", "AUDIO_FORMATS",
           "ARRAY_FORMATS"]

#: Bytes to read for :func:`sniff`: the NIfTI-1 header is 348 bytes, its magic at 344, and
#: gzip needs some compressed bytes more to give those back.
HEAD_BYTES = 4096

IMAGE_FORMATS = ("PNG", "JPEG", "WEBP", "TIFF")
AUDIO_FORMATS = ("WAV", "FLAC", "OGG")
ARRAY_FORMATS = ("NPY", "NPZ", "NIFTI")


def _nifti(head: bytes) -> bool:
    return head[344:348] == b"n+1\0" or head[4:8] == b"n+2\0"


def sniff(head: bytes) -> str | None:
    """The format name of data starting with ``head`` (see the module table), or None.

    >>> sniff(b"\\x89PNG\\r\\n\\x1a\\n...."), sniff(b"RIFF\\x00\\x00\\x00\\x00WAVEfmt ")
    ('PNG', 'WAV')
    """
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head[:4] in (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+"):
        return "TIFF"
    if head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        return "WAV"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head.startswith(b"fLaC"):
        return "FLAC"
    if head.startswith(b"OggS"):
        return "OGG"
    if head.startswith(b"\x93NUMPY"):
        return "NPY"
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "NPZ"
    if _nifti(head):
        return "NIFTI"
    if head.startswith(b"\x1f\x8b"):
        try:
            inner = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, HEAD_BYTES)
        except zlib.error:
            return None
        return "NIFTI" if _nifti(inner) else None
    return None


def kind_of(fmt: str | None) -> str | None:
    """``"image"``, ``"audio"`` or ``"array"`` for a format of :func:`sniff`, else None.

    >>> kind_of("FLAC"), kind_of("NIFTI"), kind_of(None)
    ('audio', 'array', None)
    """
    if fmt in IMAGE_FORMATS:
        return "image"
    if fmt in AUDIO_FORMATS:
        return "audio"
    if fmt in ARRAY_FORMATS:
        return "array"
    return None
