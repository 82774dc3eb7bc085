"""``checkerfree reproduce``: usage errors, overwrite protection, cache, and a smoke run."""

import json
import subprocess
import sys

import pytest

from checkerfree.cli import main


def test_unknown_id_is_one_line_exit_2(tmp_path, capsys):
    assert main(["reproduce", "--only", "overlap-1d", "nope", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope" in err[0] and "overlap-2d" in err[0]
    assert not (tmp_path / "report.json").exists()


def test_refuses_to_overwrite_without_force(tmp_path, capsys):
    args = ["reproduce", "--quiet", "--only", "overlap-1d", "--out", str(tmp_path)]
    assert main(args) == 0
    first = (tmp_path / "report.json").read_bytes()
    assert main(args) == 2
    assert "--force" in capsys.readouterr().err
    assert (tmp_path / "report.json").read_bytes() == first
    assert main(args + ["--force"]) == 0


def test_cache_is_reused_and_keyed(tmp_path, capsys):
    args = ["reproduce", "--only", "overlap-2d", "--out", str(tmp_path)]
    assert main(args) == 0
    entry = json.loads((tmp_path / "cache" / "overlap-2d.full.json").read_text())
    assert entry["key"]["id"] == "overlap-2d" and entry["key"]["quick"] is False
    capsys.readouterr()
    assert main(args + ["--force"]) == 0
    assert "cached" in capsys.readouterr().err
    assert main(args + ["--force", "--fresh"]) == 0
    assert "cached" not in capsys.readouterr().err


def test_smoke_quick_subset(tmp_path):
    """The one end-to-end run of the default suite: the real command, three claims."""
    out = tmp_path / "rep"
    proc = subprocess.run(
        [sys.executable, "-m", "checkerfree", "reproduce", "--quick", "--threads", "1",
         "--only", "overlap-1d", "overlap-2d", "init-artifacts", "--out", str(out)],
        capture_output=True, text=True, check=False, timeout=600)  # a hang guard, not a speed test
    assert proc.returncode == 0, proc.stderr
    report = json.loads((out / "report.json").read_text())
    assert [c["id"] for c in report["claims"]] == ["overlap-1d", "overlap-2d", "init-artifacts"]
    assert all(c["holds"] for c in report["claims"])
    assert set(report["claims"][0]) >= {"id", "statement", "measured", "holds", "rule",
                                        "figures"}
    assert report["meta"]["quick"] is True and "torch" in report["meta"]["versions"]
    for c in report["claims"]:
        assert all((out / f).is_file() for f in c["figures"])
    html = (out / "index.html").read_text()
    assert all(f'id="{c["id"]}"' in html for c in report["claims"])


@pytest.mark.slow
def test_full_quick_run(tmp_path):
    """Every claim, --quick (minutes): the settled claims must hold."""
    out = tmp_path / "rep"
    assert main(["reproduce", "--quick", "--quiet", "--out", str(out)]) == 0
    claims = {c["id"]: c for c in json.loads((out / "report.json").read_text())["claims"]}
    for settled in ("overlap-1d", "overlap-2d", "overlap-stack", "init-artifacts",
                    "grad-strided"):
        assert claims[settled]["holds"], settled
    assert claims["subpixel-icnr"]["measured"]["icnr_artifact_free_at_init"]
