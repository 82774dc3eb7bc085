"""``checkerfree convert``: replace every strided ConvTranspose and save the new weights."""

from __future__ import annotations

import argparse
import sys

from checkerfree.errors import InvalidArgumentError

HELP = "replace a model's transposed convolutions and write the converted weights"

DESCRIPTION = """\
Replace every strided ConvTranspose1d/2d/3d of TARGET with an artifact-free upsampler that
keeps every output shape (resize: nearest resize-convolution; subpixel: ICNR sub-pixel
convolution; hold: the same transposed convolution followed by a zero-order hold), and write
the converted model's state dict as safetensors. The original weights file is never touched."""

EPILOG = """\
examples:
  checkerfree convert dcgan --to resize --out dcgan-resize.safetensors
  checkerfree convert ./net.py:build --weights net.pt --to hold --out net-held.safetensors"""


def register(sub) -> None:
    p = sub.add_parser("convert", help=HELP, description=DESCRIPTION, epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("target", metavar="TARGET",
                   help="package.module:factory, path/to/file.py:factory, or a built-in example")
    p.add_argument("--to", required=True, choices=("resize", "subpixel", "hold", "auto", "blur"),
                   help="replacement kind (auto: resize where the overlap is uneven, else hold; "
                        "blur: strided convolutions, pooling, unshuffle)")
    p.add_argument("--out", required=True, metavar="FILE.safetensors", help="output file")
    p.add_argument("--weights", metavar="FILE", help="state dict to load into TARGET first")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    p.add_argument("--json", action="store_true", help="print one JSON document to stdout")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import warnings

    from checkerfree.convert import convert, nothing_to_convert, plan_conversion
    from checkerfree.errors import require
    from checkerfree.files import OutputSet
    from checkerfree.jsontext import dumps
    from checkerfree.targets import load_target, load_weights

    if not args.out.endswith(".safetensors"):
        raise InvalidArgumentError(f"--out must end in .safetensors, got {args.out!r}")
    # The weights and the model's own file are inputs: never written over, even with --force.
    outputs = OutputSet(force=args.force, inputs=[args.weights, _target_file(args.target)])
    outputs.add(args.out).check()
    model, _ = load_target(args.target)
    if args.weights:
        load_weights(model, args.weights)
    plan = plan_conversion(model, to=args.to)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        new = convert(model, to=args.to)
    st = require("safetensors.torch", "weights")
    state = {k: v.detach().contiguous() for k, v in new.state_dict().items()}
    # Tied parameters appear under several keys: safetensors wants one storage per key.
    state = {k: v.clone() for k, v in state.items()}
    blob = st.save(state)
    outputs.write(args.out, blob)
    rebuild = (f"import checkerfree; model = checkerfree.convert(<build {args.target}>, "
               f"to={args.to!r}); checkerfree.targets.load_weights(model, {args.out!r})")
    doc = {"target": args.target, "to": args.to, "out": args.out,
           "converted": [{"name": c.name, "from": type(c.old).__name__} for c in plan],
           "rebuild": rebuild}
    if args.json:
        sys.stdout.write(dumps(doc) + "\n")
    else:
        if not plan:
            print(f"{args.target}: {nothing_to_convert(model, args.to)}; weights written as is")
        for c in plan:
            print(f"converted {c.name}: {type(c.old).__name__} -> {args.to}")
        print(f"wrote {args.out}")
        print(f"rebuild with: {rebuild}")
    return 0


def _target_file(target: str) -> str | None:
    """The Python file of a ``path/to/file.py:factory`` TARGET (an input too), else None."""
    where = target.rpartition(":")[0]
    return where if where.endswith(".py") else None
