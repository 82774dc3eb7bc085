"""Newcomer trials of ``checkerfree score --processes``: Ctrl-C and absurd process counts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from checkerfree.cli import main
from checkerfree.engines.processes import MAX_PROCESSES, ScoringPool
from checkerfree.errors import LimitError
from checkerfree.score.batch import ImageScorer

SRC = str(Path(__file__).resolve().parents[1] / "src")


def test_processes_beyond_the_limit_is_one_line_exit_2(tmp_path, capsys):
    # Each worker imports torch: --processes 100000 would start one per chunk.
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(tmp_path / "a.png")
    status = main(["score", str(tmp_path), "--processes", str(MAX_PROCESSES + 1)])
    out, err = capsys.readouterr()
    assert status == 2 and out == ""
    assert err == (f"checkerfree score: error: --processes must be at most {MAX_PROCESSES} "
                   f"(MAX_PROCESSES), got {MAX_PROCESSES + 1}\n")


def test_scoring_pool_refuses_beyond_the_limit_before_starting():
    with pytest.raises(LimitError, match=f"at most {MAX_PROCESSES} .*got {MAX_PROCESSES + 1}"):
        ScoringPool(ImageScorer(periods=2), MAX_PROCESSES + 1)
    ScoringPool(ImageScorer(periods=2), MAX_PROCESSES).close()  # the limit itself is fine


def _children(pid: int) -> set[int]:
    found = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found |= {int(c) for c in (task / "children").read_text().split()}
    return found


@pytest.mark.skipif(not Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").exists(),
                    reason="needs Linux /proc/PID/task/TID/children")
def test_ctrl_c_with_worker_processes_is_one_line_130(tmp_path):
    # A terminal's Ctrl-C is sent to the whole process group: before the fix every worker
    # printed its own KeyboardInterrupt traceback (often from inside `import torch`).
    rng = np.random.default_rng(0)
    for k in range(300):
        Image.fromarray(rng.integers(0, 256, (64, 64), dtype=np.uint8)).save(tmp_path / f"{k}.png")
    env = dict(os.environ, PYTHONPATH=SRC)
    proc = subprocess.Popen(
        [sys.executable, "-m", "checkerfree", "score", str(tmp_path), "--processes", "2",
         "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
        start_new_session=True,
        # A process started from a non-interactive shell may inherit SIGINT ignored.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 60
    workers: set[int] = set()
    # Wait until both workers exist (the resource tracker is a child too) and are importing.
    while len(workers) < 3 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
        workers = _children(proc.pid)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert (proc.returncode, out, err) == (130, b"", b"checkerfree: interrupted\n")
    for pid in workers:  # the workers were stopped, not left behind
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
        assert state == "Z", f"worker {pid} still running"
