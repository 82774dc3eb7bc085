"""Every claim ``checkerfree reproduce`` measures: its id and the function that measures it.

The first thirteen ids are those of ``docs/claims.md`` (the article and the seed notes), in its
order; ``finding-*`` ids are our own measurements beyond them. Functions are named as
``module:function`` and imported when run, so listing ids costs nothing.

>>> ids = claim_ids()
>>> ids[:3], len(ids) >= 13
(['overlap-1d', 'overlap-2d', 'overlap-stack'], True)
>>> experiment("overlap-2d").__name__
'overlap_2d'
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from checkerfree.errors import InvalidArgumentError

__all__ = ["ARTICLE_IDS", "FIGURES", "NEEDS", "REGISTRY", "check_ids", "claim_ids",
           "experiment", "figure_names", "needs"]

REGISTRY: dict[str, str] = {
    "overlap-1d": "overlap_claims:overlap_1d",
    "overlap-2d": "overlap_claims:overlap_2d",
    "overlap-stack": "overlap_claims:overlap_stack",
    "stride1-dampens": "overlap_claims:stride1_dampens",
    "init-artifacts": "init_claims:init_artifacts",
    "even-overlap-not-enough": "trained_claims:even_overlap_not_enough",
    "trained-artifacts": "trained_claims:trained_artifacts",
    "nn-vs-bilinear": "trained_claims:nn_vs_bilinear",
    "subpixel-icnr": "trained_claims:subpixel_icnr",
    "bright-colours": "colour_claims:bright_colours",
    "grad-strided": "gradient_claims:grad_strided",
    "grad-jitter": "deepdream:grad_jitter",
    "disc-stride": "discriminator:disc_stride",
    "finding-resize-init": "findings:resize_init",
    "finding-fix-cost": "findings:fix_cost",
}

# The super-resolution figures are drawn once per run by whichever of these claims runs first.
_SR_FIGURES = ("sr_outputs", "sr_score_psnr")

#: The figures (``figures/<name>.png``) each claim may write: ``reproduce`` plans them all
#: and refuses before any work when one exists (a test checks this against the sources).
FIGURES: dict[str, tuple[str, ...]] = {
    "overlap-1d": ("overlap_1d_k3_s2", "overlap_1d_two_layers"),
    "overlap-2d": ("overlap_2d_k3_s2", "overlap_2d_k4_s2"),
    "overlap-stack": ("overlap_stack",),
    "stride1-dampens": ("stride1_kept_vs_width", "stride1_patterns"),
    "init-artifacts": ("init_samples", "init_score_vs_period"),
    "even-overlap-not-enough": _SR_FIGURES,
    "trained-artifacts": ("gan_generators",) + _SR_FIGURES,
    "nn-vs-bilinear": _SR_FIGURES + ("sr_high_frequency",),
    "subpixel-icnr": _SR_FIGURES,
    "bright-colours": ("colour_heat_vs_distance", "colour_heat_examples",
                       "colour_score_vs_distance", "colour_samples"),
    "grad-strided": ("gradients",),
    "grad-jitter": ("deepdream", "deepdream_score_vs_jitter"),
    "disc-stride": ("gan_samples", "critic_gradients"),
    "finding-resize-init": ("resize_init_periodic_mean",),
    "finding-fix-cost": ("fix_cost",),
}


#: What each claim reads that is costly and shared between claims (trained once per run and
#: memoised, see :mod:`~checkerfree.experiments.context`): ``"sr"``, the super-resolution
#: upsamplers (:mod:`~checkerfree.experiments.training`); ``"classifiers"``, the texture
#: classifier designs (:mod:`~checkerfree.experiments.classifiers`). The runner trains the
#: union over the claims it computes (not those read from the cache), so ``--only X`` trains
#: only X's models; a test runs each claim alone and counts what it trained.
NEEDS: dict[str, dict[str, tuple[str, ...]]] = {
    "even-overlap-not-enough": {"sr": ("deconv-k4", "resize-nearest")},
    "trained-artifacts": {"sr": ("deconv-k3", "resize-nearest")},
    "nn-vs-bilinear": {"sr": ("resize-nearest", "resize-bilinear")},
    "subpixel-icnr": {"sr": ("subpixel", "subpixel-icnr", "resize-nearest")},
    "grad-strided": {"classifiers": ("strided", "pool", "blur")},
    "grad-jitter": {"classifiers": ("strided",)},
    "finding-fix-cost": {"sr": ("deconv-k3", "resize-nearest", "resize-bilinear",
                                "subpixel-icnr", "deconv-k3-hold")},
}


def needs(ids) -> dict[str, list[str]]:
    """The union of :data:`NEEDS` over the claims ``ids``, each item once, in first-seen order.

    >>> needs(["trained-artifacts", "nn-vs-bilinear", "overlap-1d"])
    {'sr': ['deconv-k3', 'resize-nearest', 'resize-bilinear']}
    """
    out: dict[str, dict[str, None]] = {}
    for claim_id in check_ids(ids):
        for what, items in NEEDS.get(claim_id, {}).items():
            out.setdefault(what, {}).update(dict.fromkeys(items))
    return {what: list(items) for what, items in out.items()}


def figure_names(ids) -> list[str]:
    """The figure names the claims ``ids`` may write, each once, in report order.

    >>> figure_names(["overlap-stack", "overlap-1d"])
    ['overlap_1d_k3_s2', 'overlap_1d_two_layers', 'overlap_stack']
    """
    names: dict[str, None] = {}
    for claim_id in check_ids(ids):
        names.update(dict.fromkeys(FIGURES[claim_id]))
    return list(names)


#: The ids of docs/claims.md, in its order.
ARTICLE_IDS = tuple(i for i in REGISTRY if not i.startswith("finding-"))


def claim_ids() -> list[str]:
    """All ids, in report order."""
    return list(REGISTRY)


def check_ids(ids) -> list[str]:
    """``ids`` de-duplicated in report order, or :class:`InvalidArgumentError` naming the
    unknown ones and listing the valid ones.

    >>> check_ids(["overlap-2d", "overlap-1d", "overlap-2d"])
    ['overlap-1d', 'overlap-2d']
    """
    unknown = [i for i in ids if i not in REGISTRY]
    if unknown:
        raise InvalidArgumentError(
            f"unknown claim id(s) {', '.join(unknown)}; valid ids: {', '.join(REGISTRY)}"
        )
    wanted = set(ids)
    return [i for i in REGISTRY if i in wanted]


def experiment(claim_id: str) -> Callable:
    """The function ``(Context) -> Claim`` that measures ``claim_id``."""
    check_ids([claim_id])
    module, name = REGISTRY[claim_id].split(":")
    return getattr(importlib.import_module(f"checkerfree.experiments.{module}"), name)
