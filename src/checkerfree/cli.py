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
import os
import sys
from collections.abc import Sequence

from checkerfree import __version__
from checkerfree.errors import CheckerfreeError
from checkerfree.interrupts import EXIT_TERMINATED, Terminated, sigterm_raises

# Order is the order shown in --help.
VERBS = ("overlap", "explore", "score", "audit", "convert", "reproduce", "demo")

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_BROKEN_PIPE = 128 + 13  # what a shell reports for a process ended by SIGPIPE


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
    """Run the command line; returns the exit status (0 ok, 1 some inputs failed, 2 usage;
    130 interrupted, 143 terminated by SIGTERM, 141 standard output closed early)."""
    import logging
    import warnings

    stdout = sys.stdout
    with warnings.catch_warnings(), sigterm_raises():
        if not sys.warnoptions:
            # Library warnings (torch, Pillow) are not ours to print: errors are one line.
            warnings.simplefilter("ignore")
            # matplotlib logs (not warns) when it cannot create its config folder.
            logging.getLogger("matplotlib").setLevel(logging.ERROR)
        sys.stdout = _Stdout(stdout)
        try:
            return _main(argv)
        finally:
            sys.stdout = stdout


class _Stdout:
    """Standard output whose write errors (a full disk) are told apart from other files'."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text):
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise _StdoutError(exc) from None

    def flush(self):
        try:
            return self._stream.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise _StdoutError(exc) from None

    def __getattr__(self, name):
        return getattr(self._stream, name)


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        status = int(args.func(args) or 0)
        # Flushed here, not at exit, so that a full disk or a closed pipe is reported.
        sys.stdout.flush()
        return status
    except BrokenPipeError:
        # `checkerfree ... | head -1`: the reader has gone; say nothing, like other tools.
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except CheckerfreeError as exc:
        print(f"checkerfree {args.verb}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except _StdoutError as exc:
        # `> /dev/full`: say it once, and keep the flush at exit from failing again.
        _silence_stdout()
        print(f"checkerfree {args.verb}: error: cannot write to standard output: "
              f"{exc.cause.strerror or exc.cause}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        # Missing files, permissions, a full disk while writing an output file.
        print(f"checkerfree {args.verb}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Terminated:
        print("checkerfree: terminated", file=sys.stderr)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        print("checkerfree: interrupted", file=sys.stderr)
        return 130


class _StdoutError(Exception):
    """Standard output could not be written (``cause`` is the OSError)."""

    def __init__(self, cause: OSError):
        super().__init__(str(cause))
        self.cause = cause


def _silence_stdout() -> None:
    """Point standard output at /dev/null so that the flush at exit cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # pragma: no cover - stdout replaced
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
