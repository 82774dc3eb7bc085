"""The ``checkerfree`` command line: a thin layer over the Python API.

Every verb lives in ``checkerfree.commands.<verb>`` and exposes ``register(subparsers)``
(adds its parser and sets ``func``) and a ``run(args) -> int``. This module only builds the
parser, dispatches, and turns library errors into one line on stderr with exit status 2.

>>> main(["--version"])  # doctest: +SKIP
checkerfree 0.1.0
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from checkerfree import __version__
from checkerfree.errors import CheckerfreeError

# Order is the order shown in --help.
VERBS = ("overlap", "score", "audit", "convert", "reproduce", "demo")

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors and exit status 2 (argparse's own default status)."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The full parser, one sub-command per verb module that imports cleanly."""
    parser = _Parser(
        prog="checkerfree",
        description=(
            "Find, explain, measure and remove the checkerboard artifacts of transposed "
            "convolutions. Run 'checkerfree VERB --help' for each verb."
        ),
    )
    parser.add_argument("--version", action="version", version=f"checkerfree {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB", parser_class=_Parser)
    for verb in VERBS:
        try:
            module = importlib.import_module(f"checkerfree.commands.{verb}")
        except ModuleNotFoundError as exc:
            if exc.name == f"checkerfree.commands.{verb}":
                continue  # verb not built yet
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 some inputs failed, 2 usage)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(args.func(args) or 0)
    except CheckerfreeError as exc:
        print(f"checkerfree {args.verb}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (FileExistsError, FileNotFoundError, PermissionError, IsADirectoryError) as exc:
        print(f"checkerfree {args.verb}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("checkerfree: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
