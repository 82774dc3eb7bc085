"""Attribute measured artifacts to layers by ablation, and say what to change.

Ablation puts a zero-order hold (a box of the layer's stride, gain 1) right after an
upsampling layer's output, or right before a downsampling layer's input, in a copy of the
model: the hold removes every period-``s`` pattern that layer paints (Sugawara et al.;
Kinoshita and Kiya 2020) while keeping its weights. The drop in lattice energy when one layer
is held is that layer's contribution; shares are normalised over the layers tried.

>>> import torch.nn as nn
>>> m = nn.Sequential(nn.ConvTranspose2d(2, 2, 3, 2))
>>> type(with_hold(m, "0", 2, after=True)[0]).__name__
'Sequential'
"""

from __future__ import annotations

import torch.nn as nn

from checkerfree.audit.inventory import ResamplingSite
from checkerfree.audit.snapshot import detached_deepcopy
from checkerfree.errors import InvalidArgumentError

__all__ = ["with_hold", "energy", "advice_for"]


def _hold(dims: int, scale: int) -> nn.Module:
    from checkerfree.layers import ZeroOrderHold1d, ZeroOrderHold2d, ZeroOrderHold3d

    return (ZeroOrderHold1d, ZeroOrderHold2d, ZeroOrderHold3d)[dims - 1](scale)


def with_hold(model: nn.Module, name: str, scale: int, *, after: bool, dims: int = 2) -> nn.Module:
    """A copy of ``model`` with a zero-order hold of ``scale`` after (or before) module ``name``."""
    if not name:
        raise InvalidArgumentError("the model itself cannot be held; name a submodule")
    new = detached_deepcopy(model)  # copy.deepcopy refuses graph tensors a forward left
    parent_name, _, child = name.rpartition(".")
    parent = new.get_submodule(parent_name) if parent_name else new
    old = parent.get_submodule(child)
    hold = _hold(dims, scale)
    p = next(iter(old.parameters()), None)
    if p is not None:
        hold = hold.to(device=p.device, dtype=p.dtype)
    setattr(parent, child, nn.Sequential(old, hold) if after else nn.Sequential(hold, old))
    return new


def energy(periods: dict[int, float]) -> float:
    """Total lattice energy of a probe: the sum of squared per-period amplitudes."""
    return float(sum(v * v for v in periods.values()))


def _layer_text(site: ResamplingSite) -> str:
    k = "x".join(map(str, site.kernel)) if site.kernel else "?"
    s = "x".join(map(str, sorted(set(site.stride))))
    return f"`{site.name}` {site.module_type or site.kind} k={k} s={s}"


def advice_for(site: ResamplingSite) -> str:
    """The concrete change for one culprit layer, in one line: the fix ``--fix auto`` applies.

    The fix is :func:`checkerfree.fix.plan_fix`'s (one choice per kind of site, shared with
    :func:`checkerfree.fix.fix_sites`), after the site's static reason where it has one.

    >>> from checkerfree.audit.inventory import ResamplingSite
    >>> print(advice_for(ResamplingSite("enc.down", "strided_conv", "down", 2, (2, 2), (3, 3),
    ...                                 module_type="Conv2d")))  # doctest: +ELLIPSIS
    `enc.down` Conv2d k=3x3 s=2: ... -> BlurConv2d (...); --fix auto applies it
    """
    from checkerfree.fix import plan_fix

    plan = plan_fix(site)
    why = _why(site)
    fix = plan.description.split(" -> ", 1)[-1] if " -> " in plan.description else None
    if fix is None:  # nothing automatic: the plan says why and what to do by hand
        return f"{_layer_text(site)}: {plan.description}"
    return f"{_layer_text(site)}: {why} -> {fix}; --fix auto applies it"


def _why(site: ResamplingSite) -> str:
    """What makes this kind of site paint a checkerboard, in a few words."""
    s = max(site.stride)
    if site.kind == "conv_transpose":
        if site.overlap is not None and site.overlap.uneven:
            return ("with holes" if site.overlap.ratio is None
                    else f"overlaps {site.overlap.max}:{site.overlap.min}")
        imb = site.phase_imbalance
        return ("overlaps evenly but its weights' phase sums differ"
                + (f" (phase imbalance {imb:.2f})" if imb is not None else ""))
    if site.kind == "subpixel":
        imb = site.phase_imbalance
        return ("sub-pixel convolution with unbalanced phases"
                + (f" (phase imbalance {imb:.2f})" if imb is not None else ""))
    if site.kind == "strided_conv":
        return (f"strided convolution: its backward pass is a transposed convolution of "
                f"stride {s}")
    if site.kind == "pool" and site.mode == "max":
        return "max pooling routes gradients to one position per window"
    if site.direction == "down":
        return (f"its backward pass spreads the gradient on a stride-{s} lattice (a "
                "transposed convolution)")
    return f"its output still carries a period-{s} pattern"
