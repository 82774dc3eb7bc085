"""The local engine: decode in a pool of threads, score in batches, rows in input order.

Pillow releases the GIL while it decompresses, so threads decode in parallel without the
cost of sending pixels between processes; the scoring (torch, also GIL-free in its kernels)
runs in the calling thread on one chunk (a batch) while the threads decode the next ones,
with as many torch intra-op threads as the decoding threads leave cores (at least one: with
torch's default, one per core, its spinning threads and the decoders fought for the same
cores, and a loaded 2-core machine scored a folder at 0.31x of decode-only instead of 0.86x,
``benchmarks/score.py``).
At most ``max(2, 2 * workers / chunk_size)`` chunks are decoded ahead, so memory stays
bounded however many files there are. With ``processes`` the scoring itself runs on several
cores (:mod:`checkerfree.engines.processes`).

>>> import tempfile, pathlib, numpy as np
>>> from PIL import Image
>>> from checkerfree.score.batch import ImageScorer
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> for k in range(3):
...     Image.fromarray(np.full((32, 32 + k), 9, dtype=np.uint8)).save(folder / f"{k}.png")
>>> rows = list(score_files(sorted(folder.iterdir()), ImageScorer(periods=2), workers=2))
>>> [(pathlib.Path(r["path"]).name, r["score"]) for r in rows]
[('0.png', 0.0), ('1.png', 0.0), ('2.png', 0.0)]
"""

from __future__ import annotations

import contextlib
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor

from checkerfree.score.batch import ImageScorer
from checkerfree.errors import InvalidArgumentError, InvalidTypeError

__all__ = ["score_files", "default_workers"]


def default_workers() -> int:
    """Decoding threads by default: the CPUs this process may use, at most 8."""
    return max(1, min(8, _cpus()))


def score_files(
    paths: Iterable[str | os.PathLike],
    scorer: ImageScorer,
    *,
    workers: int | None = None,
    chunk_size: int | None = None,
    on_row: Callable[[dict], None] | None = None,
    processes: int = 1,
    torch_threads: int | None = None,
) -> Iterator[dict]:
    """Yield one row per path, in input order, decoding ``workers`` files at a time.

    ``chunk_size`` (default: one batch) is how many files are decoded and then scored
    together; same-shape images inside a chunk share scoring calls. ``on_row`` is called
    with each row as it is yielded (a progress bar). ``processes`` above 1 scores in that
    many worker processes, each decoding with ``workers`` threads (default 1 there) and
    scoring on its own core (:mod:`checkerfree.engines.processes`): the same rows.
    ``torch_threads``: torch's intra-op threads while a chunk is scored (torch's setting is
    restored after each; ``None``: the CPUs left by ``workers``, at least 1; with
    ``processes``, each process keeps its own, one).
    """
    if isinstance(processes, bool) or not isinstance(processes, int) or processes < 1:
        raise InvalidArgumentError(f"processes must be a positive int, got {processes!r}")
    # A lone str is iterable too: its characters would each be scored as a file.
    if isinstance(paths, (str, bytes, os.PathLike)):
        raise InvalidTypeError(f"paths must be an iterable of paths (a list of str or "
                               f"os.PathLike), got {type(paths).__name__} {paths!r}")
    if torch_threads is not None and (isinstance(torch_threads, bool)
                                      or not isinstance(torch_threads, int) or torch_threads < 1):
        raise InvalidArgumentError(
            f"torch_threads must be a positive int or None, got {torch_threads!r}")
    if processes > 1:
        from checkerfree.engines.processes import score_files_processes

        return score_files_processes(paths, scorer, processes=processes, threads=workers,
                                     chunk_size=chunk_size, on_row=on_row)
    return _score_files(paths, scorer, workers, chunk_size, on_row, torch_threads)


def _score_files(paths, scorer, workers, chunk_size, on_row,
                 torch_threads=None) -> Iterator[dict]:
    workers = default_workers() if workers is None else workers
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InvalidArgumentError(f"workers must be a positive int, got {workers!r}")
    if torch_threads is None:
        torch_threads = max(1, _cpus() - workers)
    # One batch per chunk, so scoring starts as soon as the first batch is decoded (with
    # four batches per chunk a 16-file folder was decoded whole, then scored: no overlap);
    # enough chunks ahead to keep every decoding thread busy twice over.
    chunk_size = chunk_size or scorer.batch_size
    depth = max(2, -(-2 * workers // chunk_size))
    paths = [os.fspath(p) for p in paths]
    chunks = [paths[i : i + chunk_size] for i in range(0, len(paths), chunk_size)]
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="checkerfree-decode")
    try:
        ahead: deque = deque()
        queued = iter(chunks)
        for chunk in _take(queued, depth):
            ahead.append([pool.submit(scorer.decode, p) for p in chunk])
        while ahead:
            futures = ahead.popleft()
            decoded = [f.result() for f in futures]
            for chunk in _take(queued, 1):
                ahead.append([pool.submit(scorer.decode, p) for p in chunk])
            with _torch_threads(torch_threads):
                rows = scorer.score_decoded(decoded)
            for row in rows:
                if on_row is not None:
                    on_row(row)
                yield row
    finally:
        # A consumer that stops early (or Ctrl-C) must not wait for the queued decodes.
        pool.shutdown(wait=True, cancel_futures=True)


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


@contextlib.contextmanager
def _torch_threads(n: int):
    """torch's intra-op threads set to ``n`` for the block, then restored."""
    import torch

    before = torch.get_num_threads()
    if n != before:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if n != before:
            torch.set_num_threads(before)


def _take(iterator, n):
    for _ in range(n):
        try:
            yield next(iterator)
        except StopIteration:
            return
