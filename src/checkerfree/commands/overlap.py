"""``checkerfree overlap``: exact contribution map of stacked transposed convolutions."""

from __future__ import annotations

import argparse
import sys

from checkerfree.errors import SpecError
from checkerfree.overlap import overlap
from checkerfree.spec import TransposedConvSpec

HELP = "exact overlap (contribution counts) of stacked transposed convolutions"

DESCRIPTION = """\
Exact contribution map of one or more transposed convolutions applied in turn, as PyTorch's
ConvTranspose computes them: how many (input, kernel tap) paths reach each output position.
Uneven counts are the checkerboard's cause (Odena et al., Distill 2016).

Each --layer is K:S[:P[:OP[:D]]] = kernel_size:stride[:padding[:output_padding[:dilation]]];
a field may be per axis, e.g. 3x4:2. Layers are applied in the order given."""

EPILOG = """\
examples:
  checkerfree overlap --layer 3:2                    # 4:1 in 2D, period 2
  checkerfree overlap --layer 3:2 --layer 3:2 --dims 1   # 3:1, period 4
  checkerfree overlap --layer 4:2:1 --json           # even: ratio 1.0
  checkerfree overlap --layer 3:2 --size 6 --png map.png"""


def _layer(text: str) -> TransposedConvSpec:
    try:
        return TransposedConvSpec.parse(text)
    except SpecError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(sub) -> None:
    p = sub.add_parser("overlap", help=HELP, description=DESCRIPTION, epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--layer", action="append", type=_layer, required=True, metavar="K:S[:P[:OP[:D]]]",
                   help="one transposed convolution; repeat for a stack (first = applied first)")
    p.add_argument("--dims", type=int, choices=(1, 2, 3), default=None,
                   help="spatial axes (default: from per-axis fields, else 2)")
    p.add_argument("--size", type=int, default=None, metavar="N",
                   help="also compute the finite map (with borders) for an input of N per axis")
    p.add_argument("--json", action="store_true", help="print one JSON document to stdout")
    p.add_argument("--png", metavar="FILE", help="write a figure (needs the 'plot' extra)")
    p.add_argument("--force", action="store_true", help="overwrite an existing --png file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from checkerfree.files import OutputSet
    from checkerfree.jsontext import dumps

    outputs = None
    if args.png:
        # Refuse before spending time on the map or the figure.
        outputs = OutputSet(force=args.force).add(args.png).check()
    result = overlap(args.layer, dims=args.dims, size=args.size)
    if outputs is not None:
        _write_png(result, args.png, outputs)
    if args.json:
        sys.stdout.write(dumps(result.to_dict()) + "\n")
        return 0
    from checkerfree.report.text import render_map

    layers = " + ".join(s.describe() for s in result.layers)
    print(f"{result.dims}D stack: {layers}")
    if result.size is not None and result.finite.size <= 4096:
        shown, label = result.finite, f"finite map for input {'x'.join(map(str, result.size))}"
    elif all(q <= 32 for q in result.period):
        shown, label = result.tile(2), "interior map, 2 periods per axis"
    else:
        shown, label = None, ""
    if shown is not None:
        if result.dims == 3:
            shown, label = shown[:2], label + " (first 2 depth slices)"
        print(f"{label}:")
        print(render_map(shown, legend=True))
    ratio = "n/a (holes)" if result.ratio is None else f"{result.ratio:g}"
    print(f"period {'x'.join(map(str, result.period))}  max {result.max}  min {result.min}  "
          f"ratio {ratio}  uneven {'yes' if result.uneven else 'no'}")
    print(result.explanation)
    if args.png:
        print(f"wrote {args.png}")
    return 0


def _write_png(result, path: str, outputs) -> None:
    import io

    from checkerfree.report.overlap_plots import plot_overlap_1d, plot_overlap_2d

    if result.dims == 1:
        fig, _ = plot_overlap_1d(result.layers, size=result.size or 6)
    elif result.dims == 2:
        fig, _ = plot_overlap_2d(result)
    else:
        from checkerfree.report.overlap_plots import _pyplot

        plt = _pyplot()
        fig, ax = plt.subplots(figsize=(4.8, 4.0))
        data = result.tile(2)[0] if result.size is None else result.finite[result.finite.shape[0] // 2]
        im = ax.imshow(data, cmap="magma", vmin=0, interpolation="nearest")
        fig.colorbar(im, ax=ax, label="contributions")
        ax.set_title("3D map, one depth slice", fontsize=10)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    outputs.write(path, buf.getvalue())
