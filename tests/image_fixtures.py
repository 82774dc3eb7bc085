"""Image files for the io, batch, CLI and Ray tests, built with Pillow in a temporary folder."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image


def checkerboard(h: int = 64, w: int = 80, amplitude: float = 8.0, base: float = 120.0):
    """A smooth ramp plus a +-amplitude/2 period-2 checkerboard, as uint8 (H, W)."""
    i, j = np.indices((h, w))
    ramp = base + 40 * j / w
    return np.round(ramp + amplitude / 2 * (-1.0) ** (i + j)).astype(np.uint8)


def photo(h: int = 64, w: int = 80, seed: int = 0):
    """A smooth random RGB picture (uint8 (H, W, 3)) with no periodic pattern."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(40, 210, size=(h // 8 + 2, w // 8 + 2, 3))
    big = np.kron(coarse, np.ones((8, 8, 1)))[:h, :w]
    return np.clip(big + rng.normal(0, 2, big.shape), 0, 255).astype(np.uint8)


def png_bomb(path: Path, width: int = 100_000, height: int = 100_000) -> Path:
    """A tiny PNG whose header claims ``width x height`` pixels (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                     + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))
    return path


def good_files(folder: Path) -> dict[str, Path]:
    """One valid file per supported kind; returns name -> path."""
    folder.mkdir(parents=True, exist_ok=True)
    rgb, grey = photo(), checkerboard()
    files = {}

    def save(name, image, **kw):
        files[name] = folder / name
        image.save(files[name], **kw)

    save("grey8.png", Image.fromarray(grey))
    save("grey16.png", Image.fromarray(grey.astype(np.uint16) * 257))
    save("rgb.png", Image.fromarray(rgb))
    save("rgba.png", Image.fromarray(np.dstack([rgb, np.full(grey.shape, 128, np.uint8)])))
    save("palette.png", Image.fromarray(rgb).quantize(64))
    save("photo.jpg", Image.fromarray(rgb), quality=90)
    save("lossless.webp", Image.fromarray(rgb), lossless=True)
    save("rgb.tiff", Image.fromarray(rgb))
    save("grey16.tif", Image.fromarray(grey.astype(np.uint16) * 257))
    return files


def bad_files(folder: Path) -> dict[str, Path]:
    """One file per way of failing; returns name -> path (``missing.png`` does not exist)."""
    folder.mkdir(parents=True, exist_ok=True)
    source = folder / "_source.png"
    Image.fromarray(photo()).save(source)
    data = source.read_bytes()
    source.unlink()
    files = {name: folder / name for name in
             ("truncated.png", "empty.png", "text.png", "tiny.png", "missing.png", "bomb.png")}
    files["truncated.png"].write_bytes(data[: len(data) // 2])
    files["empty.png"].write_bytes(b"")
    files["text.png"].write_text("this is not an image\n")
    Image.fromarray(checkerboard(10, 12)).save(files["tiny.png"])
    png_bomb(files["bomb.png"])
    return files


def mixed_inputs(folder: Path, last: str) -> list[str]:
    """Twelve inputs of different sizes and channel counts, interleaved with failures (to
    test order): ``good_files`` and ``bad_files`` in subfolders, two more PNGs, and ``last``
    (a name from either) at the end."""
    good = good_files(folder / "good")
    bad = bad_files(folder / "bad")
    Image.fromarray(checkerboard(48, 40)).save(folder / "small.png")
    Image.fromarray(photo(72, 64, seed=3)).save(folder / "other.png")
    paths = [good["grey8.png"], bad["empty.png"], good["rgb.png"], folder / "small.png",
             good["rgba.png"], bad["missing.png"], good["grey16.png"], folder / "other.png",
             bad["truncated.png"], good["lossless.webp"], bad["tiny.png"], {**good, **bad}[last]]
    return [str(p) for p in paths]
