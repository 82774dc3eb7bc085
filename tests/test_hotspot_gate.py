"""The hotspot only where there is a pattern: computed for items with a significant period,
``-1`` (rows: null, CSV: empty) for the others; the same values as the ungated scan."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
import torch

from checkerfree.errors import InvalidTypeError
from checkerfree.score import checkerboard
from checkerfree.score.checkerboard import checkerboard_score
from checkerfree.score.hotspot import lattice_hotspot
from checkerfree.score.results import csv_text

skimage_data = pytest.importorskip("skimage.data")


def _camera() -> torch.Tensor:
    """scikit-image's camera, 256x256 (every other pixel), grey levels: a clean photograph."""
    return torch.from_numpy(skimage_data.camera()[::2, ::2].astype(np.float32))


def _patched(top: int = 0, left: int = 0, levels: float = 8.0) -> tuple[torch.Tensor, tuple]:
    """The camera with a 128x128 period-2 checkerboard of ``levels`` peak to peak, 8-bit
    rounded: a quarter of the image, significant over the whole of it (a 64x64 patch is not,
    at any amplitude: its own spread raises the floor, docs/score.md)."""
    x = _camera().clone()
    i, j = torch.meshgrid(torch.arange(128), torch.arange(128), indexing="ij")
    x[top : top + 128, left : left + 128] += levels / 2 * (-1.0) ** (i + j)
    return x.round().clamp(0, 255), (top, left)


def _significant(result, k: int) -> bool:
    return any(float(result.significance[s][k]) > result.required[s] for s in result.periods)


def test_clean_photograph_has_no_hotspot():
    r = checkerboard_score(_camera())
    assert not _significant(r, 0) and not r.flagged.item()
    assert r.hotspot.tolist() == [[-1, -1]] and r.to_rows()[0]["hotspot"] is None


def test_patterned_hotspot_is_inside_the_window_and_equals_the_scan():
    x, (top, left) = _patched()
    r = checkerboard_score(x)
    assert r.flagged.item() and _significant(r, 0)
    row, col = r.to_rows()[0]["hotspot"]
    assert top <= row < top + 128 and left <= col < left + 128
    # Independent of the gate: the coherence scan itself, and the ungated score.
    reference = lattice_hotspot(x[None, None], tuple(r.periods), 2)[0]
    assert r.hotspot.tolist() == reference.tolist()
    assert torch.equal(checkerboard_score(x, hotspot="always").hotspot, r.hotspot)


def test_batch_scans_only_the_significant_items_in_one_call(monkeypatch):
    clean = _camera()
    patched, _ = _patched()
    other, _ = _patched(128, 96, 12.0)
    x = torch.stack([clean, patched, clean.flip(-1), other])[:, None]
    calls = []

    def spy(xb, *args, **kwargs):
        calls.append(xb.shape[0])
        return lattice_hotspot(xb, *args, **kwargs)

    monkeypatch.setattr(checkerboard, "lattice_hotspot", spy)
    gated = checkerboard_score(x)
    assert calls == [2]  # items 1 and 3, together
    calls.clear()
    everywhere = checkerboard_score(x, hotspot="always")
    assert calls == [4]
    significant = [_significant(gated, k) for k in range(4)]
    assert significant == [False, True, False, True]
    for k in range(4):
        if significant[k]:
            assert torch.equal(gated.hotspot[k], everywhere.hotspot[k])
        else:
            assert gated.hotspot[k].tolist() == [-1, -1]
            assert bool((everywhere.hotspot[k] >= 0).all())  # computed when asked
    # Unchanged by the gate: every measurement other than the hotspot.
    assert torch.equal(gated.score, everywhere.score)
    assert torch.equal(gated.flagged, everywhere.flagged)


def test_hotspot_off_is_minus_one_and_a_bad_value_is_refused():
    x, _ = _patched()
    assert checkerboard_score(x, hotspot=False).hotspot.tolist() == [[-1, -1]]
    with pytest.raises(InvalidTypeError, match=r"True or False \(or 'always'\), got 'yes'"):
        checkerboard_score(x, hotspot="yes")


