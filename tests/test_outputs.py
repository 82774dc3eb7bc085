"""Promise 2, one writer for every output: refuse before any work, never write over an input,
write atomically with the umask's mode, clean up on SIGINT and SIGTERM.

Each refusal case runs the real command (``checkerfree.cli.main``) with the function that
does the work replaced by one that fails the test if it is reached, and compares checksums of
every file the user owns before and after. Signals, pipes, full disks and umasks go through
a subprocess.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from checkerfree.cli import main
from checkerfree.errors import OutputError, OutputExistsError
from checkerfree.files import OutputSet, current_umask, file_mode, write_atomic

SRC = str(Path(__file__).resolve().parents[1] / "src")


def snapshot(root: Path) -> dict[str, str]:
    """Every entry under ``root``: its sha256, or where a link points, or 'dir'."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                out[rel] = "-> " + os.readlink(path)
            elif path.is_dir():
                out[rel] = "dir"
            else:
                out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def _image(path: Path) -> Path:
    i, j = np.indices((32, 32))
    Image.fromarray((120 + 4 * (-1) ** (i + j)).astype(np.uint8)).save(path)
    return path


def _weights(path: Path) -> Path:
    from safetensors.torch import save_file

    from checkerfree.zoo import EXAMPLES

    model = EXAMPLES["dcgan"].factory()
    save_file({k: v.contiguous().clone() for k, v in model.state_dict().items()}, path)
    return path


# (id, files of the user: {relative path: bytes | "image" | "weights" | "link:<target>"},
#  argv (with {t} for the folder), the function that does the work, message fragment)
REFUSALS = [
    ("audit-user-figure", {"rep/overlap_0.png": b"mine"},
     ["audit", "dcgan", "--html", "{t}/rep"], "checkerfree.audit:audit",
     "overlap_0.png exists"),
    ("audit-fixed-figure", {"rep/fixed_output_samples.png": b"mine"},
     ["audit", "dcgan", "--fix", "resize", "--html", "{t}/rep"], "checkerfree.audit:audit",
     "fixed_output_samples.png exists"),
    ("audit-html-is-a-file", {"rep": b"a file"},
     ["audit", "dcgan", "--html", "{t}/rep", "--force"], "checkerfree.audit:audit",
     "rep exists and is not a folder"),
    ("reproduce-user-figure", {"out/figures/overlap_1d_k3_s2.png": b"mine"},
     ["reproduce", "--quiet", "--only", "overlap-1d", "--out", "{t}/out"],
     "checkerfree.experiments.runner:experiment", "overlap_1d_k3_s2.png exists"),
    ("reproduce-out-is-a-file", {"out": b"a file"},
     ["reproduce", "--quiet", "--only", "overlap-1d", "--out", "{t}/out", "--force"],
     "checkerfree.experiments.runner:experiment", "out exists and is not a folder"),
    ("reproduce-under-a-file", {"f": b"a file"},
     ["reproduce", "--quiet", "--only", "overlap-1d", "--out", "{t}/f/out"],
     "checkerfree.experiments.runner:experiment", "f exists and is not a folder"),
    ("convert-over-its-weights", {"w.safetensors": "weights"},
     ["convert", "dcgan", "--weights", "{t}/w.safetensors", "--to", "resize", "--out",
      "{t}/w.safetensors", "--force"], "checkerfree.convert:convert", "is an input"),
    ("convert-over-a-link-to-its-weights",
     {"w.safetensors": "weights", "l.safetensors": "link:w.safetensors"},
     ["convert", "dcgan", "--weights", "{t}/w.safetensors", "--to", "resize", "--out",
      "{t}/l.safetensors", "--force"], "checkerfree.convert:convert", "is an input"),
    ("convert-existing", {"new.safetensors": b"mine"},
     ["convert", "dcgan", "--to", "resize", "--out", "{t}/new.safetensors"],
     "checkerfree.convert:convert", "new.safetensors exists"),
    ("overlap-png-existing", {"map.png": b"mine"},
     ["overlap", "--layer", "3:2", "--png", "{t}/map.png"],
     "checkerfree.commands.overlap:overlap", "map.png exists"),
    ("overlap-png-is-a-folder", {"map.png/keep": b"mine"},
     ["overlap", "--layer", "3:2", "--png", "{t}/map.png", "--force"],
     "checkerfree.commands.overlap:overlap", "is a folder"),
    ("demo-summary-existing", {"tour/summary.json": b"{}"},
     ["demo", "--out", "{t}/tour"], "checkerfree.overlap:overlap", "summary.json exists"),
    ("demo-one-figure-existing", {"tour/dcgan_k3.png": b"mine"},
     ["demo", "--out", "{t}/tour"], "checkerfree.overlap:overlap", "dcgan_k3.png exists"),
    ("score-out-existing", {"a.png": "image", "rows.csv": b"mine"},
     ["score", "{t}/a.png", "--out", "{t}/rows.csv"],
     "checkerfree.engines.local:score_files", "rows.csv exists"),
    ("score-out-is-an-input", {"a.png": "image", "rows.json": b"{}"},
     ["score", "{t}/a.png", "{t}/rows.json", "--out", "{t}/rows.json", "--force"],
     "checkerfree.engines.local:score_files", "is an input"),
    ("score-heatmap-existing", {"a.png": "image", "maps/keep.txt": b"mine"},
     ["score", "{t}/a.png", "--heatmap", "{t}/maps"],
     "checkerfree.engines.local:score_files", "exists"),
    ("score-heatmap-is-a-file", {"a.png": "image", "maps": b"a file"},
     ["score", "{t}/a.png", "--heatmap", "{t}/maps", "--force"],
     "checkerfree.engines.local:score_files", "maps exists and is not a folder"),
]


