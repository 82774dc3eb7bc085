"""The probe result's per-kind summary and the kind the verdict rests on.

Reference: each item scored on its own by ``checkerboard_score`` (flagged, score), then
counted and sorted by hand per kind.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from checkerfree.audit import audit
from checkerfree.audit.probes import _interior, _summarise
from checkerfree.score.checkerboard import checkerboard_score


def _batch(pattern: float, rng: np.random.Generator, n: int = 2) -> torch.Tensor:
    """Smooth ramps of 0..200 grey levels with a +-pattern/2 checkerboard, (n, 1, 64, 64)."""
    i, j = np.meshgrid(np.arange(64), np.arange(64), indexing="ij")
    ramp = np.linspace(0, 200, 64)[None, :] + rng.normal(0, 0.5, size=(n, 64, 64))
    return torch.tensor(ramp + pattern / 2 * (-1.0) ** (i + j), dtype=torch.float32)[:, None]


def test_a_constant_batch_alone_decides_and_says_so():
    rng = np.random.default_rng(0)
    batches = [_batch(0.0, rng), _batch(0.0, rng), _batch(0.0, rng), _batch(8.0, rng, n=1)]
    kinds = ["smooth", "smooth", "smooth", "constant"]
    result = _summarise(batches, (2, 4, 8), kinds=kinds)
    # Brute force: every item on its own, by the score's rule on the interior.
    flags, scores = {}, {}
    for kind, batch in zip(kinds, batches):
        for item in batch:
            r = checkerboard_score(_interior(item[None]), periods=(2, 4, 8), hotspot=False)
            flags.setdefault(kind, []).append(bool(r.flagged[0]))
            scores.setdefault(kind, []).append(float(r.score[0]))
    assert flags["constant"] == [True] and not any(flags["smooth"])
    assert result.verdict == "artifacts" and result.deciding == "constant"
    assert abs(result.flagged_fraction - 1 / 7) < 1e-6  # the mixed fraction hides it
    assert result.score < 0.55  # so does the mixed median
    for kind in ("smooth", "constant"):
        summary = result.kinds[kind]
        assert summary["items"] == len(flags[kind])
        assert abs(summary["flagged_fraction"] - np.mean(flags[kind])) < 1e-6
        assert abs(summary["score"] - float(np.median(scores[kind]))) < 1e-5
    assert result.kinds["constant"]["score"] > 6.0  # the +-4 checkerboard reads 8
    document = result.to_dict()
    assert document["deciding"] == "constant"
    assert document["kinds"]["smooth"]["items"] == 6


def test_clean_names_the_kind_closest_to_flagging():
    rng = np.random.default_rng(1)
    # Two of four photo items flagged would decide; one of four does not.
    photo = torch.cat([_batch(8.0, rng, n=1), _batch(0.0, rng, n=3)])
    result = _summarise([photo, _batch(0.0, rng, n=2)], (2, 4, 8), kinds=["photo", "smooth"])
    assert result.verdict == "clean" and result.deciding == "photo"
    assert result.kinds["photo"]["flagged_fraction"] == 0.25
    assert result.kinds["smooth"]["flagged_fraction"] == 0.0


def test_without_kinds_no_summary():
    result = _summarise([_batch(0.0, np.random.default_rng(2))], (2, 4))
    assert result.kinds == {} and result.deciding == ""
    assert "kinds" not in result.to_dict()


def test_audit_reports_the_deciding_kind():
    from checkerfree.zoo import decoder

    report = audit(decoder(dims=2, width=8, layers=2), input_shape=(2, 16, 8, 8), seeds=2,
                   attribute=False)
    forward = report.forward
    assert forward.deciding in forward.kinds
    assert set(forward.kinds) == set(forward.inputs)
    assert sum(v["items"] for v in forward.kinds.values()) == forward.items
    best = max(v["flagged_fraction"] for v in forward.kinds.values())
    assert forward.kinds[forward.deciding]["flagged_fraction"] == best
    assert (forward.verdict == "artifacts") == (best >= 0.5)


def test_text_and_page_say_which_kind_decided(tmp_path):
    import doctest

    import checkerfree.audit.report as report_module
    from checkerfree.zoo import decoder

    assert doctest.testmod(report_module).failed == 0
    report = audit(decoder(dims=2, width=8, layers=2), input_shape=(2, 16, 8, 8), seeds=2,
                   attribute=False)
    k = report.forward.kinds[report.forward.deciding]
    line = (f"decided by {report.forward.deciding}: {k['flagged_fraction']:.0%} of "
            f"{k['items']} flagged")
    assert line in str(report)
    pytest.importorskip("matplotlib")
    page = report.to_html(tmp_path / "page").read_text()
    assert line in page
