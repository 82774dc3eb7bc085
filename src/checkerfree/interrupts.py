"""SIGTERM as an exception, so that every ``finally`` runs and no temporary file is left.

Python turns SIGINT into ``KeyboardInterrupt`` but lets SIGTERM (``kill``, a job scheduler's
time limit, ``docker stop``) end the process at once: half-written temporary files stay.
:func:`sigterm_raises` installs a handler that raises :class:`Terminated`, a
``KeyboardInterrupt``, so the clean-up of :func:`checkerfree.files.write_atomic` and of every
``except KeyboardInterrupt`` runs. The command line exits with status 143 (128 + 15).

>>> import os, signal
>>> with sigterm_raises():
...     try:
...         os.kill(os.getpid(), signal.SIGTERM)
...         import time; time.sleep(5)
...     except Terminated:
...         print("cleaned up")
cleaned up
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["Terminated", "sigterm_raises", "EXIT_TERMINATED"]

#: The status a shell reports for a process ended by SIGTERM.
EXIT_TERMINATED = 128 + signal.SIGTERM


class Terminated(KeyboardInterrupt):
    """Raised in the main thread when the process receives SIGTERM."""


def _raise(signum, frame):
    raise Terminated(f"terminated by signal {signum}")


@contextmanager
def sigterm_raises() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` (main thread only; elsewhere a
    no-op, as Python only lets the main thread set handlers)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