def _make(root: Path, files: dict) -> None:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if content == "image":
            _image(path)
        elif content == "weights":
            _weights(path)
        elif isinstance(content, str) and content.startswith("link:"):
            os.symlink(content[5:], path)
        else:
            path.write_bytes(content)


@pytest.mark.parametrize("case", REFUSALS, ids=[c[0] for c in REFUSALS])
def test_refuses_before_any_work(case, tmp_path, capsys, monkeypatch):
    name, files, argv, work, fragment = case
    _make(tmp_path, files)
    if name == "score-heatmap-existing":
        # The overlay the command would write for a.png, made by the user beforehand.
        from checkerfree.score.overlay import overlay_name

        (tmp_path / "maps" / overlay_name(tmp_path / "a.png")).write_bytes(b"mine")
    module, attr = work.split(":")
    # Modules that bind the patched function by name at import must be imported first, or
    # they would keep the stand-in after the test.
    for name in ("checkerfree.report.overlap_plots", "checkerfree.audit.inventory",
                 "checkerfree.experiments.overlap_claims", "checkerfree.commands.overlap"):
        importlib.import_module(name)

    def no_work(*args, **kwargs):
        raise AssertionError(f"{work} ran before the refusal")

    monkeypatch.setattr(__import__(module, fromlist=[attr]), attr, no_work)
    before = snapshot(tmp_path)
    code = main([a.format(t=tmp_path) for a in argv])
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and fragment in err[0], captured.err
    assert captured.out == ""
    assert snapshot(tmp_path) == before  # nothing changed, nothing added


def test_refusal_names_the_first_few(tmp_path):
    outputs = OutputSet()
    for k in range(6):
        (tmp_path / f"f{k}.png").write_bytes(b"x")
        outputs.add(tmp_path / f"f{k}.png")
    with pytest.raises(OutputExistsError) as info:
        outputs.check()
    message = str(info.value)
    assert "f0.png exists, as do" in message and "f1.png" in message and "f2.png" in message
    assert "and 3 more" in message and "f5.png" not in message
    assert isinstance(info.value, FileExistsError) and isinstance(info.value, ValueError)


