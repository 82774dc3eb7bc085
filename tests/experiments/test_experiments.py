"""Fast checks of the experiment pieces: overlap claims, init generators, records, cache."""

import json

import pytest
import torch

from checkerfree.experiments import overlap_claims
from checkerfree.experiments.claim import Claim
from checkerfree.experiments.context import Context
from checkerfree.experiments.generators import DESIGNS
from checkerfree.experiments.init_claims import expected_periods, measure_init
from checkerfree.experiments.upsamplers import UPSAMPLERS, make_upsampler


@pytest.fixture
def ctx(tmp_path):
    return Context(tmp_path, quick=True)


@pytest.mark.parametrize("name", ["overlap_1d", "overlap_2d", "overlap_stack",
                                  "stride1_dampens"])
def test_overlap_claims_hold_with_figures(ctx, name):
    claim = getattr(overlap_claims, name)(ctx)
    assert claim.holds, claim.measured
    assert claim.figures and all((ctx.out / f).is_file() for f in claim.figures)
    json.dumps(claim.to_dict())  # JSON-able


def test_overlap_2d_numbers(ctx):
    m = overlap_claims.overlap_2d(ctx).measured
    assert m["k3_s2"]["ratio"] == 4.0 and m["k3_s2"]["interior"] == [[4, 2], [2, 1]]


def test_expected_periods():
    assert [expected_periods(k) for k in DESIGNS.values()] == [[], [2], [2, 4], [2, 4, 8]]


def test_init_artifacts_tiny():
    r = measure_init(DESIGNS, seeds=[0, 1], batch=4, width=32)
    for name, row in r.items():
        assert row["periods_present"] == row["periods_expected"], (name, row)


@pytest.mark.parametrize("kind", UPSAMPLERS)
def test_upsamplers_double_the_size(kind):
    assert make_upsampler(kind, 4, 3)(torch.zeros(1, 4, 6, 7)).shape == (1, 3, 12, 14)


def test_holds_is_a_plain_bool():
    c = Claim("x", "s", {"v": torch.tensor(2.0)}, holds=torch.tensor(True), rule="r")
    assert c.holds is True and c.measured == {"v": 2.0}
