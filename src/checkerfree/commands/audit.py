"""``checkerfree audit``: find, measure and attribute checkerboard artifacts in a model."""

from __future__ import annotations

import argparse
import sys

from checkerfree.errors import InvalidArgumentError

HELP = "audit a model: which layers make checkerboards, in its output and its gradients"

DESCRIPTION = """\
Audit a PyTorch model for checkerboard artifacts: list every up- and downsampling layer and
judge it from its geometry and weights, measure the artifacts in the model's output and in its
input gradient on structured probe inputs, attribute them to layers by ablation, and say what
to change.

TARGET is package.module:factory, path/to/file.py:factory (a callable returning the module),
or a built-in example: {examples}."""

EPILOG = """\
examples:
  checkerfree audit dcgan                          # built-in DCGAN with k=3 deconvolutions
  checkerfree audit dcgan --fix resize             # before and after convert(to='resize')
  checkerfree audit espcn --fix auto               # the advised fix per culprit, re-audited
  checkerfree audit mypkg.models:make_decoder --input-shape 2,64,16,16 --json
  checkerfree audit ./net.py:build --weights net.safetensors --html audit-report"""


def _shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(v) for v in text.replace("x", ",").split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"input shape must be comma-separated integers like 2,3,64,64, got {text!r}") from None
    if len(shape) < 2 or any(v < 1 for v in shape):
        raise argparse.ArgumentTypeError(
            f"input shape must be N,C[,spatial...] with positive sizes, got {text!r}")
    return shape


def register(sub) -> None:
    from checkerfree.audit.fixing import FIX_CHOICES
    from checkerfree.zoo import EXAMPLES

    p = sub.add_parser("audit", help=HELP,
                       description=DESCRIPTION.format(examples=", ".join(sorted(EXAMPLES))),
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("target", metavar="TARGET", help="the model to audit (see above)")
    p.add_argument("--input-shape", type=_shape, metavar="N,C,...",
                   help="probe input shape (required for user targets)")
    p.add_argument("--weights", metavar="FILE",
                   help="state dict to load: .safetensors, or a torch file read with "
                        "weights_only=True")
    p.add_argument("--fix", choices=FIX_CHOICES,
                   help="auto: apply the advised fix to each culprit and audit again; "
                        "resize/subpixel/hold/blur: audit convert(model, to=FIX) too")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--train", dest="mode", action="store_const", const="train",
                      help="audit in train mode (batch norm uses batch statistics)")
    mode.add_argument("--eval", dest="mode", action="store_const", const="eval",
                      help="audit in eval mode (default: the mode the factory returns)")
    p.add_argument("--seeds", type=int, default=3, help="probe batches per input kind "
                   "(default: %(default)s)")
    p.add_argument("--no-gradient", action="store_true", help="skip the input-gradient probe")
    p.add_argument("--html", metavar="DIR", help="write an HTML report with pictures to DIR")
    p.add_argument("--force", action="store_true", help="overwrite files in --html DIR")
    p.add_argument("--json", action="store_true", help="print one JSON document to stdout")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from checkerfree.audit import audit
    from checkerfree.audit.fixing import fix_and_reaudit
    from checkerfree.targets import load_target, load_weights

    if args.seeds < 1:
        raise InvalidArgumentError(f"--seeds must be >= 1, got {args.seeds}")
    outputs = None
    if args.html:
        from checkerfree.report.audit_html import audit_html_outputs

        # Every file of the report, checked before the model is even built.
        outputs = audit_html_outputs(args.html, fixed=bool(args.fix), force=args.force)
        outputs.check()
    model, example = load_target(args.target)
    if args.weights:
        load_weights(model, args.weights)
    shape = args.input_shape or (example.input_shape if example else None)
    if shape is None:
        raise InvalidArgumentError(
            f"--input-shape is required for {args.target!r} (e.g. --input-shape 2,3,64,64)")
    if args.mode:
        model.train(args.mode == "train")
    kwargs = dict(input_shape=shape, seeds=args.seeds, gradient=not args.no_gradient)
    if not args.json and sys.stderr.isatty():
        print(f"auditing {args.target} on inputs of shape {tuple(shape)} ...", file=sys.stderr)
    report = audit(model, **kwargs)
    if args.fix:
        _, report.fix, report.fixed = fix_and_reaudit(model, report, args.fix, kwargs)
        if args.json and report.fix["message"]:
            # stdout carries one JSON document; say it on a line of its own for the reader.
            print(f"checkerfree audit: --fix {args.fix}: {report.fix['message']}",
                  file=sys.stderr)
    if args.html:
        page = report.to_html(args.html, force=args.force, outputs=outputs)
        if not args.json:
            print(f"wrote {page}", file=sys.stderr)
    if args.json:
        print(report.to_json())
    else:
        print(report)
    # A model that cannot be measured is not clean: exit 1, the reason on one line.
    failed = [r for r in (report, report.fixed) if r is not None and r.verdict == "error"]
    if failed:
        label = "" if failed[0] is report else " after the fix"
        print(f"checkerfree audit: error{label}: {failed[0].reason}", file=sys.stderr)
        return 1
    return 0
