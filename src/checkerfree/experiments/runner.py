"""Run claims with a cache and write ``report.json`` and ``index.html``.

Cache: every finished experiment is stored as ``DIR/cache/<id>.<quick|full>.json`` with a key
(id, quick flag, a hash of the code that computes the numbers, torch's version and the thread
count). An interrupted run resumes from it; a stale entry (other code, other settings) or one
whose figures are gone is recomputed. ``fresh=True`` ignores the cache.

Overwriting: every file the run will write (``report.json``, ``index.html`` and each figure
the claims asked for may draw, :data:`~checkerfree.experiments.registry.FIGURES`) is planned
and checked before the first experiment (:class:`checkerfree.files.OutputSet`): none is
replaced without ``force``. A folder holding only a cache and the figures its entries list (an
interrupted run) is resumed without ``force``: that is the cache's purpose, and it replaces
nothing the user has seen as finished. ``DIR/cache`` belongs to the runner.

>>> import tempfile
>>> claims = reproduce(tempfile.mkdtemp(), quick=True, only=["overlap-1d"], verbose=False)
>>> [(c.id, c.holds) for c in claims]
[('overlap-1d', True)]
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
import time
from pathlib import Path

import torch

from checkerfree.experiments.claim import Claim
from checkerfree.experiments.context import FIGURE_DIR, Context
from checkerfree.experiments.registry import (
    check_ids,
    claim_ids,
    experiment,
    figure_names,
    needs,
)
from checkerfree.files import OutputSet
from checkerfree.jsontext import dumps

__all__ = ["CACHE_VERSION", "DEFAULT_THREADS", "code_hash", "reproduce"]

#: Bump to invalidate every cache entry (e.g. when the entry format changes).
CACHE_VERSION = 1

# Code that can change a number; the report and command-line layers cannot.
_NOT_HASHED = ("report", "commands", "cli.py", "__main__.py")


def code_hash() -> str:
    """sha256 (16 hex digits) of the package sources that compute the numbers."""
    root = Path(__file__).resolve().parent.parent
    h = hashlib.sha256(str(CACHE_VERSION).encode())
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if rel.split("/")[0] in _NOT_HASHED:
            continue
        h.update(rel.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _versions() -> dict:
    import numpy

    import checkerfree

    out = {"checkerfree": checkerfree.__version__, "torch": torch.__version__,
           "numpy": numpy.__version__, "python": platform.python_version()}
    try:
        import skimage

        out["scikit-image"] = skimage.__version__
    except ImportError:  # pragma: no cover
        pass
    return out


def _cache_path(out: Path, claim_id: str, quick: bool) -> Path:
    return out / "cache" / f"{claim_id}.{'quick' if quick else 'full'}.json"


def _now() -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())


def _load_cached(path: Path, key: dict, out: Path) -> tuple[Claim | None, str | None]:
    """The cached claim and when it was computed, or ``(None, None)``."""
    try:
        entry = json.loads(path.read_text())
    except (OSError, ValueError):
        return None, None
    if entry.get("key") != key:
        return None, None
    claim = Claim.from_dict(entry["claim"])
    if not all((out / f).is_file() for f in claim.figures):
        return None, None
    return claim, entry.get("computed_at")


#: torch's CPU threads when ``threads`` is not given. The models are small (a few hundred
#: thousand multiply-adds per pixel): a second thread gains little on an idle 2-core machine
#: and on a shared one its threads wait for each other (measured under a load of 9 on 2
#: cores: 2 threads 3-40x slower per training step than 1). ``--threads N`` overrides it.
DEFAULT_THREADS = 1


def reproduce(out, quick: bool = False, only=None, force: bool = False, fresh: bool = False,
              verbose: bool = True, threads: int | None = None, jobs: int = 1) -> list[Claim]:
    """Measure the claims (all, or the ids in ``only``) and write the report into ``out``.

    ``jobs``: worker processes for the independent model trainings (same numbers for any
    value; ``checkerfree reproduce`` uses 2 on a machine with 2 or more cores).

    Cached claims are read first; the shared models (:data:`~.registry.NEEDS`) are then
    trained only for the claims left to compute. ``report.json`` records per claim whether it
    was ``cached``, and in ``meta["run"]`` this run's wall time and which ids it computed.
    """
    wall0 = time.monotonic()
    ids = check_ids(only) if only else claim_ids()
    out = Path(out)
    outputs = _plan(out, ids, quick, force)
    before = torch.get_num_threads()
    torch.set_num_threads(DEFAULT_THREADS if threads is None else threads)
    try:
        return _run(out, ids, quick, fresh, verbose, outputs, wall0, jobs)
    finally:  # the caller's setting (a test session, a notebook) is theirs
        torch.set_num_threads(before)


def _run(out: Path, ids: list[str], quick: bool, fresh: bool, verbose: bool,
         outputs: OutputSet, wall0: float, jobs: int) -> list[Claim]:
    threads = torch.get_num_threads()
    digest = code_hash()
    keys = {claim_id: {"id": claim_id, "quick": quick, "code": digest,
                       "torch": torch.__version__, "threads": threads} for claim_id in ids}
    loaded = {} if fresh else {
        claim_id: _load_cached(_cache_path(out, claim_id, quick), keys[claim_id], out)
        for claim_id in ids}
    cached = {claim_id: claim for claim_id, (claim, _) in loaded.items() if claim is not None}
    when = {claim_id: at for claim_id, (claim, at) in loaded.items() if claim is not None}
    todo = [claim_id for claim_id in ids if claim_id not in cached]
    ctx = Context(out, quick=quick, verbose=verbose, outputs=outputs, needs=needs(todo),
                  jobs=jobs)
    start = time.monotonic()
    claims = []
    for n, claim_id in enumerate(ids, 1):
        claim = cached.get(claim_id)
        if claim is not None:
            _say(verbose, f"[{n}/{len(ids)}] {claim_id}: cached ({claim.seconds:.1f} s when run)")
        else:
            _say(verbose, f"[{n}/{len(ids)}] {claim_id} ...")
            t0 = time.monotonic()
            torch.manual_seed(0)
            ctx.claim = claim_id
            claim = experiment(claim_id)(ctx)
            claim.seconds = round(time.monotonic() - t0, 2)
            when[claim_id] = _now()
            entry = {"key": keys[claim_id], "claim": claim.to_dict(),
                     "computed_at": when[claim_id]}
            outputs.write(_cache_path(out, claim_id, quick), dumps(entry, indent=1).encode())
            verdict = "holds" if claim.holds else "does not hold"
            _say(verbose, f"[{n}/{len(ids)}] {claim_id}: {verdict} ({claim.seconds:.1f} s)")
        claims.append(claim)
    # ``seconds`` is this run's wall time; ``computed``/``cached`` say where each claim came
    # from, so a report made from the cache does not read as a 0-second measurement.
    run = {"wall_seconds": round(time.monotonic() - wall0, 2), "jobs": jobs, "computed": todo,
           "cached": [claim_id for claim_id in ids if claim_id in cached],
           "trained": {what: sorted(ctx.memo.get(what, {})) for what in ("sr", "classifiers")}}
    meta = {"versions": _versions(), "quick": quick, "seconds": round(time.monotonic() - start, 2),
            "computed": todo,
            "cached": run["cached"],
            "finished_at": _now(),
            "seeds": {c.id: c.seeds for c in claims}, "threads": threads, "code": digest,
            "machine": platform.machine(), "command": " ".join(["checkerfree", *sys.argv[1:]])
            if Path(sys.argv[0]).name in ("checkerfree", "__main__.py") else None,
            "run": run}
    report = {"claims": [_public(c, c.id in cached, when[c.id]) for c in claims],
              "meta": meta}
    outputs.write(out / "report.json", dumps(report, indent=1).encode())
    from checkerfree.report.reproduce_html import render_report

    outputs.write(out / "index.html", render_report(report).encode())
    return claims


def _plan(out: Path, ids: list[str], quick: bool, force: bool) -> OutputSet:
    """Every file the run may write, checked before the first experiment.

    Figures listed by a cache entry in ``out`` were written by an earlier (interrupted) run
    of ours: they may be replaced without ``force``; so may the cache itself.
    """
    ours: set[str] = set()
    for entry in sorted((out / "cache").glob("*.json")) if (out / "cache").is_dir() else ():
        try:
            ours.update(json.loads(entry.read_text())["claim"]["figures"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
    outputs = OutputSet(force=force)
    outputs.folder(out)
    outputs.add(out / "report.json").add(out / "index.html")
    for name in figure_names(ids):
        rel = f"{FIGURE_DIR}/{name}.png"
        outputs.add(out / rel, owned=rel in ours)
    for claim_id in ids:
        outputs.add(_cache_path(out, claim_id, quick), owned=True)
    return outputs.check()


def _public(claim: Claim, cached: bool, computed_at: str | None) -> dict:
    """The claim's entry in ``report.json``: its record, whether it came from the cache and
    when it was computed (``seconds`` is the time it took then)."""
    d = claim.to_dict()
    out = {k: d[k] for k in ("id", "statement", "headline", "measured", "holds", "rule",
                             "figures", "seconds", "seeds")}
    out["cached"] = cached
    out["computed_at"] = computed_at
    return out


def _say(verbose: bool, message: str) -> None:
    if verbose:
        print(message, file=sys.stderr, flush=True)
