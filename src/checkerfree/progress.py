"""A progress report on stderr for long runs, never on stdout (which carries the results).

It stays silent for the first ``delay`` seconds, so short runs print nothing. On a terminal
it is a rich progress bar (``cli`` extra) that erases itself when done, or a ``\\r`` counter
without rich; on a file or pipe (forced on with ``--progress``) a plain line every
``interval`` seconds, which reads well in logs.

>>> import io
>>> stream = io.StringIO()
>>> with Progress(3, enabled=True, stream=stream, delay=0, interval=0) as progress:
...     for _ in range(3):
...         progress.advance()
>>> stream.getvalue().splitlines()[-1].startswith("scored 3/3 files")
True
"""

from __future__ import annotations

import sys
import time

__all__ = ["Progress"]


class Progress:
    """Count finished items out of ``total``; ``enabled=None`` means "if stderr is a TTY"."""

    def __init__(self, total: int, *, enabled: bool | None = None, stream=None,
                 delay: float = 2.0, interval: float = 5.0, label: str = "scored"):
        self.stream = sys.stderr if stream is None else stream
        isatty = getattr(self.stream, "isatty", lambda: False)()
        self.enabled = isatty if enabled is None else enabled
        self.tty = isatty
        self.total, self.done, self.label = total, 0, label
        self.delay, self.interval = delay, interval
        self.start = time.monotonic()
        self._last = -float("inf")
        self._bar = None
        self._task = None
        self._shown = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def advance(self, n: int = 1) -> None:
        self.done += n
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.start < self.delay:
            return
        if self.tty and self._start_rich():
            self._bar.update(self._task, completed=self.done)
        elif self.tty or now - self._last >= self.interval or self.done == self.total:
            self._last = now
            self._write(end="\r" if self.tty else "\n")

    def _start_rich(self) -> bool:
        if self._bar is None:
            try:
                from rich.console import Console
                from rich.progress import Progress as Bar
            except ImportError:
                return False
            self._bar = Bar(console=Console(file=self.stream), transient=True)
            self._task = self._bar.add_task(f"{self.label} files", total=self.total)
            self._bar.start()
        return True

    def _write(self, end: str) -> None:
        rate = self.done / max(time.monotonic() - self.start, 1e-9)
        self.stream.write(f"{self.label} {self.done}/{self.total} files ({rate:.1f}/s){end}")
        self.stream.flush()
        self._shown = True

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
        elif self._shown and self.tty:
            self.stream.write("\n")
            self.stream.flush()
