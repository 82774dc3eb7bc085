"""Score image files in batches: the engine-free core of ``checkerfree score``.

:class:`ImageScorer` maps a batch of file paths to one row per path. It has no engine of its
own, so anything that can call a function on a list of paths can use it: the local engine
(:mod:`checkerfree.engines.local`: decoding in threads, scoring here), Ray Data's
``map_batches`` (:mod:`checkerfree.engines.ray_engine`, where a batch is a dict of columns
``{"path": array([...])}`` and the answer is one too), Dask's ``map_partitions`` or a Spark
``mapInPandas``.

Every input gets a row, in input order. A row is ``{"path", "score", "periods", "flagged",
"period", "reason", "hotspot", "error", "size", "mode", "bit_depth", "alpha_dropped",
"heatmap"}`` (``period`` and ``reason``: :class:`~checkerfree.score.checkerboard.ScoreResult`): a file that
cannot be scored has ``error`` (the reason) and ``None`` for the measurements. Images of one
shape ``(C, H, W)`` are scored together in batches of ``batch_size``; other shapes in their
own batches.

>>> import tempfile, pathlib, numpy as np
>>> from PIL import Image
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> i, j = np.indices((64, 64))
>>> Image.fromarray((120 + 4 * (-1) ** (i + j)).astype(np.uint8)).save(folder / "cb.png")
>>> rows = ImageScorer(periods=(2, 4))([folder / "cb.png", folder / "missing.png"])
>>> round(rows[0]["score"]), rows[0]["flagged"], rows[1]["error"]
(8, True, 'no such file')
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from checkerfree.arguments import check_threshold
from checkerfree.errors import InvalidArgumentError, NonFiniteError
from checkerfree.finite import check_finite
from checkerfree.files import write_atomic
from checkerfree.io import DEFAULT_MAX_PIXELS, ImageFileError, ImageInfo, read_image
from checkerfree.score.layout import check_periods

__all__ = ["ImageScorer", "Decoded", "ROW_KEYS", "error_row"]

#: The keys of every row, in display order.
ROW_KEYS = ("path", "score", "periods", "flagged", "period", "reason", "hotspot", "error",
            "size", "mode", "bit_depth", "alpha_dropped", "heatmap")

# Values per scoring call (N*C*H*W); a 1024^2 RGB image is 3.1M. The score's FFTs hold a
# few complex copies of the batch, so this keeps one call to a few hundred MB.
_BATCH_VALUES = 1 << 24


@dataclass
class Decoded:
    """One input after decoding: ``pixels`` ``(C, H, W)`` float32 and ``info``, or ``error``."""

    path: str
    pixels: np.ndarray | None = None
    info: ImageInfo | None = None
    error: str | None = None
    file: str | None = field(default=None, repr=False)


def error_row(path: str, reason: str, info: ImageInfo | None = None) -> dict:
    """The row of an input that could not be scored.

    >>> error_row("a.png", "empty file")["error"], error_row("a.png", "empty file")["score"]
    ('empty file', None)
    """
    row = dict.fromkeys(ROW_KEYS)
    row.update(path=path, error=reason)
    if info is not None:
        row.update(_info_fields(info))
    return row


def _non_finite(pixels: np.ndarray) -> str | None:
    """The reason an item's pixels cannot be scored (NaN or inf), or None when all are finite.

    Checked per item before batching, so one NaN image is its own error row, not its batch's.
    """
    try:
        check_finite(torch.from_numpy(np.asarray(pixels)), "the image")
    except NonFiniteError as exc:
        return str(exc)
    return None


def _info_fields(info: ImageInfo) -> dict:
    return {"size": list(info.size), "mode": info.mode, "bit_depth": info.bit_depth,
            "alpha_dropped": info.alpha_dropped}


class ImageScorer:
    """Callable that scores a batch of image files; one row per input, errors included.

    ``periods`` as in :func:`~checkerfree.score.checkerboard.checkerboard_score` (files with a side
    shorter than twice the largest period get a "too small" error row); ``threshold`` for
    ``flagged`` (grey levels; ``None``: the calibrated default); ``heatmap_dir``: write a PNG
    overlay per image there (:mod:`checkerfree.score.overlay`), refusing to overwrite unless
    ``force``; ``max_pixels``: the decompression-bomb limit of :func:`~checkerfree.io.read_image`.

    Called with a sequence of paths it returns a list of rows; with a mapping of columns
    (Ray Data's ``{"path": array([...])}``, optionally ``"file"``, the path to open when it
    differs from the one to report, and ``"index"``, passed through) it returns a
    ``pyarrow.Table`` (:func:`checkerfree.score.results.rows_to_arrow`; needs the ``ray`` extra).
    """

    def __init__(
        self,
        periods: Iterable[int] | int | str = (2, 4, 8),
        heatmap_dir: str | os.PathLike | None = None,
        *,
        threshold: float | None = None,
        batch_size: int = 8,
        max_pixels: int | None = DEFAULT_MAX_PIXELS,
        force: bool = False,
        device: str | torch.device = "cpu",
    ):
        if isinstance(periods, str):
            # "auto" is resolved per image (checkerboard_score); here only the spelling.
            if periods != "auto":
                from checkerfree.errors import InvalidTypeError

                raise InvalidTypeError(
                    f"periods must be 'auto', an int or a sequence of ints, got {periods!r}")
            self.periods = periods
        else:
            self.periods = check_periods(periods, (math.inf,))
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InvalidArgumentError(f"batch_size must be a positive int, got {batch_size!r}")
        self.heatmap_dir = None if heatmap_dir is None else Path(heatmap_dir)
        self.threshold = None if threshold is None else check_threshold(threshold)
        self.batch_size = batch_size
        self.max_pixels = max_pixels
        self.force = force
        self.device = torch.device(device)

    @property
    def min_size(self) -> int:
        """The shortest side an image may have: two periods of the largest period ("auto":
        two periods of period 2; the search adapts to the size)."""
        return 4 if isinstance(self.periods, str) else 2 * max(self.periods)

    def decode(self, path: str | os.PathLike, file: str | os.PathLike | None = None) -> Decoded:
        """Read one file (``file`` if given, else ``path``); never raises for a bad file: any
        error opening or decoding it becomes its ``error``."""
        shown = os.fspath(path)
        try:
            pixels, info = read_image(
                shown if file is None else file, max_pixels=self.max_pixels,
                min_size=self.min_size,
            )
        except ImageFileError as exc:
            return Decoded(shown, error=exc.reason, file=None if file is None else os.fspath(file))
        except OSError as exc:
            # Permission denied on a folder above it, a loop, a vanished file: its row.
            reason = f"cannot read: {exc.strerror or exc}"
            return Decoded(shown, error=reason, file=None if file is None else os.fspath(file))
        except Exception as exc:  # noqa: BLE001 - one bad file must not end the run
            reason = f"cannot decode: {type(exc).__name__}: {exc}"
            return Decoded(shown, error=reason, file=None if file is None else os.fspath(file))
        return Decoded(shown, pixels, info, file=None if file is None else os.fspath(file))

    def score_decoded(self, items: Sequence[Decoded]) -> list[dict]:
        """Rows for decoded inputs, in their order; same-shape images scored together."""
        rows: list[dict | None] = [None] * len(items)
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, item in enumerate(items):
            error = item.error if item.error is not None else _non_finite(item.pixels)
            if error is not None:
                rows[i] = error_row(item.path, error, item.info)
            else:
                groups.setdefault(item.pixels.shape, []).append(i)
        for shape, members in groups.items():
            per_call = max(1, min(self.batch_size, _BATCH_VALUES // math.prod(shape)))
            for start in range(0, len(members), per_call):
                part = members[start : start + per_call]
                for i, row in zip(part, self._score_part([items[i] for i in part])):
                    rows[i] = row
        return rows  # type: ignore[return-value]

    def _score_part(self, part: list[Decoded]) -> list[dict]:
        """Rows of one scoring call; when it fails, each item alone, so only the bad one fails."""
        try:
            return self._score_group(part)
        except Exception as exc:  # noqa: BLE001 - one bad batch must not end the run
            if len(part) > 1:
                return [row for item in part for row in self._score_part([item])]
            if isinstance(exc, NonFiniteError):
                return [error_row(part[0].path, str(exc), part[0].info)]
            reason = f"scoring failed: {type(exc).__name__}: {exc}"
            return [error_row(part[0].path, reason, part[0].info)]

    def _score_group(self, items: list[Decoded]) -> list[dict]:
        """Score same-shape images in one call; write their overlays when asked."""
        from checkerfree.score.checkerboard import checkerboard_score

        batch = torch.from_numpy(np.stack([item.pixels for item in items])).to(self.device)
        with torch.no_grad():
            result = checkerboard_score(batch, periods=self.periods, threshold=self.threshold)
            heat = None
            if self.heatmap_dir is not None:
                # A second pass over the spectra, only when overlays are asked for; the
                # score's hotspot has its own weighting (its docstring), so it is kept.
                from checkerfree.score.heatmap import checkerboard_heatmap

                measured = tuple(result.periods)
                heat = checkerboard_heatmap(batch, periods=measured,
                                            window=max(16.0, float(max(measured))))
        rows = []
        for k, (item, scored) in enumerate(zip(items, result.to_rows())):
            row = dict.fromkeys(ROW_KEYS)
            row.update(path=item.path, **scored, **_info_fields(item.info))
            if heat is not None:
                try:
                    row["heatmap"] = self._write_overlay(item, heat[k].cpu().numpy())
                except (OSError, ValueError) as exc:
                    row["error"] = f"heat map not written: {exc}"
            rows.append(row)
        return rows

    def _write_overlay(self, item: Decoded, heat: np.ndarray) -> str:
        from checkerfree.score.overlay import heatmap_overlay, overlay_name

        target = self.heatmap_dir / overlay_name(item.file or item.path)
        image = heatmap_overlay(item.pixels, heat)
        write_atomic(target, lambda fh: image.save(fh, format="PNG"), force=self.force)
        return os.fspath(target)

    def score_paths(
        self, paths: Iterable[str | os.PathLike], files: Iterable[str] | None = None
    ) -> list[dict]:
        """Decode (one after another) and score ``paths``; one row each, in order."""
        paths = list(paths)
        files = [None] * len(paths) if files is None else list(files)
        return self.score_decoded([self.decode(p, f) for p, f in zip(paths, files)])

    def __call__(self, batch):
        if isinstance(batch, Mapping):
            from checkerfree.score.results import rows_to_arrow

            files = batch.get("file")
            rows = self.score_paths(
                [_name(p) for p in batch["path"]],
                None if files is None else [_name(f) for f in files],
            )
            if "index" in batch:
                # Kept so that an engine which reorders batches can restore the input order.
                for row, index in zip(rows, batch["index"]):
                    row["index"] = int(index)
                return rows_to_arrow(rows, self.periods, extra=[("index", _int64())])
            return rows_to_arrow(rows, self.periods)
        if isinstance(batch, (str, os.PathLike)):
            batch = [batch]
        return self.score_paths(batch)


def _name(value) -> str:
    """A path from a column: Arrow strings arrive as str, raw file names as bytes."""
    if isinstance(value, (bytes, bytearray)):
        return os.fsdecode(bytes(value))
    return str(value)


def _int64():
    import pyarrow as pa

    return pa.int64()
