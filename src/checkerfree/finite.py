"""Non-finite values are never a measurement: one check of inputs, one of intermediate power.

A NaN or an infinity makes every comparison false, so a score computed from one used to read
``0`` ("no artifact"); the measurement functions (score, heat map, spectrum, metric,
``phase_imbalance``) call :func:`check_finite` on their input first and raise
:class:`~checkerfree.errors.NonFiniteError` saying how many values are NaN, ``+inf`` and
``-inf`` and where the first one is.

Finite input can still overflow: the power spectrum squares the values, so a float32 input
whose values approach ``sqrt(3.4e38) ~ 1.8e19`` (a checkerboard times ``1e36``) has
infinite power, and ``inf - inf`` is NaN. :func:`check_power` checks an intermediate result
of finite input and raises the same error, saying float overflow and suggesting float64
(whose range, ``1.8e308``, squares to no overflow below ``1e154``) or a rescaled input: the
score is in the input's units, so ``score(x / c) = score(x) / c`` for ``c > 0``.

The loss (:func:`~checkerfree.score.checkerboard.checkerboard_loss`) does not check: it keeps torch's
convention, NaN in, NaN out, so a training loop sees it as it sees any other NaN.

>>> import torch
>>> check_finite(torch.tensor([[1.0, float("nan")], [float("inf"), 2.0]]), "x")
Traceback (most recent call last):
...
checkerfree.errors.NonFiniteError: x has 2 non-finite values out of 4 (1 NaN, 1 +inf, 0 -inf), the first at index (0, 1); a measurement needs finite numbers
"""

from __future__ import annotations

import torch

from checkerfree.errors import InvalidArgumentError, NonFiniteError

__all__ = ["check_finite", "check_power", "require_values"]


def _all_finite(x: torch.Tensor) -> bool:
    """Whether every value of ``x`` is finite, by its sum first (one fast, allocation-free pass).

    A NaN makes the sum NaN and an infinity makes it infinite or NaN (``inf - inf``), so a
    finite sum proves every value finite; a non-finite sum may also be a finite overflow of
    the sum itself, which the exact ``isfinite`` pass then settles.
    """
    x = x.detach()
    if bool(torch.isfinite(x.sum())):
        return True
    return bool(torch.isfinite(x).all())


def require_values(x: torch.Tensor, what: str, hint: str = "") -> None:
    """Raise :class:`~checkerfree.errors.InvalidArgumentError` for a tensor without values.

    A ``meta`` tensor has a shape and a dtype but no numbers, so nothing can be measured.

    >>> import torch
    >>> require_values(torch.zeros(2, device="meta"), "x")
    Traceback (most recent call last):
    ...
    checkerfree.errors.InvalidArgumentError: x is on the meta device (a shape without values); a measurement needs its values
    """
    if x.device.type == "meta":
        raise InvalidArgumentError(
            f"{what} is on the meta device (a shape without values); "
            f"a measurement needs its values{hint}"
        )


def check_finite(x: torch.Tensor, what: str, *, batched: bool = False) -> None:
    """Raise :class:`~checkerfree.errors.NonFiniteError` unless every value of ``x`` is finite.

    The message counts the NaN, ``+inf`` and ``-inf`` values and gives the first one's index
    in ``x``'s own shape (row-major order); with ``batched`` (the first axis holds the items
    of a batch) also how many items are affected. One pass over ``x`` (``isfinite``) when
    every value is finite; the counts are computed only for the error.

    >>> import torch
    >>> x = torch.zeros(3, 1, 4, 4)
    >>> check_finite(x, "x", batched=True)          # finite: nothing happens
    >>> x[1, 0, 2, 3] = float("-inf")
    >>> check_finite(x, "x", batched=True)
    Traceback (most recent call last):
    ...
    checkerfree.errors.NonFiniteError: x has 1 non-finite value out of 48 (0 NaN, 0 +inf, 1 -inf), the first at index (1, 0, 2, 3), in 1 of 3 batch items (the first: item 1); a measurement needs finite numbers
    """
    require_values(x, what)
    if not (x.is_floating_point() or x.is_complex()):
        return  # integers and booleans are always finite
    if _all_finite(x):
        return
    bad = ~torch.isfinite(x.detach())
    values = x.detach()
    if values.is_complex():
        values = values.abs()  # NaN stays NaN, any infinite part becomes +inf
    nan = int(torch.isnan(values).sum())
    pos = int(torch.isposinf(values).sum())
    neg = int(torch.isneginf(values).sum())
    count = int(bad.sum())
    first = int(bad.reshape(-1).nonzero()[0, 0])
    index = tuple(int(i) for i in torch.unravel_index(torch.tensor(first), x.shape))
    plural = "value" if count == 1 else "values"
    where = f"the first at index {index}"
    if batched and x.ndim > 0:
        items = bad.reshape(x.shape[0], -1).any(-1)
        where += (f", in {int(items.sum())} of {x.shape[0]} batch items "
                  f"(the first: item {index[0]})")
    raise NonFiniteError(
        f"{what} has {count} non-finite {plural} out of {x.numel()} "
        f"({nan} NaN, {pos} +inf, {neg} -inf), {where}; a measurement needs finite numbers"
    )


_UNITS = "the score is in the input's units: score(x / c) = score(x) / c"


def check_power(value, x: torch.Tensor, what: str, scale: str = _UNITS) -> None:
    """Raise :class:`~checkerfree.errors.NonFiniteError` when ``value`` (a tensor or a sequence
    of them), computed from the finite input ``x``, is not finite: a float overflow.

    Call it after :func:`check_finite` on ``x``, so a non-finite ``value`` can only come from
    the computation. The message names ``x``'s dtype and largest magnitude and what to do;
    ``scale`` says what rescaling does to the result.

    >>> import torch
    >>> x = torch.full((4,), 1e30)
    >>> check_power(x**2, x, "the power spectrum of x")
    Traceback (most recent call last):
    ...
    checkerfree.errors.NonFiniteError: float overflow in the power spectrum of x: 4 of 4 values are not finite, from a finite float32 input whose largest magnitude is 1e+30; compute in float64 (pass the input as .double()) or rescale the input (the score is in the input's units: score(x / c) = score(x) / c)
    """
    values = [value] if isinstance(value, torch.Tensor) else list(value)
    if all(_all_finite(v) for v in values):
        return
    bad = sum(int((~torch.isfinite(v.detach())).sum()) for v in values)
    total = sum(v.numel() for v in values)
    largest = float(x.detach().abs().max()) if x.numel() else 0.0
    if x.dtype == torch.float64:
        advice = "rescale the input"
    else:
        advice = "compute in float64 (pass the input as .double()) or rescale the input"
    raise NonFiniteError(
        f"float overflow in {what}: {bad} of {total} values are not "
        f"finite, from a finite {str(x.dtype).removeprefix('torch.')} input whose largest "
        f"magnitude is {largest:.3g}; {advice} ({scale})"
    )
