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
    assert (proc.returncode, out, err) == (130, b"", b"checkerfree: interrupted\n"), err[-2000:]
    # The workers were stopped, not left behind (the resource tracker may take a moment
    # after its parent's exit, so each gets a few seconds).
    for pid in workers:
        for _ in range(100):
            try:
                state = Path(f"/proc/{pid}/stat").read_text().split()[2]
            except (FileNotFoundError, ProcessLookupError):
                break
            if state == "Z":
                break
            time.sleep(0.1)
        else:
            raise AssertionError(f"worker {pid} still running 10 s after the interrupt")


@pytest.mark.parametrize("paths", ["cb.png", b"cb.png", Path("cb.png")])
def test_processes_refuse_one_path_given_as_paths(paths):
    # A str is iterable: before the fix "cb.png" was scored as files "c", "b", ".", ...
    from checkerfree.engines.processes import score_files_processes
    from checkerfree.errors import InvalidTypeError

    with pytest.raises(InvalidTypeError, match="paths must be an iterable of paths"):
        score_files_processes(paths, ImageScorer(periods=2), processes=2)


def test_processes_refuse_a_path_that_is_not_one():
    from checkerfree.errors import InvalidTypeError

    with pytest.raises(InvalidTypeError, match="each path must be a str, bytes or os.PathLike, "
                                                "got int 3"):
        ScoringPool.check(["a.png", 3])
    assert ScoringPool.check(["a.png", Path("b.png")]) == ["a.png", "b.png"]


def test_scoring_pool_wants_an_image_scorer():
    from checkerfree.errors import InvalidTypeError

    with pytest.raises(InvalidTypeError, match="scorer must be a checkerfree.score.batch."
                                                "ImageScorer, got NoneType"):
        ScoringPool(None, 2)


def test_local_engine_refuses_a_lone_path_string():
    """One process: a str is refused up front, not scored character by character."""
    from checkerfree.engines.local import score_files
    from checkerfree.errors import InvalidTypeError
    from checkerfree.score.batch import ImageScorer

    with pytest.raises(InvalidTypeError, match="iterable of paths"):
        score_files("cb.png", ImageScorer())


def test_summary_counts_read_singular_and_plural():
    from checkerfree.report.score_table import summary_lines

    one = {"images": 1, "scored": 1, "failed": 0, "flagged": 0, "threshold": 0.55,
           "mean_score": 0.1, "max_score": 0.1}
    assert summary_lines([{"kind": "image"}], one)[0].startswith("1 image: ")
    assert summary_lines([{"kind": "image"}] * 2, {**one, "images": 2})[0].startswith("2 images: ")
    assert summary_lines([{"kind": "audio"}], one)[0].startswith("1 input: ")


def test_non_finite_array_row_names_the_array(tmp_path):
    import numpy as np

    from checkerfree.score.batch import ImageScorer

    x = np.zeros((16, 16), np.float32)
    x[3, 4] = np.nan
    np.save(tmp_path / "nan.npy", x)
    scorer = ImageScorer()
    row = scorer.score_decoded([scorer.decode(str(tmp_path / "nan.npy"))])[0]
    assert "the array has 1 non-finite value" in row["error"], row


def test_reason_never_prints_negative_zero():
    from checkerfree.score.checkerboard import _z

    assert _z(-0.04) == "0.0" and _z(-0.06) == "-0.1" and _z(2.25) == "2.2"


def test_stdin_overlay_name_does_not_start_with_a_dash():
    from checkerfree.score.overlay import overlay_name

    assert overlay_name("-").startswith("stdin-") and overlay_name("--x.png").startswith("x-")


def test_cli_threshold_accepts_what_the_library_accepts(tmp_path, capsys):
    """0 (flag every significant peak) and inf are accepted, as check_threshold does; -1, NaN
    and text are one-line errors with exit 2."""
    image = tmp_path / "cb.png"
    i, j = np.meshgrid(np.arange(64), np.arange(64), indexing="ij")
    Image.fromarray((128 + 4 * (-1.0) ** (i + j)).astype(np.uint8)).save(image)
    assert main(["score", str(image), "--threshold", "0", "--json"]) == 0
    assert '"flagged": true' in capsys.readouterr().out
    for bad in ("-1", "nan", "abc"):
        with pytest.raises(SystemExit) as exc:
            main(["score", str(image), "--threshold", bad])
        assert exc.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "threshold" in err[0], err
