"""Steps and time left of one long loop inside an experiment, as lines on stderr.

A line reads ``[claim] label done/total steps, ETA s``; the estimate is the mean time per step
so far times the steps left, ``elapsed / done * (total - done)``. Lines come at most every
``interval`` seconds (none in a loop shorter than that), so a log stays short; a disabled
counter (``--quiet``) prints nothing.

>>> import io
>>> ticks = iter(range(0, 100, 2))  # a clock that advances 2 s per reading
>>> stream = io.StringIO()
>>> with StepProgress("training", 4, prefix="demo", stream=stream, interval=3,
...                   clock=lambda: next(ticks)) as p:
...     for _ in range(4):
...         p.advance()
>>> stream.getvalue().splitlines()
['[demo] training 2/4 steps, ETA 4 s', '[demo] training 4/4 steps, ETA 0 s']
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Self

__all__ = ["StepProgress"]


class StepProgress:
    """Count ``total`` steps of a loop named ``label``; print progress every ``interval`` s."""

    def __init__(self, label: str, total: int, *, prefix: str = "", enabled: bool = True,
                 stream=None, interval: float = 5.0,
                 clock: Callable[[], float] = time.monotonic):
        self.label, self.total, self.done = label, int(total), 0
        self.prefix = f"[{prefix}] " if prefix else ""
        self.enabled, self.interval, self.clock = enabled, float(interval), clock
        self.stream = sys.stderr if stream is None else stream
        self.start = clock() if enabled else 0.0
        self._last = self.start
        self.lines = 0

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        return None

    def eta(self, now: float) -> float:
        """Seconds left at ``now``: the mean step time so far times the steps left."""
        if self.done == 0:
            return float("inf")
        return (now - self.start) / self.done * max(self.total - self.done, 0)

    def advance(self, n: int = 1) -> None:
        """``n`` more steps done; print a line if ``interval`` seconds passed since the last."""
        self.done += n
        if not self.enabled:
            return
        now = self.clock()
        if now - self._last < self.interval:
            return
        self._last = now
        self.stream.write(f"{self.prefix}{self.label} {self.done}/{self.total} steps, "
                          f"ETA {self.eta(now):.0f} s\n")
        self.stream.flush()
        self.lines += 1
