"""Score image, audio and array files in batches: the engine-free core of ``checkerfree score``.

:class:`ImageScorer` maps a batch of file paths to one row per path. It has no engine of its
own, so anything that can call a function on a list of paths can use it: the local engine
(:mod:`checkerfree.engines.local`: decoding in threads, scoring here), Ray Data's
``map_batches`` (:mod:`checkerfree.engines.ray_engine`, where a batch is a dict of columns
``{"path": array([...])}`` and the answer is one too), Dask's ``map_partitions`` or a Spark
``mapInPandas``.

Every input gets a row, in input order; a file of several items (every array of an
``.npz``, ``path:key``; the items of a batch ``.npy``, ``path[i]``) gets one row per item, in
file order. A row has the keys of :data:`ROW_KEYS` (``period`` and ``reason``:
:class:`~checkerfree.score.checkerboard.ScoreResult`): a file that cannot be scored has
``error`` (the reason) and ``None`` for the measurements. Files are read by
:func:`checkerfree.signals.read_signals` (any kind, dispatched on the first bytes; ``-`` is
standard input); items of one shape, layout and threshold are scored together in batches of
``batch_size``; others in their own batches.

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
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from checkerfree.arguments import check_threshold
from checkerfree.errors import InputFileError, InvalidArgumentError, NonFiniteError
from checkerfree.files import write_atomic
from checkerfree.finite import check_finite
from checkerfree.io import DEFAULT_MAX_PIXELS, ImageInfo
from checkerfree.score.layout import check_period_request

__all__ = ["ROW_KEYS", "Decoded", "ImageScorer", "error_row"]

#: The keys of every row, in display order. ``size`` is the spatial shape (``[H, W]``,
#: ``[L]``, ``[D, H, W]``); ``kind`` image/audio/array; ``format`` the sniffed format;
#: ``threshold`` the one ``flagged`` used, in the row's units (:mod:`checkerfree.score.units`);
#: ``sample_rate`` (Hz), ``duration`` (s) and ``frequencies`` (Hz per period) for audio;
#: ``channel`` and ``channel_score``: the channel scoring highest on its own, and its score,
#: for audio and arrays with more than one channel.
ROW_KEYS = ("path", "score", "periods", "flagged", "period", "reason", "hotspot", "error",
            "size", "mode", "bit_depth", "alpha_dropped", "heatmap", "kind", "format",
            "channels", "spatial_dims", "threshold", "sample_rate", "duration", "frequencies",
            "channel", "channel_score")

# Values per scoring call (N*C*H*W); a 1024^2 RGB image is 3.1M. The score's FFTs hold a
# few complex copies of the batch, so this keeps one call to a few hundred MB.
_BATCH_VALUES = 1 << 24


@dataclass
class Decoded:
    """One input after decoding: ``pixels`` ``(C, *S)`` float32 (``uint8`` for 8-bit
    images, converted once per batch by the score) and its row ``fields``, or ``error``;
    an input of several items has them in ``parts``.

    ``kind`` is ``image``, ``audio`` or ``array``; ``spatial_dims`` the number of spatial axes
    of ``pixels``; ``threshold`` the one its ``flagged`` uses; ``info`` the
    :class:`~checkerfree.io.ImageInfo` of images; ``source`` the input it came from;
    ``non_finite`` why ``pixels`` cannot be scored (NaN or inf), ``""`` when they were checked
    and are finite, ``None`` when not checked yet (:meth:`ImageScorer.score_decoded` checks).
    """

    path: str
    pixels: np.ndarray | None = None
    info: ImageInfo | None = None
    error: str | None = None
    file: str | None = field(default=None, repr=False)
    kind: str = "image"
    spatial_dims: int = 2
    threshold: float | None = None
    fields: dict = field(default_factory=dict, repr=False)
    parts: list[Decoded] | None = field(default=None, repr=False)
    source: str | None = field(default=None, repr=False)
    non_finite: str | None = field(default=None, repr=False)


def error_row(path: str, reason: str, info: ImageInfo | None = None,
              fields: dict | None = None) -> dict:
    """The row of an input that could not be scored.

    >>> error_row("a.png", "empty file")["error"], error_row("a.png", "empty file")["score"]
    ('empty file', None)
    """
    row = dict.fromkeys(ROW_KEYS)
    row.update(path=path, error=reason)
    if info is not None:
        row.update(_info_fields(info))
    if fields:
        row.update(fields)
    return row


def _signal_fields(signal) -> dict:
    """Row fields of a :class:`~checkerfree.signals.Signal` (the measurements aside)."""
    fields = {"kind": signal.kind, "format": signal.format, "mode": signal.mode,
              "bit_depth": signal.bit_depth, "alpha_dropped": signal.alpha_dropped,
              "spatial_dims": signal.spatial_dims}
    if signal.values is not None:
        fields.update(size=list(signal.values.shape[1:]), channels=signal.channels)
    if signal.kind == "audio":
        fields.update(sample_rate=signal.sample_rate, duration=signal.duration)
    return fields


def _non_finite(pixels: np.ndarray, kind: str = "image") -> str | None:
    """The reason an item's pixels cannot be scored (NaN or inf), or None when all are finite.

    Checked per item before batching, so one NaN image is its own error row, not its batch's;
    the message names the item's ``kind`` (``"the array has 1 non-finite value ..."``).
    """
    try:
        check_finite(torch.from_numpy(np.asarray(pixels)), f"the {kind or 'input'}")
    except NonFiniteError as exc:
        return str(exc)
    return None


def _integer_source(signal) -> bool:
    """Whether an item was stored as integers (8/16-bit images, PCM audio, integer or bool
    arrays): its float32 values cannot be NaN or infinite, so they need no finite check.

    >>> from checkerfree.signals import Signal
    >>> _integer_source(Signal("a.npy", "array", "NPY", mode="uint16"))
    True
    >>> _integer_source(Signal("a.wav", "audio", "WAV", mode="FLOAT"))
    False
    """
    if signal.kind == "image":
        return True  # PNG/JPEG/WebP/TIFF at 8 or 16 bits: float images are refused
    mode = str(signal.mode or "")
    if signal.kind == "audio":
        return mode.startswith("PCM_") or mode in ("ULAW", "ALAW")
    try:
        return np.dtype(mode).kind in "biu"
    except TypeError:
        return False


def _stack(pixels: list[np.ndarray]) -> torch.Tensor:
    """One batch tensor of same-shape items: one copy (none for a single contiguous item).

    ``uint8`` items (8-bit images) stay ``uint8``: the score converts the batch to float32
    (:func:`~checkerfree.score.layout.as_batch`, exact for integers), and integers need no
    finite check; items of several dtypes take numpy's common one.

    >>> _stack([np.zeros((1, 2, 2), np.uint8), np.ones((1, 2, 2), np.uint8)]).dtype
    torch.uint8
    """
    first = pixels[0]
    if len(pixels) == 1 and first.flags.writeable and first.flags.c_contiguous:
        return torch.from_numpy(first[None])  # torch warns on read-only (mapped) arrays
    # Into a C-contiguous batch: np.stack keeps the items' (H, W, C) memory order, and the
    # score's FFTs on channels-last memory cost twice as much.
    out = np.empty((len(pixels), *first.shape), dtype=np.result_type(*pixels))
    for k, item in enumerate(pixels):
        out[k] = item
    return torch.from_numpy(out)


def _info_fields(info: ImageInfo) -> dict:
    return {"size": list(info.size), "mode": info.mode, "bit_depth": info.bit_depth,
            "alpha_dropped": info.alpha_dropped}


class ImageScorer:
    """Callable that scores a batch of image files; one row per input, errors included.

    ``periods`` as in :func:`~checkerfree.score.checkerboard.checkerboard_score` (files with a side
    shorter than twice the largest period get a "too small" error row); ``threshold`` for
    ``flagged`` (in each input's units; ``None``: the default of its kind,
    :func:`checkerfree.score.units.default_threshold`); ``heatmap_dir``: write a PNG
    overlay per image there (:mod:`checkerfree.score.overlay`; other kinds get none),
    refusing to overwrite unless ``force``; ``max_pixels``: the decompression-bomb limit of
    :func:`~checkerfree.io.read_image` (4 times that many values for audio and arrays);
    ``spatial_dims``: how many axes of an array are spatial (:mod:`checkerfree.signals`);
    ``mark_source``: give each row of :meth:`score_decoded` a ``_source`` key, the input it
    came from (the command puts rows back in input order by it; it is never written out);
    ``hotspot`` as in :func:`~checkerfree.score.checkerboard.checkerboard_score` (``True``:
    for the items with a significant period, the row's ``hotspot`` is null for the others;
    ``"always"``: for every item; ``False``: none).

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
        spatial_dims: int | None = None,
        mark_source: bool = False,
        hotspot: bool | str = True,
    ):
        # "auto" is resolved per image (checkerboard_score); here only the spelling.
        self.periods = check_period_request(periods)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InvalidArgumentError(f"batch_size must be a positive int, got {batch_size!r}")
        self.heatmap_dir = None if heatmap_dir is None else Path(heatmap_dir)
        self.threshold = None if threshold is None else check_threshold(threshold)
        self.batch_size = batch_size
        self.max_pixels = max_pixels
        self.force = force
        self.device = torch.device(device)
        if spatial_dims is not None and (isinstance(spatial_dims, bool)
                                         or spatial_dims not in (1, 2, 3)):
            raise InvalidArgumentError(f"spatial_dims must be 1, 2 or 3, got {spatial_dims!r}")
        self.spatial_dims = spatial_dims
        self.mark_source = mark_source
        if not (isinstance(hotspot, str) and hotspot == "always"):
            from checkerfree.score.checkerboard import _check_hotspot

            hotspot = _check_hotspot(hotspot)
        self.hotspot = hotspot

    @property
    def min_size(self) -> int:
        """The shortest side an image may have: two periods of the largest period ("auto":
        two periods of period 2; the search adapts to the size)."""
        return 4 if isinstance(self.periods, str) else 2 * max(self.periods)

    def decode(self, path: str | os.PathLike, file: str | os.PathLike | None = None) -> Decoded:
        """Read one input (``file`` if given, else ``path``; ``-``: standard input, read
        once); never raises for a bad input: any error opening or decoding it becomes its
        ``error``."""
        from checkerfree.signals import read_signal_bytes, read_signals

        shown = os.fspath(path)
        opened = None if file is None else os.fspath(file)
        # native: 8-bit images stay uint8 (no float pass while decoding; the batch of them is
        # stacked as uint8, a quarter of the bytes, and converted by the score in one pass).
        options = dict(spatial_dims=self.spatial_dims, max_pixels=self.max_pixels,
                       min_size=self.min_size, shown=shown, native=True)
        try:
            if shown == "-" and file is None:
                signals = read_signal_bytes(self._stdin(), **options)
            else:
                signals = read_signals(shown if file is None else file, **options)
        except InputFileError as exc:
            return Decoded(shown, error=exc.reason, file=opened, source=shown)
        except OSError as exc:
            # Permission denied on a folder above it, a loop, a vanished file: its row.
            reason = f"cannot read: {exc.strerror or exc}"
            return Decoded(shown, error=reason, file=opened, source=shown)
        except Exception as exc:  # noqa: BLE001 - one bad file must not end the run
            reason = f"cannot decode: {type(exc).__name__}: {exc}"
            return Decoded(shown, error=reason, file=opened, source=shown)
        parts = [self._decoded(signal, opened, shown) for signal in signals]
        if len(parts) == 1:
            return parts[0]
        return Decoded(shown, file=opened, parts=parts, source=shown)

    def _stdin(self) -> bytes:
        """Standard input's bytes, refused past 32 bytes per ``max_pixels`` (float64 RGBA)."""
        limit = None if self.max_pixels is None else 32 * self.max_pixels
        data = sys.stdin.buffer.read(-1 if limit is None else limit + 1)
        if limit is not None and len(data) > limit:
            raise InputFileError("-", f"standard input is larger than {limit} bytes "
                                 "(raise the limit with --max-pixels)")
        return data

    def _decoded(self, signal, opened: str | None, source: str) -> Decoded:
        """The :class:`Decoded` of one item read by :mod:`checkerfree.signals`."""
        from checkerfree.score.units import default_threshold

        fields = _signal_fields(signal)
        if signal.error is not None:
            return Decoded(signal.name, error=signal.error, file=opened, kind=signal.kind,
                           fields=fields, source=source)
        info = None
        if signal.kind == "image":
            info = ImageInfo(signal.format, signal.mode, signal.bit_depth,
                             tuple(signal.values.shape[1:]), signal.channels,
                             bool(signal.alpha_dropped))
        # Checked here, once, in the decoding thread: score_decoded (the engine's one scoring
        # thread, its bottleneck) then need not pass over the pixels again. Integers read as
        # floats are finite: no pass at all.
        reason = None if _integer_source(signal) else _non_finite(signal.values, signal.kind)
        threshold = self.threshold
        if threshold is None and reason is None:
            threshold = default_threshold(signal.kind, signal.values)
        return Decoded(signal.name, signal.values, info, file=opened, kind=signal.kind,
                       spatial_dims=signal.spatial_dims, threshold=threshold, fields=fields,
                       source=source, non_finite=reason or "")

    def score_decoded(self, items: Sequence[Decoded]) -> list[dict]:
        """Rows for decoded inputs, in their order (an input's ``parts`` in theirs); items of
        one shape, layout and threshold scored together (``_source`` added with
        ``mark_source``)."""
        items = [part for item in items for part in (item.parts or [item])]
        rows: list[dict | None] = [None] * len(items)
        groups: dict[tuple, list[int]] = {}
        for i, item in enumerate(items):
            error = item.error
            if error is None:
                error = (_non_finite(item.pixels, item.kind) if item.non_finite is None
                         else item.non_finite or None)
            if error is not None:
                rows[i] = error_row(item.path, error, item.info, item.fields)
            else:
                key = (item.pixels.shape, item.spatial_dims, item.threshold)
                groups.setdefault(key, []).append(i)
        for (shape, _, _), members in groups.items():
            per_call = max(1, min(self.batch_size, _BATCH_VALUES // math.prod(shape)))
            for start in range(0, len(members), per_call):
                part = members[start : start + per_call]
                for i, row in zip(part, self._score_part([items[i] for i in part])):
                    rows[i] = row
        if self.mark_source:
            for item, row in zip(items, rows):
                row["_source"] = item.source if item.source is not None else item.path
        return rows  # type: ignore[return-value]

    def _score_part(self, part: list[Decoded]) -> list[dict]:
        """Rows of one scoring call; when it fails, each item alone, so only the bad one fails."""
        try:
            return self._score_group(part)
        except Exception as exc:  # noqa: BLE001 - one bad batch must not end the run
            if len(part) > 1:
                return [row for item in part for row in self._score_part([item])]
            if isinstance(exc, NonFiniteError):
                return [error_row(part[0].path, str(exc), part[0].info, part[0].fields)]
            reason = f"scoring failed: {type(exc).__name__}: {exc}"
            return [error_row(part[0].path, reason, part[0].info, part[0].fields)]

    def _score_group(self, items: list[Decoded]) -> list[dict]:
        """Score same-shape items in one call; write the overlays of images when asked."""
        from checkerfree.score.checkerboard import checkerboard_score
        from checkerfree.score.units import lattice_frequencies

        first = items[0]
        batch = _stack([item.pixels for item in items]).to(self.device)
        heat = None
        with torch.no_grad():
            result = checkerboard_score(batch, periods=self.periods, threshold=first.threshold,
                                        spatial_dims=first.spatial_dims, hotspot=self.hotspot)
            if self.heatmap_dir is not None and first.kind == "image":
                # A second pass over the spectra, only when overlays are asked for; the row
                # keeps the score's own hotspot, so overlays change no measurement.
                from checkerfree.score.heatmap import checkerboard_heatmap

                measured = tuple(result.periods)
                heat = checkerboard_heatmap(batch, periods=measured,
                                            window=max(16.0, float(max(measured))),
                                            threshold=result.threshold)
        strongest = self._strongest_channels(items)
        rows = []
        for k, (item, scored) in enumerate(zip(items, result.to_rows())):
            row = dict.fromkeys(ROW_KEYS)
            row.update(path=item.path, **scored, **item.fields)
            row["threshold"] = float(result.threshold)
            if item.kind == "audio":
                periods = [int(s) for s in row["periods"]]
                row["frequencies"] = lattice_frequencies(periods, item.fields["sample_rate"])
            if strongest is not None:
                row["channel"], row["channel_score"] = strongest[k]
            if heat is not None:
                try:
                    row["heatmap"] = self._write_overlay(item, heat[k].cpu().numpy(), result, k)
                except (OSError, ValueError) as exc:
                    row["error"] = f"heat map not written: {exc}"
            rows.append(row)
        return rows

    def _strongest_channels(self, items: list[Decoded]) -> list[tuple[int, float]] | None:
        """The channel of each same-shape item whose own score is largest, and that score
        (audio and arrays only: the row's score combines channels as a root mean square,
        docs/score.md; None for images and one channel). Every channel of every item in one
        scoring call: channels are scored independently (``"auto"`` too, at the periods
        found on each), so the values are those of one call per channel."""
        first = items[0]
        if first.kind == "image" or first.pixels.shape[0] < 2:
            return None
        from checkerfree.score.checkerboard import checkerboard_score

        channels = first.pixels.shape[0]
        stacked = _stack([item.pixels for item in items])
        flat = stacked.reshape(len(items) * channels, 1, *stacked.shape[2:]).to(self.device)
        with torch.no_grad():
            scores = checkerboard_score(flat, periods=self.periods, hotspot=False,
                                        threshold=first.threshold,
                                        spatial_dims=first.spatial_dims).score
        scores = scores.reshape(len(items), channels).cpu()
        best = scores.argmax(-1).tolist()
        return [(b, float(scores[k, b])) for k, b in enumerate(best)]

    def _write_overlay(self, item: Decoded, heat: np.ndarray, result, k: int) -> str:
        from checkerfree.score.checkerboard import MIN_SIGNIFICANCE
        from checkerfree.score.overlay import heatmap_overlay, overlay_name

        target = self.heatmap_dir / overlay_name(item.file or item.path)
        # The period that flags (the largest value among the periods passing both tests).
        deciding = [(float(result.periods[s][k]), s) for s in result.periods
                    if float(result.periods[s][k]) > result.threshold
                    and float(result.significance[s][k]) > MIN_SIGNIFICANCE]
        image = heatmap_overlay(
            item.pixels, heat, score=float(result.score[k]), flagged=bool(result.flagged[k]),
            period=max(deciding)[1] if deciding else None, threshold=result.threshold)
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
