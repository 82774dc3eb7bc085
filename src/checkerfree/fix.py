"""Fix the resampling sites an audit blamed: the advised change for every kind of culprit.

Each kind of site (:class:`~checkerfree.audit.inventory.ResamplingSite`) has one fix, chosen by
:func:`plan_fix` and applied by :func:`fix_sites` to a copy of the model:

- strided transposed convolution: ``convert`` to ``"resize"`` when its geometry overlaps
  unevenly (no weight can balance it), else to ``"hold"`` (its weights' phase sums differ; the
  hold keeps them and equalises the phases, Sugawara et al. 2019);
- sub-pixel convolution (a convolution feeding a pixel shuffle): ICNR re-initialisation with
  equal per-phase bias (Aitken et al. 2017; :func:`~checkerfree.layers.icnr_`,
  :func:`~checkerfree.layers.icnr_bias_`), or with ``subpixel="hold"`` a hold after the shuffle;
- every other upsampler that still shows a pattern (resize-convolution, interpolation, pixel
  shuffle, depth-to-space, max unpooling, grid sampling): a zero-order hold of its factor right
  after the module whose output it is. A box of ``s`` taps maps every period-``s`` pattern to
  its mean, so whatever painted the pattern upstream, none leaves the hold;
- strided convolution, pooling, pixel unshuffle: blurred downsampling (Zhang 2019;
  :class:`~checkerfree.layers.BlurConv2d`, :class:`~checkerfree.layers.BlurPool2d`, the blur
  before the unshuffle);
- strided slicing, space-to-depth, downsampling by interpolation, functional strided
  convolutions and pools: the blur before the module that does it, when that module's input is
  the tensor being downsampled in ``(N, C, *spatial)`` layout; otherwise the site is reported
  as not fixable automatically, with the reason.

>>> import torch.nn as nn
>>> from checkerfree.audit.inventory import find_resampling
>>> net = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ReLU())
>>> result = fix_sites(net, find_resampling(net, torch.randn(1, 3, 16, 16)))
>>> type(result.model[0]).__name__, type(net[0]).__name__
('BlurConv2d', 'Conv2d')
>>> result.applied[0][0]
'0'
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn as nn

from checkerfree.errors import InvalidArgumentError, InvalidTypeError

__all__ = ["SiteFix", "FixResult", "plan_fix", "fix_sites"]

_CONV_T_TYPES = {f"ConvTranspose{d}d" for d in (1, 2, 3)}
_CONV_TYPES = {f"Conv{d}d" for d in (1, 2, 3)}
_POOL_TYPES = {f"{m}Pool{d}d" for m in ("Max", "Avg") for d in (1, 2, 3)}
_UP_KINDS_HELD = {"held_conv_transpose"}
_BLURRED = ("BlurPool", "BlurConv")  # checkerfree's own blurred downsamplers


class SiteFix(NamedTuple):
    """The fix for one site: ``action``, the module it acts on, and a one-line description.

    ``action`` is ``"convert"`` (swap the module, ``kind`` says for what), ``"icnr"``
    (re-initialise a sub-pixel convolution), ``"hold_after"``, ``"blur_before"`` or ``"none"``
    (``description`` says why not).
    """

    action: str
    target: str | None
    description: str
    kind: str | None = None


class FixResult(NamedTuple):
    """What :func:`fix_sites` did: the new ``model``, ``applied`` and ``skipped`` sites.

    ``applied`` and ``skipped`` hold ``(site name, description or reason)`` pairs.
    """

    model: nn.Module
    applied: list[tuple[str, str]]
    skipped: list[tuple[str, str]]


def _site_of(item):
    return getattr(item, "site", item)  # an audit LayerFinding carries its site


def _factor(site) -> str:
    return "x".join(map(str, site.stride)) if len(set(site.stride)) > 1 else str(site.stride[0])


def _name(site) -> str:
    return f"`{site.name or '(model)'}`"


def _type(module: nn.Module | None, site) -> str:
    return type(module).__name__ if module is not None else (site.module_type or "")


def plan_fix(site, module: nn.Module | None = None, *, subpixel: str = "icnr",
             filter: str = "binomial") -> SiteFix:
    """The fix :func:`fix_sites` applies to ``site`` (``module``: the one named ``site.name``).

    Without ``module`` the choice is made from ``site.module_type``, as the audit's advice does.

    >>> from checkerfree.audit.inventory import ResamplingSite
    >>> plan_fix(ResamplingSite("down", "strided_conv", "down", 2, (2, 2), (3, 3),
    ...                         module_type="Conv2d")).kind
    'blur'
    """
    if subpixel not in ("icnr", "hold"):
        raise InvalidArgumentError(f"subpixel must be 'icnr' or 'hold', got {subpixel!r}")
    s, d, kind, mtype = _factor(site), site.dims, site.kind, _type(module, site)
    hold = f"ZeroOrderHold{d}d({s})"
    out = getattr(site, "output_module", None)
    if kind in _UP_KINDS_HELD or mtype.startswith(("HeldConvTranspose", "ZeroOrderHold")):
        return SiteFix("none", site.name, f"{_name(site)} is already followed by a hold")
    if mtype.startswith(_BLURRED):
        return SiteFix("none", site.name, f"{_name(site)} {mtype} already blurs before "
                                          "subsampling")
    if kind == "conv_transpose" and mtype in _CONV_T_TYPES:
        geo = getattr(site, "overlap", None)
        if geo is not None and geo.uneven:
            return SiteFix("convert", site.name,
                           f"{_name(site)} {mtype} overlaps unevenly -> ResizeConv{d}d "
                           f"(convert kind 'resize': nearest resize, then a convolution; fresh "
                           "weight, bias kept)", "resize")
        return SiteFix("convert", site.name,
                       f"{_name(site)} {mtype} has unequal phase sums -> HeldConvTranspose{d}d "
                       f"(convert kind 'hold': weights kept, then a {hold})", "hold")
    if kind == "subpixel" and subpixel == "icnr":
        return SiteFix("icnr", site.name,
                       f"{_name(site)} sub-pixel convolution -> ICNR re-initialisation with "
                       "equal per-phase bias (checkerfree.layers.icnr_, icnr_bias_; trained "
                       "weights are replaced)")
    if site.direction == "up":
        if out is None:
            return SiteFix("none", None,
                           f"{_name(site)} {kind} is a functional call no submodule wraps alone: "
                           f"cannot be fixed automatically; put a {hold} after it")
        return SiteFix("hold_after", out,
                       f"{_name(site)} {kind} -> a {hold} after `{out or '(model)'}` (every "
                       f"period-{s} pattern becomes its mean)")
    blur = f"the {filter} blur of {s}"
    if kind == "strided_conv" and mtype in _CONV_TYPES:
        return SiteFix("convert", site.name,
                       f"{_name(site)} strided {mtype} -> BlurConv{d}d (convert kind 'blur': "
                       f"{blur} before it, weights kept)", "blur")
    if kind == "pool" and mtype in _POOL_TYPES:
        if getattr(module, "return_indices", False) or getattr(site, "return_indices", False):
            return SiteFix("none", site.name,
                           f"{_name(site)} {mtype} returns indices for a MaxUnpool: cannot be "
                           "blurred automatically; keep it, or drop the unpooling and use "
                           f"BlurPool{d}d")
        return SiteFix("convert", site.name,
                       f"{_name(site)} {mtype} -> BlurPool{d}d.from_pool (convert kind 'blur': "
                       f"the pool at stride 1, then {blur} and subsampling)", "blur")
    if kind == "pixel_unshuffle" and mtype == "PixelUnshuffle":
        return SiteFix("convert", site.name,
                       f"{_name(site)} PixelUnshuffle -> {blur} before it (convert kind "
                       "'blur')", "blur")
    target = out if out is not None else site.name
    return SiteFix("blur_before", target,
                   f"{_name(site)} {kind} -> {blur} (ZeroOrderHold{d}d) before "
                   f"`{target or '(model)'}`")


def _locations(root: nn.Module, target: nn.Module) -> list[tuple[nn.Module, str]]:
    return [(parent, attr) for parent in root.modules()
            for attr, child in parent._modules.items() if child is target]


def _like(new: nn.Module, old: nn.Module) -> nn.Module:
    """Move ``new`` to ``old``'s device and floating dtype and give it ``old``'s mode."""
    ref = next((t for t in (*old.parameters(), *old.buffers()) if t.is_floating_point()), None)
    if ref is not None:
        new.to(device=ref.device, dtype=ref.dtype)
    return new.train(old.training)


def _input_shapes(model: nn.Module, targets: set[str], example_input) -> dict[str, tuple]:
    """The first input's shape of each module in ``targets`` when ``model`` runs once."""
    shapes: dict[str, tuple] = {}
    handles = []
    modules = dict(model.named_modules())
    for name in targets:
        if name in modules:
            def pre(_m, args, name=name):
                if name not in shapes and args and isinstance(args[0], torch.Tensor):
                    shapes[name] = tuple(args[0].shape)
            handles.append(modules[name].register_forward_pre_hook(pre))
    inputs = example_input if isinstance(example_input, tuple) else (example_input,)
    p = next(iter(model.parameters()), None)
    devices = [p.device] if p is not None and p.device.type == "cuda" else []
    # A train-mode pass updates batch-norm statistics: the fixed copy keeps the original's.
    buffers = {n: b.detach().clone() for n, b in model.named_buffers()}
    try:
        # The check must not move the caller's random state (a model that samples).
        with torch.no_grad(), torch.random.fork_rng(devices=devices):
            model(*inputs)
    finally:
        for h in handles:
            h.remove()
        with torch.no_grad():
            for n, b in model.named_buffers():
                if n in buffers:
                    b.copy_(buffers[n])
    return shapes


