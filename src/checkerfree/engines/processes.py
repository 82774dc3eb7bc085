"""Scoring in several processes: each decodes and scores its own chunks, rows in input order.

The local engine (:mod:`checkerfree.engines.local`) has one scoring thread, so on a machine
where scoring costs more than decoding it uses one core for it (plus what torch's intra-op
threads add on large FFTs). Here ``processes`` workers each run the local engine on a chunk
of paths (decoding threads and one scorer of their own; torch given ``cpus // processes``
threads), so scoring runs on as many cores as there are processes; only paths and rows
cross between processes, never pixels. Chunks are handed out in order and at most two
per process are in flight, so memory stays bounded and rows come back in input order.

Workers are started with ``spawn`` (a forked child of a process whose torch has started
its thread pool can deadlock), which costs an import of torch per process: a fixed start-up
(``benchmarks/score.py``: the processes row) paid once per call, and, as for any
``spawn`` pool, a script that calls it must guard its own top level with
``if __name__ == "__main__":`` (each worker imports the script's main module). A worker that dies (killed,
out of memory) gives its chunk's inputs an error row each; the chunks in flight with it are
run again, one at a time, in a new pool, and the others go on there. Workers start with
SIGINT ignored: a Ctrl-C at the terminal reaches the whole process group, and is this
process's to handle (exit 130, one line), not each worker's (a traceback per worker, often
from inside its import of torch); the pool's shutdown then stops them. At most
``MAX_PROCESSES`` workers.

>>> import tempfile, pathlib, numpy as np
>>> from PIL import Image
>>> from checkerfree.score.batch import ImageScorer
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> for k in range(3):
...     Image.fromarray(np.full((32, 32 + k), 9, dtype=np.uint8)).save(folder / f"{k}.png")
>>> paths = sorted(folder.iterdir())
>>> rows = list(score_files_processes(paths, ImageScorer(periods=2), processes=2))
>>> [(pathlib.Path(r["path"]).name, r["score"]) for r in rows]
[('0.png', 0.0), ('1.png', 0.0), ('2.png', 0.0)]
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Self

from checkerfree.errors import InvalidArgumentError, InvalidTypeError, LimitError
from checkerfree.score.batch import ImageScorer, error_row

__all__ = ["MAX_PROCESSES", "ScoringPool", "score_files_processes"]

# Each worker imports torch (a few hundred MB): far beyond any machine's cores, a typo
# (--processes 100000) would start one per chunk until memory runs out.
MAX_PROCESSES = 256

# The scorer and thread counts of this worker process, set once by _start.
_WORKER: dict = {}


def _start(scorer: ImageScorer, threads: int, torch_threads: int) -> None:
    import torch

    torch.set_num_threads(torch_threads)
    _WORKER.update(scorer=scorer, threads=threads)


def _score_chunk(paths: list[str]) -> list[dict]:
    import torch

    from checkerfree.engines.local import score_files

    # The worker's torch threads were set by _start: kept, not derived from its decoders.
    return list(score_files(paths, _WORKER["scorer"], workers=_WORKER["threads"],
                            torch_threads=torch.get_num_threads()))


def score_files_processes(
    paths: Iterable[str | os.PathLike],
    scorer: ImageScorer,
    *,
    processes: int,
    threads: int | None = None,
    chunk_size: int | None = None,
    on_row: Callable[[dict], None] | None = None,
) -> Iterator[dict]:
    """Yield one row per path, in input order, scored in ``processes`` worker processes.

    ``threads``: decoding threads per process (default 1: decoding is spread over the
    processes); ``chunk_size``: paths per task (default: two of the scorer's batches);
    ``on_row`` as in :func:`~checkerfree.engines.local.score_files`. Standard input
    (``-``) cannot be read by a worker and is refused. The workers start and stop with
    the call; :class:`ScoringPool` keeps them for several calls.
    """
    pool = ScoringPool(scorer, processes, threads=threads, chunk_size=chunk_size)
    paths = pool.check(paths)  # bad arguments fail at the call, not at the first row

    def rows():
        with pool:
            yield from pool.score_files(paths, on_row=on_row)

    return rows()


class ScoringPool:
    """Worker processes that score files, kept between calls (the start-up is paid once).

    >>> from checkerfree.score.batch import ImageScorer
    >>> ScoringPool(ImageScorer(), 0)
    Traceback (most recent call last):
    ...
    checkerfree.errors.InvalidArgumentError: processes must be a positive int, got 0
    """

    def __init__(self, scorer: ImageScorer, processes: int, *, threads: int | None = None,
                 chunk_size: int | None = None):
        if not isinstance(scorer, ImageScorer):
            raise InvalidTypeError(f"scorer must be a checkerfree.score.batch.ImageScorer, got "
                                   f"{type(scorer).__name__}")
        for name, value in (("processes", processes), ("threads", threads),
                            ("chunk_size", chunk_size)):
            if value is None and name != "processes":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidArgumentError(f"{name} must be a positive int, got {value!r}")
        if processes > MAX_PROCESSES:
            raise LimitError(f"processes must be at most {MAX_PROCESSES} (MAX_PROCESSES), "
                             f"got {processes}")
        self.processes = processes
        self.chunk_size = chunk_size or 2 * scorer.batch_size
        try:
            cpus = len(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover - not on Linux
            cpus = os.cpu_count() or 1
        self._start = (scorer, threads or 1, max(1, cpus // processes))
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Stop the workers (queued chunks are dropped)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def start(self) -> None:
        """Start the workers now (else at the first chunk): each imports torch once."""
        list(self._submit_all(_ready, range(self.processes)))

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.processes, initializer=_start, initargs=self._start,
                mp_context=multiprocessing.get_context("spawn"))
        return self._pool

    def _submit(self, fn, arg):
        """Submit one task; a worker process it starts inherits an ignored SIGINT."""
        if threading.current_thread() is not threading.main_thread():
            return self._executor().submit(fn, arg)
        # An ignored signal stays ignored across exec (a blocked one does not survive the
        # workers' import of torch). A Ctrl-C within these microseconds is lost.
        handler = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            return self._executor().submit(fn, arg)
        finally:
            signal.signal(signal.SIGINT, handler)

    def _submit_all(self, fn, args):
        return [future.result() for future in [self._submit(fn, a) for a in args]]

    @staticmethod
    def check(paths: Iterable[str | os.PathLike]) -> list[str]:
        """The paths as strings; standard input (``-``) refused.

        >>> ScoringPool.check("a.png")
        Traceback (most recent call last):
        ...
        checkerfree.errors.InvalidTypeError: paths must be an iterable of paths (a list of str or os.PathLike), got str 'a.png'
        """
        # A lone str is iterable too: its characters would each be scored as a file.
        if isinstance(paths, (str, bytes, os.PathLike)):
            raise InvalidTypeError(f"paths must be an iterable of paths (a list of str or "
                                   f"os.PathLike), got {type(paths).__name__} {paths!r}")
        paths = list(paths)
        for p in paths:
            if not isinstance(p, (str, bytes, os.PathLike)):
                raise InvalidTypeError(f"each path must be a str, bytes or os.PathLike, got "
                                       f"{type(p).__name__} {p!r}")
        paths = [os.fspath(p) for p in paths]
        if "-" in paths:
            raise InvalidArgumentError(
                "'-' (standard input) cannot be read by worker processes: use one process")
        return paths

    def score_files(self, paths: Iterable[str | os.PathLike],
                    on_row: Callable[[dict], None] | None = None) -> Iterator[dict]:
        """Yield one row per path, in input order (see the module doc)."""
        paths = self.check(paths)
        size = self.chunk_size
        queued = iter([paths[i : i + size] for i in range(0, len(paths), size)])
        # (chunk, future, suspect). When a worker dies every chunk in flight fails with it:
        # those are then suspects, run again one at a time (a future of None: not submitted
        # yet), so the one that fails alone is the culprit and gets error rows, the others
        # their rows; new chunks wait until no suspect is left.
        ahead: deque = deque()
        try:
            for _ in range(2 * self.processes):
                chunk = next(queued, None)
                if chunk is None:
                    break
                ahead.append((chunk, self._submit(_score_chunk, chunk), False))
            while ahead:
                chunk, future, suspect = ahead.popleft()
                if future is None:
                    future = self._submit(_score_chunk, chunk)
                try:
                    rows = future.result()
                except BrokenProcessPool:
                    self._pool.shutdown(wait=False, cancel_futures=True)
                    self._pool = None
                    if not suspect:
                        ahead = deque([(chunk, None, True)]
                                      + [(c, None, True) for c, _, _ in ahead])
                        continue
                    rows = [error_row(p, "scoring process died (killed or out of memory)")
                            for p in chunk]
                    if self._start[0].mark_source:  # as the scorer's own rows have it
                        for row, p in zip(rows, chunk):
                            row["_source"] = p
                if not ahead or ahead[0][1] is not None:
                    following = next(queued, None)
                    if following is not None:
                        ahead.append((following,
                                      self._submit(_score_chunk, following), False))
                for row in rows:
                    if on_row is not None:
                        on_row(row)
                    yield row
        finally:
            # A consumer that stops early (or Ctrl-C): the chunks still queued are dropped.
            for _, future, _ in ahead:
                future.cancel()


def _ready(_: int) -> bool:
    return True
