"""ImageScorer and the local engine: one row per input, in order, equal to the direct score."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from image_fixtures import checkerboard, mixed_inputs, photo
from PIL import Image

from checkerfree.engines.local import score_files
from checkerfree.errors import InvalidArgumentError
from checkerfree.score.batch import ROW_KEYS, ImageScorer
from checkerfree.score.checkerboard import checkerboard_score
from checkerfree.score.heatmap import checkerboard_heatmap
from checkerfree.score.overlay import LEGEND_HEIGHT, MIN_WIDTH, heatmap_overlay


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return mixed_inputs(tmp_path_factory.mktemp("batch"), "bomb.png")


def test_every_input_gets_a_row_in_order(files):
    rows = ImageScorer(batch_size=3)(files)
    assert [r["path"] for r in rows] == files
    assert all(tuple(r) == ROW_KEYS for r in rows)
    failed = {r["path"].rsplit("/", 1)[1]: r["error"] for r in rows if r["error"]}
    assert set(failed) == {"empty.png", "missing.png", "truncated.png", "tiny.png", "bomb.png"}
    assert "too small" in failed["tiny.png"] and "decompression bomb" in failed["bomb.png"]
    for row in rows:
        if row["error"]:
            assert row["score"] is None and row["flagged"] is None and row["hotspot"] is None
        else:
            assert set(row["periods"]) == {"2", "4", "8"}
            # A hotspot where some period is significant (docs/score.md), else null.
            assert row["hotspot"] is None or len(row["hotspot"]) == 2
            assert row["hotspot"] is not None or not row["flagged"]
            assert row["score"] == max(row["periods"].values())


def test_rows_equal_the_direct_score_of_each_image(files):
    """Batching by shape must not change any number: reference = one call per image."""
    from checkerfree.io import read_image

    rows = ImageScorer(batch_size=4)(files)
    for row in rows:
        if row["error"]:
            continue
        pixels, _ = read_image(row["path"])
        ref = checkerboard_score(torch.from_numpy(pixels)[None]).to_rows()[0]
        assert row["score"] == pytest.approx(ref["score"], abs=1e-3)
        assert row["hotspot"] == ref["hotspot"] and row["flagged"] == ref["flagged"]
        for s, v in ref["periods"].items():
            assert row["periods"][s] == pytest.approx(v, abs=1e-3)


def test_known_checkerboard_reads_its_amplitude_and_16_bit_reads_like_8_bit(files):
    rows = {r["path"].rsplit("/", 1)[1]: r for r in ImageScorer(periods=(2, 4))(files)}
    # +-4 grey levels: 8 peak to peak (rounding to uint8 keeps it exact here)
    assert rows["grey8.png"]["periods"]["2"] == pytest.approx(8.0, abs=0.3)
    assert rows["grey8.png"]["flagged"] and not rows["rgb.png"]["flagged"]
    assert rows["grey16.png"]["score"] == pytest.approx(rows["grey8.png"]["score"], abs=1e-3)
    assert rows["grey16.png"]["bit_depth"] == 16 and rows["rgba.png"]["alpha_dropped"]


def test_local_engine_keeps_order_and_equals_the_scorer(files):
    scorer = ImageScorer(batch_size=2)
    seen = []
    rows = list(score_files(files * 2, scorer, workers=2, chunk_size=5, on_row=seen.append))
    assert rows == scorer(files * 2) and seen == rows


def test_heatmap_overlays_written_and_hotspot_unchanged(files, tmp_path):
    good = [p for p in files if "good" in p]
    plain = ImageScorer(periods=(2, 4))(good)
    scorer = ImageScorer(periods=(2, 4), heatmap_dir=tmp_path / "maps")
    rows = scorer(good)
    for a, b in zip(plain, rows):  # overlays change no measurement
        assert (a["hotspot"], a["score"]) == (b["hotspot"], b["score"])
        with Image.open(b["heatmap"]) as overlay:
            h, w = b["size"]  # the picture, then the legend strip under it
            assert overlay.mode == "RGB"
            assert overlay.size == (max(w, MIN_WIDTH), h + LEGEND_HEIGHT)
    assert len(list((tmp_path / "maps").iterdir())) == len(good)
    # A second run refuses to overwrite: the row says so; with force it goes through.
    again = scorer(good[:1])[0]
    assert again["error"].startswith("heat map not written") and "exists" in again["error"]
    forced = ImageScorer(periods=(2, 4), heatmap_dir=tmp_path / "maps", force=True)
    assert forced(good[:1])[0]["error"] is None


def test_overlay_is_coloured_where_the_pattern_is(tmp_path):
    # A 64x64 patch (a 32x32 one is within the 16-sample window's blur: it reads low and its
    # local ratio stays below the gate, docs/score.md).
    i, j = np.indices((128, 128))
    inside = (i >= 32) & (i < 96) & (j >= 32) & (j < 96)
    grey = (100 + 8 * inside * (-1) ** (i + j)).astype(np.uint8)   # 16 levels p-p in a patch
    Image.fromarray(grey).save(tmp_path / "patch.png")
    row = ImageScorer(periods=2, heatmap_dir=tmp_path / "maps")([tmp_path / "patch.png"])[0]
    assert 32 <= row["hotspot"][0] < 96 and 32 <= row["hotspot"][1] < 96
    overlay = np.asarray(Image.open(row["heatmap"])).astype(int)
    heat = checkerboard_heatmap(torch.from_numpy(grey.astype(np.float32)), periods=2)[0]
    result = checkerboard_score(torch.from_numpy(grey.astype(np.float32)), periods=2)
    expected = np.asarray(heatmap_overlay(
        grey[None].astype(np.float32), heat.numpy(), score=result.score.item(),
        flagged=result.flagged.item(), period=2 if result.flagged.item() else None,
        threshold=result.threshold))
    np.testing.assert_array_equal(overlay, expected)   # the documented blend of the real map
    colour = overlay[..., 0] - overlay[..., 2]
    assert colour[64, 64] > 60                          # painted inside the patch
    np.testing.assert_array_equal(overlay[4, 4], [grey[4, 4]] * 3)   # grey outside


def test_mapping_batches_give_an_arrow_table_with_passthrough(files):
    table = ImageScorer()({"path": np.array(files[:3]), "index": np.array([7, 8, 9])})
    rows = table.to_pylist()
    assert [r["index"] for r in rows] == [7, 8, 9]
    assert [{k: r[k] for k in ROW_KEYS} for r in rows] == ImageScorer()(files[:3])


def test_bad_settings_raise_typed_errors():
    with pytest.raises(InvalidArgumentError, match="batch_size"):
        ImageScorer(batch_size=0)
    with pytest.raises(InvalidArgumentError, match="periods"):
        ImageScorer(periods=(1, 2))
    with pytest.raises(InvalidArgumentError, match="workers"):
        list(score_files(["a.png"], ImageScorer(), workers=0))


def _count_finite_passes(monkeypatch, values: int) -> list:
    """Record every pass of checkerfree.finite's check over ``values`` float values or more
    (an item's pixels, not the score's few lattice powers)."""
    from checkerfree import finite

    calls, real = [], finite._all_finite

    def spy(x):
        if x.numel() >= values:
            calls.append(x.dtype)
        return real(x)

    monkeypatch.setattr(finite, "_all_finite", spy)
    return calls


def test_integer_pixels_get_no_finite_pass_and_float_arrays_do(tmp_path, monkeypatch):
    """8-bit PNGs cannot hold NaN/inf: no pass over them; an integer .npy one (the score's,
    on its float32 values: none while decoding); float arrays two (decoding, scoring), and
    a NaN one is its own error row."""
    Image.fromarray(checkerboard(128, 128)).save(tmp_path / "cb.png")  # the scan fits
    np.save(tmp_path / "ints.npy", np.arange(64 * 64, dtype=np.uint16).reshape(64, 64))
    floats = np.random.default_rng(0).random((64, 64)).astype(np.float32)
    np.save(tmp_path / "floats.npy", floats)
    floats[3, 5] = np.nan
    np.save(tmp_path / "nan.npy", floats)
    calls = _count_finite_passes(monkeypatch, 64 * 64)  # the .npy items: 64x64
    scorer = ImageScorer(periods=(2, 4))
    rows = scorer([tmp_path / "cb.png"])
    assert rows[0]["error"] is None and rows[0]["flagged"] and calls == []
    assert scorer([tmp_path / "ints.npy"])[0]["error"] is None and len(calls) == 1
    calls.clear()
    assert scorer([tmp_path / "floats.npy"])[0]["error"] is None and len(calls) == 2
    row = scorer([tmp_path / "nan.npy"])[0]
    assert "1 non-finite value" in row["error"] and row["score"] is None


def test_eight_bit_pixels_stay_uint8_and_score_as_float32(tmp_path):
    """``read_image(native=True)``: the same values as the float32 read, as a uint8 view;
    the scorer's rows equal the score of the float32 pixels (16-bit stays float32)."""
    from checkerfree.io import read_image

    path = tmp_path / "photo.png"
    Image.fromarray(photo(72, 64, seed=2)).save(path)
    native, _ = read_image(path, native=True)
    plain, _ = read_image(path)
    assert native.dtype == np.uint8 and native.flags.c_contiguous and plain.dtype == np.float32
    np.testing.assert_array_equal(native.astype(np.float32), plain)
    row = ImageScorer(periods=(2, 4))([path])[0]
    ref = checkerboard_score(torch.from_numpy(plain)[None], periods=(2, 4)).to_rows()[0]
    assert row["periods"] == ref["periods"] and row["hotspot"] == ref["hotspot"]
    sixteen = tmp_path / "grey16.png"
    Image.fromarray((np.arange(64 * 64).reshape(64, 64) * 7).astype(np.uint16)).save(sixteen)
    assert read_image(sixteen, native=True)[0].dtype == np.float32


def test_local_engine_scores_with_the_threads_the_decoders_leave(files, monkeypatch):
    """torch's intra-op threads while scoring: the CPUs left by the decoding threads (at
    least one), or ``torch_threads``; torch's own setting is back afterwards."""
    from checkerfree.engines import local

    seen = []

    class Spy(ImageScorer):
        def score_decoded(self, items):
            seen.append(torch.get_num_threads())
            return super().score_decoded(items)

    before = torch.get_num_threads()
    monkeypatch.setattr(local, "_cpus", lambda: 6)
    list(score_files(files[:3], Spy(batch_size=2), workers=2))
    list(score_files(files[:3], Spy(batch_size=2), workers=8))
    list(score_files(files[:3], Spy(batch_size=2), workers=2, torch_threads=3))
    assert seen == [4, 4, 1, 1, 3, 3] and torch.get_num_threads() == before
    with pytest.raises(InvalidArgumentError, match="torch_threads must be a positive int"):
        list(score_files(files[:3], Spy(), torch_threads=0))
