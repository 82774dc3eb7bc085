"""``checkerfree score``: the checkerboard score of image files and folders, one row each."""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from checkerfree.errors import InvalidArgumentError, LimitError, require

HELP = "checkerboard score of images, audio, arrays and volumes (files, folders, -)"

DESCRIPTION = """\
Measure the checkerboard pattern in images, audio, arrays and volumes: for each period (2, 4
and 8 by default; '--period auto' searches every period from 2 to a quarter of the shortest
side) the peak-to-peak amplitude of the pattern that repeats with that period, beyond what
the input has around those frequencies anyway. 'flagged' says whether some period is above
the threshold of the input's kind with a significant peak; 'score' is the value of the
period that decides, 'period' the dominant period per axis, 'reason' why the row is or is
not flagged; 'hotspot' is the array index of the strongest local pattern ([row, col] for
images), given where some period is significant ('--hotspot always': for every input, e.g.
a pattern in a small part of a picture, which the whole-input score does not find). Units: grey levels (0..255) for images, full scale (-1..1) for audio, the array's
own units for .npy, .npz and NIfTI.
Formats are told from the first bytes: PNG, JPEG, WebP, TIFF; WAV, FLAC, Ogg (extra 'audio');
.npy, .npz (every array a row, never unpickled); NIfTI .nii/.nii.gz (extra 'medical').
'-' reads one input from standard input. Folders are searched recursively for
.png .jpg .jpeg .webp .tif .tiff .wav .flac .ogg .npy .npz .nii .nii.gz files.

Every input gets a row: files that cannot be scored (missing, empty, truncated, not an image,
too small for the periods, decompression bombs, unreadable), folders that cannot be listed
and broken or looping symbolic links get an 'error' and the run goes on. File names that are
not UTF-8 show their odd bytes as \\xNN; JSON, CSV and Parquet rows also carry the exact name
in 'path_bytes' (base64). Non-finite numbers are written as null.
Exit status: 0 all scored, 1 some inputs failed, 2 bad usage."""

EPILOG = """\
examples:
  checkerfree score samples/                       # a table, one row per image
  checkerfree score a.png b.jpg --period 2 --json  # one JSON document
  checkerfree score vae_out/ --period auto         # any period: 3, 14, 16, 32 ...
  checkerfree score crops/ --hotspot always        # where a local pattern is, in every row
  checkerfree score samples/ --csv > scores.csv
  checkerfree score samples/ --heatmap overlays/   # a red overlay per image
  checkerfree score vocoder.wav --period 4 --period 8 --json   # tones at k*fs/s in Hz
  checkerfree score features.npy --spatial-dims 2  # (768, 32, 32): 768 channels
  generate | checkerfree score - --json            # one input on standard input
  checkerfree score /data/gen --engine ray --out scores.parquet   # RAY_ADDRESS=auto to join a cluster"""

OUT_SUFFIXES = (".parquet", ".json", ".csv")


def _positive(kind):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value

    parse.__name__ = kind.__name__
    return parse


def _threshold(text: str) -> float:
    """``--threshold``: what the library accepts (a number >= 0; inf flags nothing; not NaN)."""
    from checkerfree.arguments import check_threshold
    from checkerfree.errors import InvalidArgumentError

    try:
        return check_threshold(float(text))
    except ValueError as exc:  # float() and InvalidArgumentError (a ValueError) alike
        message = str(exc) if isinstance(exc, InvalidArgumentError) else \
            f"expected a number, got {text!r}"
        raise argparse.ArgumentTypeError(message) from None


_threshold.__name__ = "float"


def _period(text: str) -> int | str:
    if text == "auto":
        return text
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"a period is an integer >= 2 or 'auto', got {text!r}") from None
    if value < 2:
        raise argparse.ArgumentTypeError(f"a period is an integer >= 2, got {value}")
    return value


# The CLI's words for ImageScorer's ``hotspot``.
HOTSPOT_MODES = {"significant": True, "always": "always", "never": False}


