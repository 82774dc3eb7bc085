"""Parameters and multiply-adds of convert's replacements against the ConvTranspose they replace.

For the issue-14 examples, a 64 -> 64 ``nn.ConvTranspose2d`` at k4 s2 p1, k3 s2 p1 op1,
k5 s3 p1 and k8 s4 p2, every upsampling kind's counts from ``plan_conversion`` (parameters from
``parameters()``, multiply-adds counted by ``torch.utils.flop_counter`` on one 64 x 16 x 16
input, see ``checkerfree.convert.PROBE_LENGTH``). Counting runs on meta tensors: instant.
Prints one JSON document, or with ``--markdown`` the table in docs/convert.md.

    python benchmarks/convert_parity.py [--markdown]
"""

from __future__ import annotations

import argparse
import json

import torch.nn as nn

from checkerfree.convert import KINDS, PROBE_LENGTH, plan_conversion

EXAMPLES = {"k4 s2 p1": (4, 2, 1, 0), "k3 s2 p1 op1": (3, 2, 1, 1), "k5 s3 p1": (5, 3, 1, 0),
            "k8 s4 p2": (8, 4, 2, 0)}


def rows() -> list[dict]:
    out = []
    for label, (k, s, p, op) in EXAMPLES.items():
        ct = nn.ConvTranspose2d(64, 64, k, s, p, op)
        for kind in KINDS:
            (row,) = plan_conversion(ct, kind)
            out.append({"geometry": label, "kind": kind,
                        "params_before": row.params_before, "params_after": row.params_after,
                        "macs_before": row.macs_before, "macs_after": row.macs_after})
    return out


def markdown(table: list[dict]) -> str:
    header = ("| ConvTranspose2d 64->64 | kind | params before | params after | ratio | "
              "MACs before | MACs after | ratio |")
    lines = [header, "|---|---|---|---|---|---|---|---|"]
    for r in table:
        lines.append(
            f"| {r['geometry']} | {r['kind']} | {r['params_before']:,} | {r['params_after']:,} "
            f"| {r['params_after'] / r['params_before']:.2f} | {r['macs_before']:,} "
            f"| {r['macs_after']:,} | {r['macs_after'] / r['macs_before']:.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", action="store_true", help="print the docs table")
    args = parser.parse_args()
    table = rows()
    if args.markdown:
        print(markdown(table))
    else:
        print(json.dumps({"probe": [1, 64, PROBE_LENGTH, PROBE_LENGTH], "rows": table},
                         indent=2))


if __name__ == "__main__":
    main()
