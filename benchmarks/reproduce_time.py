"""Where a ``checkerfree reproduce`` run spent its time: per claim, from its ``report.json``.

Prints the Markdown table of docs/reproduce.md ("Time"): each claim's seconds (those of the
run that computed it; a cached claim's come from its cache entry), whether it was cached, its
verdict, and the run's wall time, thread count and quick flag (``meta.run``, ``meta.threads``).

With ``--headlines`` it prints the other table of docs/reproduce.md instead: each claim's
headline numbers (``claims[].headline``: name, value, unit) and its verdict.

Usage: python benchmarks/reproduce_time.py DIR/report.json [--json | --headlines]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def rows(report: dict) -> list[dict]:
    """One row per claim: id, seconds, cached, holds (a report without ``cached``: False)."""
    return [{"id": c["id"], "seconds": c["seconds"], "cached": bool(c.get("cached", False)),
             "holds": c["holds"]} for c in report["claims"]]


def markdown(report: dict) -> str:
    meta = report["meta"]
    run = meta.get("run", {})
    table = rows(report)
    total = sum(r["seconds"] for r in table)
    head = (f"{'quick' if meta['quick'] else 'full'} run, {meta['threads']} thread(s), "
            f"{run.get('jobs', 1)} job(s): "
            f"{run.get('wall_seconds', meta['seconds']):.0f} s wall time, "
            f"{total:.0f} s in the claims' experiments, "
            f"{sum(r['cached'] for r in table)} of {len(table)} claims cached")
    lines = [head, "",
             "| id | seconds | share | cached | holds |", "|---|---:|---:|---|---|"]
    for r in sorted(table, key=lambda r: -r["seconds"]):
        lines.append(f"| {r['id']} | {r['seconds']:.1f} | {r['seconds'] / max(total, 1e-9):.0%} "
                     f"| {'yes' if r['cached'] else 'no'} | {'yes' if r['holds'] else 'no'} |")
    return "\n".join(lines)


def _value(v) -> str:
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"
    return str(v)


def headlines(report: dict) -> str:
    """``| id | headline numbers | holds |``, one row per claim in report order."""
    lines = ["| id | headline numbers | holds |", "|---|---|---|"]
    for c in report["claims"]:
        numbers = "; ".join(f"{h['name']}: {_value(h['value'])}"
                            + (f" {h['unit']}" if h["unit"] else "")
                            for h in c.get("headline", []))
        lines.append(f"| {c['id']} | {numbers} | {'yes' if c['holds'] else '**no**'} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("report", type=Path)
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true")
    out.add_argument("--headlines", action="store_true",
                     help="print the headline numbers of every claim instead of the times")
    args = p.parse_args(argv)
    report = json.loads(args.report.read_text())
    if args.headlines:
        print(headlines(report))
    elif args.json:
        print(json.dumps({"rows": rows(report), "run": report["meta"].get("run")}, indent=1))
    else:
        print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
