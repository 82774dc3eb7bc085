"""``checkerfree.audit``: find, measure and attribute checkerboard artifacts in any model.

1. inventory: every up- and downsampling operation the model runs, judged from its geometry
   (:func:`checkerfree.overlap`) and weights (:func:`checkerfree.phase_imbalance`);
2. probes: the model's output and its input gradient on structured inputs, scored in grey
   levels of the contrast-stretched picture (:mod:`checkerfree.audit.probes`);
3. attribution: every up- (forward) or downsampling (gradient) site ablated in turn by
   phase-averaging, on one batch stacking every probe kind, the drop in lattice energy giving
   its share (:mod:`checkerfree.audit.attribution`);
4. advice: the concrete change per culprit.

The model is used in its own train/eval mode (the report says which), on its own device and
dtype; it is never modified (ablations act on one pass, not on the weights).

>>> from checkerfree.zoo import decoder
>>> report = audit(decoder(dims=1), input_shape=(2, 16, 32), seeds=1)
>>> report.verdict, [f.site.name for f in report.layers if f.culprit]
('artifacts', ['0', '2', '4'])
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn as nn

from checkerfree.audit.attribution import MIN_SHARE, advice_for, blame, stacked_probe
from checkerfree.audit.inventory import find_resampling
from checkerfree.audit.probes import (
    AUDIT_THRESHOLD,
    probe_inputs,
    run_probes,
    useful_periods,
)
from checkerfree.audit.report import AuditReport, LayerFinding
from checkerfree.errors import InvalidArgumentError, InvalidTypeError, ShapeError

__all__ = ["audit"]


def _device_dtype(model: nn.Module) -> tuple[torch.device, torch.dtype]:
    p = next(iter(model.parameters()), None)
    if p is None:
        return torch.device("cpu"), torch.float32
    return p.device, p.dtype


def _run_checked(model, x, forward_kwargs):
    try:
        with torch.no_grad():
            return model(x, **forward_kwargs)
    except Exception as exc:  # the model's own words, on one line
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ShapeError(
            f"the model rejected an input of shape {tuple(x.shape)}: {type(exc).__name__}: {msg}"
        ) from exc


def audit(model: nn.Module, example_input: torch.Tensor | None = None, *,
          input_shape=None, seeds: int = 3, periods=None, objective: Callable | None = None,
          gradient: bool = True, attribute: bool = True, probe: str | None = None,
          threshold: float = AUDIT_THRESHOLD, forward_kwargs: dict | None = None) -> AuditReport:
    """Audit ``model`` for checkerboard artifacts in its output and its input gradient.

    Args:
        model: any ``nn.Module`` taking one tensor (extra keyword arguments via
            ``forward_kwargs``).
        example_input: a tensor the model accepts; its shape sets the probes' shape and it is
            probed too. Or give ``input_shape`` instead.
        seeds: number of probe batches per input kind.
        periods: periods to measure (default: 2, 4, 8 and the model's strides).
        objective: ``objective(output) -> scalar`` for the gradient probe (default: sum).
        gradient: probe input gradients too.
        attribute: ablate every site to find the culprits and their shares.
        probe: force the probe inputs' kind (``latent``, ``photo``, ``smooth``).
        threshold: the score's flag threshold in grey levels of the contrast-stretched
            picture (:data:`~checkerfree.audit.probes.AUDIT_THRESHOLD`, the score's
            calibrated :data:`~checkerfree.score.DEFAULT_THRESHOLD`).

    Returns:
        :class:`~checkerfree.audit.report.AuditReport`.
    """
    if not isinstance(model, nn.Module):
        raise InvalidTypeError(f"model must be an nn.Module, got {type(model).__name__}")
    if example_input is None and input_shape is None:
        raise InvalidArgumentError("give example_input or input_shape (e.g. (2, 3, 64, 64))")
    if example_input is not None and not isinstance(example_input, torch.Tensor):
        raise InvalidTypeError(
            f"example_input must be a tensor, got {type(example_input).__name__}")
    forward_kwargs = dict(forward_kwargs or {})
    device, dtype = _device_dtype(model)
    shape = tuple(example_input.shape) if example_input is not None else tuple(input_shape)
    inputs = probe_inputs(shape, seeds=seeds, kind=probe)
    first = inputs[0].tensor.to(device=device, dtype=dtype)
    if example_input is not None:
        from checkerfree.audit.probes import ProbeInput

        inputs.insert(0, ProbeInput("given", 0, example_input.detach()))

    # Train-mode forward passes update batch-norm statistics: put them back afterwards, so
    # the audit leaves the model exactly as it found it.
    buffers = {n: b.detach().clone() for n, b in model.named_buffers()}
    try:
        _run_checked(model, first, forward_kwargs)
        return _audit(model, inputs, first, shape, device, dtype, periods, objective, gradient,
                      attribute, threshold, forward_kwargs)
    finally:
        with torch.no_grad():
            for n, b in model.named_buffers():
                if n in buffers:
                    b.copy_(buffers[n])


def _audit(model, inputs, first, shape, device, dtype, periods, objective, gradient, attribute,
           threshold, forward_kwargs) -> AuditReport:
    sites = find_resampling(model, first, **forward_kwargs)
    if periods is None:
        periods = useful_periods([max(s.stride) for s in sites if s.direction == "up"])
    periods = tuple(sorted(set(int(p) for p in periods)))

    fwd, grad = run_probes(model, inputs, periods, gradient=gradient, objective=objective,
                           threshold=threshold, **forward_kwargs)

    findings = [LayerFinding(site) for site in sites]
    notes: list[str] = []
    if attribute:
        _attribute(model, findings, inputs, periods, fwd, grad, objective, threshold,
                   forward_kwargs, notes)
    else:
        for f in findings:
            f.culprit = f.site.uneven and f.site.direction == "up" and fwd.verdict == "artifacts"

    advice = []
    for f in findings:
        if f.culprit:
            f.advice = advice_for(f.site)
            advice.append(f.advice)
    at_risk = [f for f in findings if f.site.uneven and not f.culprit and f.site.direction == "up"]
    for f in at_risk:
        notes.append(f"`{f.site.name}` is uneven by construction ({f.site.reason}) although the "
                     "probes did not measure its pattern now; training may bring it out")
    verdict = "artifacts" if "artifacts" in (fwd.verdict, grad.verdict) else "clean"
    if fwd.verdict == "artifacts" and not any(f.culprit and f.site.direction == "up"
                                              for f in findings):
        transposed = any(f.site.kind == "conv_transpose" for f in findings)
        advice.append("output artifacts were measured but no single upsampling site's ablation "
                      "removes them" + ("; convert(model, to='resize') replaces every transposed "
                                        "convolution" if transposed else
                                        "; look for a fixed pattern added after the last "
                                        "upsampling (a per-position bias or embedding)"))
    if grad.verdict == "artifacts" and not any(f.shares.get("gradient", 0) >= MIN_SHARE
                                               for f in findings):
        advice.append("gradient artifacts were measured but no single downsampling site's "
                      "ablation removes them; blur before strided layers (ZeroOrderHold) or "
                      "average-pool")
    if not sites:
        notes.append("no up- or downsampling operation was found; nothing to attribute")
    return AuditReport(
        model=type(model).__name__,
        mode="train" if model.training else "eval",
        device=str(device),
        dtype=str(dtype).replace("torch.", ""),
        input_shape=list(shape),
        periods=list(periods),
        layers=findings,
        forward=fwd,
        gradient=grad,
        verdict=verdict,
        advice=advice,
        notes=notes,
    )


def _attribute(model, findings, inputs, periods, fwd, grad, objective, threshold,
               forward_kwargs, notes) -> None:
    """Ablate every site of the measured direction on one stacked batch of every probe kind.

    Forward artifacts: each upsampling site's output phase-averaged; gradient artifacts:
    each downsampling site's input gradient phase-averaged, then, if none of them explains
    the pattern, each upsampling site's output (:func:`blame`). A site whose ablation
    removes at least :data:`MIN_SHARE` of the measured pattern is a culprit.
    """
    x, kinds = stacked_probe(inputs)
    p = next(iter(model.parameters()), None)
    if p is not None:
        x = x.to(device=p.device, dtype=p.dtype if p.is_floating_point() else x.dtype)
    sites = [f.site for f in findings]
    for probe, base, direction in (("forward", fwd, "up"), ("gradient", grad, "down")):
        if base.verdict != "artifacts":
            continue
        rounds = [[i for i, s in enumerate(sites) if s.direction == direction]]
        if probe == "gradient":
            # An upsampling site's forward pattern reaches the input gradient too, through
            # the nonlinearities after it (their derivative is patterned): tried when no
            # downsampling site explains the gradient pattern.
            rounds.append([i for i, s in enumerate(sites) if s.direction == "up"])
        shares: dict[int, float] = {}
        info = {"flagged": 0, "skipped": []}
        for candidates in rounds:
            if not candidates or any(v >= MIN_SHARE for v in shares.values()):
                continue
            found, info = _blame(model, sites, x, inputs, periods, probe, candidates,
                                 objective, forward_kwargs, threshold)
            shares.update(found)
        for i, share in shares.items():
            f = findings[i]
            f.shares[probe] = share
            if f.share is None or share > f.share:
                f.share, f.probe = share, probe
            f.culprit = f.culprit or share >= MIN_SHARE
            if share >= MIN_SHARE and f.site.direction == "up" and probe == "gradient":
                notes.append(f"`{f.site.name}`'s output pattern also explains {share:.0%} of "
                             "the gradient pattern (through the nonlinearities after it)")
        names = [sites[i].name for i in info["skipped"]]
        if names:
            notes.append(f"could not ablate {', '.join(f'`{n}`' for n in names)} in the "
                         f"{probe} probe; not blamed")
        if not info["flagged"]:
            notes.append(f"the stacked {probe} probe batch showed no flagged item; "
                         "nothing to attribute")
        elif not any(share >= MIN_SHARE for share in shares.values()):
            notes.append(f"no single site's ablation removed {MIN_SHARE:.0%} of the {probe} "
                         "pattern")


def _blame(model, sites, x, inputs, periods, probe, candidates, objective, forward_kwargs,
           threshold):
    kwargs = dict(probe=probe, candidates=candidates, objective=objective,
                  forward_kwargs=forward_kwargs, threshold=threshold)
    try:
        return blame(model, sites, x, periods, **kwargs)
    except Exception as exc:  # a stacked batch the model rejects: its first batch instead
        if len(inputs) < 2:
            raise
        first = inputs[0].tensor.to(device=x.device, dtype=x.dtype)
        try:
            return blame(model, sites, first, periods, **kwargs)
        except Exception:
            raise exc from None
