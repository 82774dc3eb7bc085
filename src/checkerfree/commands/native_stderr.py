"""Hold back what native code writes to file descriptor 2 while a block runs.

Ray's C++ core worker logs to the process's stderr (``core_worker.cc`` E lines about actor
restarts) whatever Python's logging says, and setting ``RAY_BACKEND_LOG_LEVEL`` makes it
print one more line saying so. The command owns its process, so it points descriptor 2 at a
temporary file for the run; ``sys.stderr`` keeps the terminal (progress bars and our own
messages still show). If the block raises, the held-back text is written out first: the
diagnosis of a failure is never lost, only the chatter of a success.

>>> import os, sys
>>> with held_native_stderr():
...     _ = os.write(2, b"native chatter\\n")  # dropped: the block succeeded
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["held_native_stderr"]


@contextmanager
def held_native_stderr() -> Iterator[None]:
    """Point descriptor 2 at a temporary file for the block (see the module doc).

    >>> with held_native_stderr():
    ...     print("still shown", file=sys.stderr)
    """
    try:
        terminal = os.dup(2)
    except OSError:  # pragma: no cover - no descriptor 2 (a daemon): nothing to hold back
        yield
        return
    shown = sys.stderr
    with tempfile.TemporaryFile() as held:
        shown.flush()
        os.dup2(held.fileno(), 2)
        sys.stderr = os.fdopen(os.dup(terminal), "w", encoding=getattr(shown, "encoding", None)
                               or "utf-8", errors="backslashreplace", buffering=1)
        try:
            yield
        except BaseException:
            held.seek(0)
            _write_fd(terminal, held.read())
            raise
        finally:
            sys.stderr.close()
            sys.stderr = shown
            os.dup2(terminal, 2)
            os.close(terminal)


def _write_fd(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data):]