def register(sub) -> None:
    p = sub.add_parser("score", help=HELP, description=DESCRIPTION, epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("paths", nargs="+", metavar="PATH",
                   help="files and folders; '-' for standard input")
    p.add_argument("--period", action="append", type=_period, metavar="N",
                   help="a period to measure (repeat; default: 2 4 8), or 'auto': search "
                        "every period from 2 to a quarter of the shortest side")
    output = p.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print one JSON document to stdout")
    output.add_argument("--csv", action="store_true", help="print CSV to stdout")
    p.add_argument("--spatial-dims", type=int, choices=(1, 2, 3), metavar="1|2|3",
                   help="how many trailing axes of an .npy/.npz array are spatial (leading "
                   "ones of NIfTI; default: from the shape, NIfTI 3; images are 2-D, audio "
                   "1-D)")
    p.add_argument("--heatmap", metavar="DIR",
                   help="write a PNG overlay per image (heat map in red) into DIR; "
                   "images only")
    p.add_argument("--hotspot", choices=HOTSPOT_MODES, default="significant",
                   help="where to search the hotspot: 'significant' (default) inputs with a "
                   "significant period, the others get null; 'always' every input (a local "
                   "pattern the whole-input score misses; costs about as much as the score "
                   "itself); 'never'")
    p.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="local threads (default) or Ray Data (extra 'ray')")
    p.add_argument("--out", metavar="FILE",
                   help="also write all rows to FILE: .parquet (extra 'ray'), .json or .csv")
    p.add_argument("--force", action="store_true", help="overwrite --out and --heatmap files")
    p.add_argument("--workers", type=_positive(int), metavar="N",
                   help="decoding threads (local; per process with --processes) or scoring "
                   "actors (ray); default: CPUs (1 per process with --processes)")
    p.add_argument("--processes", type=_positive(int), default=1, metavar="N",
                   help="local engine: score in N worker processes, one core each "
                   "(default 1: one scoring thread)")
    p.add_argument("--batch-size", type=_positive(int), default=8, metavar="N",
                   help="images of one size scored together (default 8)")
    p.add_argument("--threshold", type=_threshold, metavar="LEVELS",
                   help="flag above this value (>= 0; 0 flags every significant peak), in "
                   "each input's units (default: per kind: "
                   "0.55 grey levels, 0.55/255 full scale, 0.55/255 of an array's range)")
    p.add_argument("--max-pixels", type=_positive(int), metavar="N",
                   help="refuse images with more pixels (decompression bombs; default 8192^2)")
    p.add_argument("--ray-address", metavar="ADDR",
                   help="Ray cluster to join ('auto', 'ray://host:10001'); default RAY_ADDRESS")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress on stderr (default: when stderr is a terminal)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from checkerfree.score.batch import ImageScorer, error_row
    from checkerfree.files import OutputSet
    from checkerfree.io import DEFAULT_MAX_PIXELS, walk_inputs
    from checkerfree.score.results import portable_row, summarize
    from checkerfree.score.checkerboard import DEFAULT_THRESHOLD
    from checkerfree.signals import SIGNAL_EXTENSIONS

    if args.period and "auto" in args.period:
        if len(set(args.period)) > 1:
            raise InvalidArgumentError(
                f"--period auto searches every period; it cannot be combined with given "
                f"ones, got {' '.join(map(str, args.period))}")
        periods = "auto"
    else:
        periods = tuple(sorted(set(args.period or (2, 4, 8))))
    if args.out is not None:
        _check_out_suffix(args.out)
    if args.paths.count("-") > 1:
        raise InvalidArgumentError(
            f"'-' (standard input) can be read once, got it {args.paths.count('-')} times")
    if "-" in args.paths and args.engine == "ray":
        raise InvalidArgumentError("'-' (standard input) needs --engine local: Ray workers "
                                   "cannot read this process's standard input")
    from checkerfree.engines.processes import MAX_PROCESSES

    if args.processes > MAX_PROCESSES:
        raise LimitError(f"--processes must be at most {MAX_PROCESSES} (MAX_PROCESSES), "
                         f"got {args.processes}")
    if "-" in args.paths and args.processes > 1:
        raise InvalidArgumentError("'-' (standard input) needs --processes 1: worker "
                                   "processes cannot read this process's standard input")
    # '-' is standard input, even where a folder of that name exists.
    entries = [entry for path in args.paths
               for entry in ([("-", None)] if path == "-" else
                             walk_inputs([path], SIGNAL_EXTENSIONS))]
    if not entries:
        raise InvalidArgumentError(
            f"no image files (nor audio or arrays: {' '.join(SIGNAL_EXTENSIONS)}) found in "
            f"{' '.join(args.paths)}"
        )
    inputs = [path for path, _ in entries]
    # Every file this run writes (--out, one overlay per image) is checked before any work;
    # none may be one of the inputs.
    outputs = OutputSet(force=args.force, inputs=inputs)
    if args.out is not None:
        outputs.add(args.out)
    if args.heatmap is not None:
        _plan_heatmaps(outputs, Path(args.heatmap),
                       [p for p, e in entries if e is None and not _other_kind(p)])
    outputs.check()
    if args.heatmap is not None:
        _probe_folder(Path(args.heatmap))
    # Each input is flagged in its own units; the summary names the image threshold.
    threshold = DEFAULT_THRESHOLD if args.threshold is None else args.threshold
    scorer_kwargs = dict(
        periods=periods, heatmap_dir=args.heatmap, threshold=args.threshold,
        hotspot=HOTSPOT_MODES[args.hotspot],
        batch_size=args.batch_size, force=args.force, spatial_dims=args.spatial_dims,
        max_pixels=DEFAULT_MAX_PIXELS if args.max_pixels is None else args.max_pixels,
    )
    ImageScorer(**scorer_kwargs)  # invalid settings fail here, before any engine starts
    # The refusal is in the row; Pillow's own warning on stderr would only repeat it.
    Image = require("PIL.Image", "image")
    warnings.simplefilter("ignore", Image.DecompressionBombWarning)
    # Entries the walk already failed on (unlistable folders, broken links) get their row
    # here; the engine scores the others, and the rows are put back in input order.
    todo = [path for path, error in entries if error is None]
    if not todo:
        scored = []
    elif args.engine == "ray":
        scored = _run_ray(todo, scorer_kwargs, args)
    else:
        scored = _run_local(todo, ImageScorer(**scorer_kwargs, mark_source=True), args)
    rows = _in_input_order(entries, scored, error_row)
    if args.heatmap is not None:
        others = sum(1 for row in rows if row.get("kind") not in (None, "image"))
        if others:
            print(f"note: heat maps are drawn for images only; {others} row(s) of audio or "
                  "arrays have none", file=sys.stderr)

    summary = summarize(rows, periods=periods, threshold=threshold)
    summary["engine"] = args.engine
    images = [portable_row({key: row[key] for key in row if key != "heatmap" or args.heatmap})
              for row in rows]
    if args.out is not None:
        _write_out(outputs, args.out, images, summary, periods)
    if args.json:
        from checkerfree.jsontext import dumps

        sys.stdout.write(dumps({"images": images, "summary": summary}) + "\n")
    elif args.csv:
        from checkerfree.score.results import csv_text

        sys.stdout.write(csv_text(rows, periods))
    else:
        from checkerfree.report.score_table import print_table

        print_table(rows, summary, periods, rows_too=args.out is None)
        if args.out is not None:
            print(f"wrote {args.out}")
    return 1 if summary["failed"] else 0


