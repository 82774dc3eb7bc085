"""What a ``reproduce`` run computes, counted: ``--only X`` trains only X's models, each shared
model is trained once, cached claims train nothing and are recorded as cached, and long loops
print steps with an ETA (silent when quiet).

Training runs for real, with tiny settings patched in (2 steps), so the counts are those of
the real code path; no test here measures seconds.
"""

from __future__ import annotations

import io
import json
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checkerfree.experiments import classifiers, runner, training
from checkerfree.experiments.context import Context
from checkerfree.experiments.progress import StepProgress
from checkerfree.experiments.registry import NEEDS, REGISTRY, needs

SR_CLAIMS = [c for c in REGISTRY if "sr" in NEEDS.get(c, {})]
CLASSIFIER_CLAIMS = [c for c in REGISTRY if "classifiers" in NEEDS.get(c, {})]


@pytest.fixture
def counted(monkeypatch):
    """Tiny training settings; a Counter of every model trained and experiment run."""
    trained: Counter = Counter()
    monkeypatch.setattr(training, "QUICK", training.SRSettings(steps=2, batch=2, crop=16,
                                                               width=4, val_size=64))
    monkeypatch.setattr(classifiers, "QUICK_STEPS", 2)
    train_sr, train_classifier = training.train_sr, classifiers.train_classifier

    def count_sr(kind, seed, *args, **kwargs):
        trained["sr", kind, seed] += 1
        return train_sr(kind, seed, *args, **kwargs)

    def count_classifier(design, seed, *args, **kwargs):
        trained["classifiers", design, seed] += 1
        return train_classifier(design, seed, *args, **kwargs)

    experiment = runner.experiment

    def count_experiment(claim_id):
        trained["experiment", claim_id, None] += 1
        return experiment(claim_id)

    monkeypatch.setattr(training, "train_sr", count_sr)
    monkeypatch.setattr(classifiers, "train_classifier", count_classifier)
    monkeypatch.setattr(runner, "experiment", count_experiment)
    return trained


def _expected(claim_ids) -> Counter:
    seeds = {"sr": training.QUICK_SEEDS, "classifiers": classifiers.QUICK_SEEDS}
    out = Counter(("experiment", c, None) for c in claim_ids)
    for what, items in needs(claim_ids).items():
        out.update((what, item, s) for item in items for s in seeds[what])
    return out


@pytest.mark.parametrize("claim_id", SR_CLAIMS + CLASSIFIER_CLAIMS)
def test_only_trains_what_the_claim_declares(claim_id, counted, tmp_path):
    """``--only X``: X's experiment once and exactly the models NEEDS[X] names, each seed once
    (a claim reading a model it does not declare fails here: it is not trained)."""
    runner.reproduce(tmp_path, quick=True, only=[claim_id], verbose=False)
    assert counted == _expected([claim_id])


def test_fix_cost_alone_trains_five_models_not_fourteen(counted, tmp_path):
    runner.reproduce(tmp_path, quick=True, only=["finding-fix-cost"], verbose=False)
    kinds = {kind for what, kind, _ in counted if what == "sr"}
    assert kinds == {"deconv-k3", "resize-nearest", "resize-bilinear", "subpixel-icnr",
                     "deconv-k3-hold"}
    assert sum(n for (what, *_), n in counted.items() if what == "sr") == 5 * 2


def test_shared_models_are_trained_once_per_run(counted, tmp_path):
    """All super-resolution claims together: every upsampler, each (kind, seed) once."""
    runner.reproduce(tmp_path, quick=True, only=SR_CLAIMS, verbose=False)
    assert counted == _expected(SR_CLAIMS)
    assert len({kind for what, kind, _ in counted if what == "sr"}) == 7
    assert max(counted.values()) == 1


def test_cached_claims_train_nothing_and_are_recorded(counted, tmp_path):
    ids = ["overlap-1d", "trained-artifacts"]
    runner.reproduce(tmp_path, quick=True, only=ids, verbose=False)
    first = json.loads((tmp_path / "report.json").read_text())
    assert [c["cached"] for c in first["claims"]] == [False, False]
    assert first["meta"]["run"]["computed"] == ids and first["meta"]["run"]["cached"] == []
    assert first["meta"]["run"]["trained"]["sr"] == ["deconv-k3", "resize-nearest"]
    counted.clear()
    # A third claim next to two cached ones: only its own models are trained.
    runner.reproduce(tmp_path, quick=True, only=ids + ["nn-vs-bilinear"], force=True,
                     verbose=False)
    assert counted == _expected(["nn-vs-bilinear"])
    second = json.loads((tmp_path / "report.json").read_text())
    assert {c["id"]: c["cached"] for c in second["claims"]} == {
        "overlap-1d": True, "trained-artifacts": True, "nn-vs-bilinear": False}
    run = second["meta"]["run"]
    assert run["cached"] == ids and run["computed"] == ["nn-vs-bilinear"]
    assert run["wall_seconds"] >= second["meta"]["seconds"] >= 0
    # Cached seconds are those of the run that computed them, not zero.
    assert second["claims"][1]["seconds"] == first["claims"][1]["seconds"]


