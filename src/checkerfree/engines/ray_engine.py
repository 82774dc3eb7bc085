"""The Ray engine: the same :class:`~checkerfree.score.batch.ImageScorer` over Ray Data.

The file list becomes a dataset of ``{"index", "path", "file"}`` rows (``file`` the absolute
path as bytes, since Ray workers do not share the driver's working directory and a file
name need not be UTF-8); ``map_batches`` runs
one ``ImageScorer`` per actor (the class is built once per actor, not once per batch), and
the rows come back sorted by ``index``, so they equal the local engine's rows in order and
content.

Where it runs: if Ray is already initialised (``ray.init(...)`` in your program) that
cluster is used and left running; otherwise ``address`` is passed to ``ray.init``:
``None`` joins the cluster named by the ``RAY_ADDRESS`` environment variable, else starts a
local one (shut down afterwards); ``"auto"`` joins the cluster of this machine (started with
``ray start --head``); ``"ray://host:10001"`` joins a remote one through Ray Client. Every
node must be able to open the files at the same absolute paths (a shared file system), and
with ``heatmap_dir`` write there.

>>> import ray  # doctest: +SKIP
>>> ray.init(address="auto")  # doctest: +SKIP
>>> rows = score_files_ray(["a.png", "b.png"], {"periods": (2, 4, 8)})  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping

from checkerfree.score.batch import ImageScorer
from checkerfree.errors import InvalidArgumentError, require
from checkerfree.jsontext import text

__all__ = ["score_files_ray"]


def score_files_ray(
    paths: Iterable[str | os.PathLike],
    scorer_kwargs: Mapping | None = None,
    *,
    batch_size: int = 8,
    concurrency: int | None = None,
    address: str | None = None,
    progress: bool = False,
) -> list[dict]:
    """Score ``paths`` on Ray Data; one row per path, in input order (see the module doc).

    ``scorer_kwargs`` are :class:`~checkerfree.score.batch.ImageScorer`'s arguments;
    ``concurrency`` the most scoring actors (default: Ray's CPU count, each taking 1 CPU).
    """
    ray = require("ray", "ray")
    require("ray.data", "ray")
    if concurrency is not None and (
        isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1
    ):
        raise InvalidArgumentError(f"concurrency must be a positive int, got {concurrency!r}")
    paths = [os.fspath(p) for p in paths]
    if not paths:
        return []
    started = False
    if not ray.is_initialized():
        # ERROR: Ray's start-up warnings (token authentication) are not about the scores.
        try:
            ray.init(address=address, include_dashboard=False, logging_level="ERROR",
                     log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:  # a bad or dead address
            where = "start a local Ray cluster" if address is None else f"join Ray at {address!r}"
            raise InvalidArgumentError(f"cannot {where}: {str(exc).splitlines()[0]}") from exc
        started = True
    restore_logging = _quiet_ray_data()
    try:
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = progress
        if concurrency is None:
            concurrency = max(1, int(ray.cluster_resources().get("CPU", 1)))
        # Arrow strings must be UTF-8: a file name that is not travels as bytes ("file"), and
        # its reported path is put back from ``paths`` below.
        items = [{"index": i, "path": text(p), "file": os.fsencode(os.path.abspath(p))}
                 for i, p in enumerate(paths)]
        dataset = ray.data.from_items(items).map_batches(
            ImageScorer,
            fn_constructor_kwargs=dict(scorer_kwargs or {}),
            batch_size=batch_size,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(min_size=1, max_size=concurrency),
            num_cpus=1,
        )
        rows = []
        for batch in dataset.iter_batches(batch_format="pyarrow", batch_size=None):
            rows.extend(batch.to_pylist())
    finally:
        restore_logging()
        if started:
            ray.shutdown()
    rows.sort(key=lambda row: row["index"])
    for row in rows:
        path = paths[row.pop("index")]
        # Items of one file (an .npz's "a.npz:key") keep their suffix after the name.
        row["path"] = path + row["path"][len(text(path)):]
        row.pop("path_bytes", None)
        if isinstance(row.get("periods"), list):  # periods="auto": an Arrow map, as pairs
            row["periods"] = dict(row["periods"])
    return rows


def _quiet_ray_data() -> Callable[[], None]:
    """Raise Ray Data's console to ERROR; return what puts it back.

    Its INFO and WARNING lines (the execution plan, the progress-bar notice) say how Ray ran
    the job, not what was measured; the session's ``logs/ray-data`` files keep them, and
    errors still reach the console.
    """
    consoles = [handler for handler in logging.getLogger("ray.data").handlers
                if handler.name == "console" and handler.level < logging.ERROR]
    levels = [handler.level for handler in consoles]
    for handler in consoles:
        handler.setLevel(logging.ERROR)

    def restore() -> None:
        for handler, level in zip(consoles, levels):
            handler.setLevel(level)

    return restore