def _other_kind(path: str) -> bool:
    """Whether ``path``'s name says audio or array (no overlay is planned for it)."""
    from checkerfree.io import IMAGE_EXTENSIONS
    from checkerfree.signals import SIGNAL_EXTENSIONS

    others = tuple(e for e in SIGNAL_EXTENSIONS if e not in IMAGE_EXTENSIONS)
    return path.lower().endswith(others)


def _in_input_order(entries, scored, error_row) -> list[dict]:
    """The walk's error rows and the engine's rows, in input order.

    A file of several items (an .npz) has several rows, all with its ``_source`` (the local
    engine's; Ray's rows have none, and are matched by their ``path:key`` or ``path[i]``
    names); rows come back in input order, so each entry takes the run of rows from it.
    """
    from checkerfree.jsontext import text

    def came_from(row: dict, path: str) -> bool:
        if "_source" in row:
            return row["_source"] == path
        name, shown = row["path"], text(path)
        return name == shown or name.startswith((shown + ":", shown + "["))

    rows: list[dict] = []
    pending = list(scored)
    at = 0
    for path, error in entries:
        if error is not None:
            rows.append(error_row(path, error))
            continue
        first = True
        while at < len(pending) and (first or came_from(pending[at], path)):
            first = False
            rows.append(pending[at])
            at += 1
    rows.extend(pending[at:])  # pragma: no cover - an engine returned more rows than inputs
    for row in rows:
        row.pop("_source", None)
    return rows