def test_output_set_rules(tmp_path):
    (tmp_path / "in.bin").write_bytes(b"input")
    os.link(tmp_path / "in.bin", tmp_path / "hard.bin")
    os.symlink(tmp_path / "gone", tmp_path / "dangling.png")
    for path in ("in.bin", "hard.bin"):  # same path, same inode: never, even with force
        with pytest.raises(OutputError, match="is an input"):
            OutputSet(force=True, inputs=[tmp_path / "in.bin"]).add(tmp_path / path).check()
    with pytest.raises(OutputExistsError):  # a dangling link is something the user has
        OutputSet().add(tmp_path / "dangling.png").check()
    # A family: every existing file matching the pattern counts, others do not.
    (tmp_path / "overlap_7.png").write_bytes(b"x")
    (tmp_path / "notes.txt").write_bytes(b"x")
    with pytest.raises(OutputExistsError, match="overlap_7.png"):
        OutputSet().add_family(tmp_path, "overlap_*.png").check()
    outputs = OutputSet().add_family(tmp_path / "new", "overlap_*.png").check()
    outputs.write(tmp_path / "new" / "overlap_0.png", b"1")
    outputs.write(tmp_path / "new" / "overlap_0.png", b"2")  # this run's own file, again
    assert (tmp_path / "new" / "overlap_0.png").read_bytes() == b"2"
    # Owned files (a resumed run's) may be replaced; a file the plan missed may not.
    outputs = OutputSet().add(tmp_path / "notes.txt", owned=True).check()
    outputs.write(tmp_path / "notes.txt", b"ours")
    with pytest.raises(OutputExistsError):
        outputs.write(tmp_path / "overlap_7.png", b"unplanned")
    assert (tmp_path / "overlap_7.png").read_bytes() == b"x"
    # Something that appears between the check and the write is refused too.
    outputs = OutputSet().add(tmp_path / "late.txt").check()
    (tmp_path / "late.txt").write_bytes(b"someone else")
    with pytest.raises(OutputExistsError):
        outputs.write(tmp_path / "late.txt", b"ours")
    assert not list(tmp_path.rglob(".*.tmp"))


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_written_mode_is_the_umasks(tmp_path, mask):
    old = os.umask(mask)
    try:
        assert current_umask() == mask and file_mode() == 0o666 & ~mask
        path = write_atomic(tmp_path / "a" / "b.bin", lambda fh: fh.write(b"x"))
        plain = tmp_path / "plain.bin"
        with open(plain, "wb"):
            pass
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == stat.S_IMODE(plain.stat().st_mode)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask


def _run(args, **kwargs):
    env = {**os.environ, "PYTHONPATH": SRC}
    kwargs.setdefault("stdout", subprocess.PIPE)
    return subprocess.run([sys.executable, *args], env=env, stderr=subprocess.PIPE, text=True,
                          timeout=240, **kwargs)


@pytest.mark.parametrize("mask", [0o022, 0o077])
def test_command_files_get_the_umasks_mode(tmp_path, mask):
    """A real command (demo: nine files, a folder) run under the umask, as a user would."""
    proc = _run(["-m", "checkerfree", "demo", "--out", str(tmp_path / "tour"), "--json"],
                umask=mask)
    assert proc.returncode == 0, proc.stderr
    json.loads(proc.stdout)  # --json: one document
    files = sorted((tmp_path / "tour").iterdir())
    assert len(files) == 9
    assert {stat.S_IMODE(p.stat().st_mode) for p in files} == {0o666 & ~mask}
    assert stat.S_IMODE((tmp_path / "tour").stat().st_mode) == 0o777 & ~mask


def test_demo_has_its_own_default_folder():
    from checkerfree.cli import build_parser

    makefile = (Path(__file__).resolve().parents[1] / "Makefile").read_text()
    demo_dir = next(line.split("?=")[1].strip() for line in makefile.splitlines()
                    if line.startswith("DEMO_DIR"))
    args = build_parser().parse_args(["demo"])
    assert args.out != demo_dir and args.out == "checkerfree-overlaps"


# The child stops inside os.replace (the temporary file is complete, not yet renamed), says
# so on stdout, and waits for the parent's signal.
_CHILD = textwrap.dedent("""
    import os, sys, time
    real = os.replace
    def slow_replace(src, dst):
        print("ready", src, flush=True)
        time.sleep(60)
        real(src, dst)
    os.replace = slow_replace
    from checkerfree.cli import main
    sys.exit(main(sys.argv[1:]))
""")


