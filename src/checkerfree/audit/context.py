"""``ArtifactAudit``: audit a model on your own inputs, during your own loop.

Inside the ``with`` block every forward pass of the model is recorded: its output, and (after
your ``backward()``) the gradient with respect to its input. ``report()`` scores them the way
:func:`checkerfree.audit` scores its probes, with the layer inventory from the first input.
Hooks are always removed on exit; the audit's one inventory pass leaves the model and the
random states as it found them (:func:`checkerfree.audit.snapshot.untouched`). Non-finite
weights, outputs or gradients give the verdict ``"error"`` with a reason.

>>> import torch
>>> from checkerfree.zoo import decoder
>>> model = decoder(dims=1)
>>> with ArtifactAudit(model) as rec:
...     x = torch.randn(2, 16, 32)
...     model(x).pow(2).mean().backward()
>>> report = rec.report()
>>> report.forward.verdict, report.gradient.items
('artifacts', 2)
"""

from __future__ import annotations

import torch
import torch.nn as nn

from checkerfree.audit.attribution import advice_for
from checkerfree.audit.checks import check_output_dtype, nonfinite, weights_problem
from checkerfree.audit.inventory import find_resampling
from checkerfree.audit.probes import (
    ProbeResult,
    _summarise,
    display_scale,
    first_tensor,
    stacked_as_batch,
    useful_periods,
)
from checkerfree.audit.report import AuditReport, LayerFinding
from checkerfree.audit.snapshot import untouched
from checkerfree.errors import InvalidArgumentError, InvalidTypeError

__all__ = ["ArtifactAudit"]


class ArtifactAudit:
    """Record a model's outputs and input gradients on real batches; ``report()`` scores them.

    Args:
        model: the module to watch (its ``forward`` must take the input tensor first).
        periods: periods to measure (default: 2, 4, 8 and the model's strides).
        max_items: stop recording after this many items (outputs and gradients each).
        gradients: also record input gradients (the input is swapped for a detached copy
            that requires grad when it does not require grad itself).
    """

    def __init__(self, model: nn.Module, periods=None, max_items: int = 64,
                 gradients: bool = True):
        if not isinstance(model, nn.Module):
            raise InvalidTypeError(f"model must be an nn.Module, got {type(model).__name__}")
        if max_items < 1:
            raise InvalidArgumentError(f"max_items must be >= 1, got {max_items}")
        self.model, self.periods, self.max_items, self.gradients = (model, periods, max_items,
                                                                    gradients)
        self.outputs: list[torch.Tensor] = []
        self.inputs: list[torch.Tensor] = []
        self.grads: list[torch.Tensor] = []
        self._handles: list = []
        self._first: torch.Tensor | None = None

    def _count(self, items: list[torch.Tensor]) -> int:
        return sum(t.shape[0] for t in items)

    def _pre(self, module, args):
        if not args or not isinstance(args[0], torch.Tensor):
            return None
        x = args[0]
        if self._first is None:
            self._first = x.detach()[:1].clone()
        if not self.gradients or not x.is_floating_point() or x.dim() < 3:
            return None
        if self._count(self.grads) >= self.max_items:
            return None
        if not x.requires_grad:
            x = x.detach().requires_grad_(True)
        if x.requires_grad:
            x.register_hook(self._on_grad)
        return (x, *args[1:])

    def _on_grad(self, grad):
        if self._count(self.grads) < self.max_items:
            self.grads.append(grad.detach().cpu())
        return None

    def _post(self, module, args, output):
        y = first_tensor(output)
        if y is None or self._count(self.outputs) >= self.max_items:
            return
        self.outputs.append(y.detach().cpu())
        x = args[0] if args and isinstance(args[0], torch.Tensor) else None
        self.inputs.append(x.detach().cpu() if x is not None else None)

    def __enter__(self) -> ArtifactAudit:
        self._handles = [self.model.register_forward_pre_hook(self._pre),
                         self.model.register_forward_hook(self._post)]
        return self

    def __exit__(self, *exc) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []

    def report(self) -> AuditReport:
        """Score what was recorded; the layer inventory comes from the first input seen."""
        if self._first is None:
            raise InvalidArgumentError("nothing was recorded: run the model inside the with block")
        p = next(iter(self.model.parameters()), None)
        for y in self.outputs:
            check_output_dtype(y)
        problems = [nonfinite(t, f"recorded {what} {i}") for what, items in
                    (("output", self.outputs), ("input gradient", self.grads))
                    for i, t in enumerate(items)]
        problem = weights_problem(self.model) or next((q for q in problems if q), None)
        if problem:  # never a measurement: a NaN picture would read as clean
            not_run = ProbeResult("n/a", reason="not measured: the verdict is error")
            return AuditReport(
                model=type(self.model).__name__,
                mode="train" if self.model.training else "eval",
                device=str(p.device) if p is not None else "cpu",
                dtype=str(p.dtype).replace("torch.", "") if p is not None else "float32",
                input_shape=list(self._first.shape), periods=[], layers=[], forward=not_run,
                gradient=not_run, verdict="error", advice=[], reason=problem)
        # The inventory's one pass must leave the model (batch norm, EMA) and RNG as found.
        with untouched(self.model):
            sites = find_resampling(self.model, self._first)
        periods = self.periods or useful_periods(
            [max(s.stride) for s in sites if s.direction == "up"])
        periods = tuple(sorted(set(periods)))
        # Deep-supervision stacks (N, heads, C, *spatial): heads are more pictures.
        pictures = [stacked_as_batch(y, x) if x is not None else y
                    for x, y in zip(self.inputs, self.outputs)]
        outs = [display_scale(y) for y in pictures if y.dim() >= 3]
        raw = [x.repeat_interleave(y.shape[0] // x.shape[0], 0)
               if x is not None and x.dim() == y.dim() and max(x.shape[2:]) > 4
               and y.shape[0] % x.shape[0] == 0 else None
               for x, y in zip(self.inputs, pictures) if y.dim() >= 3]
        fwd = (_summarise(outs, periods, raw if any(r is not None for r in raw) else None)
               if outs else ProbeResult("n/a", reason="no output with spatial axes was recorded"))
        grads = [display_scale(g) for g in self.grads]
        grad = (_summarise(grads, periods) if grads else
                ProbeResult("n/a", reason="no input gradient was recorded (call backward() "
                                          "inside the with block)"))
        findings = [LayerFinding(s) for s in sites]
        for f in findings:
            loud = (fwd if f.site.direction == "up" else grad).verdict == "artifacts"
            f.culprit = loud and (f.site.uneven or f.site.direction == "down") and \
                f.site.kind in ("conv_transpose", "subpixel", "strided_conv")
            if f.culprit:
                f.advice = advice_for(f.site)
        return AuditReport(
            model=type(self.model).__name__,
            mode="train" if self.model.training else "eval",
            device=str(p.device) if p is not None else "cpu",
            dtype=str(p.dtype).replace("torch.", "") if p is not None else "float32",
            input_shape=list(self._first.shape),
            periods=list(periods),
            layers=findings,
            forward=fwd,
            gradient=grad,
            verdict="artifacts" if "artifacts" in (fwd.verdict, grad.verdict) else "clean",
            advice=[f.advice for f in findings if f.advice],
            notes=["recorded on the user's own inputs; culprits from static judgement only "
                   "(run checkerfree.audit for ablation)"],
        )
