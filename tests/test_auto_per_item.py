"""periods="auto" is per item: a batch gives the rows of one call per item."""

from __future__ import annotations

import math

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checkerfree.score.checkerboard import (
    FIXED_PERIODS,
    checkerboard_loss,
    checkerboard_score,
    resolve_item_periods,
)
from checkerfree.score.periods import find_periods

SIZE = 64


def item(kind: str, block: int, amplitude: float, seed: int) -> torch.Tensor:
    """A noisy 64x64 grey picture, clean or with a checkerboard of blocks of ``block``."""
    g = torch.Generator().manual_seed(seed)
    x = 100 + 6 * torch.randn(SIZE, SIZE, generator=g, dtype=torch.float64)
    if kind == "checker":
        i, j = torch.meshgrid(torch.arange(SIZE), torch.arange(SIZE), indexing="ij")
        x = x + amplitude * (-1.0) ** (i // block + j // block)
    return x


def same_rows(batch: list[dict], alone: list[dict]) -> None:
    assert len(batch) == len(alone)
    for b, a in zip(batch, alone):
        assert set(b) == set(a)
        for key in ("flagged", "period", "hotspot", "reason"):
            assert b[key] == a[key], key
        for key in ("periods", "significance", "required"):
            assert set(b[key]) == set(a[key]), key  # the periods measured on the item itself
            assert all(math.isclose(b[key][s], a[key][s], rel_tol=1e-9, abs_tol=1e-9)
                       for s in a[key]), key
        assert math.isclose(b["score"], a["score"], rel_tol=1e-9, abs_tol=1e-9)


items = st.tuples(st.sampled_from(["clean", "checker"]), st.integers(2, 6),
                  st.sampled_from([2.0, 4.0, 8.0]), st.integers(0, 10**6))


@settings(max_examples=20, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(items, min_size=2, max_size=4))
def test_auto_batch_rows_equal_one_call_per_item(specs):
    x = torch.stack([item(*spec) for spec in specs])[:, None]
    batch = checkerboard_score(x, periods="auto").to_rows(detail=True)
    alone = [checkerboard_score(x[k : k + 1], periods="auto").to_rows(detail=True)[0]
             for k in range(len(specs))]
    same_rows(batch, alone)
    # Each row holds the fixed periods and what the search found on that item alone.
    found = find_periods(x, 2, count=3, skip=FIXED_PERIODS)
    for row, own in zip(batch, found):
        assert {int(s) for s in row["periods"]} >= set(FIXED_PERIODS) | set(own)
    # The loss is per item too.
    per_item = checkerboard_loss(x, periods="auto", reduction="none")
    one_by_one = torch.cat([checkerboard_loss(x[k : k + 1], periods="auto", reduction="none")
                            for k in range(len(specs))])
    assert torch.allclose(per_item, one_by_one, rtol=1e-9, atol=1e-9)


def test_a_period_found_on_a_batch_mate_is_nan_and_left_out_of_the_row():
    clean, patterned = item("clean", 0, 0.0, 1), item("checker", 5, 4.0, 2)
    x = torch.stack([clean, patterned])[:, None]
    own = [periods for periods, _, _ in resolve_item_periods("auto", x, 2)]
    assert own[0] == (2, 4, 8) and 10 in own[1]  # blocks of 5: period 10 (and 5)
    result = checkerboard_score(x, periods="auto")
    assert sorted(result.periods) == sorted(set(own[0]) | set(own[1]))
    for s in own[1]:
        if s not in own[0]:
            assert math.isnan(result.periods[s][0]) and math.isnan(result.significance[s][0])
            assert torch.isnan(result.axes[s][0]).all()
            assert not math.isnan(result.periods[s][1])
    rows = result.to_rows(detail=True)
    assert [sorted(int(s) for s in row["periods"]) for row in rows] == [list(p) for p in own]
    assert sorted(int(s) for s in rows[0]["significance"]) == list(own[0])
    assert result.flagged.tolist() == [False, True] and result.period[1].tolist() == [10, 10]


def test_grouped_auto_keeps_the_gradient():
    x = torch.stack([item("clean", 0, 0.0, 3), item("checker", 3, 4.0, 4)])[:, None]
    x.requires_grad_(True)
    result = checkerboard_score(x, periods="auto", hotspot=False)
    assert len({p for p, _, _ in resolve_item_periods("auto", x.detach(), 2)}) == 2
    result.score.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad[1].abs().sum() > 0


def test_one_item_and_given_periods_are_one_group():
    x = torch.rand(1, 1, 32, 32, dtype=torch.float64)
    assert len(resolve_item_periods("auto", x, 2)) == 1
    given = resolve_item_periods((4, 2), torch.rand(3, 1, 32, 32), 2)
    assert given == [((2, 4), {2: 5.0, 4: 5.0}, 0)] * 3
