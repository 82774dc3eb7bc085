"""Every claim opens with 1-6 headline numbers: named, finite, with a unit, from its numbers."""

import ast
import importlib
import inspect
import math

import pytest

from checkerfree.experiments import overlap_claims
from checkerfree.experiments.claim import Claim
from checkerfree.experiments.context import Context
from checkerfree.experiments.registry import REGISTRY


def check_headline(claim: Claim) -> None:
    assert 1 <= len(claim.headline) <= 6, (claim.id, claim.headline)
    names = [h["name"] for h in claim.headline]
    assert len(set(names)) == len(names), names
    for h in claim.headline:
        assert set(h) == {"name", "value", "unit"}, h
        assert isinstance(h["name"], str) and h["name"].strip(), h
        assert isinstance(h["unit"], str), h
        v = h["value"]
        assert isinstance(v, (int, float)) and not isinstance(v, bool), h
        assert math.isfinite(v), h


def _claim_calls(func) -> list[ast.Call]:
    tree = ast.parse(inspect.getsource(func).lstrip())
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call)
            and getattr(n.func, "id", None) == "Claim"]


@pytest.mark.parametrize("claim_id", list(REGISTRY))
def test_every_experiment_passes_a_headline(claim_id):
    module, name = REGISTRY[claim_id].split(":")
    func = getattr(importlib.import_module(f"checkerfree.experiments.{module}"), name)
    calls = _claim_calls(func)
    assert calls, f"{claim_id}: {name} builds no Claim"
    for call in calls:
        assert "headline" in {k.arg for k in call.keywords}, f"{claim_id}: no headline="


def test_the_static_check_can_fail():
    def no_headline():
        return Claim(id="x", statement="s", measured={}, holds=True, rule="r")

    assert _claim_calls(no_headline) and not any(
        k.arg == "headline" for c in _claim_calls(no_headline) for k in c.keywords)


@pytest.mark.parametrize("name", ["overlap_1d", "overlap_2d", "overlap_stack",
                                  "stride1_dampens"])
def test_cheap_claims_headlines_match_their_numbers(tmp_path, name):
    claim = getattr(overlap_claims, name)(Context(tmp_path, quick=True))
    check_headline(claim)
    values = {h["name"]: h["value"] for h in claim.headline}
    m = claim.measured
    # Each headline is one of the measured numbers (or a count of them), not a constant.
    if name == "overlap_1d":
        assert values["max:min contributions, k=3 s=2"] == m["k3_s2"]["ratio"] == 2
        assert values["uneven cases (k = s..9, s = 1..4)"] == len(m["uneven_cases"])
    elif name == "overlap_2d":
        assert values["max:min contributions, k=3 s=2 in 2D"] == m["k3_s2"]["ratio"] == 4
    elif name == "overlap_stack":
        assert [values[f"longest period, {n} layer{'s' * (n > 1)}"] for n in (1, 2, 3)] \
            == [2, 4, 8]
    else:
        for s in (2, 4, 8):
            assert values[f"period {s} kept by a width-3 box"] \
                == m["width3_fraction_kept"][str(s)]


def test_check_headline_rejects_bad_entries():
    good = Claim("x", "s", {}, True, "r", headline=[{"name": "a", "value": 1.0, "unit": ""}])
    check_headline(good)
    for bad in ([], [{"name": "a", "value": None, "unit": ""}],
                [{"name": "", "value": 1.0, "unit": ""}],
                [{"name": f"a{i}", "value": 1.0, "unit": ""} for i in range(7)]):
        with pytest.raises(AssertionError):
            check_headline(Claim("x", "s", {}, True, "r", headline=bad))


class TinyContext(Context):
    """Every claim at a toy size (2-3 seeds, steps, repeats): the numbers mean nothing, but
    each experiment runs end to end, so its headline and figures can be checked; every
    figure's text is checked for collisions before it is written."""

    collisions: dict

    def pick(self, quick, full):
        import dataclasses

        from checkerfree.experiments.training import SRSettings

        if isinstance(quick, SRSettings):
            return dataclasses.replace(quick, steps=2)
        if isinstance(quick, int) and not isinstance(quick, bool):
            return quick if quick == 96 else min(quick, 3)  # 96: an image size, kept
        return quick

    def save_figure(self, fig, name, dpi=100):
        from checkerfree.experiments.figures import overlapping_texts

        self.collisions = getattr(self, "collisions", {})
        self.collisions[name] = overlapping_texts(fig)
        return super().save_figure(fig, name, dpi)


@pytest.mark.slow
def test_every_claim_has_a_headline_and_clean_figures(tmp_path):
    from checkerfree.experiments.registry import FIGURES, experiment

    ctx = TinyContext(tmp_path, quick=True)
    for claim_id in REGISTRY:
        claim = experiment(claim_id)(ctx)
        check_headline(claim)
        assert {f.rsplit("/", 1)[-1][:-4] for f in claim.figures} <= set(FIGURES[claim_id])
    assert ctx.collisions and all(v == [] for v in ctx.collisions.values()), ctx.collisions