def _run_local(inputs, scorer, args) -> list[dict]:
    from checkerfree.engines.local import score_files
    from checkerfree.progress import Progress

    with Progress(len(inputs), enabled=args.progress) as progress:
        return list(score_files(inputs, scorer, workers=args.workers, processes=args.processes,
                                on_row=lambda _row: progress.advance()))


def _run_ray(inputs, scorer_kwargs, args) -> list[dict]:
    require("ray", "ray")
    from checkerfree.engines.ray_engine import score_files_ray

    from checkerfree.commands.native_stderr import held_native_stderr

    progress = sys.stderr.isatty() if args.progress is None else args.progress
    # Ray's C++ side logs to descriptor 2 (actor-restart E lines) on a run that succeeds.
    with held_native_stderr():
        return score_files_ray(inputs, scorer_kwargs, batch_size=args.batch_size,
                               concurrency=args.workers, address=args.ray_address,
                               progress=progress)


def _check_out_suffix(out: str) -> None:
    suffix = Path(out).suffix.lower()
    if suffix not in OUT_SUFFIXES:
        raise InvalidArgumentError(
            f"--out must end in {', '.join(OUT_SUFFIXES)}, got {out!r}"
        )
    if suffix == ".parquet":
        require("pyarrow.parquet", "ray")


def _plan_heatmaps(outputs, folder: Path, inputs: list[str]) -> None:
    """Plan one overlay per input in ``folder`` (checked with the rest before any work)."""
    from checkerfree.score.overlay import overlay_name

    outputs.folder(folder)
    names: dict[str, str] = {}
    for path in inputs:
        name = overlay_name(path)
        if name in names and names[name] != path:  # pragma: no cover - a digest collision
            raise InvalidArgumentError(f"{path} and {names[name]} would share an overlay name")
        names[name] = path
        outputs.add(folder / name)


def _probe_folder(folder: Path) -> None:
    """Refuse ``--heatmap DIR`` now if no file can be made there (not once per image later).

    Permission bits are not enough: root may "write" /proc, where no folder can be made; so
    the folder is made (it will hold the overlays) and a temporary file is opened in it.
    """
    import tempfile

    from checkerfree.errors import OutputError

    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder, prefix=".checkerfree-probe-"):
            pass
    except OSError as exc:
        raise OutputError(f"--heatmap {folder}: cannot write there: "
                          f"{exc.strerror or exc}") from None


def _write_out(outputs, out: str, images, summary, periods) -> None:
    from checkerfree.jsontext import dumps
    from checkerfree.score.results import csv_text, parquet_bytes

    suffix = Path(out).suffix.lower()
    if suffix == ".parquet":
        data = parquet_bytes(images, periods)
    elif suffix == ".json":
        data = (dumps({"images": images, "summary": summary}) + "\n").encode()
    else:
        data = csv_text(images, periods).encode()
    outputs.write(out, data)
