"""Rows of ``checkerfree score`` as a summary, CSV text, an Arrow table and Parquet bytes.

A row is the dict of :data:`checkerfree.score.batch.ROW_KEYS`. The Arrow schema is fixed by the
periods (one ``periods`` struct field per period; with ``periods="auto"``, whose measured
periods differ from image to image, a map from period to value), so batches from different
workers, and files that all failed, concatenate into one table with the same columns.
``period`` is the dominant period per axis (a list; in CSV ``16`` when every axis has the
same one, else ``16x8``) and ``reason`` why the row is or is not flagged.

Any file name can be written (:func:`portable_row`): JSON, CSV and Parquet want valid
UTF-8 text, and a POSIX file name is bytes. ``path`` holds the name as text, each byte that
is not UTF-8 written as the four characters ``\\xNN``; the extra field ``path_bytes`` holds
the exact name, base64-encoded, for those names only (``None`` otherwise), so
``base64.b64decode(path_bytes)`` gives back the bytes to open. Non-finite numbers are
written as ``null`` (JSON has none; :mod:`checkerfree.jsontext`).

>>> from checkerfree.score.batch import error_row
>>> rows = [error_row("a.png", "empty file"),
...         {**error_row("b.png", None), "score": 3.0, "periods": {"2": 3.0}, "flagged": True,
...          "hotspot": [4, 5], "period": [2, 2], "reason": "flagged by period 2"}]
>>> summarize(rows, periods=(2,), threshold=1.0)["failed"], csv_text(rows, (2,)).splitlines()[2]
(1, 'b.png,3.0,True,2,flagged by period 2,4,5,3.0,,,,,,,,,,,,')
"""

from __future__ import annotations

import base64
import csv
import io
import math
import os
from collections.abc import Sequence

from checkerfree.errors import require
from checkerfree.jsontext import strict

__all__ = ["summarize", "csv_text", "arrow_schema", "rows_to_arrow", "parquet_bytes",
           "portable_row", "path_bytes"]


def path_bytes(path: str | None) -> str | None:
    """Base64 of the bytes of a file name that is not valid UTF-8 text, else ``None``.

    >>> import os, base64
    >>> name = os.fsdecode(b"caf\\xe9.png")
    >>> path_bytes("cafe.png") is None, base64.b64decode(path_bytes(name))
    (True, b'caf\\xe9.png')
    """
    if path is None:
        return None
    try:
        path.encode("utf-8")
        return None
    except UnicodeEncodeError:
        return base64.b64encode(os.fsencode(path)).decode("ascii")


def portable_row(row: dict) -> dict:
    """``row`` as any encoder can write it: text-safe strings, ``None`` for non-finite
    numbers, and ``path_bytes`` (see the module doc). Idempotent.

    >>> import os
    >>> r = portable_row({"path": os.fsdecode(b"\\xff.png"), "score": float("nan")})
    >>> r["path"], r["path_bytes"], r["score"]
    ('\\\\xff.png', '/y5wbmc=', None)
    """
    out = strict(row)
    out["path_bytes"] = row.get("path_bytes") or path_bytes(row.get("path"))
    return out


def summarize(rows: Sequence[dict], *, periods: Sequence[int], threshold: float) -> dict:
    """Counts and score statistics of a run: ``images``, ``scored``, ``failed``,
    ``flagged``, ``mean_score``, ``max_score`` (``None`` when nothing was scored),
    ``periods`` and ``threshold``."""
    scores = [row["score"] for row in rows if row.get("error") is None and row["score"] is not None]
    failed = sum(1 for row in rows if row.get("error") is not None)
    return {
        "images": len(rows),
        "scored": len(rows) - failed,
        "failed": failed,
        "flagged": sum(1 for row in rows if row.get("flagged")),
        "mean_score": math.fsum(scores) / len(scores) if scores else None,
        "max_score": max(scores) if scores else None,
        "periods": periods if isinstance(periods, str) else list(periods),
        "threshold": threshold,
    }


