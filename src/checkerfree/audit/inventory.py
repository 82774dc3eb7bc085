"""Inventory of every up- and downsampling operation a model runs, judged statically.

The model is run once on an example input inside a :class:`torch.overrides.TorchFunctionMode`
that sees every functional call, so modules (``nn.ConvTranspose2d``, ``nn.Upsample``,
``nn.PixelShuffle``, strided ``nn.Conv2d``, pooling) and bare functional calls
(``F.interpolate`` inside a diffusers block, ``F.conv_transpose2d`` in custom code) are found
alike, in execution order, each attributed to the innermost module that was running. Found:
transposed convolutions, pixel shuffle and unshuffle, interpolation in every mode, strided
convolutions, pooling (with indices, adaptive, ``max_unpool``), strided slicing
``x[..., ::2, ::2]``, space-to-depth and depth-to-space written as reshape + permute
(:mod:`checkerfree.audit.rearrange`), ``unfold``/``fold`` and ``grid_sample``. A convolution
(or a token-wise ``Linear``) that feeds a pixel shuffle or a depth-to-space is folded into one
sub-pixel site.

Each up site is judged from its geometry (:func:`checkerfree.overlap`) and, where it has
weights, from them (:func:`checkerfree.phase_imbalance`): sub-kernels whose sums differ make
a periodic pattern even when the kernel size divides the stride; so do per-phase biases that
differ (:func:`~checkerfree.audit.fixed_filter.bias_imbalance`). A fixed linear filter run
right after the site (a FIR, a pad + average pool) is composed with it and the composed
upsampler is judged instead (:mod:`checkerfree.audit.fixed_filter`).

>>> import torch.nn as nn
>>> model = nn.Sequential(nn.ConvTranspose2d(4, 2, 3, stride=2), nn.Upsample(scale_factor=2))
>>> [(s.name, s.kind, s.uneven) for s in find_resampling(model, torch.randn(1, 4, 8, 8))]
[('0', 'conv_transpose', True), ('1', 'interpolate', False)]
"""

from __future__ import annotations

import contextlib
import math
import weakref
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from checkerfree.audit import fixed_filter as ff
from checkerfree.audit.rearrange import REORDERING, classify, layout_step, reorders
from checkerfree.errors import InvalidTypeError
from checkerfree.layers.subpixel import subpixel_transposed_weight
from checkerfree.overlap import OverlapResult, overlap, phase_imbalance, phase_sums

__all__ = ["ResamplingSite", "find_resampling", "subpixel_transposed_weight"]

# Weight imbalance below this is read as balanced: ICNR and trained-balanced kernels sit at
# ~1e-7 in float32, random kernels at 0.5 to 0.9.
IMBALANCE_TOLERANCE = 1e-3
# Per-phase bias spread below this (in units of the response to a unit constant input,
# :func:`checkerfree.audit.fixed_filter.bias_imbalance`) is read as equal: copies sit at 0,
# randomly initialised sub-pixel biases (MONAI's SubpixelUpsample, ESPCN) at a few hundredths.
BIAS_TOLERANCE = 1e-3

_CONV = {torch.conv1d: 1, torch.conv2d: 2, torch.conv3d: 3,
         F.conv1d: 1, F.conv2d: 2, F.conv3d: 3}
_CONV_T = {torch.conv_transpose1d: 1, torch.conv_transpose2d: 2, torch.conv_transpose3d: 3,
           F.conv_transpose1d: 1, F.conv_transpose2d: 2, F.conv_transpose3d: 3}
_POOL = {F.max_pool1d: ("max", 1), F.max_pool2d: ("max", 2), F.max_pool3d: ("max", 3),
         F.avg_pool1d: ("avg", 1), F.avg_pool2d: ("avg", 2), F.avg_pool3d: ("avg", 3),
         torch.max_pool1d: ("max", 1), torch.max_pool2d: ("max", 2),
         torch.max_pool3d: ("max", 3), torch.avg_pool1d: ("avg", 1),
         torch._C._nn.avg_pool2d: ("avg", 2), torch._C._nn.avg_pool3d: ("avg", 3),
         F.max_pool1d_with_indices: ("max", 1), F.max_pool2d_with_indices: ("max", 2),
         F.max_pool3d_with_indices: ("max", 3),
         F.lp_pool1d: ("lp", 1), F.lp_pool2d: ("lp", 2), F.lp_pool3d: ("lp", 3)}
_ADAPTIVE = {F.adaptive_avg_pool1d: "avg", F.adaptive_avg_pool2d: "avg",
             F.adaptive_avg_pool3d: "avg", F.adaptive_max_pool1d: "max",
             F.adaptive_max_pool2d: "max", F.adaptive_max_pool3d: "max",
             F.adaptive_max_pool1d_with_indices: "max",
             F.adaptive_max_pool2d_with_indices: "max",
             F.adaptive_max_pool3d_with_indices: "max", torch.adaptive_avg_pool1d: "avg",
             torch._C._nn.adaptive_avg_pool2d: "avg", torch._C._nn.adaptive_avg_pool3d: "avg"}