def test_training_prints_steps_with_eta(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(training, "QUICK", training.SRSettings(steps=3, batch=2, crop=16,
                                                               width=4, val_size=64))
    ctx = Context(tmp_path, quick=True, verbose=True, needs={"sr": ["deconv-k3"]},
                  claim="trained-artifacts", progress_interval=0)
    training.sr_results(ctx)
    lines = capsys.readouterr().err.splitlines()
    prefix = "[trained-artifacts] training deconv-k3 (super-resolution), seed"
    assert len(lines) == 3 * len(training.QUICK_SEEDS)
    assert all(line.startswith(prefix) and " steps, ETA " in line for line in lines)
    assert [line.split(": ")[1].split(" steps")[0] for line in lines[:3]] == ["1/3", "2/3",
                                                                               "3/3"]
    assert lines[2].endswith("ETA 0 s")


def test_quiet_run_prints_nothing(counted, tmp_path, capsys):
    runner.reproduce(tmp_path, quick=True, only=["grad-jitter"], verbose=False)
    assert capsys.readouterr().err == ""
    assert counted["experiment", "grad-jitter", None] == 1


def test_default_interval_keeps_a_short_loop_silent(tmp_path, capsys):
    """At most one line per ``progress_interval`` (5 s): a loop of 2 ms steps prints none."""
    ctx = Context(tmp_path, verbose=True, claim="x")
    with ctx.steps("loop", 50) as p:
        for _ in range(50):
            p.advance()
    assert p.lines == 0 and capsys.readouterr().err == ""


@settings(max_examples=60, deadline=None)
@given(durations=st.lists(st.floats(0.0, 10.0), min_size=1, max_size=40),
       interval=st.floats(0.0, 20.0))
def test_eta_and_spacing_against_a_brute_force_replay(durations, interval):
    """Every line's ETA is elapsed/done*(total-done) at that moment, and two lines are at
    least ``interval`` seconds apart (replayed on a fake clock)."""
    times = [0.0]
    for d in durations:
        times.append(times[-1] + d)
    clock = iter(times)
    stream = io.StringIO()
    p = StepProgress("t", len(durations), stream=stream, interval=interval,
                     clock=lambda: next(clock))
    expected, last = [], 0.0
    for done in range(1, len(durations) + 1):
        p.advance()
        now = times[done]
        if now - last >= interval:
            last = now
            eta = now / done * (len(durations) - done)
            expected.append(f"t {done}/{len(durations)} steps, ETA {eta:.0f} s")
    assert stream.getvalue().splitlines() == expected


@pytest.mark.slow
def test_worker_processes_give_the_same_models(monkeypatch, tmp_path):
    """``jobs=2`` trains in spawned workers; every number and output equals ``jobs=1``'s.
    (Slow: each spawned worker imports torch, 10-50 s on a loaded 2-core machine.)"""
    import torch

    monkeypatch.setattr(training, "QUICK", training.SRSettings(steps=2, batch=2, crop=16,
                                                               width=4, val_size=64))
    kinds = {"sr": ["deconv-k3", "subpixel-icnr"]}
    one = training.sr_results(Context(tmp_path, quick=True, needs=kinds, jobs=1))
    two = training.sr_results(Context(tmp_path, quick=True, needs=kinds, jobs=2))
    assert list(one) == list(two) == kinds["sr"]
    for kind in one:
        for a, b in zip(one[kind], two[kind], strict=True):
            assert (a.seed, a.psnr, a.score, a.init_score, a.periods) == (
                b.seed, b.psnr, b.score, b.init_score, b.periods)
            assert torch.equal(a.outputs, b.outputs)


def test_timing_script_reads_a_real_report(tmp_path):
    """benchmarks/reproduce_time.py (the docs' "Time" table) on a report this code wrote:
    one row per claim, slowest first, the cached flags and the run's wall time."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
    import reproduce_time

    ids = ["overlap-1d", "overlap-2d"]
    runner.reproduce(tmp_path, quick=True, only=ids[:1], verbose=False)
    runner.reproduce(tmp_path, quick=True, only=ids, force=True, verbose=False)
    report = json.loads((tmp_path / "report.json").read_text())
    rows = reproduce_time.rows(report)
    assert [(r["id"], r["cached"]) for r in rows] == [("overlap-1d", True), ("overlap-2d", False)]
    text = reproduce_time.markdown(report).splitlines()
    assert "1 of 2 claims cached" in text[0]
    assert f"{report['meta']['run']['wall_seconds']:.0f} s wall time" in text[0]
    body = [line.split(" | ")[0].lstrip("| ") for line in text[4:]]
    by_seconds = sorted(rows, key=lambda r: -r["seconds"])
    assert body == [r["id"] for r in by_seconds]
