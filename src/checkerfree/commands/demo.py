"""``checkerfree demo``: the overlap analysis of the article's examples and a DCGAN stack.

Writes eight figures and ``summary.json`` to ``--out`` (default ``checkerfree-overlaps``, its
own folder: ``checkerfree-demo`` is where ``make demo`` writes its ``reproduce`` report).
Every file is planned and checked before the first figure is drawn. ``checkerfree reproduce``
is the main job; this verb stays as the quick, training-free tour.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

from checkerfree.files import OutputSet


def _close(fig) -> None:
    import matplotlib.pyplot as plt

    plt.close(fig)

HELP = "write the article's overlap figures and a DCGAN stack analysis to a folder"

#: Not ``checkerfree-demo``: that is the Makefile's DEMO_DIR, the reproduce report.
DEFAULT_OUT = "checkerfree-overlaps"


def register(sub) -> None:
    p = sub.add_parser("demo", help=HELP, description=HELP + ". No training, a few seconds.")
    p.add_argument("--out", default=DEFAULT_OUT, metavar="DIR",
                   help="output folder (default: %(default)s)")
    p.add_argument("--force", action="store_true",
                   help="overwrite files a previous demo wrote in DIR")
    p.add_argument("--json", action="store_true",
                   help="print summary.json to stdout instead of the tour")
    p.set_defaults(func=run)


def _cases():
    from checkerfree.zoo import dcgan_generator

    return [
        # (name, what it shows, layers, dims, figure kind)
        ("article_1d_k3_s2", "1D, k=3 s=2: every other output gets twice the paint",
         [(3, 2)], 1, "1d"),
        ("article_1d_two_layers", "1D, two stacked k=3 s=2 layers: 3:1 with period 4",
         [(3, 2), (3, 2)], 1, "1d"),
        ("article_2d_k3_s2", "2D, k=3 s=2: the axes multiply, 4:1",
         [(3, 2)], 2, "2d"),
        ("article_2d_k4_s2", "2D, k=4 s=2: kernel divisible by stride, even",
         [(4, 2, 1)], 2, "2d"),
        ("article_2d_k5_s2", "2D, k=5 s=2: uneven again, 9:4",
         [(5, 2, 2, 1)], 2, "2d"),
        ("article_stack_k3_s2", "2D, three stacked k=3 s=2 layers: periods 2, 4, 8",
         [(3, 2, 1, 1)] * 3, 2, "stack"),
        ("dcgan_k4", "DCGAN generator (k=4, the paper's): even overlap",
         dcgan_generator(width=8, kernel_size=4), 2, "stack"),
        ("dcgan_k3", "DCGAN generator with k=3 deconvolutions: artifacts at several scales",
         dcgan_generator(width=8, kernel_size=3), 2, "stack"),
    ]


def run(args: argparse.Namespace) -> int:
    from checkerfree.overlap import overlap
    from checkerfree.report.overlap_plots import (
        plot_overlap_1d,
        plot_overlap_2d,
        plot_overlap_stack,
    )
    from checkerfree.report.text import render_map

    from checkerfree.jsontext import dumps

    out = Path(args.out)
    cases = _cases()
    outputs = OutputSet(force=args.force)
    outputs.folder(out)
    outputs.extend([out / f"{case[0]}.png" for case in cases] + [out / "summary.json"])
    outputs.check()
    say = sys.stderr if args.json else sys.stdout
    summary = []
    for n, (name, title, layers, dims, kind) in enumerate(cases, 1):
        result = overlap(layers, dims=dims)
        if kind == "1d":
            fig, _ = plot_overlap_1d(result.layers, size=6)
        elif kind == "2d":
            fig, _ = plot_overlap_2d(result)
        else:
            fig, _ = plot_overlap_stack(result.layers, dims=2)
        fig.suptitle(title, fontsize=11, y=1.07)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
        _close(fig)
        png = outputs.write(out / f"{name}.png", buf.getvalue())
        summary.append({"name": name, "title": title, "figure": png.name, **result.to_dict()})
        if args.json:
            continue
        ratio = "holes" if result.ratio is None else f"{result.max}:{result.min}"
        print(f"[{n}/{len(cases)}] {title}\n        ratio {ratio}, period "
              f"{'x'.join(map(str, result.period))} -> {png}", file=say)
        if dims <= 2 and all(q <= 8 for q in result.period):
            print("\n".join("        " + line for line in
                            render_map(result.tile(1 if dims == 2 else 3)).splitlines()),
                  file=say)
    doc = dumps({"analyses": summary}, indent=2)
    path = outputs.write(out / "summary.json", (doc + "\n").encode())
    if args.json:
        sys.stdout.write(doc + "\n")
    else:
        print(f"wrote {len(cases)} figures and {path}")
    return 0