_UNPOOL = {F.max_unpool1d, F.max_unpool2d, F.max_unpool3d}
_SHUFFLE = {torch.pixel_shuffle, F.pixel_shuffle}
_UNSHUFFLE = {torch.pixel_unshuffle, F.pixel_unshuffle}
_LINEAR = {F.linear, torch._C._nn.linear}
# Noise drawn inside forward is data too (a generator that samples its own latent).
_RANDOM = {getattr(torch, n) for n in ("randn", "rand", "randint", "normal", "randn_like",
                                       "rand_like", "randint_like", "bernoulli")} | {
    getattr(torch.Tensor, n) for n in ("normal_", "uniform_", "bernoulli_", "random_")}
_KEEPS = {getattr(torch.Tensor, n) for n in ("contiguous", "clone", "detach", "to")}
# Made afresh from shape alone: a constant whatever tensor they are called on.
_FACTORY_METHODS = {getattr(torch.Tensor, n) for n in
                    ("new_zeros", "new_ones", "new_full", "new_empty", "new_tensor")} | {
    getattr(torch, n) for n in ("zeros_like", "ones_like", "full_like", "empty_like")}


@dataclass
class ResamplingSite:
    """One up- or downsampling operation as it ran.

    ``kind`` is one of ``conv_transpose``, ``resize_conv`` (checkerfree's fused nearest
    resize-convolution), ``held_conv_transpose`` (one followed by a zero-order hold),
    ``subpixel`` (a convolution feeding a pixel shuffle or a depth-to-space),
    ``pixel_shuffle`` (without a convolution in front), ``depth_to_space`` (by reshape and
    permute, or ``fold``), ``max_unpool``, ``interpolate``, ``grid_sample``, ``upsample`` (a
    module that upsamples by means not seen), ``strided_conv``, ``pool``, ``pixel_unshuffle``,
    ``strided_slice`` (``x[..., ::s, ::s]``) or ``space_to_depth`` (a patch embedding by
    reshape and permute, or ``unfold``); ``direction`` is ``up`` or ``down``. ``stride`` is
    the resampling factor per axis (for interpolation the scale factor). ``spatial_axes`` are
    the resampled tensor's spatial axes when they are not ``2..`` (channels-last tensors).

    ``uneven`` is the static verdict: the geometry overlaps unevenly, the weights' phase
    sums differ (``phase_imbalance``) or the phases' biases differ (``bias_imbalance``). When
    a fixed linear filter follows the site before any nonlinearity (``followed_by`` says
    which), the composed upsampler's ``composed_imbalance`` and ``composed_bias_imbalance``
    decide instead.
    """

    name: str
    kind: str
    direction: str
    dims: int
    stride: tuple[int, ...]
    kernel: tuple[int, ...] | None = None
    padding: tuple[int, ...] | None = None
    dilation: tuple[int, ...] | None = None
    output_padding: tuple[int, ...] | None = None
    groups: int = 1
    mode: str | None = None
    module_type: str | None = None
    input_shape: tuple[int, ...] = ()
    output_shape: tuple[int, ...] = ()
    overlap: OverlapResult | None = field(default=None, repr=False)
    phase_imbalance: float | None = None
    uneven: bool = False
    reason: str = ""
    weight: torch.Tensor | None = field(default=None, repr=False)
    #: qualified name of the module whose output is the resampled tensor (for ablation);
    #: None when the operation is a bare functional call that no submodule wraps alone.
    output_module: str | None = None
    #: spread of the per-phase biases (:func:`checkerfree.audit.fixed_filter.bias_imbalance`);
    #: None where the site has no phases of its own to bias.
    bias_imbalance: float | None = None
    #: the fixed linear filter that follows the site, in words; None if there is none.
    followed_by: str | None = None
    composed_imbalance: float | None = None
    composed_bias_imbalance: float | None = None
    spatial_axes: tuple[int, ...] | None = None
    #: per-phase bias ``(out, *stride)``, kept for composing with a filter found later.
    phase_bias: torch.Tensor | None = field(default=None, repr=False)

    def to_dict(self) -> dict:
        """JSON-ready fields (no tensors)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "direction": self.direction,
            "module_type": self.module_type,
            "dims": self.dims,
            "kernel": list(self.kernel) if self.kernel else None,
            "stride": list(self.stride),
            "padding": list(self.padding) if self.padding else None,
            "dilation": list(self.dilation) if self.dilation else None,
            "groups": self.groups,
            "mode": self.mode,
            "input_shape": list(self.input_shape),
            "output_shape": list(self.output_shape),
            "overlap_ratio": None if self.overlap is None else self.overlap.ratio,
            "overlap_period": None if self.overlap is None else list(self.overlap.period),
            "phase_imbalance": self.phase_imbalance,
            "bias_imbalance": self.bias_imbalance,
            "followed_by": self.followed_by,
            "composed_imbalance": self.composed_imbalance,
            "composed_bias_imbalance": self.composed_bias_imbalance,
            "spatial_axes": list(self.spatial_axes) if self.spatial_axes else None,
            "uneven": self.uneven,
            "reason": self.reason,
        }


def _tuple(v, dims: int) -> tuple[int, ...]:
    if isinstance(v, (list, tuple)):
        return tuple(int(x) for x in v) if len(v) == dims else (int(v[0]),) * dims
    return (int(v),) * dims


def _tensors(values):
    for v in values:
        if isinstance(v, torch.Tensor):
            yield v
        elif isinstance(v, (list, tuple)):
            yield from (e for e in v if isinstance(e, torch.Tensor))


class _Ref:
    """A tensor remembered by identity without keeping it alive."""

    __slots__ = ("ref", "value")

    def __init__(self, t: torch.Tensor, value):
        self.ref, self.value = weakref.ref(t), value


class _Ids(dict):
    """``id(tensor) -> value`` that ignores entries whose tensor has died (ids are reused)."""

    def put(self, t: torch.Tensor, value=True) -> None:
        self[id(t)] = _Ref(t, value)

    def find(self, t, default=None):
        e = self.get(id(t)) if isinstance(t, torch.Tensor) else None
        return e.value if e is not None and e.ref() is t else default


@dataclass
class _Chain:
    """Layout operations applied to ``root`` so far (see :mod:`~checkerfree.audit.rearrange`)."""

    root_shape: tuple
    producer: tuple | None
    steps: list
    reorders: bool = False
    matched: bool = False


@dataclass
class _Tail:
    """Fixed linear operations applied to an up site's output so far."""

    site: ResamplingSite
    shape: tuple
    dtype: torch.dtype
    device: torch.device
    current: weakref.ref
    steps: list = field(default_factory=list)
    filters: list = field(default_factory=list)
    earlier: list = field(default_factory=list)  # the tensors before ``current``