def _blur_layout_reason(site) -> str | None:
    """Why a blur over the last ``dims`` axes would not act on the downsampled axes, or None."""
    shape_in, shape_out = tuple(site.input_shape or ()), tuple(site.output_shape or ())
    if len(shape_in) != site.dims + 2:
        return (f"its input {shape_in or '(unknown)'} is not laid out (N, C, *spatial) with "
                f"{site.dims} spatial axes")
    if len(shape_out) == len(shape_in):
        # The channel axis may grow (a pixel unshuffle, space-to-depth) or change (a strided
        # convolution); what must hold is that the axes that shrink are the spatial ones.
        shrunk = [a for a in range(len(shape_in)) if shape_out[a] < shape_in[a]]
        if any(a < 2 for a in shrunk):
            return (f"it downsamples axes {shrunk} of a {shape_in} tensor, not the trailing "
                    "spatial axes of an (N, C, *spatial) one")
    return None


def _icnr(conv: nn.Module, site) -> str | None:
    """ICNR weight and equal-phase bias on ``conv``, in place; the reason if it cannot."""
    from checkerfree.layers.icnr import icnr_, icnr_bias_, set_effective_weight_

    if not isinstance(conv, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        return f"`{site.name}` is a {type(conv).__name__}, not a convolution to re-initialise"
    phases = math.prod(site.stride)
    per_group = conv.out_channels // conv.groups
    if conv.weight.shape[0] % phases or per_group % phases:
        return (f"`{site.name}` has {conv.out_channels} output channels in {conv.groups} "
                f"groups, which do not split into whole blocks of {phases} phases")
    with torch.no_grad():
        weight = icnr_(torch.empty_like(conv.weight), site.stride, dims=site.dims)
        set_effective_weight_(conv, weight)
        if conv.bias is not None:
            icnr_bias_(conv.bias, site.stride, dims=site.dims)
    return None


def fix_sites(model: nn.Module, sites, example_input=None, *, subpixel: str = "icnr",
              filter: str = "binomial") -> FixResult:
    """Apply :func:`plan_fix` to every site in ``sites``, on a copy of ``model``.

    Args:
        model: the model the sites were found in (``checkerfree.audit.find_resampling``, or the
            culprits of an audit). It is not modified.
        sites: resampling sites (or audit ``LayerFinding`` rows); one module named by several
            sites is fixed once.
        example_input: a tensor (or tuple) the model accepts; with it, a blur is put before a
            module only after checking that the module's input is the downsampled tensor.
        subpixel: ``"icnr"`` (re-initialise) or ``"hold"`` (keep the weights, hold after).
        filter: ``"binomial"`` or ``"box"``, the low-pass of the blurred downsampling.

    Returns:
        :class:`FixResult`. Every replacement keeps its module's device, dtype and training
        flag; every output shape of the model is unchanged (the holds and blurs keep sizes).
    """
    from checkerfree.convert import _check_model, _deepcopy, _replacement
    from checkerfree.layers import ZeroOrderHold1d, ZeroOrderHold2d, ZeroOrderHold3d
    from checkerfree.layers.blur_pool import FILTERS, _check_filter

    _check_model(model)
    _check_filter(filter)
    holds = {1: ZeroOrderHold1d, 2: ZeroOrderHold2d, 3: ZeroOrderHold3d}
    sites = [_site_of(s) for s in sites]
    for s in sites:
        if not all(hasattr(s, a) for a in ("name", "kind", "direction", "dims", "stride")):
            raise InvalidTypeError(
                f"sites must be ResamplingSite objects (name, kind, direction, dims, stride), "
                f"got {type(s).__name__}")
    root = _deepcopy(model)
    modules = dict(root.named_modules())
    applied: list[tuple[str, str]] = []
    skipped: list[tuple[str, str]] = []
    plans = []
    for site in sites:
        plan = plan_fix(site, modules.get(site.name), subpixel=subpixel, filter=filter)
        if plan.action != "none" and plan.target not in modules:
            plan = SiteFix("none", None, f"{_name(site)}: no submodule `{plan.target}` to fix")
        if plan.action != "none" and site.dims not in holds:
            plan = SiteFix("none", None, f"{_name(site)} has {site.dims} spatial axes; "
                                         "only 1 to 3 can be held or blurred")
        if plan.action == "blur_before":
            reason = _blur_layout_reason(site)
            if reason is not None:
                plan = SiteFix("none", None, f"{_name(site)} {site.kind} cannot be fixed "
                                             f"automatically: {reason}; blur the downsampled "
                                             "axes yourself before it")
        plans.append((site, plan))
    wanted = {p.target for _, p in plans if p.action == "blur_before"}
    shapes = _input_shapes(root, wanted, example_input) if wanted and example_input is not None \
        else None
    done: dict[tuple[int, str], str] = {}
    swapped: dict[int, nn.Module] = {}  # id(old module) -> its replacement

    def current(name: str) -> nn.Module:
        m = modules[name]
        return swapped.get(id(m), m)

    def put(old: nn.Module, new: nn.Module) -> None:
        nonlocal root
        if old is root:
            root = new
        for parent, attr in _locations(root, old):
            if parent is not new:
                setattr(parent, attr, new)
        swapped[id(old)] = new

    # Swaps and re-initialisations first, wraps after, so a wrap holds the swapped module.
    order = {"icnr": 0, "convert": 0, "hold_after": 1, "blur_before": 1, "none": 2}
    for site, plan in sorted(plans, key=lambda sp: order[sp[1].action]):
        if plan.action == "none":
            skipped.append((site.name, plan.description))
            continue
        original = modules[plan.target]
        key = (id(original), plan.action)
        if key in done:
            applied.append((site.name, f"{plan.description} (with {done[key]!r})"))
            continue
        if plan.action == "blur_before" and shapes is not None and \
                shapes.get(plan.target) != tuple(site.input_shape):
            skipped.append((site.name, (
                f"{_name(site)} {site.kind} cannot be fixed automatically: the input of "
                f"`{plan.target}` is {shapes.get(plan.target)}, not the downsampled tensor "
                f"{tuple(site.input_shape)}; blur before the operation yourself")))
            continue
        if plan.action == "icnr":
            reason = _icnr(original, site)
            if reason is not None:
                skipped.append((site.name, reason))
                continue
        elif plan.action == "convert":
            put(original, _replacement(original, [plan.target], plan.kind,
                                       {"filter": filter} if plan.kind == "blur" else {}))
        else:
            module = current(plan.target)
            if plan.action == "hold_after":
                wrapper = nn.Sequential(module, _like(holds[site.dims](site.stride), module))
            else:
                blur = holds[site.dims](site.stride, FILTERS[filter])
                wrapper = nn.Sequential(_like(blur, module), module)
            put(module, wrapper.train(module.training))
        done[key] = site.name
        applied.append((site.name, plan.description))
    return FixResult(root, applied, skipped)
