"""The engines' pipeline paths: processes, the cached finite check, the one-pass decode and the
hot path's spectrum gather give the rows and values of the plain, one-image-at-a-time path."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from image_fixtures import checkerboard, mixed_inputs
from PIL import Image

from checkerfree.cli import main
from checkerfree.engines.local import score_files
from checkerfree.engines.processes import ScoringPool, score_files_processes
from checkerfree.errors import InvalidArgumentError
from checkerfree.io import _chw, read_image
from checkerfree.score.batch import Decoded, ImageScorer
from checkerfree.score.checkerboard import checkerboard_score
from checkerfree.score.heatmap import _gather_full

# Long enough for a loaded 2-core machine to spawn two workers (each imports torch) and score
# a dozen small files many times over; a hang (a worker waiting forever) never ends.
HANG_GUARD_S = 300


def _guarded(fn):
    """``fn()``'s result, failing the test if it has not returned within the hang guard."""
    out: dict = {}

    def target():
        try:
            out["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            out["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(HANG_GUARD_S)
    assert not thread.is_alive(), f"no result after {HANG_GUARD_S} s: the engine hangs"
    if "error" in out:
        raise out["error"]
    return out["value"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return mixed_inputs(tmp_path_factory.mktemp("engines"), "photo.jpg")


class _Dying(ImageScorer):
    """A scorer whose worker process dies (as if killed) on a file named ``die.png``."""

    def decode(self, path, file=None):
        if os.path.basename(os.fspath(path)) == "die.png":
            os._exit(3)
        return super().decode(path, file)


def test_processes_give_the_scorers_rows_in_order_with_errors_kept(files):
    """Reference: the scorer itself, one call, one process (itself checked against
    checkerboard_score per image in test_batch.py); and checkerboard_score directly here."""
    scorer = ImageScorer(batch_size=2)
    expected = scorer(files * 2)
    seen = []
    with ScoringPool(scorer, 2, chunk_size=3) as pool:
        rows = _guarded(lambda: list(pool.score_files(files * 2, on_row=seen.append)))
        # A consumer that stops after one row: its queued chunks are dropped, the pool kept.
        stream = pool.score_files(files * 3)
        first = _guarded(lambda: next(stream))
        _guarded(stream.close)
        again = _guarded(lambda: list(pool.score_files(files[::-1])))
    assert rows == expected and seen == rows
    assert again == scorer(files[::-1]) and first == expected[0]
    assert [r["path"] for r in rows] == files * 2
    failed = {os.path.basename(r["path"]) for r in rows if r["error"]}
    assert failed == {"empty.png", "missing.png", "truncated.png", "tiny.png"}
    for row in rows[:len(files)]:
        if row["error"] is None:
            pixels, _ = read_image(row["path"])
            ref = checkerboard_score(torch.from_numpy(pixels)[None]).to_rows()[0]
            assert row["hotspot"] == ref["hotspot"] and row["flagged"] == ref["flagged"]
            for s, v in ref["periods"].items():
                assert row["periods"][s] == pytest.approx(v, abs=1e-3)


def test_a_dying_worker_fails_its_own_chunk_only(files, tmp_path):
    Image.fromarray(checkerboard(32, 32)).save(tmp_path / "die.png")
    good = [p for p in files if os.path.exists(p) and os.path.getsize(p) > 100][:4]
    paths = good[:2] + [str(tmp_path / "die.png")] + good[2:]
    rows = _guarded(lambda: list(score_files(paths, _Dying(), processes=2, chunk_size=1)))
    assert [r["path"] for r in rows] == paths
    assert rows[2]["error"] == "scoring process died (killed or out of memory)"
    assert rows[:2] + rows[3:] == ImageScorer()(good)
    # The command's rows carry their input (mark_source); a dead worker's rows too.
    marked = _guarded(lambda: list(score_files(paths[1:3], _Dying(mark_source=True),
                                               processes=2, chunk_size=1)))
    assert [row["_source"] for row in marked] == paths[1:3]
    assert marked[1]["error"].startswith("scoring process died")


def test_process_arguments_are_typed_errors():
    scorer = ImageScorer()
    for bad in (0, -1, True, 1.5):
        with pytest.raises(InvalidArgumentError, match="processes must be a positive int"):
            score_files(["a.png"], scorer, processes=bad)
    with pytest.raises(InvalidArgumentError, match="threads must be a positive int"):
        ScoringPool(scorer, 2, threads=0)
    with pytest.raises(InvalidArgumentError, match="standard input"):
        score_files_processes(["a.png", "-"], scorer, processes=2)


def test_cli_processes_flag(capsys, files, tmp_path):
    assert main(["score", "-", "--processes", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--processes 1" in err[0]
    with pytest.raises(SystemExit) as exc:
        main(["score", files[0], "--processes", "0"])
    assert exc.value.code == 2 and "--processes" in capsys.readouterr().err


def test_finite_check_is_cached_and_still_done_for_hand_made_items(tmp_path):
    """A NaN array's row says so whether the check ran at decode (cached) or not (None)."""
    values = np.zeros((1, 16, 16), np.float32)
    values[0, 3, 4] = np.nan
    np.save(tmp_path / "nan.npy", values[0])
    scorer = ImageScorer(periods=(2,))
    decoded = scorer.decode(tmp_path / "nan.npy")
    assert decoded.non_finite and "non-finite" in decoded.non_finite
    cached = scorer.score_decoded([decoded])[0]["error"]
    hand = Decoded("hand", values, kind="array", threshold=1.0)
    assert hand.non_finite is None
    checked = scorer.score_decoded([hand])[0]["error"]
    assert cached == checked and "1 NaN" in cached
    # A clean item checked at decode is scored like one never checked.
    clean = scorer.decode(tmp_path / "nan.npy")
    clean.pixels = np.ones_like(values)
    clean.non_finite = ""
    fresh = Decoded(clean.path, clean.pixels, kind="array", threshold=clean.threshold)
    assert scorer.score_decoded([clean])[0]["score"] == scorer.score_decoded([fresh])[0]["score"]


@given(st.integers(1, 4), st.integers(1, 9), st.integers(1, 9), st.sampled_from(
    [np.uint8, np.uint16, np.float32]))
def test_chw_equals_transpose_then_convert(c, h, w, dtype):
    rng = np.random.default_rng(h * 100 + w * 10 + c)
    array = rng.integers(0, 255, size=(h, w, c)).astype(dtype)
    out = _chw(array)
    assert out.dtype == np.float32 and out.flags.c_contiguous
    np.testing.assert_array_equal(out, array.astype(np.float32).transpose(2, 0, 1))


@given(st.lists(st.integers(2, 13), min_size=1, max_size=3), st.integers(0, 2**31 - 1),
       st.sampled_from([torch.float32, torch.float64]))
def test_gather_full_reads_the_full_spectrum_from_its_half(shape, seed, dtype):
    """Reference: numpy's full complex DFT of the same real signal, at every grid point."""
    g = torch.Generator().manual_seed(seed)
    n = tuple(shape)
    x = torch.randn(2, 3, *n, generator=g, dtype=dtype)
    axes = tuple(range(2, 2 + len(n)))
    half = torch.fft.rfftn(x, dim=axes)
    index = [torch.randint(0, m, (m + 3,), generator=g) for m in n]
    got = _gather_full(half.contiguous(), index, n).numpy()
    full = np.fft.fftn(x.numpy().astype(np.float64), axes=axes)
    expected = full[(Ellipsis, *np.ix_(*[i.numpy() for i in index]))]
    tol = 1e-4 if dtype == torch.float32 else 1e-10
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol * np.abs(full).max())


def test_stage_profile_cuts_the_path_without_double_counting():
    """The stage table of ``benchmarks/score.py``: every stage is found, none is counted
    twice (the rest, ``other``, is not negative), and decode plus score make the total."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "bench_score", Path(__file__).resolve().parents[1] / "benchmarks" / "score.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    # One file of two patterned: its hotspot is computed (the clean one's is not).
    found = bench.bench_stages(2, 128, 1, patterned=0.5)
    ms = found["ms_per_file"]
    assert set(bench.STAGES) <= set(ms)
    for stage in ("decode (Pillow)", "to float32 CHW", "crop + periodic + DFT", "hotspot",
                  "lattice_excess", "batch copy"):
        assert ms[stage] > 0, stage
    assert ms["other"] >= 0
    assert ms["total"] == pytest.approx(found["decode_ms_per_file"] + found["score_ms_per_file"])
    assert ms["period search (auto)"] == 0 and ms["strongest channel"] == 0


@pytest.mark.parametrize("periods", [(2, 4), "auto"])
def test_strongest_channel_of_a_batch_equals_each_channel_scored_alone(periods):
    """Reference: checkerboard_score of each channel of each item on its own; the rows of a
    batch of multi-channel signals score all their channels in one call (``auto``: each
    channel at the periods found on it, as alone)."""
    g = np.random.default_rng(5)
    t = np.arange(4096)
    items = []
    for i in range(3):
        noise = 0.05 * g.standard_normal((3, t.size))
        # A period-4 pulse train whose strongest channel moves with the item.
        gains = np.roll([0.02, 0.05, 0.1], i)[:, None]
        values = (noise + gains * (t % 4 == 0)).astype(np.float32)
        items.append(Decoded(f"s{i}", values, kind="audio", spatial_dims=1, threshold=0.002,
                             fields={"sample_rate": 8000}))
    rows = ImageScorer(periods=periods).score_decoded(items)
    for item, row in zip(items, rows):
        alone = [float(checkerboard_score(torch.from_numpy(c)[None, None], periods=periods,
                                          threshold=0.002, spatial_dims=1,
                                          hotspot=False).score) for c in item.pixels]
        assert row["channel"] == int(np.argmax(alone))
        assert row["channel_score"] == pytest.approx(max(alone), rel=1e-6)
    assert [row["channel"] for row in rows] == [2, 0, 1]
