"""Promise 3, batch commands never abort on one entry: every error met while walking folders
or opening, decoding, writing an entry becomes that entry's row; any file name is written.

The tests run as root on CI, where chmod cannot deny anything, so permission errors are made
by replacing ``os.scandir`` or the decoder for one path (a real chmod test runs otherwise).
"""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from checkerfree.cli import main
from checkerfree.io import walk_inputs

SRC = str(Path(__file__).resolve().parents[1] / "src")
RAW_NAME = b"caf\xe9-\xff.png"  # Latin-1 bytes: not UTF-8


def _image(path, amplitude=4):
    i, j = np.indices((32, 32))
    Image.fromarray((120 + amplitude * (-1) ** (i + j)).astype(np.uint8)).save(path)
    return path


@pytest.fixture
def messy(tmp_path):
    """A folder with good images, a symlink loop, a dangling link, a FIFO and a subfolder."""
    root = tmp_path / "in"
    (root / "sub").mkdir(parents=True)
    _image(root / "good.png")
    _image(root / "sub" / "deep.png", amplitude=2)
    os.symlink("loop.png", root / "loop.png")
    os.symlink("missing.png", root / "dangling.png")
    os.symlink(".", root / "self")  # a link to a folder: not followed, no loop
    os.mkfifo(root / "pipe.png")
    return root


EXPECTED = {  # file name -> error (None: scored)
    "dangling.png": "broken symbolic link (its target does not exist)",
    "good.png": None,
    "loop.png": "symbolic link loop",
    "pipe.png": "not a regular file",
    "deep.png": None,
}


def test_walk_keeps_every_entry(messy):
    entries = walk_inputs([messy])
    assert [(Path(p).name, e) for p, e in entries] == list(EXPECTED.items())


@pytest.mark.parametrize("output", ["--json", "--csv", "table"])
def test_messy_folder_every_entry_a_row(messy, capsys, output):
    argv = ["score", str(messy)] + ([] if output == "table" else [output])
    assert main(argv) == 1  # some failed, the run went on
    out = capsys.readouterr().out
    if output == "--json":
        rows = json.loads(out)["images"]
        got = {Path(r["path"]).name: r["error"] for r in rows}
        assert got == EXPECTED
        assert all((r["score"] is None) == (r["error"] is not None) for r in rows)
    elif output == "--csv":
        rows = list(csv.DictReader(io.StringIO(out)))
        assert {Path(r["path"]).name: r["error"] or None for r in rows} == EXPECTED
    else:
        for name, error in EXPECTED.items():
            line = next(line for line in out.splitlines() if name in line)
            assert (error or "") in line


def test_unlistable_subfolder_is_a_row(messy, capsys, monkeypatch):
    real = os.scandir
    locked = os.fspath(messy / "sub")

    def scandir(path="."):
        if os.fspath(path) == locked:
            raise PermissionError(13, "Permission denied", locked)
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    assert main(["score", str(messy), "--json"]) == 1
    rows = json.loads(capsys.readouterr().out)["images"]
    errors = {r["path"]: r["error"] for r in rows}
    assert errors[locked] == "cannot list folder: Permission denied"
    assert errors[os.fspath(messy / "good.png")] is None
    assert len(rows) == 5  # 4 entries of the top folder and the locked one


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads folders whatever their mode")
def test_unlistable_and_unsearchable_folders_for_real(tmp_path, capsys):
    good = _image(tmp_path / "good.png")
    locked = tmp_path / "locked"
    locked.mkdir()
    _image(locked / "x.png")
    locked.chmod(0)
    try:
        assert main(["score", str(good), str(locked), str(locked / "x.png"), "--json"]) == 1
    finally:
        locked.chmod(0o755)
    rows = json.loads(capsys.readouterr().out)["images"]
    assert [r["error"] is None for r in rows] == [True, False, False]


def test_file_in_unsearchable_folder_next_to_a_good_one(tmp_path, capsys, monkeypatch):
    """Opening fails with PermissionError (what a folder without +x gives): that row only."""
    import checkerfree.io as batch  # the image reader that checkerfree.signals calls

    good = _image(tmp_path / "good.png")
    hidden = _image(tmp_path / "hidden.png")
    real = batch.read_image

    def read_image(path, **kwargs):
        if Path(path) == hidden:
            raise PermissionError(13, "Permission denied", os.fspath(path))
        if Path(path) == good:
            return real(path, **kwargs)
        raise RuntimeError("a decoder bug")

    monkeypatch.setattr(batch, "read_image", read_image)
    other = _image(tmp_path / "other.png")
    assert main(["score", str(good), str(hidden), str(other), "--json"]) == 1
    rows = json.loads(capsys.readouterr().out)["images"]
    assert [r["error"] for r in rows] == [None, "cannot read: Permission denied",
                                          "cannot decode: RuntimeError: a decoder bug"]
    assert rows[0]["score"] > 7


