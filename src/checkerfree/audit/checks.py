"""What the audit refuses (typed errors) and what it reports as an ``"error"`` verdict.

Refused before any work, naming the argument: an ``input_shape`` that is not a sequence of
ints, a probe batch beyond :data:`MAX_PROBE_ELEMENTS`, more than :data:`MAX_SEEDS` seeds;
after the first pass, an output that is complex, integer or boolean (no grey levels to read).

Reported, never read as a measurement: NaN or infinite weights, outputs or input gradients.
A NaN picture has no lattice energy to speak of, so scoring it would say "clean"; the audit's
verdict is ``"error"`` instead, with how many values and where (:class:`NonFiniteError`).

>>> check_input_shape([2, 3, 64, 64])
(2, 3, 64, 64)
>>> check_input_shape("2,3,64,64")
Traceback (most recent call last):
...
checkerfree.errors.InvalidTypeError: input_shape must be a tuple of ints such as (2, 3, 64, 64),
got str '2,3,64,64'
"""

from __future__ import annotations

import math
import operator

import torch
import torch.nn as nn

from checkerfree.errors import (
    InvalidArgumentError,
    InvalidTypeError,
    LimitError,
    NonFiniteError,
)

__all__ = ["MAX_PROBE_ELEMENTS", "MAX_SEEDS", "check_input_shape", "check_seeds",
           "check_output_dtype", "check_materialised", "nonfinite", "check_finite",
           "weights_problem"]

#: Largest probe batch, in elements (N x C x spatial): 2**27, 512 MiB in float32. The audit
#: keeps a few batches of the model's output at once, each possibly larger than its input.
MAX_PROBE_ELEMENTS = 2 ** 27

#: Most probe batches per input kind; each one is a forward and a backward pass.
MAX_SEEDS = 64


def check_input_shape(shape) -> tuple[int, ...]:
    """``shape`` as a tuple of ints, checked against :data:`MAX_PROBE_ELEMENTS`."""
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__iter__"):
        raise InvalidTypeError("input_shape must be a tuple of ints such as (2, 3, 64, 64), "
                               f"got {type(shape).__name__} {shape!r}")
    out = []
    for v in shape:
        if isinstance(v, bool):
            raise InvalidTypeError(f"input_shape must hold ints, got a bool in {shape!r}")
        try:
            out.append(operator.index(v))
        except TypeError:
            raise InvalidTypeError(f"input_shape must hold ints, got {type(v).__name__} "
                                   f"{v!r} in {tuple(shape)!r}") from None
    shape = tuple(out)
    if all(v >= 1 for v in shape) and math.prod(shape) > MAX_PROBE_ELEMENTS:
        raise LimitError(
            f"input_shape {shape} has {math.prod(shape):,} elements per probe batch; the limit "
            f"is {MAX_PROBE_ELEMENTS:,} (2**27, checkerfree.audit.checks.MAX_PROBE_ELEMENTS): "
            "audit a smaller crop or batch")
    return shape


def check_seeds(seeds) -> int:
    """``seeds`` as an int in 1..:data:`MAX_SEEDS` (below 1 is left to the probes' own check)."""
    if isinstance(seeds, bool) or not isinstance(seeds, int):
        raise InvalidTypeError(f"seeds must be an int, got {type(seeds).__name__} {seeds!r}")
    if seeds > MAX_SEEDS:
        raise LimitError(f"seeds must be at most {MAX_SEEDS} (each is a forward and a backward "
                         f"pass per input kind), got {seeds}")
    return seeds


def check_output_dtype(y: torch.Tensor) -> None:
    """Refuse outputs that are not real floating point: they have no grey levels to read."""
    if y.is_complex() or not y.is_floating_point():
        raise InvalidTypeError(
            f"the model's output must be a real floating-point tensor to be audited, got "
            f"{str(y.dtype).replace('torch.', '')} of shape {tuple(y.shape)}"
            + (" (audit its magnitude or real part through a wrapper module)" if y.is_complex()
               else " (audit the logits or scores before the argmax or rounding)"))


def check_materialised(model: nn.Module) -> None:
    """Refuse a model whose weights are on the meta device: there is nothing to measure.

    >>> with torch.device("meta"):
    ...     m = nn.Linear(2, 2)
    >>> check_materialised(m)
    Traceback (most recent call last):
    ...
    checkerfree.errors.InvalidArgumentError: the model's parameter `weight` is on the meta
    device (shapes only, no values): load or initialise its weights before auditing it
    """
    for kind, named in (("parameter", model.named_parameters()),
                        ("buffer", model.named_buffers())):
        for name, t in named:
            if t.is_meta:
                raise InvalidArgumentError(
                    f"the model's {kind} `{name}` is on the meta device (shapes only, no "
                    "values): load or initialise its weights before auditing it")


def nonfinite(t: torch.Tensor, where: str) -> str | None:
    """A one-line account of ``t``'s NaN and infinite values, or None when all are finite.

    >>> nonfinite(torch.tensor([1.0, float("nan"), float("inf")]), "the output")
    '2 of 3 values of the output are not finite (1 NaN, 1 infinite)'
    """
    if not (t.is_floating_point() or t.is_complex()):
        return None
    finite = torch.isfinite(t)
    if bool(finite.all()):
        return None
    bad = int((~finite).sum())
    nan = int(torch.isnan(t).sum())
    return (f"{bad:,} of {t.numel():,} values of {where} are not finite "
            f"({nan:,} NaN, {bad - nan:,} infinite)")


def check_finite(t: torch.Tensor, where: str) -> None:
    """Raise :class:`NonFiniteError` when ``t`` holds NaN or infinite values."""
    problem = nonfinite(t, where)
    if problem:
        raise NonFiniteError(problem)


def weights_problem(model: nn.Module) -> str | None:
    """The non-finite parameters and buffers of ``model``, in one line, or None.

    >>> import torch.nn as nn
    >>> m = nn.Sequential(nn.Conv2d(1, 1, 3))
    >>> _ = m[0].weight.data.fill_(float("nan"))
    >>> weights_problem(m)
    'the weights are not finite: 9 of 9 values of parameter `0.weight` are not finite
    (9 NaN, 0 infinite)'
    """
    found = []
    for kind, named in (("parameter", model.named_parameters()),
                        ("buffer", model.named_buffers())):
        for name, t in named:
            problem = nonfinite(t.detach(), f"{kind} `{name}`")
            if problem:
                found.append(problem)
    if not found:
        return None
    more = f" (and {len(found) - 1} more tensors)" if len(found) > 1 else ""
    return f"the weights are not finite: {found[0]}{more}"