def csv_text(rows: Sequence[dict], periods: Sequence[int] | str) -> str:
    """CSV with a header: ``path, score, flagged, period, reason, hotspot_row, hotspot_col,
    period_<s>..., height, width, mode, bit_depth, error, path_bytes, kind, shape, channels,
    threshold, sample_rate, duration``; empty cells where a value is missing. ``height,
    width`` and the hotspot columns are filled for 2-D items (images); ``shape`` is the
    spatial shape of every item (``64x64x64``); the hotspot of other items is in the JSON
    rows. With ``periods="auto"`` a ``period_<s>`` column for every period measured in some
    row.

    >>> rows = [{"path": "a.png", "score": 1.0, "periods": {"2": 1.0, "16": 0.5},
    ...          "period": [16, 8], "flagged": True, "hotspot": [0, 0]}]
    >>> csv_text(rows, "auto").splitlines()[1]
    'a.png,1.0,True,16x8,,0,0,1.0,0.5,,,,,,,,,,,,'
    """
    periods = _columns(rows, periods)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["path", "score", "flagged", "period", "reason", "hotspot_row", "hotspot_col",
                     *(f"period_{s}" for s in periods), "height", "width", "mode", "bit_depth",
                     "error", "path_bytes", "kind", "shape", "channels", "threshold",
                     "sample_rate", "duration"])
    for row in map(portable_row, rows):
        size = row.get("size")
        planar = size is not None and len(size) == 2
        hotspot = row.get("hotspot")
        hotspot = hotspot if hotspot is not None and len(hotspot) == 2 else [None, None]
        values = row.get("periods") or {}
        shape = None if size is None else "x".join(map(str, size))
        writer.writerow([_cell(v) for v in (
            row["path"], row.get("score"), row.get("flagged"), _period_cell(row.get("period")),
            row.get("reason"), *hotspot,
            *(values.get(str(s)) for s in periods), *(size if planar else [None, None]),
            row.get("mode"), row.get("bit_depth"), row.get("error"), row.get("path_bytes"),
            row.get("kind"), shape, row.get("channels"), row.get("threshold"),
            row.get("sample_rate"), row.get("duration"))])
    return out.getvalue()


def _cell(value):
    return "" if value is None else value


def _period_cell(period) -> str | None:
    """``16`` when every axis has the same dominant period, else ``16x8``."""
    if not period:
        return None
    return str(period[0]) if len(set(period)) == 1 else "x".join(map(str, period))


def _columns(rows: Sequence[dict], periods: Sequence[int] | str) -> tuple[int, ...]:
    """The periods with a column: the given ones, or every one measured ("auto")."""
    if not isinstance(periods, str):
        return tuple(periods)
    seen = {int(s) for row in rows for s in (row.get("periods") or {})}
    return tuple(sorted(seen))


def arrow_schema(periods: Sequence[int] | str, extra: Sequence[tuple] = ()):
    """The Arrow schema of rows for ``periods`` (plus ``extra`` ``(name, type)`` fields);
    ``"auto"``: ``periods`` is a map from period (text) to value."""
    pa = require("pyarrow", "ray")
    if isinstance(periods, str):
        values = pa.map_(pa.string(), pa.float64())
    else:
        values = pa.struct([(str(s), pa.float64()) for s in periods])
    return pa.schema([
        ("path", pa.string()),
        ("score", pa.float64()),
        ("periods", values),
        ("flagged", pa.bool_()),
        ("period", pa.list_(pa.int64())),
        ("reason", pa.string()),
        ("hotspot", pa.list_(pa.int64())),
        ("error", pa.string()),
        ("size", pa.list_(pa.int64())),
        ("mode", pa.string()),
        ("bit_depth", pa.int64()),
        ("alpha_dropped", pa.bool_()),
        ("heatmap", pa.string()),
        ("kind", pa.string()),
        ("format", pa.string()),
        ("channels", pa.int64()),
        ("spatial_dims", pa.int64()),
        ("threshold", pa.float64()),
        ("sample_rate", pa.int64()),
        ("duration", pa.float64()),
        ("frequencies", pa.struct([(str(s), pa.list_(pa.float64())) for s in periods])),
        ("channel", pa.int64()),
        ("channel_score", pa.float64()),
        ("path_bytes", pa.string()),
        *extra,
    ])


def rows_to_arrow(rows: Sequence[dict], periods: Sequence[int] | str, extra: Sequence[tuple] = ()):
    """A ``pyarrow.Table`` of rows with :func:`arrow_schema`; ``to_pylist()`` gives them back.

    >>> from checkerfree.score.batch import error_row
    >>> rows_to_arrow([error_row("a.png", "empty file")], (2, 4)).to_pylist()[0]["error"]
    'empty file'
    """
    pa = require("pyarrow", "ray")
    rows = [portable_row(row) for row in rows]
    if isinstance(periods, str):  # a map column is written from (key, value) pairs
        rows = [{**row, "periods": None if row.get("periods") is None
                 else list(row["periods"].items())} for row in rows]
    return pa.Table.from_pylist(rows, schema=arrow_schema(periods, extra))


def parquet_bytes(rows: Sequence[dict], periods: Sequence[int] | str) -> bytes:
    """The rows as one Parquet file, in memory (written atomically by the caller)."""
    pq = require("pyarrow.parquet", "ray")
    sink = io.BytesIO()
    pq.write_table(rows_to_arrow(rows, periods), sink)
    return sink.getvalue()
