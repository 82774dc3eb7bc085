"""``checkerfree explore``: write the interactive overlap explorer, a self-contained page."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from checkerfree.errors import InvalidArgumentError

HELP = "write an interactive page that redraws the overlap of a stack as you edit it"

DESCRIPTION = """\
Write DIR/index.html: an offline page (no network request, no server) with a layers editor,
the 1D contribution bars, the 2D heat map with its colour bar, the exact numbers (ratio,
period, uneven, max, min, holes, as `checkerfree overlap` prints them) and the same stack with
resize-conv, sub-pixel or hold. Its state lives in the link, e.g.
index.html#dims=2&layers=3:2:1:1,3:2 (the --layer syntax, comma-separated).

TARGET (optional; the forms `checkerfree audit` takes) opens the page on that model's stack
of transposed convolutions and shows each layer's learned per-phase sums."""

EPILOG = """\
examples:
  checkerfree explore                              # the article's k=3, s=2
  checkerfree explore --layer 3:2 --layer 3:2 --dims 1 --open
  checkerfree explore dcgan --out dcgan-explore    # a built-in model's deconvolutions
  checkerfree explore ./net.py:build --weights net.safetensors --json"""

DEFAULT_OUT = "checkerfree-explore"


def register(sub) -> None:
    from checkerfree.commands.overlap import _layer

    p = sub.add_parser("explore", help=HELP, description=DESCRIPTION, epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("target", metavar="TARGET", nargs="?",
                   help="a model whose transposed convolutions the page opens on")
    p.add_argument("--layer", action="append", type=_layer, metavar="K:S[:P[:OP[:D]]]",
                   help="open on this stack instead (repeat; first = applied first)")
    p.add_argument("--dims", type=int, choices=(1, 2, 3), default=None,
                   help="spatial axes (default: from the model or per-axis fields, else 2)")
    p.add_argument("--weights", metavar="FILE", help="state dict to load into TARGET")
    p.add_argument("--out", metavar="DIR", default=DEFAULT_OUT,
                   help="folder for index.html (default: %(default)s/)")
    p.add_argument("--open", action="store_true", help="open the page in a web browser")
    p.add_argument("--json", action="store_true", help='print {"out": ..., "url": ...}')
    p.add_argument("--force", action="store_true", help="overwrite an existing index.html")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from checkerfree.explore.page import DEFAULT_LAYERS, build_page, model_state
    from checkerfree.files import OutputSet
    from checkerfree.jsontext import dumps

    if args.target and args.layer:
        raise InvalidArgumentError("give TARGET or --layer, not both")
    if args.weights and not args.target:
        raise InvalidArgumentError("--weights needs a TARGET to load them into")
    page_path = Path(args.out) / "index.html"
    inputs = [args.weights] if args.weights else []
    # Refused before the model is built: nothing is overwritten without --force.
    outputs = OutputSet(inputs=inputs, force=args.force).add(page_path).check()
    if args.target:
        from checkerfree.targets import load_target, load_weights

        model, _ = load_target(args.target)
        if args.weights:
            load_weights(model, args.weights)
        state = model_state(model)
        page = build_page(state["layers"], args.dims or state["dims"], phases=state["phases"],
                          title=f"checkerfree explore: {args.target}")
    else:
        page = build_page(args.layer or DEFAULT_LAYERS, args.dims)
    written = outputs.write(page_path, page.encode("utf-8"))
    url = Path(written).resolve().as_uri()
    if args.json:
        sys.stdout.write(dumps({"out": str(written), "url": url}) + "\n")
    else:
        print(f"wrote {written}")
        print(f"open {url}")
    if args.open:
        import webbrowser

        webbrowser.open(url)
    return 0
