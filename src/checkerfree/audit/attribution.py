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

import copy

import torch.nn as nn

from checkerfree.audit.inventory import ResamplingSite
from checkerfree.errors import InvalidArgumentError
from checkerfree.overlap import ratio_text

__all__ = ["with_hold", "energy", "advice_for"]


def _hold(dims: int, scale: int) -> nn.Module:
    from checkerfree.layers import ZeroOrderHold1d, ZeroOrderHold2d, ZeroOrderHold3d

    return (ZeroOrderHold1d, ZeroOrderHold2d, ZeroOrderHold3d)[dims - 1](scale)


def with_hold(model: nn.Module, name: str, scale: int, *, after: bool, dims: int = 2) -> nn.Module:
    """A copy of ``model`` with a zero-order hold of ``scale`` after (or before) module ``name``."""
    if not name:
        raise InvalidArgumentError("the model itself cannot be held; name a submodule")
    new = copy.deepcopy(model)
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
    """The concrete change for one culprit layer, in one line."""
    d = f"{site.dims}d"
    if site.kind == "conv_transpose":
        if site.overlap is not None and site.overlap.uneven:
            ratio = ("with holes" if site.overlap.ratio is None
                     else f"overlaps {ratio_text(site.overlap.max, site.overlap.min)}")
            return (f"{_layer_text(site)} {ratio} -> ResizeConv{d[0]}d "
                    f"(checkerfree.layers.ResizeConv{d[0]}d.from_conv_transpose), or "
                    "convert(model, to='resize')")
        return (f"{_layer_text(site)} overlaps evenly but its weights' phase sums differ "
                f"(phase imbalance {site.phase_imbalance:.2f}) -> ResizeConv{d[0]}d, or keep "
                "the weights and add a hold: convert(model, to='hold')")
    if site.kind == "subpixel":
        return (f"{_layer_text(site)} sub-pixel convolution with unbalanced phases (phase "
                f"imbalance {site.phase_imbalance:.2f}) -> initialise it with ICNR "
                "(checkerfree.layers.icnr_) or use checkerfree.layers.SubPixelConv"
                f"{d[0]}d")
    if site.kind == "strided_conv":
        return (f"{_layer_text(site)} strided convolution: its backward pass is a transposed "
                f"convolution -> blur before it (checkerfree.layers.ZeroOrderHold{d[0]}d("
                f"{max(site.stride)}) in front) or downsample by average pooling")
    if site.kind == "pool" and site.mode == "max":
        return (f"{_layer_text(site)} max pooling routes gradients to one position per window "
                f"-> average pooling, or a ZeroOrderHold{d[0]}d({max(site.stride)}) in front")
    if site.kind == "interpolate" and site.direction == "up":
        return (f"{_layer_text(site)} {site.mode} resize -> the artifact comes from the layers "
                "around it; check the convolution that follows")
    return f"{_layer_text(site)} -> replace it with a hold-filtered version and re-measure"
