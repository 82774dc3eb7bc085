"""--engine ray says nothing on stderr on a run that works; failures still show."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from image_fixtures import checkerboard
from PIL import Image

from checkerfree.commands.native_stderr import held_native_stderr

SRC = str(Path(__file__).resolve().parents[1] / "src")


def test_held_native_stderr_drops_a_success_and_keeps_python_stderr(capfd):
    with held_native_stderr():
        os.write(2, b"native chatter\n")
        print("our message", file=sys.stderr)
    os.write(2, b"after\n")
    err = capfd.readouterr().err
    assert "native chatter" not in err
    assert "our message" in err and err.endswith("after\n")


def test_held_native_stderr_replays_what_explains_a_failure(capfd):
    with pytest.raises(RuntimeError, match="boom"), held_native_stderr():
        os.write(2, b"why it failed\n")
        raise RuntimeError("boom")
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "why it failed\nafter\n"


def test_ray_cli_run_is_quiet(tmp_path):
    pytest.importorskip("ray")
    Image.fromarray(checkerboard()).save(tmp_path / "cb.png")
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("RAY_ADDRESS", None)
    proc = subprocess.run(
        [sys.executable, "-m", "checkerfree", "score", str(tmp_path / "cb.png"),
         str(tmp_path / "missing.png"), "--engine", "ray", "--json", "--workers", "1"],
        capture_output=True, text=True, env=env, timeout=300, check=False)
    # Before: Ray's token warning, two ray.data INFO lines, a core_worker.cc E line, the
    # progress-bar notice and the "execution finished" line (6 lines for one image).
    assert proc.stderr == ""
    assert proc.returncode == 1  # one input failed: our error is in its row, not lost
    rows = json.loads(proc.stdout)["images"]
    assert [row["flagged"] for row in rows] == [True, None]
    assert rows[1]["error"] == "no such file"


def test_ray_cli_bad_address_is_one_line(tmp_path, capfd):
    pytest.importorskip("ray")
    from checkerfree.cli import main

    Image.fromarray(checkerboard()).save(tmp_path / "cb.png")
    # Was a traceback (RuntimeError from ray.init); now our one line, exit 2.
    assert main(["score", str(tmp_path / "cb.png"), "--engine", "ray",
                 "--ray-address", "nosuchscheme://x"]) == 2
    out, err = capfd.readouterr()
    assert out == "" and err.count("\n") == 1
    assert err.startswith("checkerfree score: error: cannot join Ray at 'nosuchscheme://x'")
