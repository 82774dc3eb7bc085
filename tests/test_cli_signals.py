"""``checkerfree score`` on audio, arrays and standard input, in a subprocess like a user.

``.npy``, ``.wav`` and ``-`` (bytes piped into the process) give rows with their kind and
units; a folder is walked for the new suffixes; bad inputs are rows; bad usage exits 2 with
one line on stderr.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

soundfile = pytest.importorskip("soundfile")

from checkerfree.cli import main  # noqa: E402

from signal_fixtures import lattice_pattern, speech  # noqa: E402

SRC = str(Path(__file__).resolve().parents[1] / "src")


def _run(*args, stdin: bytes | None = None):
    """In a subprocess, bytes piped to its standard input (what a user's pipe does)."""
    env = {**os.environ, "PYTHONPATH": SRC}
    return subprocess.run([sys.executable, "-m", "checkerfree", "score", *map(str, args)],
                          input=stdin, env=env, capture_output=True, timeout=240)


class _Done:
    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


@pytest.fixture
def _score(capsys, monkeypatch):
    """In this process (fast: no torch import per call), with ``stdin`` as standard input."""

    def run(*args, stdin: bytes | None = None):
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
        try:
            status = main(["score", *map(str, args)])
        except SystemExit as exc:  # argparse's own errors
            status = exc.code
        out, err = capsys.readouterr()
        return _Done(status, out.encode(), err.encode())

    return run


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("signals")
    fs = 16000
    clean = speech(fs, 1.0, 2)
    soundfile.write(root / "clean.wav", clean.T, fs, subtype="PCM_16")
    soundfile.write(root / "vocoder.wav", (clean + lattice_pattern(8, 3e-3, fs)).T, fs,
                    subtype="PCM_16")
    i, j = np.indices((48, 48))
    np.save(root / "cb.npy", (100 + 2.0 * (-1.0) ** (i + j)).astype(np.float32))
    np.save(root / "bad.npy", np.ones((8, 8), complex))
    (root / "notes.txt").write_text("not an input")
    return root


def test_folder_of_audio_and_arrays_json(_score, inputs):
    done = _score(inputs, "--json")
    assert done.returncode == 1, done.stderr  # bad.npy failed
    rows = {Path(r["path"]).name: r for r in json.loads(done.stdout)["images"]}
    assert sorted(rows) == ["bad.npy", "cb.npy", "clean.wav", "vocoder.wav"]
    assert rows["bad.npy"]["error"].startswith("complex dtype complex128")
    assert rows["cb.npy"]["flagged"] is True and rows["cb.npy"]["kind"] == "array"
    assert rows["cb.npy"]["periods"]["2"] == pytest.approx(4.0, rel=1e-3)
    assert rows["clean.wav"]["flagged"] is False
    vocoder = rows["vocoder.wav"]
    assert vocoder["flagged"] is True and vocoder["kind"] == "audio"
    assert max(vocoder["periods"], key=vocoder["periods"].get) == "8"
    assert vocoder["frequencies"]["8"] == [2000.0, 6000.0]
    assert vocoder["sample_rate"] == 16000 and vocoder["channels"] == 2


def test_piped_wav_and_npy_in_a_subprocess(inputs):
    """``-`` reads the bytes piped in (a WAV here) and sniffs them; an .npy beside it."""
    done = _run("-", inputs / "cb.npy", "--json", stdin=(inputs / "vocoder.wav").read_bytes())
    assert done.returncode == 0, done.stderr
    piped, array = json.loads(done.stdout)["images"]
    assert piped["path"] == "-" and piped["kind"] == "audio" and piped["flagged"] is True
    assert piped["frequencies"]["8"] == [2000.0, 6000.0] and piped["format"] == "WAV"
    assert array["kind"] == "array" and array["flagged"] is True


def test_standard_input_png_and_garbage(_score):
    from PIL import Image

    i, j = np.indices((32, 32))
    buffer = io.BytesIO()
    Image.fromarray((120 + 4 * (-1) ** (i + j)).astype(np.uint8)).save(buffer, format="PNG")
    done = _score("-", "--json", stdin=buffer.getvalue())
    [row] = json.loads(done.stdout)["images"]
    assert done.returncode == 0 and row["kind"] == "image" and row["flagged"] is True
    done = _score("-", "--json", stdin=b"hello")
    [row] = json.loads(done.stdout)["images"]
    assert done.returncode == 1 and row["error"].startswith("not a PNG, JPEG, WebP or TIFF")
    done = _score("-", "--json", stdin=b"")
    assert json.loads(done.stdout)["images"][0]["error"] == "empty standard input"


def test_csv_and_table_of_signals(_score, inputs):
    done = _score(inputs / "vocoder.wav", inputs / "cb.npy", "--csv")
    lines = done.stdout.decode().splitlines()
    header = lines[0].split(",")
    first = dict(zip(header, lines[1].split(",")))
    assert first["kind"] == "audio" and first["sample_rate"] == "16000"
    assert first["shape"] == "16000" and first["height"] == ""
    table = _score(inputs / "vocoder.wav").stdout.decode()
    assert "e-03" in table  # full-scale values are not printed as 0.00


@pytest.mark.parametrize("args, message", [
    (["-", "-"], "'-' (standard input) can be read once"),
    (["-", "--engine", "ray"], "needs --engine local"),
    (["x.npy", "--spatial-dims", "4"], "invalid choice"),
])
def test_bad_usage_is_one_line_exit_2(_score, args, message):
    done = _score(*args, stdin=b"")
    err = done.stderr.decode().strip()
    assert done.returncode == 2 and message in err
    assert len(err.splitlines()) <= 2 and "Traceback" not in err  # argparse adds its usage


def test_heatmap_skips_other_kinds_with_a_note(_score, inputs, tmp_path):
    done = _score(inputs / "cb.npy", "--heatmap", tmp_path / "maps", "--json")
    [row] = json.loads(done.stdout)["images"]
    assert row["heatmap"] is None and "heat maps are drawn for images only" in done.stderr.decode()
    assert not list((tmp_path / "maps").glob("*"))