@pytest.mark.parametrize("signum, status, word", [
    (signal.SIGTERM, 143, "terminated"),
    (signal.SIGINT, 130, "interrupted"),
])
def test_signal_mid_write_leaves_no_temporary_file(tmp_path, signum, status, word):
    png = tmp_path / "map.png"
    env = {**os.environ, "PYTHONPATH": SRC}
    child = subprocess.Popen([sys.executable, "-c", _CHILD, "overlap", "--layer", "3:2",
                              "--png", str(png)], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        line = child.stdout.readline()
        assert line.startswith("ready"), child.stderr.read()
        tmp = Path(line.split(None, 1)[1].strip())
        assert tmp.exists() and tmp.name.startswith(".map.png.") and tmp.suffix == ".tmp"
        child.send_signal(signum)
        out, err = child.communicate(timeout=300)  # a hang guard only
    finally:
        child.kill()
    assert child.returncode == status
    assert err.strip().splitlines() == [f"checkerfree: {word}"]
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no .tmp, no half map.png


def test_broken_pipe_is_quiet(tmp_path):
    """`checkerfree overlap ... | head -1`: the reader is gone before we write."""
    read, write = os.pipe()
    os.close(read)
    try:
        proc = _run(["-m", "checkerfree", "overlap", "--layer", "3:2", "--layer", "3:2"],
                    stdout=write)
    finally:
        os.close(write)
    assert proc.returncode == 141
    assert proc.stderr == ""


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_full_disk_on_stdout_is_one_line(tmp_path):
    image = _image(tmp_path / "a.png")
    with open("/dev/full", "w") as full:
        proc = _run(["-m", "checkerfree", "score", str(image), "--json"], stdout=full)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert lines == ["checkerfree score: error: cannot write to standard output: "
                     "No space left on device"]


def _strict_loads(text: str):
    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def test_json_is_strict_for_an_infinite_threshold(tmp_path, capsys):
    image = _image(tmp_path / "a.png")
    assert main(["score", str(image), "--threshold", "inf", "--json",
                 "--out", str(tmp_path / "rows.json")]) == 0
    printed = capsys.readouterr().out
    for text in (printed, (tmp_path / "rows.json").read_text()):
        assert "Infinity" not in text and "NaN" not in text
        doc = _strict_loads(text)
        assert doc["summary"]["threshold"] is None  # non-finite -> null, as documented
        assert doc["images"][0]["flagged"] is False


def test_reproduce_resumes_over_its_own_figures(tmp_path, capsys):
    """An interrupted run (cache and figures, no report) resumes without --force."""
    args = ["reproduce", "--quiet", "--only", "overlap-1d", "--out", str(tmp_path)]
    assert main(args) == 0
    (tmp_path / "report.json").unlink()
    (tmp_path / "index.html").unlink()
    assert main(args) == 0, capsys.readouterr().err
    doc = json.loads((tmp_path / "report.json").read_text())
    assert doc["claims"][0]["figures"] == ["figures/overlap_1d_k3_s2.png",
                                           "figures/overlap_1d_two_layers.png"]


def test_figure_manifest_matches_the_experiments():
    """registry.FIGURES (what reproduce plans) names every figure the experiments save."""
    import ast

    from checkerfree.experiments import registry

    saved: dict[str, set[str]] = {}
    folder = Path(registry.__file__).parent
    for path in folder.glob("*.py"):
        tree = ast.parse(path.read_text())
        functions = {node.name: node for node in ast.walk(tree)
                     if isinstance(node, ast.FunctionDef)}
        for node in functions.values():
            names = {call.args[1].value for call in ast.walk(node)
                     if isinstance(call, ast.Call) and getattr(call.func, "attr", "") ==
                     "save_figure" and isinstance(call.args[1], ast.Constant)}
            # Names saved by a helper the claim calls (the super-resolution figures).
            for call in ast.walk(node):
                if isinstance(call, ast.Call) and getattr(call.func, "id", "") in functions:
                    helper = functions[call.func.id]
                    names |= {c.args[1].value for c in ast.walk(helper)
                              if isinstance(c, ast.Call)
                              and getattr(c.func, "attr", "") == "save_figure"}
            saved[f"{path.stem}:{node.name}"] = names
    for claim_id, target in registry.REGISTRY.items():
        assert set(registry.FIGURES[claim_id]) == saved[target], claim_id
    assert set(registry.FIGURES) == set(registry.REGISTRY)


# Every writing command, run for real (small settings), with the files it must write.
WRITERS = [
    ("overlap", ["overlap", "--layer", "3:2", "--png", "{t}/out/map.png"]),
    ("score", ["score", "{t}/a.png", "--out", "{t}/out/rows.parquet", "--heatmap", "{t}/out/maps"]),
    ("convert", ["convert", "dcgan", "--to", "resize", "--out", "{t}/out/w.safetensors"]),
    ("audit", ["audit", "dcgan", "--seeds", "1", "--no-gradient", "--html", "{t}/out/rep"]),
    ("reproduce", ["reproduce", "--quiet", "--only", "overlap-2d", "--out", "{t}/out/rep"]),
    ("demo", ["demo", "--out", "{t}/out/tour", "--json"]),
]


@pytest.mark.parametrize("argv", [w[1] for w in WRITERS], ids=[w[0] for w in WRITERS])
def test_every_writer_gives_the_umasks_mode(argv, tmp_path, capsys):
    """umask 027 gives 0640: neither mkstemp's 0600 nor the usual 0644."""
    pytest.importorskip("pyarrow")
    _image(tmp_path / "a.png")
    old = os.umask(0o027)
    try:
        code = main([a.format(t=tmp_path) for a in argv])
    finally:
        os.umask(old)
    assert code == 0, capsys.readouterr().err
    written = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert written and not [p for p in written if p.name.endswith(".tmp")]
    assert {oct(stat.S_IMODE(p.stat().st_mode)) for p in written} == {oct(0o640)}


def test_library_warnings_are_not_printed():
    """A library's UserWarning (torch's weights_only hint, Pillow's) never reaches stderr."""
    child = textwrap.dedent("""
        import sys, warnings
        import checkerfree.commands.overlap as command
        real = command.overlap
        def noisy(*args, **kwargs):
            warnings.warn("a library talking", UserWarning)
            return real(*args, **kwargs)
        command.overlap = noisy
        from checkerfree.cli import main
        sys.exit(main(["overlap", "--layer", "3:2", "--json"]))
    """)
    proc = _run(["-c", child])
    assert proc.returncode == 0 and proc.stderr == ""
    assert json.loads(proc.stdout)["ratio"] == 4.0
    # PYTHONWARNINGS (or -W) still shows them, for whoever asks.
    proc = _run(["-W", "always", "-c", child])
    assert "a library talking" in proc.stderr


def test_an_unwritable_folder_is_refused_before_the_work(tmp_path, monkeypatch):
    # As root every folder is writable: os.access is what the check asks.
    folder = tmp_path / "ro"
    folder.mkdir()
    real = os.access
    monkeypatch.setattr(os, "access",
                        lambda p, mode, **kw: False if Path(p) == folder else real(p, mode, **kw))
    with pytest.raises(OutputError, match="cannot write into .*ro: permission denied"):
        OutputSet().add(folder / "x.csv").check()


def test_a_failed_write_names_the_users_file_not_the_temporary(tmp_path, monkeypatch):
    import tempfile

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(OutputError) as info:
        write_atomic(tmp_path / "x.csv", b"1")
    assert str(info.value) == f"cannot write {tmp_path / 'x.csv'}: Permission denied"
    assert list(tmp_path.iterdir()) == []


def test_no_matplotlib_log_text_when_its_config_folder_cannot_be_made(tmp_path):
    # matplotlib *logs* (not warns) two lines when MPLCONFIGDIR cannot be created.
    (tmp_path / "file").write_bytes(b"")
    env = {**os.environ, "MPLCONFIGDIR": str(tmp_path / "file" / "mpl")}
    proc = subprocess.run([sys.executable, "-m", "checkerfree", "overlap", "--layer", "3:2",
                           "--png", str(tmp_path / "e.png")], capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert (tmp_path / "e.png").stat().st_size > 0
