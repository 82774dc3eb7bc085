"""The readable table of ``checkerfree score``: one line per image, then the summary.

On a terminal with rich installed (``cli`` extra) it is a rich table with flagged rows in
red; otherwise (a pipe, a file, no rich) plain aligned text, which never wraps or truncates
a path and reads the same in logs.

The ``period`` column is the dominant period (``16x8`` where the axes differ) and ``reason``
why a row is or is not flagged. With ``--period auto`` the per-period columns are the fixed
periods 2, 4 and 8 (each image measures its own other periods; ``score`` and ``period`` show
the one that decides).

>>> rows = [{"path": "a.png", "score": 3.25, "periods": {"2": 3.25}, "flagged": True,
...          "period": [2, 2], "reason": "flagged by period 2", "hotspot": [4, 5],
...          "error": None, "alpha_dropped": False},
...         {"path": "bad.png", "score": None, "periods": None, "flagged": None,
...          "hotspot": None, "error": "empty file", "alpha_dropped": None}]
>>> print(plain_table(rows, (2,)))
path     score  flagged  period  hotspot  p2    error       reason
a.png     3.25  yes      2       4,5      3.25              flagged by period 2
bad.png      -  -        -       -        -     empty file
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from checkerfree.jsontext import text

__all__ = ["plain_table", "print_table", "summary_lines"]


def _shown(periods: Sequence[int] | str) -> tuple[int, ...]:
    return (2, 4, 8) if isinstance(periods, str) else tuple(periods)


def _cells(row: dict, periods: Sequence[int]) -> list[str]:
    def number(value):
        if value is None:
            return "-"
        # Audio is in full scale: its values are thousandths, which two decimals would hide.
        return f"{value:.2f}" if value == 0 or abs(value) >= 0.01 else f"{value:.1e}"

    values = row.get("periods") or {}
    flagged = row.get("flagged")
    # Any file name prints: bytes that are not UTF-8 show as \xNN (checkerfree.jsontext).
    return [
        text(str(row["path"])),
        number(row.get("score")),
        "-" if flagged is None else ("yes" if flagged else "no"),
        "-" if not row.get("period") else (
            str(row["period"][0]) if len(set(row["period"])) == 1
            else "x".join(map(str, row["period"]))),
        "-" if row.get("hotspot") is None else ",".join(map(str, row["hotspot"])),
        *(number(values.get(str(s))) for s in periods),
        text(row.get("error") or ""),
        row.get("reason") or "",
    ]


def _header(periods: Sequence[int]) -> list[str]:
    return ["path", "score", "flagged", "period", "hotspot", *(f"p{s}" for s in periods),
            "error", "reason"]


def plain_table(rows: Sequence[dict], periods: Sequence[int]) -> str:
    """Aligned text: numbers right-aligned, everything else left-aligned."""
    periods = _shown(periods)
    table = [_header(periods)] + [_cells(row, periods) for row in rows]
    widths = [max(len(line[k]) for line in table) for k in range(len(table[0]))]
    numeric = {1} | set(range(5, 5 + len(periods)))
    lines = []
    for line in table:
        cells = [
            (cell.rjust(w) if k in numeric and line is not table[0] else cell.ljust(w))
            for k, (cell, w) in enumerate(zip(line, widths))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _count(n: int, noun: str) -> str:
    """``"1 image"``, ``"2 images"``.

    >>> _count(1, "image"), _count(0, "input")
    ('1 image', '0 inputs')
    """
    return f"{n} {noun}" + ("" if n == 1 else "s")


def summary_lines(rows: Sequence[dict], summary: dict) -> list[str]:
    """The summary under the table, and a note when alpha channels were ignored."""
    mean = summary["mean_score"]
    if any(row.get("kind") not in (None, "image") for row in rows):
        # Audio (full scale) and arrays (own units) have thresholds of their own, and a mean
        # across units means nothing: the rows carry theirs.
        lines = [
            f"{_count(summary['images'], 'input')}: {summary['scored']} scored, {summary['failed']} "
            f"failed, {summary['flagged']} flagged (each against the threshold of its kind, "
            "in its own units: grey levels, full scale, the array's units)"
        ]
    else:
        lines = [
            f"{_count(summary['images'], 'image')}: {summary['scored']} scored, {summary['failed']} "
            f"failed, {summary['flagged']} flagged (threshold {summary['threshold']:g} grey "
            "levels)"
            + ("" if mean is None else f"; mean score {mean:.2f}, max {summary['max_score']:.2f}")
        ]
    alpha = sum(1 for row in rows if row.get("alpha_dropped"))
    if alpha:
        lines.append(f"note: {alpha} image(s) had an alpha channel; it was ignored "
                     "(the score measures the colours)")
    return lines


def print_table(rows: Sequence[dict], summary: dict, periods: Sequence[int], *,
                rows_too: bool = True, stream=None) -> None:
    """Print the table (unless ``rows_too`` is false) and the summary to ``stream``."""
    stream = sys.stdout if stream is None else stream
    periods = _shown(periods)
    rich_table = None
    if rows_too and getattr(stream, "isatty", lambda: False)():
        try:
            from rich.console import Console
            from rich.table import Table

            rich_table = Table(*_header(periods))
            for row in rows:
                style = "red" if row.get("flagged") else ("yellow" if row.get("error") else None)
                rich_table.add_row(*_cells(row, periods), style=style)
            Console(file=stream).print(rich_table)
        except ImportError:
            rich_table = None
    if rows_too and rich_table is None:
        print(plain_table(rows, periods), file=stream)
    for line in summary_lines(rows, summary):
        print(line, file=stream)
