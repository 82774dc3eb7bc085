"""``checkerfree reproduce``: re-run every claim of the article and the seed notes, with numbers.

Writes ``DIR/report.json``, ``DIR/index.html`` and ``DIR/figures/*.png``; finished
experiments are cached in ``DIR/cache`` so an interrupted run resumes (see
:mod:`checkerfree.experiments.runner`).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

HELP = "re-run the article's claims (and our findings) and write a report with numbers"

DESCRIPTION = """\
Measure every claim of "Deconvolution and Checkerboard Artifacts" (Odena, Dumoulin and Olah,
Distill 2016) and of the seed notes, train small models on scikit-image photographs and
textures, and write DIR/report.json, DIR/index.html and the figures. A claim our numbers do
not support is reported as not holding.

--quick: smaller models and fewer steps (still real training), under 5 minutes on 2 cores.
Without it the run takes up to an hour. Progress goes to stderr: one line per claim, and
steps with an ETA inside long training loops (every 5 s at most). --only computes only what
the named claims need (the models they read). Finished experiments are cached in DIR/cache:
an interrupted run resumes where it stopped. Existing report files
(report.json, index.html, figures) are only replaced with --force, checked before any
experiment (cached experiments are reused when the code and settings are unchanged; --fresh
recomputes them)."""

EPILOG = """\
examples:
  checkerfree reproduce --quick --out report
  checkerfree reproduce --only overlap-1d overlap-2d --out report --force
  checkerfree reproduce --out report-full        # about an hour; resumable"""


def register(sub) -> None:
    from checkerfree.experiments.registry import claim_ids

    p = sub.add_parser("reproduce", help=HELP, description=DESCRIPTION, epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="checkerfree-report", metavar="DIR",
                   help="output folder (default: %(default)s)")
    p.add_argument("--quick", action="store_true",
                   help="small models and few steps: minutes instead of an hour")
    p.add_argument("--only", nargs="+", metavar="ID",
                   help=f"run only these claims; ids: {', '.join(claim_ids())}")
    p.add_argument("--force", action="store_true",
                   help="replace an existing report (report.json, index.html, figures) in DIR")
    p.add_argument("--fresh", action="store_true", help="ignore cached experiments in DIR/cache")
    p.add_argument("--threads", type=int, default=None, metavar="N",
                   help="torch CPU threads (default: 1, fastest for these small models on a "
                        "shared machine; results are deterministic for a given thread count "
                        "on one machine)")
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="worker processes for the independent model trainings (default: 2, "
                        "or 1 on a one-core machine; the numbers do not depend on it)")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.add_argument("--json", action="store_true", help="print report.json to stdout")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from checkerfree.errors import InvalidArgumentError
    from checkerfree.experiments.registry import check_ids
    from checkerfree.experiments.runner import reproduce

    if args.threads is not None and args.threads < 1:
        raise InvalidArgumentError(f"--threads must be a positive integer, got {args.threads}")
    if args.jobs is not None and args.jobs < 1:
        raise InvalidArgumentError(f"--jobs must be a positive integer, got {args.jobs}")
    jobs = args.jobs if args.jobs is not None else min(2, os.cpu_count() or 1)
    if args.only:
        check_ids(args.only)  # fail before any work or any file
    claims = reproduce(args.out, quick=args.quick, only=args.only, force=args.force,
                       fresh=args.fresh, verbose=not args.quiet, threads=args.threads,
                       jobs=jobs)
    if args.json:
        sys.stdout.write((Path(args.out) / "report.json").read_text())
        return 0
    width = max(len(c.id) for c in claims)
    for c in claims:
        print(f"{c.id:<{width}}  {'holds' if c.holds else 'does not hold'}")
    held = sum(c.holds for c in claims)
    print(f"{held}/{len(claims)} claims hold; report: {args.out}/index.html")
    return 0


