"""Attribute measured artifacts to resampling sites by ablation, and say what to change.

Every up- or downsampling site is ablated in turn, in place, for one pass (the model's weights
are not touched): an upsampling site's output is *phase-averaged* — each ``s^d`` block of it
replaced by the block's mean, broadcast back (:func:`phase_average`) — which makes it a
nearest-neighbour upsampling of something, so it paints no position-locked period-``s``
pattern (the box of width ``s`` has zeros at every non-zero multiple of ``1/s``; Sugawara et
al.; Kinoshita and Kiya 2020). So is the output of each fixed linear operation after it up
to the next nonlinearity (stride-1 convolutions, normalisations): a nearest resize followed
by a convolution has unequal phase variances, which the next nonlinearity turns into a
pattern, so the site is judged with the convolution that follows it. A downsampling site keeps its forward pass and has the gradient
flowing back into its input phase-averaged instead (:class:`PhaseAveragedGradient`): its
backward pass, a transposed convolution of its stride, is where gradient checkerboards come
from. The site is found by the call that recorded it in the inventory (a
:class:`torch.overrides.TorchFunctionMode` counting the inventory's sites), so bare functional
calls are ablated too; sites the inventory found only as a module's output are ablated by a
forward hook on that module.

A site's *share* is the part of the measured lattice energy (per flagged item, over its
flagged periods, on the unablated picture's display scale) that its ablation removes, averaged
over the flagged items; a site is a culprit when its share is at least
:data:`MIN_SHARE`.

>>> x = torch.arange(8.0).reshape(1, 1, 8)
>>> phase_average(x, (2,)).tolist()
[[[0.5, 0.5, 2.5, 2.5, 4.5, 4.5, 6.5, 6.5]]]
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn as nn
import torch.nn.functional as F

from checkerfree.audit.inventory import ResamplingSite, _module_stack, _Recorder
from checkerfree.audit.snapshot import detached_deepcopy
from checkerfree.errors import InvalidArgumentError, ShapeError
from checkerfree.overlap import ratio_text
from checkerfree.score.checkerboard import MIN_SIGNIFICANCE

__all__ = ["with_hold", "energy", "advice_for", "phase_average", "PhaseAveragedGradient",
           "ablated", "blame", "stacked_probe", "MIN_SHARE"]

#: A site is a culprit when ablating it removes at least this share of the measured pattern.
MIN_SHARE = 0.25

_AVG_POOL = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}
# Operations that act alike at every position (linear on the grid, or a normalisation whose
# statistics are shared by all positions): they carry an ablated site's output on.
_LINEAR = {torch.conv1d, torch.conv2d, torch.conv3d, F.conv1d, F.conv2d, F.conv3d,
           F.group_norm, torch.group_norm, F.batch_norm, torch.batch_norm, F.layer_norm,
           torch.layer_norm, F.instance_norm, torch.instance_norm, F.dropout, F.dropout2d,
           F.dropout3d}


def phase_average(x: torch.Tensor, stride) -> torch.Tensor:
    """Replace each ``s_1 x ... x s_d`` block of ``x`` (``(N, C, *spatial)``) by its mean.

    ``y[n] = mean(x[b(n)])`` over the block ``b(n)`` of ``n``; a partial block at the end of
    an axis is averaged over what it holds. ``y`` is constant on blocks, so all ``s^d`` of its
    phases are equal: its spectrum vanishes at every non-zero lattice frequency ``k / s``.

    >>> phase_average(torch.tensor([[[1.0, 3.0, 5.0]]]), (2,)).tolist()
    [[[2.0, 2.0, 5.0]]]
    """
    stride = tuple(int(s) for s in stride)
    d = len(stride)
    if d not in _AVG_POOL or x.dim() != d + 2:
        raise ShapeError(f"phase_average needs (N, C, *spatial) with {len(stride)} spatial "
                         f"axes for stride {stride}, got shape {tuple(x.shape)}")
    if all(s == 1 for s in stride):
        return x
    means = _AVG_POOL[d](x, stride, stride, ceil_mode=True)
    for a, s in enumerate(stride):
        means = means.repeat_interleave(s, dim=2 + a)
    return means[(...,) + tuple(slice(0, n) for n in x.shape[2:])]


class PhaseAveragedGradient(torch.autograd.Function):
    """The identity forward; backward, the incoming gradient phase-averaged (:func:`phase_average`).

    >>> x = torch.zeros(1, 1, 4, requires_grad=True)
    >>> PhaseAveragedGradient.apply(x, (2,)).mul(torch.tensor([1.0, 3, 0, 2])).sum().backward()
    >>> x.grad.tolist()
    [[[2.0, 2.0, 1.0, 1.0]]]
    """

    @staticmethod
    def forward(ctx, x, stride):
        ctx.stride = stride
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return phase_average(grad, ctx.stride), None


class _Ablation(_Recorder):
    """The inventory's recorder, replacing the result of the call that records site ``target``.

    Up sites: the call's output is phase-averaged. Down sites: the call is re-run on its input
    wrapped in :class:`PhaseAveragedGradient`. ``applied`` says whether the site was reached.
    """

    def __init__(self, names, target: int | None = None, site: ResamplingSite | None = None):
        super().__init__(names)
        self.target, self.site, self.applied = target, site, False
        # The ablated output and what the fixed linear operations after it made of it: a
        # stride-1 convolution of a block-constant tensor has unequal phases again (nearest
        # resize + convolution), so each one's output is phase-averaged too, up to the next
        # nonlinearity.
        self.tainted: list[torch.Tensor] = []

    def _follow(self, func, args, kwargs, out):
        x = args[0] if args else kwargs.get("input")
        if func not in _LINEAR or not isinstance(out, torch.Tensor) \
                or not any(x is t for t in self.tainted):
            return out
        stride = self.site.stride
        if out.dim() != len(stride) + 2 or not all(
                2 * o > i and o < 2 * i for o, i in zip(out.shape[2:], x.shape[2:])):
            return out  # not the same grid any more (a strided or transposed convolution)
        out = phase_average(out, stride)
        self.tainted.append(out)
        return out

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        before = len(self.sites)
        out = super().__torch_function__(func, types, args, kwargs)
        if self.tainted:
            out = self._follow(func, args, kwargs, out)
        if self.target is None or not before <= self.target < len(self.sites):
            return out
        stride = self.site.stride
        if self.site.direction == "up":
            if isinstance(out, torch.Tensor) and out.dim() == len(stride) + 2:
                self.applied = True
                out = phase_average(out, stride)
                self.tainted.append(out)
            return out
        x = args[0] if args else kwargs.get("input")
        if not isinstance(x, torch.Tensor) or x.dim() != len(stride) + 2:
            return out
        x = PhaseAveragedGradient.apply(x, stride)
        self.applied = True
        if args:
            return func(x, *args[1:], **kwargs)
        return func(*args, **{**kwargs, "input": x})


@contextlib.contextmanager
def ablated(model: nn.Module, sites: list[ResamplingSite], index: int | None, *,
            recorded: int | None = None):
    """Run ``model`` inside this context with site ``sites[index]`` ablated (None: none).

    ``recorded`` is how many of ``sites`` the inventory's recorder found by their calls
    (the rest, found as modules' outputs, are ablated by a hook on ``output_module``); None
    takes every site as found by its call. Yields the recorder: ``applied`` tells whether
    the ablation happened, ``sites`` what it recorded on the way.

    >>> m = nn.Sequential(nn.ConvTranspose1d(1, 1, 3, stride=2))
    >>> from checkerfree.audit.inventory import find_resampling
    >>> sites = find_resampling(m, torch.ones(1, 1, 8))
    >>> with torch.no_grad(), ablated(m, sites, 0) as rec:
    ...     y = m(torch.ones(1, 1, 8))
    >>> rec.applied, bool((y[..., 0:16:2] == y[..., 1:17:2]).all())
    (True, True)
    """
    names = {id(m): n for n, m in model.named_modules()}
    site = sites[index] if index is not None else None
    by_call = index is not None and (recorded is None or index < recorded)
    rec = _Ablation(names, index if by_call else None, site)
    handles = []
    if site is not None and not by_call:
        if site.output_module is None:
            raise InvalidArgumentError(f"site {site.name!r} has no module to ablate")
        module = model.get_submodule(site.output_module)

        def hook(_m, _inputs, output):
            if site.direction == "up" and isinstance(output, torch.Tensor) \
                    and output.dim() == len(site.stride) + 2:
                rec.applied = True
                out = phase_average(output, site.stride)
                rec.tainted.append(out)  # and the fixed linear operations after it
                return out
            return None

        def pre(_m, inputs):
            if inputs and isinstance(inputs[0], torch.Tensor) \
                    and inputs[0].dim() == len(site.stride) + 2:
                rec.applied = True
                return (PhaseAveragedGradient.apply(inputs[0], site.stride), *inputs[1:])
            return None

        handles.append(module.register_forward_hook(hook) if site.direction == "up"
                       else module.register_forward_pre_hook(pre))
    try:
        with _module_stack(model, rec), rec:
            yield rec
    finally:
        for h in handles:
            h.remove()


def stacked_probe(inputs) -> tuple[torch.Tensor, list[str]]:
    """One batch holding the first probe batch of every kind (the constant included)."""
    first: dict[str, torch.Tensor] = {}
    for p in inputs:
        first.setdefault(p.kind, p.tensor)
    shapes = {tuple(t.shape[1:]) for t in first.values()}
    if len(shapes) > 1:  # a given example of another shape: keep the probes' own kinds
        first = {k: t for k, t in first.items() if k != "given"}
    kinds = [k for k, t in first.items() for _ in range(t.shape[0])]
    return torch.cat(list(first.values())), kinds


def _pass(model, x, direction, objective, forward_kwargs, seed):
    """The output (``up``: forward probe) or the input gradient (``down``) of one pass."""
    from checkerfree.audit.probes import first_tensor, stacked_as_batch

    devices = [x.device] if x.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        # The same random numbers in every pass: a model that samples or drops out in
        # forward must differ between passes only by the ablation.
        torch.manual_seed(seed)
        if direction == "up":
            with torch.no_grad():
                y = first_tensor(model(x, **forward_kwargs))
            # A deep-supervision stack (N, heads, C, *spatial) is N x heads pictures.
            return None if y is None else stacked_as_batch(y, x)
        x = x.detach().requires_grad_(True)
        y = first_tensor(model(x, **forward_kwargs))
        loss = objective(y) if objective is not None else y.sum()
        (g,) = torch.autograd.grad(loss, x, allow_unused=True)
        return g


def _reference(base, x, direction, periods, threshold):
    """The unablated pass read as blame needs it, or None when it cannot be measured.

    Returns ``(scale, raw, values, flagged, loud, usable)``: the display scale, the input
    repeated per output item for image-to-image models (else None), the item values, which
    items are flagged, at which periods (``loud``, items x ``usable`` periods).
    """
    from checkerfree.audit.probes import _grad_ready, display_scale, item_values, stretch

    if base is None or base.dim() < 3:
        return None
    raw = None
    if direction == "up" and x.dim() == base.dim() and _grad_ready(x) \
            and base.shape[0] % x.shape[0] == 0:  # image-to-image, one input per head
        raw = x.repeat_interleave(base.shape[0] // x.shape[0], 0)
    scale = stretch(base)
    ref = item_values(display_scale(base, scale), periods, raw, threshold)
    if ref is None:
        return None
    usable = list(ref["added"])
    loud = torch.stack([(ref["added"][s] > threshold)
                        & (ref["significance"][s] > MIN_SIGNIFICANCE) for s in usable], -1)
    return scale, raw, ref, loud.any(-1), loud, usable


def _items_to_ablate(model, flagged, base, x, kinds) -> torch.Tensor | None:
    """Indices of one flagged item per probe kind, or None to keep the whole batch.

    The batch is kept whole when its items interact (a batch norm in training mode reads
    statistics over the batch) or when output items do not map one to one onto input items
    (a deep-supervision stack), or when nothing would be saved.
    """
    if kinds is None or len(kinds) != x.shape[0] or base.shape[0] != x.shape[0]:
        return None
    if any(isinstance(m, nn.modules.batchnorm._BatchNorm) and m.training
           for m in model.modules()):
        return None
    chosen: dict[str, int] = {}
    for i in flagged.nonzero().flatten().tolist():
        chosen.setdefault(kinds[i], i)
    if len(chosen) >= x.shape[0]:
        return None
    return torch.tensor(sorted(chosen.values()), dtype=torch.long, device=x.device)


def blame(model: nn.Module, sites: list[ResamplingSite], x: torch.Tensor, periods, *,
          probe: str, candidates=None, objective=None, forward_kwargs=None,
          threshold: float | None = None, seed: int = 0,
          kinds: list[str] | None = None) -> tuple[dict[int, float], dict]:
    """Each candidate site's share of the measured pattern, by ablating it alone.

    ``x`` is the (stacked) probe batch; ``probe`` ``"forward"`` measures the output,
    ``"gradient"`` the input gradient; ``candidates`` are site indices (default: the
    upsampling sites for ``forward``, the downsampling ones for ``gradient``), each ablated
    by its direction (:func:`ablated`). Per
    item flagged in the unablated pass (:func:`~checkerfree.audit.probes.item_values`), the
    energy is the sum over its flagged periods of the squared (added) value; the ablated
    pass is read on the unablated one's display scale. A site's share is the mean over the
    flagged items of ``1 - E_ablated / E`` clipped to ``[0, 1]``. Returns ``(shares, info)``
    with ``shares`` by site index (sites that could not be ablated are left out) and
    ``info`` holding ``flagged`` (items), ``kinds`` and ``skipped`` (site indices).

    ``kinds`` (the probe kind of each item of ``x``) lets the ablations run on one flagged
    item per kind instead of the whole batch, where items do not interact
    (:func:`_items_to_ablate`).
    """
    from checkerfree.audit.probes import AUDIT_THRESHOLD, display_scale, item_values

    if probe not in ("forward", "gradient"):
        raise InvalidArgumentError(f"probe must be 'forward' or 'gradient', got {probe!r}")
    direction = "up" if probe == "forward" else "down"
    if candidates is None:
        candidates = [i for i, s in enumerate(sites) if s.direction == direction]
    threshold = AUDIT_THRESHOLD if threshold is None else threshold
    forward_kwargs = forward_kwargs or {}
    with ablated(model, sites, None) as rec:
        base = _pass(model, x, direction, objective, forward_kwargs, seed)
    recorded = len(rec.sites)
    info = {"flagged": 0, "skipped": []}
    reference = _reference(base, x, direction, periods, threshold)
    if reference is None:
        return {}, info
    flagged = reference[3]
    info["flagged"] = int(flagged.sum())
    if not flagged.any():
        return {}, info
    keep = _items_to_ablate(model, flagged, base, x, kinds)
    if keep is not None:
        # Only the flagged items can lose a pattern: the ablations run on them alone (one
        # per probe kind), against a reference pass on the same smaller batch.
        x = x[keep]
        with ablated(model, sites, None):
            base = _pass(model, x, direction, objective, forward_kwargs, seed)
        reference = _reference(base, x, direction, periods, threshold)
        if reference is None or not reference[3].any():
            return {}, info
    scale, raw, ref, flagged, loud, usable = reference[:6]

    def energy_of(r):
        added = torch.stack([r["added"][s] if s in r["added"] else torch.zeros_like(flagged,
                                                                               dtype=torch.float)
                             for s in usable], -1)
        return (added.square() * loud).sum(-1)[flagged]

    e_base = energy_of(ref)
    # Ablated passes are scored only at the periods some item is flagged at, and at their
    # divisors (a period's bins leave out those of the listed periods dividing it).
    flagged_at = [s for j, s in enumerate(usable) if loud[:, j].any()]
    needed = [s for s in usable if any(f % s == 0 for f in flagged_at)]
    shares = {}
    for i in candidates:
        site = sites[i]
        if all(v == 1 for v in site.stride):
            continue
        if i >= recorded and site.output_module is None:
            info["skipped"].append(i)
            continue
        with ablated(model, sites, i, recorded=recorded) as rec:
            out = _pass(model, x, direction, objective, forward_kwargs, seed)
        if not rec.applied or out is None or out.shape != base.shape:
            info["skipped"].append(i)
            continue
        r = item_values(display_scale(out, scale), needed, raw, threshold)
        drop = (1 - energy_of(r) / e_base.clamp_min(1e-12)).clamp(0, 1)
        shares[i] = float(drop.mean())
    return shares, info


def _hold(dims: int, scale: int) -> nn.Module:
    from checkerfree.layers import ZeroOrderHold1d, ZeroOrderHold2d, ZeroOrderHold3d

    return (ZeroOrderHold1d, ZeroOrderHold2d, ZeroOrderHold3d)[dims - 1](scale)


def with_hold(model: nn.Module, name: str, scale: int, *, after: bool, dims: int = 2) -> nn.Module:
    """A copy of ``model`` with a zero-order hold of ``scale`` after (or before) module ``name``.

    >>> m = nn.Sequential(nn.ConvTranspose2d(2, 2, 3, 2))
    >>> type(with_hold(m, "0", 2, after=True)[0]).__name__
    'Sequential'
    """
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
    k = f" k={'x'.join(map(str, site.kernel))}" if site.kernel else ""
    s = "x".join(map(str, sorted(set(site.stride))))
    return f"`{site.name}` {site.module_type or site.kind}{k} s={s}"


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
                    else f"overlaps {ratio_text(site.overlap.max, site.overlap.min)}")
        imb = site.phase_imbalance
        return ("overlaps evenly but its weights' phase sums differ"
                + (f" (phase imbalance {imb:.2f})" if imb is not None else ""))
    if site.kind == "subpixel":
        imb, bias = site.phase_imbalance, getattr(site, "bias_imbalance", None)
        parts = []
        if imb is not None and imb > 1e-3:
            parts.append(f"phase imbalance {imb:.2f}")
        if bias is not None and bias > 1e-3:
            parts.append(f"per-phase biases differ: bias imbalance {bias:.3f}")
        return ("sub-pixel convolution with unbalanced phases"
                + (f" ({'; '.join(parts)})" if parts else ""))
    if site.kind == "strided_conv":
        return (f"strided convolution: its backward pass is a transposed convolution of "
                f"stride {s}")
    if site.kind == "pool" and site.mode == "max":
        return "max pooling routes gradients to one position per window"
    if site.direction == "down":
        return (f"its backward pass spreads the gradient on a stride-{s} lattice (a "
                "transposed convolution)")
    return f"its output still carries a period-{s} pattern"
