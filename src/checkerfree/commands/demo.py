"""``checkerfree demo``: the overlap analysis of the article's examples and a DCGAN stack.

Writes figures and ``summary.json`` to ``--out``. (Once ``checkerfree reproduce`` exists it
becomes the main job; this verb stays as the quick, training-free tour.)
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

from checkerfree.files import write_atomic


def _close(fig) -> None:
    import matplotlib.pyplot as plt

    plt.close(fig)

HELP = "write the article's overlap figures and a DCGAN stack analysis to a folder"


def register(sub) -> None:
    p = sub.add_parser("demo", help=HELP, description=HELP + ". No training, a few seconds.")
    p.add_argument("--out", default="checkerfree-demo", metavar="DIR",
                   help="output folder (default: %(default)s)")
    p.add_argument("--force", action="store_true",
                   help="overwrite files a previous demo wrote in DIR")
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
    from checkerfree.overlap import overlap, ratio_text
    from checkerfree.report.overlap_plots import (
        plot_overlap_1d,
        plot_overlap_2d,
        plot_overlap_stack,
    )
    from checkerfree.report.text import render_map

    out = Path(args.out)
    summary = []
    cases = _cases()
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
        png = write_atomic(out / f"{name}.png", buf.getvalue(), force=args.force)
        summary.append({"name": name, "title": title, "figure": png.name, **result.to_dict()})
        ratio = "holes" if result.ratio is None else ratio_text(result.max, result.min)
        print(f"[{n}/{len(cases)}] {title}\n        ratio {ratio}, period "
              f"{'x'.join(map(str, result.period))} -> {png}")
        if dims <= 2 and all(q <= 8 for q in result.period):
            print("\n".join("        " + line for line in
                            render_map(result.tile(1 if dims == 2 else 3)).splitlines()))
    doc = json.dumps({"analyses": summary}, indent=2).encode()
    path = write_atomic(out / "summary.json", doc, force=args.force)
    print(f"wrote {len(cases)} figures and {path}")
    return 0
