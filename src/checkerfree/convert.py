"""Model surgery: replace every strided resampling layer with an artifact-free one.

Odena, Dumoulin and Olah, "Deconvolution and Checkerboard Artifacts", Distill 2016: a
transposed convolution of stride ``s`` gives each of its ``s^d`` output phases its own
sub-kernel, so it paints a checkerboard unless all phase sums are equal (Sugawara et al.).
:func:`convert` swaps each ``nn.ConvTranspose1d/2d/3d`` whose stride exceeds 1 on some axis
for one of

- ``"resize"``: :class:`~checkerfree.layers.ResizeConv2d` (nearest resize, then a convolution;
  fresh weight, bias copied),
- ``"subpixel"``: :class:`~checkerfree.layers.SubPixelConv2d` (ICNR-initialised convolution and
  pixel shuffle; bias copied to every phase),
- ``"hold"``: :class:`~checkerfree.layers.HeldConvTranspose2d` (the same transposed convolution,
  weights kept, followed by a zero-order hold of its stride),

(1D/3D alike). Every replacement's output shape equals the original's for every input size
(padding, output padding and dilation are absorbed by the layers' ``trim``), and each starts
artifact-free: a constant input gives a constant output away from the borders. Stride-1
transposed convolutions have a single phase, hence no checkerboard, and are left alone.

Downsampling is the mirror image: the input gradient of a strided convolution or pooling is a
transposed convolution, so it carries the checkerboard backwards. ``"blur"`` swaps every
strided ``nn.Conv1d/2d/3d`` for :class:`~checkerfree.layers.BlurConv2d` (a low-pass of its
stride's size, then the same convolution, weights kept), every ``MaxPool``/``AvgPool`` with
stride > 1 for :class:`~checkerfree.layers.BlurPool2d` (the pool at stride 1, then blurred
subsampling; Zhang 2019) and every ``nn.PixelUnshuffle`` for the blur followed by it; shapes
are kept exactly too. Per-site fixes for what an audit found, sub-pixel convolutions and
functional calls included, are :func:`checkerfree.fix.fix_sites`.

>>> from torch import nn
>>> net = nn.Sequential(nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1), nn.ReLU())
>>> new = convert(net, to="resize")
>>> type(new[0]).__name__, type(net[0]).__name__
('ResizeConv2d', 'ConvTranspose2d')
>>> x = torch.randn(1, 4, 5, 7)
>>> new(x).shape == net(x).shape
True
>>> plan_conversion(net, to="subpixel")
[Conversion(name='0', old=ConvTranspose2d(4, 2, ...), to='subpixel', params_before=74, ...)]
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Mapping
from typing import NamedTuple

import torch
import torch.nn as nn
from torch.nn.utils import parametrize

from checkerfree.errors import CheckerfreeError, InvalidArgumentError, InvalidTypeError
from checkerfree.layers import (
    BlurConv1d,
    BlurConv2d,
    BlurConv3d,
    BlurPool1d,
    BlurPool2d,
    BlurPool3d,
    HeldConvTranspose1d,
    HeldConvTranspose2d,
    HeldConvTranspose3d,
    ResizeConv1d,
    ResizeConv2d,
    ResizeConv3d,
    SubPixelConv1d,
    SubPixelConv2d,
    SubPixelConv3d,
    ZeroOrderHold1d,
    ZeroOrderHold2d,
    ZeroOrderHold3d,
)

__all__ = ["KINDS", "DOWN_KINDS", "ALL_KINDS", "PROBE_LENGTH", "Conversion", "convert",
           "plan_conversion", "nothing_to_convert"]

#: Replacements for strided transposed convolutions (upsampling).
KINDS = ("resize", "subpixel", "hold")
#: Replacements for strided convolutions, pooling and pixel unshuffle (downsampling).
DOWN_KINDS = ("blur",)
#: Every value ``to`` accepts: ``"auto"`` picks per transposed convolution (see convert).
ALL_KINDS = (*KINDS, "auto", *DOWN_KINDS)

_REPLACEMENTS = {
    "resize": {1: ResizeConv1d, 2: ResizeConv2d, 3: ResizeConv3d},
    "subpixel": {1: SubPixelConv1d, 2: SubPixelConv2d, 3: SubPixelConv3d},
    "hold": {1: ZeroOrderHold1d, 2: ZeroOrderHold2d, 3: ZeroOrderHold3d},
}

_DIMS = {nn.ConvTranspose1d: 1, nn.ConvTranspose2d: 2, nn.ConvTranspose3d: 3}
_DOWN_DIMS = {nn.Conv1d: 1, nn.Conv2d: 2, nn.Conv3d: 3,
              nn.MaxPool1d: 1, nn.MaxPool2d: 2, nn.MaxPool3d: 3,
              nn.AvgPool1d: 1, nn.AvgPool2d: 2, nn.AvgPool3d: 3, nn.PixelUnshuffle: 2}
_BLUR_POOL = {1: BlurPool1d, 2: BlurPool2d, 3: BlurPool3d}

Choice = str | None
MappingArg = Mapping[str, Choice] | Callable[[str, nn.Module], Choice] | None


#: Spatial length per axis of the input on which plan_conversion counts multiply-adds.
PROBE_LENGTH = 16


class Conversion(NamedTuple):
    """One planned replacement: the qualified ``name``, the ``old`` module, the kind it gets.

    A module instance registered under several names (shared weights) has one row per name,
    all with the same ``old``; it is replaced by one new instance, so the sharing survives.
    ``params_before``/``params_after`` are the parameter counts of the old layer and of its
    replacement; ``macs_before``/``macs_after`` their multiply-adds, counted by
    :func:`checkerfree.cost.multiply_adds` on one sample of ``in_channels`` (1 for a pool
    or pixel unshuffle) by :data:`PROBE_LENGTH` per spatial axis. ``None`` where a count
    could not be made (a layer that refuses the probe size).
    """

    name: str
    old: nn.Module
    to: str
    params_before: int | None = None
    params_after: int | None = None
    macs_before: int | None = None
    macs_after: int | None = None


def _dims_of(module: nn.Module) -> int | None:
    for cls, dims in _DIMS.items():
        if isinstance(module, cls):
            return dims
    return None


# Already held: a ConvTranspose subclass, but converting it again would stack a second hold.
_HELD = (HeldConvTranspose1d, HeldConvTranspose2d, HeldConvTranspose3d)


def _down_dims(module: nn.Module) -> int | None:
    for cls, dims in _DOWN_DIMS.items():
        if isinstance(module, cls):
            return dims
    return None


def _is_candidate(module: nn.Module) -> bool:
    """A ConvTranspose with stride > 1 on some axis: the only upsamplers with several phases."""
    return (
        _dims_of(module) is not None
        and not isinstance(module, _HELD)
        and any(s > 1 for s in module.stride)
    )


def _is_down_candidate(module: nn.Module) -> bool:
    """A strided Conv, a MaxPool/AvgPool with stride > 1, or a PixelUnshuffle: not yet blurred.

    A max pool that returns its indices feeds a MaxUnpool, which a blurred pool could not.
    """
    if _down_dims(module) is None or isinstance(module, (BlurConv1d, BlurConv2d, BlurConv3d)):
        return False
    if isinstance(module, nn.PixelUnshuffle):
        return module.downscale_factor > 1
    if getattr(module, "return_indices", False):
        return False
    stride = module.stride if isinstance(module.stride, tuple) else (module.stride,)
    return any(s > 1 for s in stride)


def _category(kind: str) -> str:
    return "down" if kind in DOWN_KINDS else "up"


def _auto_kind(module: nn.Module) -> str:
    """``"resize"`` when the geometry overlaps unevenly (no weight can balance it), else
    ``"hold"`` (even overlap: keep the weights, and the hold equalises their phase sums)."""
    from checkerfree.overlap import overlap

    return "resize" if overlap(module).uneven else "hold"


_WHAT = {"up": "a ConvTranspose1d/2d/3d with stride > 1",
         "down": "a strided Conv1d/2d/3d, a MaxPool/AvgPool with stride > 1 or a PixelUnshuffle"}


def _check_kind(value, what: str) -> Choice:
    accepted = (*ALL_KINDS, None)
    if value is None:
        return None
    if not isinstance(value, str) or value not in ALL_KINDS:
        raise InvalidArgumentError(
            f"{what} must be one of {', '.join(repr(k) for k in accepted)}, got {value!r}"
        )
    return value


def _check_model(model) -> None:
    if not isinstance(model, nn.Module):
        raise InvalidTypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if isinstance(model, torch.jit.ScriptModule):
        raise InvalidTypeError(
            "model is a TorchScript module, whose submodules cannot be swapped; convert the "
            "eager nn.Module before scripting it"
        )


def _candidates(model: nn.Module, category: str | None = None
                ) -> dict[int, tuple[nn.Module, list[str], str]]:
    """Candidates by identity, each with every qualified name and its category (up/down).

    ``category`` keeps only the upsamplers (``"up"``) or the downsamplers (``"down"``).
    """
    found: dict[int, tuple[nn.Module, list[str], str]] = {}
    for name, module in model.named_modules(remove_duplicate=False):
        cat = "up" if _is_candidate(module) else "down" if _is_down_candidate(module) else None
        if cat is not None and category in (None, cat):
            found.setdefault(id(module), (module, [], cat))[1].append(name)
    return found


def _choose(model: nn.Module, to: Choice,
            mapping: MappingArg) -> list[tuple[nn.Module, list[str], str]]:
    """``(module, names, kind)`` for every candidate that gets replaced, in model order."""
    groups = _candidates(model)
    if mapping is not None and not callable(mapping) and not isinstance(mapping, Mapping):
        raise InvalidTypeError(
            "mapping must be None, a dict {qualified name: kind or None} or a callable "
            f"(name, module) -> kind or None, got {type(mapping).__name__}"
        )
    if isinstance(mapping, Mapping):
        # Typos in names would otherwise be silently ignored.
        all_names = {n for n, _ in model.named_modules(remove_duplicate=False)}
        category_of = {n: cat for _, ns, cat in groups.values() for n in ns}
        for key, value in mapping.items():
            _check_kind(value, f"mapping[{key!r}]")
            if key not in all_names:
                raise InvalidArgumentError(
                    f"mapping names {key!r}, which is not a submodule of the model; the "
                    f"layers that can be converted are {sorted(category_of) or 'none'}"
                )
            if value is not None and category_of.get(key) != _category(value):
                module = model.get_submodule(key)
                raise InvalidArgumentError(
                    f"mapping[{key!r}] = {value!r}, but {key!r} is a {type(module).__name__}, "
                    f"not {_WHAT[_category(value)]}: nothing to convert there"
                )
    plan = []
    for module, names, category in groups.values():
        if callable(mapping) and not isinstance(mapping, Mapping):
            if to is not None and _category(to) != category:
                continue  # a callable is asked about the layers ``to`` applies to
            kind = _check_kind(mapping(names[0], module), f"mapping({names[0]!r}, ...)")
            if kind is not None and _category(kind) != category:
                raise InvalidArgumentError(
                    f"mapping({names[0]!r}, ...) gave {kind!r} to a {type(module).__name__}, "
                    f"which is not {_WHAT[_category(kind)]}")
        elif isinstance(mapping, Mapping) and any(n in mapping for n in names):
            chosen = {mapping[n] for n in names if n in mapping}
            if len(chosen) > 1:
                raise InvalidArgumentError(
                    f"mapping gives {sorted(map(repr, chosen))} to one shared module registered "
                    f"as {names}; a shared module gets one replacement"
                )
            kind = chosen.pop()
        else:
            # ``to`` converts the layers it applies to: up kinds the upsamplers, blur the rest.
            kind = to if to is not None and _category(to) == category else None
        if kind == "auto":
            kind = _auto_kind(module)
        if kind is not None:
            plan.append((module, names, kind))
    return plan


def _costs(module: nn.Module, names: list[str], kind: str, kwargs: dict) -> tuple:
    """``(params_before, params_after, macs_before, macs_after)`` of one planned swap.

    The replacement is built as :func:`convert` builds it, from a meta copy of ``module``:
    no weight is copied and nothing is computed.
    """
    from checkerfree.cost import meta_copy, multiply_adds, parameter_count

    ghost = meta_copy(module)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the hooks warning belongs to convert
        new = _replacement(ghost, names, kind, kwargs)
    dims = _dims_of(module) or _down_dims(module)
    shape = (1, getattr(module, "in_channels", 1), *(PROBE_LENGTH,) * dims)
    macs = []
    for layer in (ghost, new):
        try:
            macs.append(multiply_adds(layer, shape))
        except (RuntimeError, ValueError):  # e.g. a kernel wider than the padded probe
            macs.append(None)
    return parameter_count(ghost), parameter_count(new), *macs


def plan_conversion(model: nn.Module, to: Choice = "resize",
                    mapping: MappingArg = None, **kwargs) -> list[Conversion]:
    """The replacements :func:`convert` would make, as :class:`Conversion` rows; changes nothing.

    Same arguments and checks as :func:`convert` (``**kwargs`` as there, for the counts).
    Layers skipped through ``mapping`` and stride-1 transposed convolutions are not listed.
    Each row has the parameters and multiply-adds before and after (see :class:`Conversion`),
    counted on meta copies: planning reads no weight and computes nothing.

    >>> from torch import nn
    >>> net = nn.ModuleDict({"a": nn.ConvTranspose1d(2, 2, 4, 2, 1),
    ...                      "b": nn.ConvTranspose1d(2, 2, 3, 1, 1)})
    >>> [(c.name, c.to) for c in plan_conversion(net, "hold")]
    [('a', 'hold')]
    >>> row = plan_conversion(nn.ConvTranspose2d(64, 64, 4, 2, 1), "subpixel")[0]
    >>> row.params_before, row.params_after, row.macs_before, row.macs_after
    (65600, 65600, 16777216, 16777216)
    """
    _check_model(model)
    to = _check_kind(to, "to")
    rows = []
    for m, names, kind in _choose(model, to, mapping):
        costs = _costs(m, names, kind, kwargs)
        rows += [Conversion(n, m, kind, *costs) for n in names]
    return rows


def _deepcopy(model: nn.Module) -> nn.Module:
    """``copy.deepcopy`` that also copes with the hook-based ``torch.nn.utils.weight_norm``.

    That weight norm stores the computed weight, a non-leaf tensor, as a plain attribute, and
    non-leaf tensors refuse to be deep-copied (pytorch/pytorch#103001). Its forward pre-hook
    recomputes the attribute before every use, so a detached copy of the value is enough.
    """
    memo: dict = {}
    for module in model.modules():
        # Lists too: MONAI DynUNet keeps its deep-supervision heads' graph tensors in one.
        for value in vars(module).values():
            for item in value if isinstance(value, (list, tuple)) else (value,):
                if isinstance(item, torch.Tensor) and not item.is_leaf:
                    memo[id(item)] = item.detach().clone()
    try:
        return copy.deepcopy(model, memo)
    except Exception as exc:  # any failure of a user's __deepcopy__ lands here
        raise InvalidTypeError(
            f"model ({type(model).__name__}) cannot be deep-copied ({exc}); pass inplace=True "
            "to convert it in place"
        ) from exc


def _hook_weight_norm(module: nn.Module):
    """The hook of the legacy ``torch.nn.utils.weight_norm`` on ``module.weight``, if any."""
    from torch.nn.utils.weight_norm import WeightNorm

    for hook in module._forward_pre_hooks.values():
        if isinstance(hook, WeightNorm) and hook.name == "weight":
            return hook
    return None


def _carry_weight_parametrisation(old: nn.Module, new: nn.Module) -> None:
    """Give ``new`` (weights copied from ``old``) ``old``'s weight norm, with its parameters.

    Keeps the training dynamics and the state-dict keys, so checkpoints still load.
    """
    if parametrize.is_parametrized(old, "weight"):
        parametrize.transfer_parametrizations_and_params(old, new, "weight")
        return
    hook = _hook_weight_norm(old)
    if hook is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # the legacy API is deprecated
            torch.nn.utils.weight_norm(new, "weight", dim=hook.dim)
        with torch.no_grad():
            new.weight_g.copy_(old.weight_g)
            new.weight_v.copy_(old.weight_v)


def _first_tensor(module: nn.Module) -> torch.Tensor | None:
    for t in module.parameters():
        if t.is_floating_point():
            return t
    return None


def _blur_unshuffle(module: nn.PixelUnshuffle, filter: str = "binomial", *,
                    padding_mode: str = "replicate") -> nn.Sequential:
    """The blur of the factor's size, then ``module``'s pixel unshuffle (no parameters)."""
    from checkerfree.layers.blur_pool import FILTERS, _check_filter

    hold = ZeroOrderHold2d(module.downscale_factor, FILTERS[_check_filter(filter)],
                           padding_mode=padding_mode)
    return nn.Sequential(hold, nn.PixelUnshuffle(module.downscale_factor))


def _factory(module: nn.Module, kind: str) -> tuple[Callable, str]:
    """The constructor that builds ``kind``'s replacement of ``module``, and its name."""
    if kind in DOWN_KINDS:
        if isinstance(module, nn.PixelUnshuffle):
            return _blur_unshuffle, "the blurred pixel unshuffle"
        cls = _BLUR_POOL[_down_dims(module)]
        if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            return cls.from_conv, f"{cls.__name__}.from_conv"
        return cls.from_pool, f"{cls.__name__}.from_pool"
    cls = _REPLACEMENTS[kind][_dims_of(module)]
    return cls.from_conv_transpose, f"{cls.__name__}.from_conv_transpose"


def _replacement(module: nn.Module, names: list[str], kind: str, kwargs: dict) -> nn.Module:
    """Build the new layer for ``module``; errors name the layer and the kind."""
    where = f"layer {names[0]!r} ({module!r})"
    weight = getattr(module, "weight", None)
    if weight is not None and nn.parameter.is_lazy(weight):
        raise InvalidArgumentError(
            f"cannot convert {where}: its parameters are not initialised yet (a Lazy module); "
            "run one forward pass first"
        )
    factory, factory_name = _factory(module, kind)
    try:
        with torch.no_grad():
            new = factory(module, **kwargs)
    except CheckerfreeError as exc:
        raise type(exc)(f"cannot convert {where} to {kind!r}: {exc}") from exc
    except TypeError as exc:
        if "argument" not in str(exc):
            raise
        raise InvalidArgumentError(
            f"cannot convert {where} to {kind!r}: {factory_name} "
            f"does not take {sorted(kwargs)} ({exc})"
        ) from exc
    keeps_weights = kind == "hold" or (kind == "blur" and weight is not None)
    if keeps_weights:
        _carry_weight_parametrisation(module, new)
    # The layers already follow the old weight; this also covers a model with mixed dtypes.
    ref = _first_tensor(module)
    if ref is not None:
        new.to(device=ref.device, dtype=ref.dtype)
    new.train(module.training)
    # A parameter whose values were copied keeps its flag; fresh ones stay trainable, since a
    # frozen random weight could never learn.
    copied = ("weight", "bias") if keeps_weights else ("bias",)
    old_params = dict(module.named_parameters())
    for pname, p in new.named_parameters():
        if pname in copied and pname in old_params:
            p.requires_grad_(old_params[pname].requires_grad)
    hooks = [h for h in module._forward_pre_hooks.values() if h is not _hook_weight_norm(module)]
    if hooks or module._forward_hooks or module._backward_hooks:
        warnings.warn(
            f"{where}: its forward/backward hooks are not carried over to the replacement",
            stacklevel=3,
        )
    return new


def nothing_to_convert(model: nn.Module, to: Choice = "resize") -> str | None:
    """Why ``convert(model, to)`` would change nothing, in one line; ``None`` if it would.

    For callers that report instead of warning (the command line): no Python warning text.

    >>> from torch import nn
    >>> nothing_to_convert(nn.Sequential(nn.Conv2d(1, 1, 3, stride=2)), "resize")
    'Sequential has no ConvTranspose1d/2d/3d with stride > 1; nothing to convert'
    >>> nothing_to_convert(nn.Sequential(nn.Conv2d(1, 1, 3, stride=2)), "blur") is None
    True
    """
    _check_model(model)
    to = _check_kind(to, "to")
    if _candidates(model, None if to is None else _category(to)):
        return None
    what = "resampling layer that convert replaces" if to is None else _WHAT[_category(to)]
    what = what.replace("a ConvTranspose", "ConvTranspose").replace("a strided", "strided")
    return f"{type(model).__name__} has no {what}; nothing to convert"


def convert(model: nn.Module, to: Choice = "resize", inplace: bool = False,
            mapping: MappingArg = None, **kwargs) -> nn.Module:
    """Replace every strided ``ConvTranspose`` (or downsampler) by an artifact-free layer.

    Returns a new module (a deep copy; ``model`` is untouched) unless ``inplace=True``, in
    which case ``model`` itself is changed and returned. Submodules inside ``nn.Sequential``,
    ``nn.ModuleList``, ``nn.ModuleDict`` and any nesting are found by qualified name; one
    instance registered under several names gets one replacement, so sharing is kept. Each
    replacement keeps the old layer's training flag, device and dtype, has the same output
    shape for every input size, and starts artifact-free (see the module docstring).

    Args:
        model: any ``nn.Module`` (a ConvTranspose itself is returned converted; it cannot be
            swapped in place, so then the returned object is new even with ``inplace=True``).
        to: ``"resize"``, ``"subpixel"`` or ``"hold"`` for every strided transposed
            convolution (``"auto"``: ``"resize"`` where its geometry overlaps unevenly,
            ``"hold"`` where it overlaps evenly), or ``"blur"`` for every strided convolution, pooling with stride > 1
            and pixel unshuffle, that ``mapping`` does not decide; ``None`` converts only what
            ``mapping`` chooses (a dict may mix up and down kinds).
        inplace: change ``model`` instead of a copy.
        mapping: per-layer choice, a dict ``{qualified name: kind or None}`` (``None``
            skips; unknown names are an error) or a callable ``(name, module) -> kind or None``.
        **kwargs: passed to every ``from_conv_transpose`` (e.g. ``mode="bilinear"`` or
            ``kernel_size=5`` for ``"resize"``, ``order=1`` for ``"hold"``) or to
            ``from_conv``/``from_pool`` for ``"blur"`` (``filter="box"``); to give different
            kinds different options, convert twice with ``mapping`` and ``to=None``.

    Not converted: ``F.conv_transpose*`` calls (not modules). Replacements from ``"resize"``
    and ``"subpixel"`` do not take ``forward(x, output_size=...)``; ``"hold"`` does, and also
    keeps a weight norm (``torch.nn.utils.weight_norm`` or its parametrisation). Hooks on a
    replaced layer are dropped with a warning. ``"blur"`` keeps the weights, weight norm and
    state-dict keys of a convolution. A model with nothing to convert is returned (copied
    unless ``inplace``) with a warning; :func:`nothing_to_convert` gives that message without
    converting, and :func:`plan_conversion` lists the swaps.

    >>> from torch import nn
    >>> dec = nn.Sequential(nn.ConvTranspose1d(3, 3, 4, 2, 1), nn.ConvTranspose1d(3, 1, 3))
    >>> new = convert(dec, "subpixel")
    >>> [type(m).__name__ for m in new]  # the stride-1 layer has no checkerboard
    ['SubPixelConv1d', 'ConvTranspose1d']
    >>> new(torch.randn(2, 3, 10)).shape == dec(torch.randn(2, 3, 10)).shape
    True
    """
    _check_model(model)
    to = _check_kind(to, "to")
    if not isinstance(inplace, bool):
        raise InvalidTypeError(f"inplace must be a bool, got {type(inplace).__name__}")
    plan = _choose(model, to, mapping)  # validates mapping before any copying
    empty = nothing_to_convert(model, to)
    if empty:
        warnings.warn(f"convert: {empty}, returned " + ("as is" if inplace else "a copy"),
                      stacklevel=2)
    if not plan:
        return model if inplace else _deepcopy(model)
    root = model if inplace else _deepcopy(model)
    # Build every replacement before swapping any, so an error leaves an inplace model whole.
    # The copy's modules are found by name: a callable mapping is asked only once.
    built = [(names, _replacement(root.get_submodule(names[0]), names, kind, kwargs))
             for _, names, kind in plan]
    for names, new in built:
        for name in names:
            if name == "":
                return new
            parent, _, attr = name.rpartition(".")
            setattr(root.get_submodule(parent), attr, new)
    return root
