"""The overlap and demo verbs: output, JSON keys, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from checkerfree.cli import main


def run_json(capsys, *argv):
    assert main(["overlap", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_keys_and_values(capsys):
    doc = run_json(capsys, "--layer", "3:2")
    assert {"dims", "period", "max", "min", "ratio", "uneven"} <= set(doc)
    assert (doc["dims"], doc["period"], doc["max"], doc["min"], doc["ratio"], doc["uneven"]) == (
        2, [2, 2], 4, 1, 4.0, True)


def test_json_stack_1d(capsys):
    doc = run_json(capsys, "--layer", "3:2", "--layer", "3:2", "--dims", "1")
    assert (doc["ratio"], doc["period"], doc["map"]) == (3.0, [4], [3, 2, 3, 1])


def test_json_holes_and_size(capsys):
    doc = run_json(capsys, "--layer", "1:2", "--dims", "1", "--size", "3")
    assert doc["ratio"] is None and doc["min"] == 0 and doc["output_size"] == [5]


def test_text_output_has_map_and_verdict(capsys):
    assert main(["overlap", "--layer", "3:2"]) == 0
    out = capsys.readouterr().out
    assert "ratio 4" in out and "uneven yes" in out and "█" in out and "layer 1" in out


@pytest.mark.parametrize("spec", ["0:2", "3:0", "3:2:-1", "3:2:0:2", "3:x", "3", "3:2:1:1:1:1"])
def test_invalid_specs_exit_2_with_one_line(capsys, spec):
    with pytest.raises(SystemExit) as info:
        main(["overlap", "--layer", spec])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "error" in err and "Traceback" not in err


def test_size_too_small_is_a_usage_error(capsys):
    assert main(["overlap", "--layer", "3:2:5", "--size", "1", "--dims", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "too small" in err


def test_subprocess_entry_point_no_traceback():
    proc = subprocess.run([sys.executable, "-m", "checkerfree", "overlap", "--layer", "3:0"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stdout == "" and len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr


def test_png_written_and_not_overwritten(tmp_path, capsys):
    png = tmp_path / "map.png"
    assert main(["overlap", "--layer", "3:2", "--png", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    before = png.read_bytes()
    assert main(["overlap", "--layer", "4:2", "--png", str(png)]) == 2
    assert png.read_bytes() == before
    assert main(["overlap", "--layer", "4:2", "--png", str(png), "--force"]) == 0
    for dims in ("1", "3"):
        assert main(["overlap", "--layer", "3:2", "--dims", dims, "--png",
                     str(tmp_path / f"d{dims}.png")]) == 0


def test_demo_writes_figures_and_summary(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out)]) == 0
    names = {p.name for p in out.iterdir()}
    assert "summary.json" in names and len([n for n in names if n.endswith(".png")]) == 8
    doc = json.loads((out / "summary.json").read_text())
    ratios = {a["name"]: a["ratio"] for a in doc["analyses"]}
    assert ratios["article_2d_k3_s2"] == 4.0 and ratios["article_2d_k4_s2"] == 1.0
    assert main(["demo", "--out", str(out)]) == 2  # refuses to overwrite without --force
    assert main(["demo", "--out", str(out), "--force"]) == 0


def test_help_lists_verbs(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    assert "overlap" in capsys.readouterr().out
    assert main([]) == 2
