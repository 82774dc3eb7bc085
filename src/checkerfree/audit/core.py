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
dtype; it is left exactly as found (ablations act on single passes, not on the weights), and so are the global random states
(:mod:`checkerfree.audit.snapshot`). Non-finite weights, outputs or gradients give the
verdict ``"error"`` with a reason (:mod:`checkerfree.audit.checks`).

>>> from checkerfree.zoo import decoder
>>> _ = torch.manual_seed(0)  # random init: which layers paint a pattern depends on it
>>> report = audit(decoder(dims=1), input_shape=(2, 16, 32), seeds=1)
>>> report.verdict, [f.site.name for f in report.layers if f.culprit]
('artifacts', ['0', '2', '4'])
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import torch
import torch.nn as nn

from checkerfree.audit.attribution import MIN_SHARE, advice_for, blame, stacked_probe
from checkerfree.audit.checks import (
    check_finite,
    check_input_shape,
    check_materialised,
    check_output_dtype,
    check_seeds,
    weights_problem,
)
from checkerfree.audit.inventory import find_resampling
from checkerfree.audit.probes import (
    AUDIT_THRESHOLD,
    ProbeInput,
    ProbeResult,
    first_tensor,
    probe_inputs,
    run_probes,
    useful_periods,
)
from checkerfree.audit.report import AuditReport, LayerFinding
from checkerfree.audit.snapshot import untouched
from checkerfree.errors import InvalidArgumentError, InvalidTypeError, NonFiniteError, ShapeError


__all__ = ["audit"]