def test_overlay_write_error_is_that_rows(tmp_path, capsys, monkeypatch):
    import checkerfree.score.batch as batch

    a, b = _image(tmp_path / "a.png"), _image(tmp_path / "b.png", amplitude=2)
    real = batch.write_atomic

    def write_atomic(path, data, **kwargs):
        if Path(path).name.startswith("a-"):
            raise OSError(28, "No space left on device")
        return real(path, data, **kwargs)

    monkeypatch.setattr(batch, "write_atomic", write_atomic)
    maps = tmp_path / "maps"
    assert main(["score", str(a), str(b), "--heatmap", str(maps), "--json"]) == 1
    rows = json.loads(capsys.readouterr().out)["images"]
    assert "heat map not written" in rows[0]["error"] and rows[0]["heatmap"] is None
    assert rows[1]["error"] is None and Path(rows[1]["heatmap"]).is_file()
    assert [p.name for p in maps.iterdir()] == [Path(rows[1]["heatmap"]).name]


@pytest.fixture
def odd_names(tmp_path):
    root = tmp_path / "in"
    root.mkdir()
    raw = os.path.join(os.fsencode(root), RAW_NAME)
    _image(os.fsdecode(raw))
    _image(root / "plain.png", amplitude=2)
    return root, os.fsdecode(raw)


def _check_rows(rows, odd):
    by_bytes = {r["path_bytes"]: r for r in rows}
    row = by_bytes[base64.b64encode(os.fsencode(odd)).decode()]
    assert base64.b64decode(row["path_bytes"]) == os.fsencode(odd)  # exact round trip
    assert row["path"].endswith("caf\\xe9-\\xff.png") and row["error"] is None
    assert by_bytes[None]["path"].endswith("plain.png")
    assert len(rows) == 2


@pytest.mark.parametrize("suffix", [".json", ".csv", ".parquet"])
def test_non_utf8_names_in_every_encoder(odd_names, tmp_path, capsys, suffix):
    root, odd = odd_names
    out = tmp_path / f"rows{suffix}"
    assert main(["score", str(root), "--out", str(out), "--heatmap",
                 str(tmp_path / "maps")]) == 0
    capsys.readouterr()
    if suffix == ".json":
        rows = json.loads(out.read_bytes().decode("utf-8"))["images"]
    elif suffix == ".csv":
        rows = [{k: v or None for k, v in r.items()}
                for r in csv.DictReader(io.StringIO(out.read_bytes().decode("utf-8")))]
    else:
        pq = pytest.importorskip("pyarrow.parquet")
        rows = pq.read_table(out).to_pylist()
    _check_rows(rows, odd)
    assert len(list((tmp_path / "maps").iterdir())) == 2


def test_non_utf8_names_on_a_strict_utf8_stdout(odd_names):
    """The table and --json print through a UTF-8 stdout that refuses surrogates."""
    root, odd = odd_names
    env = {**os.environ, "PYTHONPATH": SRC, "PYTHONIOENCODING": "utf-8:strict"}
    for extra in ([], ["--json"], ["--csv"]):
        proc = subprocess.run([sys.executable, "-m", "checkerfree", "score", os.fsencode(root),
                               *extra], env=env, capture_output=True, timeout=240)
        assert proc.returncode == 0, proc.stderr
        text = proc.stdout.decode("utf-8")  # valid UTF-8
        assert proc.stderr == b""
        if extra == ["--json"]:
            _check_rows(json.loads(text)["images"], odd)
        else:
            assert "caf\\xe9-\\xff.png" in text


# Any POSIX file name: bytes without "/" and NUL.
_names = st.binary(min_size=1, max_size=24).map(
    lambda b: b.replace(b"/", b"_").replace(b"\0", b"_"))


@settings(max_examples=200, deadline=None)
@given(name=_names, score=st.one_of(st.floats(), st.none()))
def test_any_name_and_number_round_trip_through_every_encoder(name, score):
    """portable_row: strict JSON (no NaN/Infinity), UTF-8 CSV and Arrow, exact name back."""
    from checkerfree.score.batch import error_row
    from checkerfree.jsontext import dumps
    from checkerfree.score.results import csv_text, portable_row, rows_to_arrow

    path = os.fsdecode(b"dir/" + name)
    row = {**error_row(path, None), "score": score, "periods": {"2": score}}
    portable = portable_row(row)
    assert portable_row(portable) == portable  # idempotent
    raw = os.fsencode(path) if portable["path_bytes"] is None else \
        base64.b64decode(portable["path_bytes"])
    assert raw == b"dir/" + name
    if portable["path_bytes"] is None:
        assert portable["path"] == path  # UTF-8 names are kept as they are
    text = dumps({"images": [portable]})
    doc = json.loads(text, parse_constant=lambda c: pytest.fail(f"not JSON: {c}"))
    text.encode("utf-8")  # no lone surrogates
    expected = score if score is not None and np.isfinite(score) else None
    assert doc["images"][0]["score"] == expected and doc["images"][0]["path"] == portable["path"]
    csv_text([row], (2,)).encode("utf-8")
    pytest.importorskip("pyarrow")
    back = rows_to_arrow([row], (2,)).to_pylist()[0]
    assert back["path_bytes"] == portable["path_bytes"] and back["score"] == expected
