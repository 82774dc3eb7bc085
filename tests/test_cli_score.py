"""``checkerfree score``: rows for every input, JSON/CSV/table, exit codes, overlays, --out."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

import pytest
from image_fixtures import bad_files, good_files

from checkerfree.cli import main

ROW = {"path", "score", "periods", "flagged", "hotspot", "error"}
SUMMARY = {"images", "scored", "failed", "flagged", "mean_score", "max_score", "periods",
           "threshold", "engine"}


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    good = good_files(root / "good")
    bad = bad_files(root / "bad")
    return root, good, bad


def score_json(capsys, *argv):
    status = main(["score", *map(str, argv), "--json"])
    out, err = capsys.readouterr()
    return status, json.loads(out), err


def test_all_good_exit_0_and_json_schema(capsys, folders):
    root, good, _ = folders
    status, doc, err = score_json(capsys, root / "good", "--period", "4", "--period", "2")
    assert status == 0 and set(doc) == {"images", "summary"}
    assert [r["path"] for r in doc["images"]] == sorted(str(p) for p in good.values())
    for row in doc["images"]:
        assert ROW <= set(row) and row["error"] is None
        assert set(row["periods"]) == {"2", "4"}
        assert row["hotspot"] is None or len(row["hotspot"]) == 2  # null: nothing significant
        assert isinstance(row["flagged"], bool) and row["score"] >= 0
    summary = doc["summary"]
    assert set(summary) == SUMMARY and summary["periods"] == [2, 4]
    assert (summary["images"], summary["scored"], summary["failed"]) == (9, 9, 0)
    grey = [r for r in doc["images"] if "grey" in r["path"]]
    assert len(grey) == 3 and all(r["flagged"] for r in grey)  # the 8-level pattern
    assert summary["flagged"] == sum(r["flagged"] for r in doc["images"])
    scores = [r["score"] for r in doc["images"]]
    assert summary["mean_score"] == pytest.approx(sum(scores) / len(scores))


def test_failures_get_rows_and_exit_1(capsys, folders):
    root, good, bad = folders
    status, doc, _ = score_json(capsys, good["rgb.png"], *bad.values())
    assert status == 1
    rows = {r["path"].rsplit("/", 1)[-1]: r for r in doc["images"]}
    assert list(rows) == ["rgb.png", *bad]  # order of the arguments
    for name in bad:
        assert rows[name]["error"] and rows[name]["score"] is None
    assert rows["rgb.png"]["error"] is None
    assert (doc["summary"]["failed"], doc["summary"]["scored"]) == (len(bad), 1)


def test_csv_has_a_row_per_input(capsys, folders):
    root, good, bad = folders
    assert main(["score", str(good["grey8.png"]), str(bad["empty.png"]), "--csv",
                 "--period", "2"]) == 1
    table = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["path"] for r in table] == [str(good["grey8.png"]), str(bad["empty.png"])]
    assert float(table[0]["period_2"]) == pytest.approx(8.0, abs=0.3)
    assert table[0]["flagged"] == "True" and table[1]["error"] == "empty file"
    assert table[1]["score"] == ""


def test_table_by_default(capsys, folders):
    root, good, bad = folders
    assert main(["score", str(good["rgba.png"]), str(bad["missing.png"])]) == 1
    out = capsys.readouterr().out
    assert str(good["rgba.png"]) in out and "no such file" in out
    assert "2 images: 1 scored, 1 failed" in out and "alpha channel" in out


def test_heatmap_files_and_overwrite_refusal(capsys, folders, tmp_path):
    root, good, _ = folders
    maps = tmp_path / "maps"
    status, doc, _ = score_json(capsys, good["grey8.png"], good["rgb.png"], "--heatmap", maps)
    assert status == 0
    written = sorted(p.name for p in maps.iterdir())
    assert len(written) == 2 and all(r["heatmap"].startswith(str(maps)) for r in doc["images"])
    assert written[0].startswith("grey8-") and written[1].startswith("rgb-")
    before = {p: p.stat().st_mtime_ns for p in maps.iterdir()}
    assert main(["score", str(good["grey8.png"]), "--heatmap", str(maps)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "exists" in err and "--force" in err
    assert before == {p: p.stat().st_mtime_ns for p in maps.iterdir()}
    assert main(["score", str(good["grey8.png"]), "--heatmap", str(maps), "--force"]) == 0


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux's /proc")
def test_heatmap_folder_that_cannot_be_made_is_refused_up_front(capsys, folders, monkeypatch):
    # /proc passes the permission bits (even for root) yet no folder can be made in it.
    _, good, _ = folders
    scored = []
    monkeypatch.setattr("checkerfree.commands.score._run_local",
                        lambda *a: scored.append(a) or [])
    assert main(["score", str(good["grey8.png"]), str(good["rgb.png"]),
                 "--heatmap", "/proc/checkerfree-x"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and scored == []  # refused before any image was scored
    assert err.count("\n") == 1 and "--heatmap /proc/checkerfree-x: cannot write there" in err


def test_same_name_in_two_folders_gets_two_overlays(capsys, tmp_path, folders):
    _, good, _ = folders
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "x.png").write_bytes(good["rgb.png"].read_bytes())
    assert main(["score", str(tmp_path / "a"), str(tmp_path / "b"), "--heatmap",
                 str(tmp_path / "maps"), "--json"]) == 0
    capsys.readouterr()
    assert len(list((tmp_path / "maps").iterdir())) == 2


def test_out_parquet_json_csv(capsys, folders, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    root, good, bad = folders
    inputs = [str(good["grey16.png"]), str(bad["text.png"])]
    status, doc, _ = score_json(capsys, *inputs, "--out", tmp_path / "rows.parquet")
    assert status == 1
    table = pq.read_table(tmp_path / "rows.parquet").to_pylist()
    assert [{k: r[k] for k in ROW} for r in table] == [{k: r[k] for k in ROW} for r in doc["images"]]
    assert main(["score", *inputs, "--out", str(tmp_path / "rows.json")]) == 1
    out = capsys.readouterr().out
    assert "wrote" in out and str(good["grey16.png"]) not in out  # summary only on stdout
    assert json.loads((tmp_path / "rows.json").read_text())["images"] == doc["images"]
    assert main(["score", *inputs, "--out", str(tmp_path / "rows.json")]) == 2  # no --force
    assert "exists" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [([], "required: PATH"),
     (["x.png", "--period", "1"], "--period"),
     (["x.png", "--period", "two"], "--period"),
     (["x.png", "--engine", "spark"], "--engine"),
     (["x.png", "--json", "--csv"], "not allowed with"),
     (["x.png", "--workers", "0"], "--workers"),
     (["x.png", "--out", "rows.xlsx"], "--out must end in")],
)
def test_bad_usage_exit_2_one_line(capsys, argv, message):
    try:
        status = main(["score", *argv])
    except SystemExit as exc:  # argparse's own errors
        status = exc.code
    err = capsys.readouterr().err
    assert status == 2 and message in err
    assert "Traceback" not in err and message in err.strip().splitlines()[-1]


def test_folder_without_images_is_bad_usage(capsys, tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    assert main(["score", str(tmp_path)]) == 2
    assert "no image files" in capsys.readouterr().err


def test_period_too_large_for_an_image_is_its_error_not_a_crash(capsys, folders):
    _, good, _ = folders
    status, doc, _ = score_json(capsys, good["rgb.png"], "--period", "64")
    assert status == 1 and "too small" in doc["images"][0]["error"]


def test_subprocess_json_and_one_line_error(folders):
    root, good, bad = folders
    done = subprocess.run(
        [sys.executable, "-m", "checkerfree", "score", str(good["grey8.png"]),
         str(bad["truncated.png"]), "--json", "--progress"],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 1, done.stderr
    doc = json.loads(done.stdout)  # exactly one document: progress never on stdout
    assert [r["error"] is None for r in doc["images"]] == [True, False]
    assert "Traceback" not in done.stderr
    done = subprocess.run(
        [sys.executable, "-m", "checkerfree", "score", str(good["grey8.png"]), "--out",
         str(root / "good")],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
