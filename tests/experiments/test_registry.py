"""The registry lists every claim of docs/claims.md, and ids are checked with a typed error."""

import re
from pathlib import Path

import pytest

from checkerfree.errors import InvalidArgumentError
from checkerfree.experiments.registry import ARTICLE_IDS, REGISTRY, check_ids, experiment

# The 13 ids of docs/claims.md, in its order.
CLAIM_IDS = ["overlap-1d", "overlap-2d", "overlap-stack", "stride1-dampens", "init-artifacts",
             "even-overlap-not-enough", "trained-artifacts", "nn-vs-bilinear", "subpixel-icnr",
             "bright-colours", "grad-strided", "grad-jitter", "disc-stride"]
CLAIMS_MD = Path(__file__).resolve().parents[2] / "docs" / "claims.md"


def test_every_article_claim_is_registered():
    assert list(ARTICLE_IDS) == CLAIM_IDS


def test_registry_matches_claims_md():
    ids = re.findall(r"^\| ([a-z0-9-]+) \|", CLAIMS_MD.read_text(), flags=re.MULTILINE)
    assert [i for i in ids if i != "id"] == list(ARTICLE_IDS)


def test_findings_are_registered():
    assert {"finding-resize-init", "finding-fix-cost"} <= set(REGISTRY)


@pytest.mark.parametrize("claim_id", list(REGISTRY))
def test_every_experiment_imports(claim_id):
    assert callable(experiment(claim_id))


def test_unknown_id_names_valid_ones():
    with pytest.raises(InvalidArgumentError, match="unknown claim id.*nope.*overlap-1d"):
        check_ids(["overlap-1d", "nope"])