class _Recorder(TorchFunctionMode):
    def __init__(self, names: dict[int, str]):
        super().__init__()
        self.names = names
        self.stack: list[nn.Module] = []
        self.sites: list[ResamplingSite] = []
        # Convolution and linear outputs: a pixel shuffle or depth-to-space applied to one of
        # exactly these tensors is a sub-pixel convolution.
        self.producers = _Ids()
        # Per module run: (name, type, input shape, output shape, last conv inside it, out
        # features of the last linear inside it), for upsamplers no functional call reveals.
        self.runs: list[tuple] = []
        self.conv_inside: dict[int, tuple] = {}
        self.linear_inside: dict[int, int] = {}
        self.covered: set[str] = set()  # modules whose resampling a site already describes
        self.derived = _Ids()  # tensors computed from parameters or inputs: not fixed
        self.data = _Ids()  # tensors computed from the inputs
        self.chains = _Ids()
        self.tails: list[_Tail] = []
        self.slices = _Ids()

    def _where(self) -> tuple[str, str | None]:
        if not self.stack:
            return "<functional>", None
        m = self.stack[-1]
        return self.names.get(id(m), "<unnamed>"), type(m).__name__

    def is_fixed(self, t: torch.Tensor) -> bool:
        """Not a parameter and not computed from one or from the input: a constant kernel."""
        return not isinstance(t, nn.Parameter) and not self.derived.find(t, False)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        before = len(self.sites)
        try:
            self._observe(func, args, kwargs, out)
        except Exception:  # pragma: no cover - never break the user's forward pass
            pass
        where = self._where()[0]
        for site in self.sites[before:]:
            if site.output_module is None and where != "<functional>":
                site.output_module = where
        return out

    def _observe(self, func, args, kwargs, out) -> None:
        ins = list(_tensors(args)) + list(_tensors(kwargs.values()))
        outs = [out] if isinstance(out, torch.Tensor) else list(
            _tensors(out if isinstance(out, (tuple, list)) else ()))
        if not outs:
            return
        if func not in _FACTORY_METHODS:
            # Provenance: a kernel computed from neither a parameter nor the input is fixed;
            # only tensors computed from the input are looked at as data.
            if any(isinstance(t, nn.Parameter) or self.derived.find(t, False) for t in ins):
                for t in outs:
                    self.derived.put(t)
            if func in _RANDOM or any(self.data.find(t, False) for t in ins):
                for t in outs:
                    self.data.put(t)
        result = outs[0]  # pools and unpools with indices return (values, indices)
        if not isinstance(out, torch.Tensor) and func not in _POOL and func not in _ADAPTIVE:
            return
        self._follow_tails(func, args, kwargs, ins, result)
        x = args[0] if args else kwargs.get("input")
        if func is torch.einsum and len(ins) == 1:
            x = ins[0]  # einsum(equation, tensor)
        if isinstance(x, torch.Tensor) and self.data.find(x, False) and \
                self._follow_chain(func, args, kwargs, x, result):
            return
        name, mtype = self._where()
        shape_in = tuple(x.shape) if isinstance(x, torch.Tensor) else ()
        shape_out = tuple(result.shape)
        params = _bind(func, args, kwargs)
        if func in _CONV_T:
            self._conv_transpose(func, params, name, mtype, shape_in, result)
        elif func in _CONV:
            self._conv(func, params, name, mtype, shape_in, result)
        elif func in _LINEAR:
            w = params["weight"]
            self.producers.put(result, ("linear", name, w, params.get("bias"), mtype))
            for m in self.stack:
                self.linear_inside[id(m)] = int(w.shape[0])
        elif func in _SHUFFLE:
            self._shuffle(params, x, name, mtype, shape_in, result)
        elif func in _UNSHUFFLE:
            s = int(params.get("downscale_factor", 1))
            if s > 1:
                self.sites.append(ResamplingSite(
                    name=name, kind="pixel_unshuffle", direction="down", dims=2, stride=(s, s),
                    module_type=mtype, input_shape=shape_in, output_shape=shape_out,
                    reason=f"pixel unshuffle by {s}: each {s}x{s} block goes to channels, so "
                           "its input gradient is a pixel shuffle of the next layer's"))
        elif func is F.interpolate:
            self._resize(x, result, "interpolate", params.get("mode", "nearest"), name, mtype)
        elif func is F.grid_sample:
            self._resize(x, result, "grid_sample", params.get("mode", "bilinear"), name, mtype)
        elif func in _POOL:
            self._pool(func, params, name, mtype, shape_in, shape_out)
        elif func in _ADAPTIVE:
            self._adaptive(func, name, mtype, shape_in, shape_out)
        elif func in _UNPOOL:
            self._unpool(func, params, name, mtype, shape_in, shape_out)
        elif func is torch.Tensor.__getitem__ and len(args) == 2:
            self._slice(x, args[1], name, mtype, shape_out)
        elif func in (F.unfold, F.fold):
            self._fold(func, params, name, mtype, shape_in, shape_out)

    # -- transposed, strided and sub-pixel convolutions -------------------------------------

    def _conv(self, func, params, name, mtype, shape_in, out) -> None:
        dims = _CONV[func]
        stride = _tuple(params.get("stride", 1), dims)
        w = params["weight"]
        padding = params.get("padding", 0)
        padding = (0,) * dims if isinstance(padding, str) else _tuple(padding, dims)
        dilation = _tuple(params.get("dilation", 1), dims)
        groups = int(params.get("groups", 1))
        info = ("conv", name, w, params.get("bias"), padding, mtype, (dilation, groups))
        self.producers.put(out, info)
        for m in self.stack:
            self.conv_inside[id(m)] = info[1:]
        if any(s > 1 for s in stride):
            self.sites.append(ResamplingSite(
                name=name, kind="strided_conv", direction="down", dims=dims, stride=stride,
                kernel=tuple(w.shape[2:]), dilation=dilation, groups=groups, module_type=mtype,
                input_shape=shape_in, output_shape=tuple(out.shape), weight=w.detach(),
                reason="its input gradient is a transposed convolution of stride "
                       f"{max(stride)}"))

    def _conv_transpose(self, func, params, name, mtype, shape_in, out) -> None:
        dims = _CONV_T[func]
        shape_out = tuple(out.shape)
        w = params["weight"]
        stride = _tuple(params.get("stride", 1), dims)
        if all(s == 1 for s in stride):
            # One phase, no checkerboard (a generator's 1x1 -> 4x4 projection, say).
            self.covered.add(name)
            return
        kernel = tuple(w.shape[2:])
        padding = _tuple(params.get("padding", 0), dims)
        op = _tuple(params.get("output_padding", 0), dims)
        dilation = _tuple(params.get("dilation", 1), dims)
        groups = int(params.get("groups", 1))
        geo = overlap([(kernel, stride, padding, op, dilation)], dims=dims)
        imb = phase_imbalance(w.detach(), stride, dilation=dilation, groups=groups)
        # ResizeConv's fused path is a transposed convolution with a tied kernel; a held
        # transposed convolution is followed by a box of its stride, which equalises phases.
        kind = "resize_conv" if (mtype or "").startswith("ResizeConv") else "conv_transpose"
        if (mtype or "").startswith("HeldConvTranspose"):
            site = ResamplingSite(
                name=name, kind="held_conv_transpose", direction="up", dims=dims,
                stride=stride, kernel=kernel, padding=padding, dilation=dilation,
                output_padding=op, groups=groups, module_type=mtype, input_shape=shape_in,
                output_shape=shape_out, overlap=geo, phase_imbalance=0.0, weight=w.detach(),
                reason="followed by a zero-order hold of its stride: equal phase sums")
            self.sites.append(site)
            return
        if kind == "resize_conv" and self.stack:
            kernel = tuple(self.stack[-1].kernel_size)  # show the conv's, judge the tied one
        site = ResamplingSite(
            name=name, kind=kind, direction="up", dims=dims, stride=stride,
            kernel=kernel, padding=padding, dilation=dilation, output_padding=op, groups=groups,
            module_type=mtype, input_shape=shape_in, output_shape=shape_out, overlap=geo,
            phase_imbalance=imb, weight=w.detach(), bias_imbalance=0.0)
        _judge(site)
        self.sites.append(site)
        if kind == "conv_transpose":
            self._start_tail(site, out)

    def _subpixel(self, producer, scale: tuple, shape_in, out, via: str,
                  order: torch.Tensor | None = None) -> ResamplingSite:
        """A sub-pixel site from the convolution (or linear) that made the shuffled tensor."""
        dims = len(scale)
        if producer[0] == "linear":
            _, conv_name, w, bias, conv_type = producer
            w = w.reshape(*w.shape, *([1] * dims))
            padding, dilation, groups = (0,) * dims, 1, 1
        else:
            _, conv_name, w, bias, padding, conv_type, (dilation, groups) = producer
        w = w.detach()
        if order is not None:
            w = w[order]
        out_ch = w.shape[0] // math.prod(scale)
        tw = subpixel_transposed_weight(w, scale, dilation=dilation, groups=groups)
        k = tuple(w.shape[2:])
        pb = ff.phase_bias(bias, out_ch, scale, dims, order=order)
        site = ResamplingSite(
            name=conv_name, kind="subpixel", direction="up", dims=dims, stride=tuple(scale),
            kernel=k, padding=padding, module_type=f"{conv_type}+{via}", input_shape=shape_in,
            output_shape=tuple(out.shape), phase_imbalance=phase_imbalance(tw, scale),
            overlap=overlap([(tuple(f * ka for f, ka in zip(scale, k)), scale)], dims=dims),
            weight=tw, phase_bias=pb, groups=groups,
            bias_imbalance=ff.bias_imbalance(pb, phase_sums(tw, scale)))
        _judge(site)
        return site

    def _shuffle(self, params, x, name, mtype, shape_in, out) -> None:
        scale = int(params.get("upscale_factor", 1))
        if scale <= 1:
            return
        producer = self.producers.find(x)
        if producer is None:
            self.sites.append(ResamplingSite(
                name=name, kind="pixel_shuffle", direction="up", dims=2, stride=(scale, scale),
                module_type=mtype, input_shape=shape_in, output_shape=tuple(out.shape),
                reason="pixel shuffle without a convolution directly in front: not judged"))
            return
        self.covered.add(name)
        site = self._subpixel(producer, (scale, scale), shape_in, out, "PixelShuffle")
        site.output_module = name
        self.sites.append(site)
        self._start_tail(site, out)

    # -- rearrangements by reshape and permute ----------------------------------------------

    def _follow_chain(self, func, args, kwargs, x, out) -> bool:
        step = layout_step(func, args, kwargs, x)
        if step is None:
            return False
        if func in _KEEPS and tuple(out.shape) == tuple(x.shape):
            producer = self.producers.find(x)
            if producer is not None:
                self.producers.put(out, producer)  # a copy of a conv output is one still
        chain = self.chains.find(x)
        if chain is None:
            chain = _Chain(tuple(x.shape), self.producers.find(x), [])
        moves = func in REORDERING and (chain.reorders or reorders(step, tuple(x.shape)))
        new = _Chain(chain.root_shape, chain.producer, chain.steps + [step],
                     chain.reorders or moves, chain.matched)
        self.chains.put(out, new)
        if not new.reorders or new.matched or not 3 <= out.dim() <= 5:
            return True  # the 6- to 8-axis middles of a 2-D or 3-D shuffle are never the end
        steps = new.steps

        def run(t):
            for f in steps:
                t = f(t)
            return t

        hint = None if new.producer is None else (1 if new.producer[0] == "conv" else -1)
        found = classify(new.root_shape, tuple(out.shape), run, hint)
        if found is None:
            return True
        new.matched = True
        name, mtype = self._where()
        r, root = found, new.root_shape
        hi_shape = root if r.kind == "space_to_depth" else tuple(out.shape)
        axes = None if r.spatial_axes == tuple(range(2, len(hi_shape))) else r.spatial_axes
        dims = len(r.factor)
        producer = new.producer
        foldable = (r.kind == "depth_to_space" and r.raster and r.channels is not None
                    and producer is not None
                    and ((producer[0] == "conv" and r.low_channel_axis == 1
                          and len(root) == dims + 2)
                         or (producer[0] == "linear" and r.low_channel_axis == len(root) - 1)))
        if foldable:
            site = self._subpixel(producer, r.factor, root, out, "depth_to_space", r.channels)
            site.spatial_axes = axes
            self.sites.append(site)
            self._start_tail(site, out)
            return True
        s = "x".join(map(str, r.factor))
        if r.kind == "space_to_depth":
            why = (f"moves each {s} block into channels by reshape and permute (a patch "
                   "embedding): the next layer sees every position's phase")
        else:
            why = (f"spreads channels over {s} blocks by reshape and permute (an unpatchify) "
                   "after an operation not read as a convolution: not judged")
        self.sites.append(ResamplingSite(
            name=name, kind=r.kind, direction="down" if r.kind == "space_to_depth" else "up",
            dims=dims, stride=r.factor, module_type=mtype, input_shape=root,
            output_shape=tuple(out.shape), spatial_axes=axes, reason=why))
        return True

    def _slice(self, x, index, name, mtype, shape_out) -> None:
        steps = _slice_steps(index, x.dim())
        if steps is None or not self.data.find(x, False):
            return  # slicing a weight is not resampling the data
        sliced = {a: (st, off) for a, (st, off) in steps.items() if st > 1 and a > 0}
        if not sliced or set(sliced) == {1}:
            return  # a step on axis 1 alone is read as a channel split
        nd = x.dim()
        channels_last = 1 in sliced and nd - 1 not in sliced
        axes = tuple(range(1, nd - 1)) if channels_last else tuple(range(2, nd))
        stride = tuple(sliced.get(a, (1, 0))[0] for a in axes)
        phase = tuple(sliced.get(a, (1, 0))[1] for a in axes)
        key = self.slices.find(x)
        if key is not None and key[0].name == name and key[0].stride == stride:
            site, phases = key
            phases.add(phase)
        else:
            phases = {phase}
            site = ResamplingSite(
                name=name, kind="strided_slice", direction="down", dims=len(axes),
                stride=stride, module_type=mtype, input_shape=tuple(x.shape),
                output_shape=shape_out, spatial_axes=None if not channels_last else axes)
            self.slices.put(x, (site, phases))
            self.sites.append(site)
        total = math.prod(stride)
        s = "x".join(map(str, stride))
        site.reason = (f"strided slicing keeps one position in {total} ({s}); "
                       + ("all phases are taken apart (a space-to-depth)" if len(phases) == total
                          else f"{len(phases)} of {total} phases taken"))

    # -- interpolation, pooling, unpooling, fold ---------------------------------------------

    def _resize(self, x, out, kind, mode, name, mtype) -> None:
        dims = x.dim() - 2
        scale = [o / i for o, i in zip(out.shape[2:], x.shape[2:]) if i > 0]
        if not scale or all(s == 1 for s in scale):
            return  # a warp at the same size does not resample
        direction = "up" if all(s >= 1 for s in scale) else "down"
        stride = tuple(max(1, round(s)) if s >= 1 else round(1 / s) for s in scale)
        why = (f"{mode} resize has equal phases (no weights)" if kind == "interpolate"
               else f"{mode} sampling on a given grid: not judged")
        self.sites.append(ResamplingSite(
            name=name, kind=kind, direction=direction, dims=dims, stride=stride, mode=mode,
            module_type=mtype, input_shape=tuple(x.shape), output_shape=tuple(out.shape),
            reason=why))

    def _pool(self, func, params, name, mtype, shape_in, shape_out) -> None:
        kind, dims = _POOL[func]
        ks = params.get("kernel_size")
        stride = params.get("stride") or ks
        if all(v == 1 for v in _tuple(stride, dims)):
            return  # a stride-1 pool filters, it does not resample
        indices = func in (F.max_pool1d_with_indices, F.max_pool2d_with_indices,
                           F.max_pool3d_with_indices)
        self.sites.append(ResamplingSite(
            name=name, kind="pool", direction="down", dims=dims,
            stride=_tuple(stride, dims), kernel=_tuple(ks, dims), mode=kind,
            module_type=mtype, input_shape=shape_in, output_shape=shape_out,
            reason=f"{kind} pooling" + (" (indices kept for unpooling)" if indices else "")))

    def _adaptive(self, func, name, mtype, shape_in, shape_out) -> None:
        i, o = shape_in[2:], shape_out[2:]
        if not o or all(n == 1 for n in o) or all(a <= b for a, b in zip(i, o)):
            return  # global pooling leaves no lattice; same size or larger is no downsampling
        stride = tuple(max(1, round(a / b)) for a, b in zip(i, o))
        exact = all(a % b == 0 for a, b in zip(i, o))
        mode = _ADAPTIVE[func]
        self.sites.append(ResamplingSite(
            name=name, kind="pool", direction="down", dims=len(o), stride=stride,
            kernel=stride if exact else None, mode=mode, module_type=mtype,
            input_shape=shape_in, output_shape=shape_out,
            reason=f"adaptive {mode} pooling" + ("" if exact else " (windows of varying size)")))

    def _unpool(self, func, params, name, mtype, shape_in, shape_out) -> None:
        stride = tuple(max(1, o // i) for i, o in zip(shape_in[2:], shape_out[2:]))
        self.sites.append(ResamplingSite(
            name=name, kind="max_unpool", direction="up", dims=len(stride), stride=stride,
            kernel=_tuple(params.get("kernel_size", stride), len(stride)), mode="max",
            module_type=mtype, input_shape=shape_in, output_shape=shape_out, uneven=True,
            reason="max unpooling writes one position per window and zeros elsewhere: holes "
                   "(a constant input comes out as a sparse pattern)"))

    def _fold(self, func, params, name, mtype, shape_in, shape_out) -> None:
        ks = params.get("kernel_size")
        stride = params.get("stride", 1)
        dims = len(ks) if isinstance(ks, (tuple, list)) else 2
        stride, ks = _tuple(stride, dims), _tuple(ks, dims)
        if all(s == 1 for s in stride):
            return
        if func is F.unfold:
            self.sites.append(ResamplingSite(
                name=name, kind="space_to_depth", direction="down", dims=dims, stride=stride,
                kernel=ks, module_type=mtype, input_shape=shape_in, output_shape=shape_out,
                reason=f"unfold takes {'x'.join(map(str, ks))} patches at stride "
                       f"{'x'.join(map(str, stride))} into channels"))
            return
        geo = overlap([(ks, stride)], dims=dims)
        site = ResamplingSite(
            name=name, kind="depth_to_space", direction="up", dims=dims, stride=stride,
            kernel=ks, module_type=mtype, input_shape=shape_in, output_shape=shape_out,
            overlap=geo)
        _judge(site)
        if not site.uneven:
            site.reason = "fold places patches edge to edge: no weights here, not judged"
        self.sites.append(site)

    # -- fixed filters after an up site ------------------------------------------------------

    def _start_tail(self, site: ResamplingSite, out: torch.Tensor) -> None:
        self.tails.append(_Tail(site, tuple(out.shape), out.dtype, out.device,
                                weakref.ref(out)))

    def _follow_tails(self, func, args, kwargs, ins, out) -> None:
        for tail in list(self.tails):
            cur = tail.current()
            if cur is None:
                self.tails.remove(tail)
                self.finish(tail)
                continue
            if any(t is e() and t is not cur for t in ins for e in tail.earlier):
                # The site's output also feeds another branch: the filter is not the only
                # way out of the site, so it is judged alone.
                self.tails.remove(tail)
                continue
            if not any(t is cur for t in ins):
                continue
            step = ff.tail_step(func, args, kwargs, cur, self.is_fixed)
            if step is None:
                self.tails.remove(tail)
                self.finish(tail)
                continue
            tail.steps.append(step)
            if func in ff.FILTERS:
                tail.filters.append(func.__name__)
            if out is not cur:  # ``x.to(x.device)`` returns ``x`` itself
                tail.earlier.append(tail.current)
                tail.current = weakref.ref(out)

    def finish(self, tail: _Tail) -> None:
        """Compose the site with the fixed filter after it (if any) and judge it again."""
        site = tail.site
        if not tail.filters:
            return  # layout, padding and scaling alone filter nothing
        with torch.no_grad():
            h = ff.impulse_response(ff.replay(tail.steps), tail.shape, dtype=tail.dtype,
                                    device=tail.device)
            if h is None or site.weight is None:
                return
            dense = ff.dense_transposed(site.weight.to(torch.float64).cpu(),
                                        site.dilation or 1, site.groups)
            if h.shape[1] != dense.shape[1]:
                return
            composed = ff.compose(dense, h)
            site.composed_imbalance = phase_imbalance(composed, site.stride)
            pb = site.phase_bias if site.phase_bias is not None else ff.phase_bias(
                None, dense.shape[1], site.stride, site.dims)
            site.composed_bias_imbalance = ff.bias_imbalance(
                ff.compose_bias(pb, h), phase_sums(composed, site.stride))
        taps = "x".join(map(str, h.shape[2:]))
        site.followed_by = f"{'+'.join(dict.fromkeys(tail.filters))}, {taps} taps, fixed"
        _judge(site)


def _slice_steps(index, ndim: int) -> dict[int, tuple[int, int]] | None:
    """``axis -> (step, start)`` of a basic index, or None for advanced indexing."""
    items = index if isinstance(index, tuple) else (index,)
    if any(not (i is None or i is Ellipsis or isinstance(i, (int, slice))) or isinstance(i, bool)
           for i in items):
        return None
    consuming = sum(1 for i in items if i is not None and i is not Ellipsis)
    out, axis = {}, 0
    for i in items:
        if i is None:
            continue
        if i is Ellipsis:
            axis += ndim - consuming
            continue
        if isinstance(i, slice):
            step = 1 if i.step is None else int(i.step)
            if step < 1:
                return None
            out[axis] = (step, 0 if i.start is None else int(i.start) % max(step, 1))
        axis += 1
    return out


def _judge(site: ResamplingSite) -> None:
    geo, imb, bias = site.overlap, site.phase_imbalance, site.bias_imbalance
    s = "x".join(map(str, site.stride))
    reasons, uneven = [], False
    if geo is not None and geo.uneven:
        uneven = True
        reasons.append(geo.explanation.replace("layer 1 ", ""))
    elif imb is not None and imb > IMBALANCE_TOLERANCE:
        uneven = True
        reasons.append(f"even overlap, but the weights' {s} phase sums differ "
                       f"(phase imbalance {imb:.3g})")
    if bias is not None and bias > BIAS_TOLERANCE:
        uneven = True
        reasons.append(f"its {s} phases' biases differ (bias imbalance {bias:.3g}): a "
                       "constant input comes out patterned")
    text = "; ".join(reasons) or "even overlap and balanced phase sums"
    if site.followed_by is None:
        site.uneven, site.reason = uneven, text
        return
    ci, cb = site.composed_imbalance or 0.0, site.composed_bias_imbalance or 0.0
    numbers = f"composed phase imbalance {ci:.3g}, bias imbalance {cb:.3g}"
    if ci > IMBALANCE_TOLERANCE or cb > BIAS_TOLERANCE:
        site.uneven = True
        site.reason = (f"{text}; the fixed filter after it ({site.followed_by}) leaves the "
                       f"phases uneven ({numbers})")
    else:
        site.uneven = False
        site.reason = (f"{text}; but the fixed filter after it ({site.followed_by}) evens "
                       f"its phases ({numbers}): a constant input gives a constant output"
                       if uneven else f"{text}, and so is it with the fixed filter after it "
                       f"({site.followed_by})")


def _bind(func, args, kwargs) -> dict:
    """Arguments by name for the functional ops we watch (their signatures are stable)."""
    names = {
        **{f: ("input", "weight", "bias", "stride", "padding", "output_padding", "groups",
               "dilation") for f in _CONV_T},
        **{f: ("input", "weight", "bias", "stride", "padding", "dilation", "groups")
           for f in _CONV},
        **{f: ("input", "weight", "bias") for f in _LINEAR},
        **{f: ("input", "upscale_factor") for f in _SHUFFLE},
        **{f: ("input", "downscale_factor") for f in _UNSHUFFLE},
        F.interpolate: ("input", "size", "scale_factor", "mode", "align_corners"),
        F.grid_sample: ("input", "grid", "mode"),
        **{f: ("input", "kernel_size", "stride", "padding") for f in _POOL},
        F.lp_pool1d: ("input", "norm_type", "kernel_size", "stride"),
        F.lp_pool2d: ("input", "norm_type", "kernel_size", "stride"),
        F.lp_pool3d: ("input", "norm_type", "kernel_size", "stride"),
        **{f: ("input", "indices", "kernel_size", "stride") for f in _UNPOOL},
        F.unfold: ("input", "kernel_size", "dilation", "padding", "stride"),
        F.fold: ("input", "output_size", "kernel_size", "dilation", "padding", "stride"),
    }.get(func, ())
    bound = dict(zip(names, args))
    bound.update(kwargs)
    return bound


@contextlib.contextmanager
def _module_stack(model: nn.Module, recorder: _Recorder):
    handles = []

    def pre(m, _inputs):
        recorder.stack.append(m)
        recorder.conv_inside.pop(id(m), None)
        recorder.linear_inside.pop(id(m), None)

    def post(m, inputs, output):
        if recorder.stack and recorder.stack[-1] is m:
            recorder.stack.pop()
        x = inputs[0] if inputs else None
        if isinstance(x, torch.Tensor) and isinstance(output, torch.Tensor):
            recorder.runs.append((recorder.names.get(id(m), "<unnamed>"), type(m).__name__,
                                  tuple(x.shape), tuple(output.shape),
                                  recorder.conv_inside.get(id(m)),
                                  recorder.linear_inside.get(id(m))))

    try:
        for m in model.modules():
            handles.append(m.register_forward_pre_hook(pre))
            handles.append(m.register_forward_hook(post, always_call=True))
        yield
    finally:
        for h in handles:
            h.remove()


def find_resampling(model: nn.Module, example_input, **forward_kwargs) -> list[ResamplingSite]:
    """Run ``model`` once (no gradients) and list its resampling operations in order.

    ``example_input`` is a tensor or a tuple of positional inputs. The model's train/eval
    mode is left as it is; hooks are always removed.
    """
    if not isinstance(model, nn.Module):
        raise InvalidTypeError(f"model must be an nn.Module, got {type(model).__name__}")
    names = {id(m): n for n, m in model.named_modules()}
    recorder = _Recorder(names)
    inputs = example_input if isinstance(example_input, tuple) else (example_input,)
    for t in _tensors(list(inputs) + list(forward_kwargs.values())):
        recorder.derived.put(t)
        recorder.data.put(t)
    with torch.no_grad(), _module_stack(model, recorder), recorder:
        model(*inputs, **forward_kwargs)
    # Outside the mode: composing replays operations that must not be recorded.
    for tail in recorder.tails:
        try:
            recorder.finish(tail)
        except Exception:  # pragma: no cover - an unreadable filter leaves the bare verdict
            pass
    return recorder.sites + _hidden_upsamplers(recorder)


def _scale(shape_in: tuple, shape_out: tuple) -> int | None:
    """The common integer upscaling factor of the spatial axes, or None."""
    if len(shape_in) != len(shape_out) or len(shape_in) < 3:
        return None
    factors = set()
    for i, o in zip(shape_in[2:], shape_out[2:]):
        if i == 0 or o % i:
            return None
        factors.add(o // i)
    return factors.pop() if len(factors) == 1 and max(factors) > 1 else None


def _hidden_upsamplers(recorder: _Recorder) -> list[ResamplingSite]:
    """Innermost modules that upsample although no watched functional call did it there."""
    found = {s.name for s in recorder.sites} | recorder.covered
    found |= {s.output_module for s in recorder.sites if s.output_module}

    def contains(outer: str, inner: str) -> bool:
        return outer in ("", "<unnamed>") or inner == outer or inner.startswith(outer + ".")

    def channel_mix(run) -> bool:
        # A Linear over the last axis of a token tensor (N, L, C) grows features, not space.
        return len(run[3]) == 3 and run[5] is not None and run[5] == run[3][-1]

    candidates = [r for r in recorder.runs if _scale(r[2], r[3]) and not channel_mix(r)
                  and not any(contains(r[0], f) for f in found)]
    innermost = [r for r in candidates
                 if not any(c is not r and c[0] != r[0] and contains(r[0], c[0])
                            for c in candidates)]
    sites = []
    for name, mtype, shape_in, shape_out, conv, _linear in innermost:
        scale = _scale(shape_in, shape_out)
        dims = len(shape_in) - 2
        if conv is not None and conv[1].shape[0] == shape_out[1] * scale**dims:
            conv_name, w, bias, padding, conv_type, geometry = conv
            site = recorder._subpixel(("conv", conv_name, w, bias, padding, conv_type, geometry),
                                      (scale,) * dims, shape_in,
                                      torch.empty(shape_out, device="meta"), mtype)
            site.output_module = name
        else:
            site = ResamplingSite(
                name=name, kind="upsample", direction="up", dims=dims, stride=(scale,) * dims,
                module_type=mtype, input_shape=shape_in, output_shape=shape_out,
                reason="upsamples by an operation checkerfree cannot see into: not judged",
                output_module=name)
        sites.append(site)
    return sites
