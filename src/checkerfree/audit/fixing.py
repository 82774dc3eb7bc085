"""The audit's ``--fix`` step: convert or fix the culprits, then audit the result again.

``fix="auto"`` applies :func:`checkerfree.fix.fix_sites` to the culprits the audit named (when
it measured artifacts but named none, to every site: a gradient also flows back through the
upsamplers), re-audits, and
repeats on what the new audit blames, at most ``rounds`` times: blame names the loudest
layers, and a quieter one may only stand out once they are fixed. A kind of ``convert``
(``"resize"``, ``"subpixel"``, ``"hold"``, ``"blur"``) converts every layer of that kind. When
nothing is changed the summary says why in one line and no second audit runs.

>>> from checkerfree.audit import audit
>>> from checkerfree.zoo import classifier
>>> model = classifier(width=4)
>>> report = audit(model, input_shape=(1, 3, 32, 32), seeds=1)
>>> fixed, summary, after = fix_and_reaudit(model, report, "resize",
...                                         dict(input_shape=(1, 3, 32, 32), seeds=1))
>>> fixed is None, summary["message"]
(True, 'Sequential has no ConvTranspose1d/2d/3d with stride > 1; nothing to convert')
"""

from __future__ import annotations

import warnings

import torch
import torch.nn as nn

from checkerfree.audit.report import AuditReport
from checkerfree.errors import InvalidArgumentError

__all__ = ["FIX_CHOICES", "fix_and_reaudit"]

FIX_CHOICES = ("auto", "resize", "subpixel", "hold", "blur")


def _summary(how: str, applied, skipped, message, rounds: int, notes=()) -> dict:
    return {"requested": how, "rounds": rounds,
            "applied": [{"site": n, "fix": d} for n, d in applied],
            "skipped": [{"site": n, "reason": r} for n, r in skipped],
            "message": message, "notes": list(notes)}


def _targets(report: AuditReport) -> tuple[list, str | None]:
    """The culprits' sites, or every site; and a note for the fallback.

    Every site, not only those of the loud probe's direction: an input gradient also flows
    back through the upsamplers, whose patterns in the activations shape it (a U-Net's
    gradient checkerboard can come from its decoder's transposed convolutions).
    """
    culprits = [f.site for f in report.layers if f.culprit]
    if culprits:
        return culprits, None
    sites = [f.site for f in report.layers]
    note = ("no single layer was blamed, so every resampling site got its fix"
            if sites else None)
    return sites, note


def _example(model: nn.Module, shape) -> torch.Tensor:
    p = next(iter(model.parameters()), None)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(tuple(shape), generator=g)
    return x if p is None else x.to(device=p.device, dtype=p.dtype)


def fix_and_reaudit(model: nn.Module, report: AuditReport, how: str, audit_kwargs: dict, *,
                    rounds: int = 3) -> tuple[nn.Module | None, dict, AuditReport | None]:
    """Fix ``model`` as ``how`` says; returns ``(fixed model, summary, its audit)``.

    ``model`` is not modified. ``audit_kwargs`` are the first audit's (``input_shape``, ...),
    reused for the re-audits. ``summary`` is JSON-ready: ``requested``, ``applied`` and
    ``skipped`` (site, fix or reason), ``message`` (why nothing was changed, else None),
    ``rounds`` and ``notes``. With nothing changed, the model and its audit are None.
    """
    from checkerfree.audit.core import audit
    from checkerfree.convert import convert, nothing_to_convert, plan_conversion
    from checkerfree.fix import fix_sites

    if how not in FIX_CHOICES:
        raise InvalidArgumentError(f"fix must be one of {FIX_CHOICES}, got {how!r}")
    if how != "auto":
        message = nothing_to_convert(model, how)
        if message is not None:
            return None, _summary(how, [], [], message, 0), None
        applied = [(row.name, f"{type(row.old).__name__} -> {how}")
                   for row in plan_conversion(model, how)]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fixed = convert(model, to=how)
        notes = [str(w.message) for w in caught]
        return fixed, _summary(how, applied, [], None, 1, notes), audit(fixed, **audit_kwargs)

    shape = audit_kwargs.get("input_shape") or report.input_shape
    applied, skipped, notes = [], [], []
    current, latest, done = model, report, 0
    for _ in range(rounds):
        if latest.verdict != "artifacts":
            break
        sites, note = _targets(latest)
        if not sites:
            break
        if note and note not in notes:
            notes.append(note)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = fix_sites(current, sites, _example(current, shape))
        notes += [str(w.message) for w in caught]
        skipped += result.skipped
        if not result.applied:
            break
        applied += result.applied
        current, done = result.model, done + 1
        latest = audit(current, **audit_kwargs)
    skipped = list(dict.fromkeys(skipped))  # a site left alone is reported once, not per round
    if not applied:
        if report.verdict != "artifacts":
            message = "nothing to fix: the audit measured no artifacts"
        elif skipped:
            message = "nothing fixed: " + "; ".join(r for _, r in skipped)
        else:
            message = "nothing fixed: the audit found no resampling site to change"
        return None, _summary(how, [], skipped, message, 0, notes), None
    return current, _summary(how, applied, skipped, None, done, notes), latest