def test_rows_write_null_and_csv_empty_cells():
    clean, patched = _camera(), _patched()[0]
    rows = checkerboard_score(torch.stack([clean, patched])[:, None]).to_rows()
    assert rows[0]["hotspot"] is None and len(rows[1]["hotspot"]) == 2
    for row, name in zip(rows, ("clean.png", "patched.png")):
        row.update(path=name, error=None, size=[256, 256])
    table = list(csv.DictReader(io.StringIO(csv_text(rows, (2, 4, 8)))))
    assert (table[0]["hotspot_row"], table[0]["hotspot_col"]) == ("", "")
    assert [int(table[1]["hotspot_row"]), int(table[1]["hotspot_col"])] == rows[1]["hotspot"]


@pytest.mark.parametrize("levels", [16.0, 64.0])
def test_a_64x64_patch_is_not_significant_so_only_always_locates_it(levels):
    """The gate's cost: a 64x64 patch on 256x256 is not significant at any amplitude (its
    excess and its floor's spread grow together), so its hotspot is null by default."""
    x = _camera().clone()
    i, j = torch.meshgrid(torch.arange(64), torch.arange(64), indexing="ij")
    x[64:128, 128:192] += levels / 2 * (-1.0) ** (i + j)
    x = x.round().clamp(0, 255)
    r = checkerboard_score(x)
    assert not _significant(r, 0) and r.to_rows()[0]["hotspot"] is None
    row, col = checkerboard_score(x, hotspot="always").hotspot[0].tolist()
    assert 64 <= row < 128 and 128 <= col < 192


def test_scorer_rows_follow_the_hotspot_choice(tmp_path):
    from PIL import Image

    from checkerfree.score.batch import ImageScorer

    path = tmp_path / "camera.png"
    Image.fromarray(_camera().numpy().astype(np.uint8)).save(path)
    assert ImageScorer()([path])[0]["hotspot"] is None
    spot = ImageScorer(hotspot="always")([path])[0]["hotspot"]
    assert spot == checkerboard_score(_camera(), hotspot="always").hotspot[0].tolist()
    assert ImageScorer(hotspot=False)([path])[0]["hotspot"] is None
    with pytest.raises(InvalidTypeError, match="hotspot must be True or False"):
        ImageScorer(hotspot=1)


def _patch_png(path) -> tuple[int, int]:
    """The camera photograph with a +-32 grey-level 64x64 checkerboard at (96, 160): a local
    pattern the whole-image score does not find significant (its window's peak is broad)."""
    from PIL import Image

    image = skimage_data.camera()[::2, ::2].astype(float)
    i, j = np.indices((64, 64))
    image[96:160, 160:224] += 32 * (-1.0) ** (i + j)
    Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(path)
    return 96, 160


@pytest.mark.parametrize("mode", ["significant", "always", "never"])
def test_cli_hotspot_modes(capsys, tmp_path, mode):
    import json

    from checkerfree.cli import main

    top, left = _patch_png(tmp_path / "patch.png")
    assert main(["score", str(tmp_path / "patch.png"), "--json", "--hotspot", mode]) == 0
    (row,) = json.loads(capsys.readouterr().out)["images"]
    assert not row["flagged"]
    if mode == "always":
        row_at, col_at = row["hotspot"]
        assert top <= row_at < top + 64 and left <= col_at < left + 64
    else:
        assert row["hotspot"] is None


def test_cli_hotspot_refuses_an_unknown_mode(capsys, tmp_path):
    from checkerfree.cli import main

    _patch_png(tmp_path / "patch.png")
    with pytest.raises(SystemExit) as exit_:
        main(["score", str(tmp_path / "patch.png"), "--hotspot", "sometimes"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "sometimes" in err and "always" in err
