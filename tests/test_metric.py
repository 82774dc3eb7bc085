"""CheckerboardScore: tested the way torchmetrics tests its own metrics."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("torchmetrics")

from checkerfree.errors import InvalidArgumentError, InvalidTypeError  # noqa: E402
from checkerfree.score.metric import CheckerboardScore  # noqa: E402
from checkerfree.score.checkerboard import checkerboard_score  # noqa: E402


def _batches():
    torch.manual_seed(0)
    out = []
    for k in range(3):
        x = 100 + torch.rand(4, 3, 32, 32, dtype=torch.float64) * 10
        i = torch.arange(32)
        x[k] += 6.0 * (-1.0) ** (i[:, None] + i[None, :]).double()
        out.append(x)
    return out


def test_batched_updates_equal_functional_on_concatenation():
    batches = _batches()
    metric = CheckerboardScore(periods=(2, 4))
    for b in batches:
        metric.update(b)
    got = metric.compute()
    ref = checkerboard_score(torch.cat(batches), periods=(2, 4), hotspot=False)
    torch.testing.assert_close(got["score"], ref.score.mean().to(got["score"]))
    torch.testing.assert_close(got["flagged"], ref.flagged.double().mean())
    for s in (2, 4):
        torch.testing.assert_close(got[f"period_{s}"], ref.periods[s].mean().to(got["score"]))
    assert got["flagged"].item() == pytest.approx(3 / 12)


def test_forward_returns_batch_value_and_accumulates():
    batches = _batches()
    metric = CheckerboardScore(periods=(2,))
    first = metric(batches[0])
    ref = checkerboard_score(batches[0], periods=(2,), hotspot=False)
    torch.testing.assert_close(first["score"], ref.score.mean().to(first["score"]))
    metric(batches[1])
    assert metric.total.item() == 8


def test_reset():
    metric = CheckerboardScore(periods=(2,))
    metric.update(_batches()[0])
    metric.reset()
    assert metric.total.item() == 0
    metric.update(torch.zeros(2, 1, 16, 16))
    assert metric.compute()["score"].item() == 0.0


def test_states_are_sum_reduced():
    metric = CheckerboardScore()
    assert all(fx is not None for fx in metric._reductions.values())
    assert set(metric._defaults) == {"score_sum", "flagged_sum", "period_sum", "total"}


def test_bad_arguments():
    with pytest.raises(InvalidArgumentError):
        CheckerboardScore(periods=(1,))
    with pytest.raises(InvalidTypeError):
        CheckerboardScore(periods=(2.5,))


def test_auto_periods_mean_score_and_flagged_only():
    batches = _batches()
    metric = CheckerboardScore(periods="auto")
    for b in batches:
        metric.update(b)
    got = metric.compute()
    ref = checkerboard_score(torch.cat(batches), periods="auto", hotspot=False)
    assert sorted(got) == ["flagged", "score"]
    torch.testing.assert_close(got["score"], ref.score.mean().to(got["score"]))
    assert got["flagged"].item() == pytest.approx(ref.flagged.double().mean().item())
    with pytest.raises(InvalidTypeError, match="'auto'"):
        CheckerboardScore(periods="Auto")
