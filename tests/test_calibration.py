"""Smoke tests of benchmarks/calibration.py's parts: the synthetic signals and patterns, the
decision value, the detectors' comparison, the decoder pairs and the command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
import calibration
import synthetic

from checkerfree.errors import InvalidArgumentError


@pytest.mark.parametrize("source", [synthetic.music_like, synthetic.speech_like])
@pytest.mark.parametrize("rate", [16000, 44100])
def test_clean_audio_is_16_bit_at_its_peak(source, rate):
    x = source(rate, 0.2, np.random.default_rng(0))
    assert x.shape == (int(0.2 * rate),)
    assert np.abs(x).max() == pytest.approx(synthetic.PEAK, abs=1 / 32767)
    np.testing.assert_allclose(x * 32767, np.round(x * 32767), atol=1e-9)
    # Not a tone: energy spread over many frequencies (the calibration's broadband case).
    power = np.abs(np.fft.rfft(x)) ** 2
    assert (power > power.max() * 1e-3).sum() > 50


@pytest.mark.parametrize("shape", [(37,), (20, 13), (9, 10, 11)])
@pytest.mark.parametrize("kind", ["checker", "subkernel"])
@pytest.mark.parametrize("s", [2, 4])
def test_lattice_pattern_has_period_s_zero_mean_and_the_amplitude(shape, kind, s):
    p = synthetic.lattice_pattern(kind, s, 3.0, shape, np.random.default_rng(1))
    assert p.shape == shape
    for axis in range(len(shape)):
        head = np.take(p, range(shape[axis] - s), axis=axis)
        tail = np.take(p, range(s, shape[axis]), axis=axis)
        np.testing.assert_allclose(head, tail)
    whole = p[tuple(slice(0, s) for _ in shape)]  # one period
    assert whole.mean() == pytest.approx(0, abs=1e-12)
    assert whole.max() - whole.min() == pytest.approx(3.0)
    with pytest.raises(InvalidArgumentError, match="kind"):
        synthetic.lattice_pattern("stripes", s, 1.0, shape, np.random.default_rng(0))


def test_volumes_are_8_bit_grey_levels():
    rng = np.random.default_rng(2)
    v = synthetic.smooth_volume(16, 2.0, rng)
    stack = synthetic.photo_stack(calibration.grey(calibration.load("camera")), 16, rng)
    for x in (v, stack):
        assert x.shape == (16, 16, 16)
        assert x.min() >= 0 and x.max() <= 255
        np.testing.assert_array_equal(x, np.round(x))
    # Smooth along depth: neighbouring slices differ less than the slices' own spread.
    assert np.abs(np.diff(stack, axis=0)).mean() < stack.std()


def test_decision_value_is_the_largest_significant_period():
    t = torch.arange(4096.0)
    clean = torch.sin(t / 30) * 0.3
    pattern = 0.01 * torch.tensor([1.0, -1.0, 1.0, -1.0, 1, 1, -1, -1]).repeat(512)
    result = calibration.measure_signal((clean + pattern).numpy(), periods=(2, 8))
    significant = [result.periods[s].item() for s in (2, 8)
                   if result.significance[s].item() > calibration.MIN_SIGNIFICANCE]
    assert significant and calibration.decision_value(result) == max(significant)
    assert calibration.decision_value(calibration.measure_signal(clean.numpy())) == 0.0


def test_patterned_and_summary_smoke():
    rng = np.random.default_rng(3)
    items = [(f"music/{k}", synthetic.music_like(16000, 0.25, rng), synthetic.quantise_16)
             for k in range(2)]

    def score(x, hotspot):
        return calibration.measure_signal(x, hotspot=hotspot)

    detected, local = calibration._patterned(items, (4,), (1e-2,), 512, rng, score)
    assert sorted(detected) == [("checker", 4, 1e-2), ("subkernel", 4, 1e-2)]
    assert all(len(v) == 2 for v in detected.values()) and len(local[1e-2]) == 2
    clean = {name: calibration.decision_value(score(x, False)) for name, x, _ in items}
    summary = calibration._signal_summary(clean, detected, local, 1e-4, (1e-2,))
    row = summary["by_amplitude"]["0.01"]
    assert row["n"] == 4 and 0 <= row["detected"] <= 1 and 0 <= row["hotspot_inside"] <= 1
    assert summary["clean"]["n"] == 2
    table = calibration.signal_markdown("Audio", {**summary, "unit": "full scale, p-p",
                                                  "seconds": 1.0})
    assert f"| 0.01 | 4 | {row['detected']:.1%} |" in table


def _record(ours, feature):
    return {"ours": ours, "durall": np.array([feature, 0.0]), "dzanic": np.array([feature])}


def test_compare_scores_each_detector_on_the_test_half():
    rng = np.random.default_rng(4)
    # Ours separates perfectly; the baselines' features carry a noisy signal.
    train_neg = [_record(0.0, rng.normal()) for _ in range(20)]
    train_pos = [_record(1.0, rng.normal() + 1) for _ in range(20)]
    test_neg = [_record(0.0, rng.normal()) for _ in range(30)]
    test_pos = [_record(1.0, rng.normal() + 1) for _ in range(30)]
    row = calibration.compare(train_neg, train_pos, test_neg, test_pos)
    assert row["ours"] == 1.0 and row["ours_wins"] == "yes"
    assert 0.6 < row["durall"] < 1.0 and 0.6 < row["dzanic"] < 1.0
    assert row["n_train"] == [20, 20] and row["n_test"] == [30, 30]
    table = calibration.detectors_markdown([{"set": "toy", **row}])
    assert (f"| toy | 30 / 30 | 1.0000 | - | - | {row['durall']:.4f} | {row['dzanic']:.4f} "
            "| yes | - |") in table
    # Perfect features on both sides: a tie, said as such.
    separable = [_record(0.0, -5.0 + 0.1 * i) for i in range(5)], [
        _record(1.0, 5.0 + 0.1 * i) for i in range(5)]
    assert calibration.compare(*separable, *separable)["ours_wins"] == "tie"


def _pair_count(negatives, positives):
    """AUROC by brute force: every positive-negative pair, ties counted half."""
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    return wins / (len(negatives) * len(positives))


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abc"), st.integers(0, 1), st.integers(0, 4)),
                min_size=2, max_size=30))
def test_grouped_auroc_counts_the_pairs_of_one_group(items):
    neg = [(g, v) for g, label, v in items if label == 0]
    pos = [(g, v) for g, label, v in items if label == 1]
    pairs = [(n, p) for gn, n in neg for gp, p in pos if gn == gp]
    if not pairs:
        with pytest.raises(InvalidArgumentError, match="both classes"):
            calibration.grouped_auroc([g for g, _ in neg], [v for _, v in neg],
                                      [g for g, _ in pos], [v for _, v in pos])
        return
    expected = sum((p > n) + 0.5 * (p == n) for n, p in pairs) / len(pairs)
    got = calibration.grouped_auroc([g for g, _ in neg], [v for _, v in neg],
                                    [g for g, _ in pos], [v for _, v in pos])
    assert got == pytest.approx(expected, abs=1e-12)


def test_decoder_rows_per_network_family_and_pooled_against_pair_counts():
    rng = np.random.default_rng(5)
    sources = ["p0", "p1", "p2", "p3"]
    train = {"p0", "p1"}
    records = []
    for family, shift in (("A", 0.0), ("B", 3.0)):
        for seed in range(4):
            for source in sources:
                for label in (0, 1):
                    for _ in range(3):
                        records.append({
                            "family": family, "seed": seed, "source": source, "label": label,
                            "ours": float(rng.integers(0, 4) + label + shift),
                            "ours_kinds": float(rng.normal() + 2 * label),
                            "durall": rng.normal(size=3) + label, "dzanic": rng.normal(size=2)})
    rows = {r["set"]: r for r in calibration.decoder_rows(records, train)}
    assert list(rows) == ["A seed 1", "A seed 3", "A", "B seed 1", "B seed 3", "B",
                          "all decoders", "all decoders, within family"]

    def test_side(rs):
        return [r for r in rs if r["source"] not in train and r["seed"] % 2 == 1]

    def values(rs, label, key="ours"):
        return [r[key] for r in rs if r["label"] == label]

    for family in "AB":
        mine = test_side([r for r in records if r["family"] == family])
        for seed in (1, 3):
            net = [r for r in mine if r["seed"] == seed]
            row = rows[f"{family} seed {seed}"]
            assert row["n_test"] == [6, 6]
            assert row["ours"] == pytest.approx(_pair_count(values(net, 0), values(net, 1)))
            assert row["ours_kinds"] == pytest.approx(
                _pair_count(values(net, 0, "ours_kinds"), values(net, 1, "ours_kinds")))
        assert rows[family]["ours"] == pytest.approx(_pair_count(values(mine, 0),
                                                                 values(mine, 1)))
    everything = test_side(records)
    assert rows["all decoders"]["ours"] == pytest.approx(
        _pair_count(values(everything, 0), values(everything, 1)))
    within = [(n["ours"], p["ours"]) for n in everything if n["label"] == 0
              for p in everything if p["label"] == 1 and p["family"] == n["family"]]
    assert rows["all decoders, within family"]["ours"] == pytest.approx(
        sum((p > n) + 0.5 * (p == n) for n, p in within) / len(within))
    # B's values sit 3 above A's: pooling across families mixes them, within family does not.
    assert rows["all decoders"]["ours"] != rows["all decoders, within family"]["ours"]
    assert "ours_auto" not in rows["A"]  # a variant is reported only where it was measured
    assert "| A seed 1 | 6 / 6 |" in calibration.detectors_markdown(list(rows.values()))


def test_split_sources_is_seeded_and_half():
    names = calibration.PHOTOS + calibration.TEXTURES
    train = calibration.split_sources(names)
    assert train == calibration.split_sources(names) and len(train) == len(names) // 2


def test_decoder_pairs_differ_only_in_upsampling():
    pytest.importorskip("monai")
    pytest.importorskip("diffusers")
    import decoders

    for family in ("monai BasicUNet", "diffusers AutoencoderKL"):
        pos, neg = decoders._pair(family, 0)
        kinds = [{type(m).__name__ for m in model.modules()} for model in (pos, neg)]
        assert "ConvTranspose2d" in kinds[0] and "ConvTranspose2d" not in kinds[1], family


def test_periods_option():
    assert calibration.parse_periods("auto") == "auto"
    assert calibration.parse_periods("2,4,8") == (2, 4, 8)
    with pytest.raises(argparse.ArgumentTypeError, match="comma-separated"):
        calibration.parse_periods("two")
    assert calibration.command_line(True, (2, 3)) == (
        "python benchmarks/calibration.py --quick --periods 2,3")


def test_a_period_the_score_refuses_is_one_line_and_exit_2(capsys):
    assert calibration.main(["--quick", "--periods", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("calibration.py:") and "\n" not in err