def _compiled(model: nn.Module) -> bool:
    """Whether ``model`` is ``torch.compile``'s wrapper (dynamo is loaded if it is one)."""
    eval_frame = sys.modules.get("torch._dynamo.eval_frame")
    return eval_frame is not None and isinstance(model, eval_frame.OptimizedModule)


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

    The model is left as it was found (:func:`checkerfree.audit.snapshot.untouched`: values,
    ``requires_grad``, modes, hooks, attributes a forward sets) and so are the global random
    states; the audit's own passes run on a stream seeded with
    :data:`~checkerfree.audit.snapshot.AUDIT_SEED`, so a model that samples in ``forward``
    gives the same report every time. Non-finite weights, outputs or input gradients give
    the verdict ``"error"`` and a ``reason``, never a measurement.

    Args:
        model: any ``nn.Module`` taking one tensor (extra keyword arguments via
            ``forward_kwargs``). A model wrapped by ``torch.compile`` is audited through its
            original module (same weights, same maths); a scripted one (or one holding
            scripted submodules) on its probes only: the inventory needs Python modules.
        example_input: a tensor the model accepts; its shape sets the probes' shape and it is
            probed too. Or give ``input_shape`` (a tuple of ints) instead.
        seeds: number of probe batches per input kind (at most
            :data:`~checkerfree.audit.checks.MAX_SEEDS`).
        periods: periods to measure (default: 2, 4, 8 and the model's strides).
        objective: ``objective(output) -> scalar`` for the gradient probe (default: sum).
        gradient: probe input gradients too.
        attribute: ablate every site to find the culprits and their shares.
        probe: force the probe inputs' kind (``latent``, ``photo``, ``smooth``).
        threshold: the score's flag threshold in grey levels of the contrast-stretched
            picture (:data:`~checkerfree.audit.probes.AUDIT_THRESHOLD`, the score's
            calibrated :data:`~checkerfree.score.checkerboard.DEFAULT_THRESHOLD`).

    Returns:
        :class:`~checkerfree.audit.report.AuditReport`.

    Raises:
        InvalidTypeError: ``input_shape`` not a sequence of ints; complex, integer or boolean
            outputs.
        LimitError: a probe batch beyond :data:`~checkerfree.audit.checks.MAX_PROBE_ELEMENTS`
            elements, checked before anything is allocated.
        NonFiniteError: an ``example_input`` holding NaN or infinite values.

    >>> import torch.nn as nn
    >>> net = nn.Sequential(nn.ConvTranspose2d(1, 1, 3, 2))
    >>> _ = net[0].weight.data.fill_(float("nan"))
    >>> r = audit(net, input_shape=(1, 1, 16, 16))
    >>> r.verdict, r.reason
    ('error', 'the weights are not finite: 9 of 9 values of parameter `0.weight` are not
    finite (9 NaN, 0 infinite)')
    """
    if not isinstance(model, nn.Module):
        raise InvalidTypeError(f"model must be an nn.Module, got {type(model).__name__}")
    if example_input is None and input_shape is None:
        raise InvalidArgumentError("give example_input or input_shape (e.g. (2, 3, 64, 64))")
    if example_input is not None and not isinstance(example_input, torch.Tensor):
        raise InvalidTypeError(
            f"example_input must be a tensor, got {type(example_input).__name__}")
    seeds = check_seeds(seeds)
    shape = check_input_shape(tuple(example_input.shape) if example_input is not None
                              else input_shape)
    if example_input is not None:
        check_finite(example_input.detach(), "example_input")
    forward_kwargs = dict(forward_kwargs or {})
    notes: list[str] = []
    if _compiled(model):
        # Same parameters, same maths; compiled graphs hide every call from the inventory,
        # and each probe shape would recompile.
        model = model._orig_mod
        notes.append("torch.compile'd model: audited through its original module (_orig_mod)")
    scripted = [n or "(model)" for n, m in model.named_modules()
                if isinstance(m, torch.jit.ScriptModule)]
    device, dtype = _device_dtype(model)
    check_materialised(model)
    problem = weights_problem(model)
    if problem:
        return _error_report(model, shape, device, dtype, problem, notes)
    # Snapshot and restore rather than audit a copy: copies fail on models holding graph
    # tensors, and train-mode passes move EMA parameters and batch-norm statistics.
    with untouched(model):
        try:
            inputs = probe_inputs(shape, seeds=seeds, kind=probe)
            first = inputs[0].tensor.to(device=device, dtype=dtype)
            where = f"the output on the {inputs[0].kind} probe (seed {inputs[0].seed})"
            if example_input is not None:
                inputs.insert(0, ProbeInput("given", 0, example_input.detach()))
            y = first_tensor(_run_checked(model, first, forward_kwargs))
            if y is not None:
                check_output_dtype(y)
                check_finite(y.detach(), where)
            if scripted:
                report = _probes_only(model, inputs, shape, device, dtype, periods, objective,
                                      gradient, threshold, forward_kwargs, scripted)
            else:
                report = _audit(model, inputs, first, shape, device, dtype, periods, objective,
                                gradient, attribute, threshold, forward_kwargs)
        except NonFiniteError as exc:
            return _error_report(model, shape, device, dtype, str(exc), notes)
    report.notes[:0] = notes
    return report


def _identity(model, device, dtype, shape) -> dict:
    """The fields every report opens with: which model, in which mode, where, on what shape."""
    return dict(model=type(model).__name__, mode="train" if model.training else "eval",
                device=str(device), dtype=str(dtype).replace("torch.", ""),
                input_shape=list(shape))


def _error_report(model, shape, device, dtype, reason: str, notes) -> AuditReport:
    """The report of a model that cannot be measured: verdict ``"error"`` and why."""
    not_run = ProbeResult("n/a", reason="not measured: the verdict is error")
    return AuditReport(
        **_identity(model, device, dtype, shape),
        periods=[],
        layers=[],
        forward=not_run,
        gradient=not_run,
        verdict="error",
        advice=[],
        notes=list(notes),
        reason=reason,
    )


def _probes_only(model, inputs, shape, device, dtype, periods, objective, gradient, threshold,
                 forward_kwargs, scripted) -> AuditReport:
    """Probes without inventory or attribution, for models the inventory cannot enter."""
    periods = tuple(sorted(set(int(p) for p in (periods or useful_periods([])))))
    fwd, grad = run_probes(model, inputs, periods, gradient=gradient, objective=objective,
                           threshold=threshold, **forward_kwargs)
    verdict = "artifacts" if "artifacts" in (fwd.verdict, grad.verdict) else "clean"
    where = ", ".join(f"`{n}`" for n in scripted[:3]) + (" ..." if len(scripted) > 3 else "")
    return AuditReport(
        **_identity(model, device, dtype, shape),
        periods=list(periods),
        layers=[],
        forward=fwd,
        gradient=grad,
        verdict=verdict,
        advice=[] if verdict == "clean" else [
            "audit the Python module before torch.jit.script to find and fix the culprit"],
        notes=[f"scripted module {where}: the layer inventory and attribution need Python "
               "modules, so only the probes were run"],
    )


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
        **_identity(model, device, dtype, shape),
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
            # downsampling site explains the gradient pattern; only the output's culprits
            # when the output was measured (a site that paints nothing there is unlikely to
            # pattern the gradient, and each try is a forward and backward pass).
            ups = [i for i, s in enumerate(sites) if s.direction == "up"]
            if fwd.verdict == "artifacts":
                ups = [i for i in ups if findings[i].culprit]
            rounds.append(ups)
        shares: dict[int, float] = {}
        info = {"flagged": 0, "skipped": []}
        for candidates in rounds:
            if not candidates or any(v >= MIN_SHARE for v in shares.values()):
                continue
            found, info = _blame(model, sites, x, kinds, inputs, periods, probe, candidates,
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


def _blame(model, sites, x, kinds, inputs, periods, probe, candidates, objective,
           forward_kwargs, threshold):
    kwargs = dict(probe=probe, candidates=candidates, objective=objective,
                  forward_kwargs=forward_kwargs, threshold=threshold)
    try:
        return blame(model, sites, x, periods, kinds=kinds, **kwargs)
    except Exception as exc:  # a stacked batch the model rejects: its first batch instead
        if len(inputs) < 2:
            raise
        first = inputs[0].tensor.to(device=x.device, dtype=x.dtype)
        try:
            return blame(model, sites, first, periods, **kwargs)
        except Exception:
            raise exc from None
