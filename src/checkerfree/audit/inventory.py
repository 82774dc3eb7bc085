"""Inventory of every up- and downsampling operation a model runs, judged statically.

The model is run once on an example input inside a :class:`torch.overrides.TorchFunctionMode`
that sees every functional call, so modules (``nn.ConvTranspose2d``, ``nn.Upsample``,
``nn.PixelShuffle``, strided ``nn.Conv2d``, pooling) and bare functional calls
(``F.interpolate`` inside a diffusers block, ``F.conv_transpose2d`` in custom code) are found
alike, in execution order, each attributed to the innermost module that was running. A
convolution that feeds a pixel shuffle is folded into one sub-pixel site.

Each site is judged from its geometry (:func:`checkerfree.overlap`) and, where it has
weights, from them (:func:`checkerfree.phase_imbalance`): sub-kernels whose sums differ make
a periodic pattern even when the kernel size divides the stride.

>>> import torch.nn as nn
>>> model = nn.Sequential(nn.ConvTranspose2d(4, 2, 3, stride=2), nn.Upsample(scale_factor=2))
>>> [(s.name, s.kind, s.uneven) for s in find_resampling(model, torch.randn(1, 4, 8, 8))]
[('0', 'conv_transpose', True), ('1', 'interpolate', False)]
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from checkerfree.errors import InvalidTypeError
from checkerfree.layers.subpixel import subpixel_transposed_weight
from checkerfree.overlap import OverlapResult, overlap, phase_imbalance

__all__ = ["ResamplingSite", "find_resampling", "subpixel_transposed_weight"]

# Weight imbalance below this is read as balanced: ICNR and trained-balanced kernels sit at
# ~1e-7 in float32, random kernels at 0.5 to 0.9.
IMBALANCE_TOLERANCE = 1e-3

_CONV = {torch.conv1d: 1, torch.conv2d: 2, torch.conv3d: 3,
         F.conv1d: 1, F.conv2d: 2, F.conv3d: 3}
_CONV_T = {torch.conv_transpose1d: 1, torch.conv_transpose2d: 2, torch.conv_transpose3d: 3,
           F.conv_transpose1d: 1, F.conv_transpose2d: 2, F.conv_transpose3d: 3}
_POOL = {F.max_pool1d: ("max", 1), F.max_pool2d: ("max", 2), F.max_pool3d: ("max", 3),
         F.avg_pool1d: ("avg", 1), F.avg_pool2d: ("avg", 2), F.avg_pool3d: ("avg", 3),
         torch.max_pool1d: ("max", 1), torch.max_pool2d: ("max", 2),
         torch.max_pool3d: ("max", 3), torch.avg_pool1d: ("avg", 1),
         torch._C._nn.avg_pool2d: ("avg", 2), torch._C._nn.avg_pool3d: ("avg", 3)}
_SHUFFLE = {torch.pixel_shuffle, F.pixel_shuffle}
_UNSHUFFLE = {torch.pixel_unshuffle, F.pixel_unshuffle}


@dataclass
class ResamplingSite:
    """One up- or downsampling operation as it ran.

    ``kind`` is one of ``conv_transpose``, ``resize_conv`` (checkerfree's fused nearest
    resize-convolution), ``held_conv_transpose`` (one followed by a zero-order hold),
    ``subpixel`` (a convolution feeding a pixel
    shuffle), ``pixel_shuffle`` (without a convolution in front), ``interpolate``,
    ``strided_conv`` or ``pool``; ``direction`` is ``up`` or ``down``. ``stride`` is the
    resampling factor per axis (for interpolation the scale factor). ``uneven`` is the static
    verdict: the geometry overlaps unevenly, or the weights' phase sums differ.
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
            "uneven": self.uneven,
            "reason": self.reason,
        }


def _tuple(v, dims: int) -> tuple[int, ...]:
    if isinstance(v, (list, tuple)):
        return tuple(int(x) for x in v) if len(v) == dims else (int(v[0]),) * dims
    return (int(v),) * dims


class _Recorder(TorchFunctionMode):
    def __init__(self, names: dict[int, str]):
        super().__init__()
        self.names = names
        self.stack: list[nn.Module] = []
        self.sites: list[ResamplingSite] = []
        # The latest convolution's output (kept alive so identity is reliable) and details:
        # a pixel shuffle applied to exactly that tensor is a sub-pixel convolution.
        self.last_conv: tuple | None = None
        # Per module run: (name, type, input shape, output shape, last conv inside it), for
        # upsamplers that no functional call reveals (e.g. a pixel shuffle by reshape).
        self.runs: list[tuple[str, str, tuple, tuple, tuple | None]] = []
        self.conv_inside: dict[int, tuple] = {}
        self.covered: set[str] = set()  # modules whose resampling a site already describes

    def _where(self) -> tuple[str, str | None]:
        if not self.stack:
            return "<functional>", None
        m = self.stack[-1]
        return self.names.get(id(m), "<unnamed>"), type(m).__name__

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
        if not isinstance(out, torch.Tensor):
            return
        name, mtype = self._where()
        x = args[0] if args else kwargs.get("input")
        shape_in = tuple(x.shape) if isinstance(x, torch.Tensor) else ()
        params = _bind(func, args, kwargs)
        if func in _CONV_T:
            self._conv_transpose(func, params, name, mtype, shape_in, tuple(out.shape))
        elif func in _CONV:
            dims = _CONV[func]
            stride = _tuple(params.get("stride", 1), dims)
            w = params["weight"]
            padding = params.get("padding", 0)
            padding = (0,) * dims if isinstance(padding, str) else _tuple(padding, dims)
            geometry = (_tuple(params.get("dilation", 1), dims), int(params.get("groups", 1)))
            self.last_conv = (out, name, w, padding, mtype, geometry)
            for m in self.stack:
                self.conv_inside[id(m)] = (name, w, padding, mtype, geometry)
            if any(s > 1 for s in stride):
                self.sites.append(ResamplingSite(
                    name=name, kind="strided_conv", direction="down", dims=dims, stride=stride,
                    kernel=tuple(w.shape[2:]), dilation=_tuple(params.get("dilation", 1), dims),
                    groups=int(params.get("groups", 1)), module_type=mtype,
                    input_shape=shape_in, output_shape=tuple(out.shape), weight=w.detach(),
                    reason="its input gradient is a transposed convolution of stride "
                           f"{max(stride)}"))
        elif func in _SHUFFLE:
            self._shuffle(params, x, name, mtype, shape_in, tuple(out.shape))
        elif func in _UNSHUFFLE:
            factor = int(params.get("downscale_factor", 1))
            if factor > 1:
                self.sites.append(ResamplingSite(
                    name=name, kind="pixel_unshuffle", direction="down", dims=2,
                    stride=(factor, factor), module_type=mtype, input_shape=shape_in,
                    output_shape=tuple(out.shape),
                    reason="its input gradient is a pixel shuffle: each phase gets the "
                           "gradient of its own channels"))
        elif func is F.interpolate:
            dims = x.dim() - 2
            scale = [o / i for o, i in zip(out.shape[2:], x.shape[2:])]
            mode = params.get("mode", "nearest")
            direction = "up" if all(s >= 1 for s in scale) else "down"
            self.sites.append(ResamplingSite(
                name=name, kind="interpolate", direction=direction, dims=dims,
                stride=tuple(int(round(s)) if s >= 1 else int(round(1 / s)) for s in scale),
                mode=mode, module_type=mtype, input_shape=shape_in,
                output_shape=tuple(out.shape),
                reason=f"{mode} resize has equal phases (no weights)"))
        elif func in _POOL:
            kind, dims = _POOL[func]
            ks = params.get("kernel_size")
            stride = params.get("stride") or ks
            if all(v == 1 for v in _tuple(stride, dims)):
                return  # a stride-1 pool filters, it does not resample
            self.sites.append(ResamplingSite(
                name=name, kind="pool", direction="down", dims=dims,
                stride=_tuple(stride, dims), kernel=_tuple(ks, dims), mode=kind,
                module_type=mtype, input_shape=shape_in, output_shape=tuple(out.shape),
                reason=f"{kind} pooling"))

    def _conv_transpose(self, func, params, name, mtype, shape_in, shape_out) -> None:
        dims = _CONV_T[func]
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
            phase_imbalance=imb, weight=w.detach())
        _judge(site)
        self.sites.append(site)

    def _shuffle(self, params, x, name, mtype, shape_in, shape_out) -> None:
        scale = int(params.get("upscale_factor", 1))
        if scale <= 1:
            return
        if self.last_conv is None or self.last_conv[0] is not x:
            self.sites.append(ResamplingSite(
                name=name, kind="pixel_shuffle", direction="up", dims=2, stride=(scale, scale),
                module_type=mtype, input_shape=shape_in, output_shape=shape_out,
                reason="pixel shuffle without a convolution directly in front: not judged"))
            return
        _, conv_name, w, padding, conv_type, (dilation, groups) = self.last_conv
        self.covered.add(name)
        tw = subpixel_transposed_weight(w.detach(), scale, dilation=dilation, groups=groups)
        imb = phase_imbalance(tw, scale)
        k = tuple(w.shape[2:])
        site = ResamplingSite(
            name=conv_name, kind="subpixel", direction="up", dims=2, stride=(scale, scale),
            kernel=k, padding=padding, module_type=f"{conv_type}+PixelShuffle",
            input_shape=shape_in, output_shape=shape_out, phase_imbalance=imb,
            overlap=overlap([(tuple(scale * ka for ka in k), scale)], dims=2), weight=tw,
            output_module=name)
        _judge(site)
        self.sites.append(site)


def _judge(site: ResamplingSite) -> None:
    geo, imb = site.overlap, site.phase_imbalance
    if geo is not None and geo.uneven:
        site.uneven = True
        site.reason = geo.explanation.replace("layer 1 ", "")
    elif imb is not None and imb > IMBALANCE_TOLERANCE:
        site.uneven = True
        site.reason = (f"even overlap, but the weights' {'x'.join(map(str, site.stride))} "
                       f"phase sums differ (phase imbalance {imb:.3g})")
    else:
        site.reason = "even overlap and balanced phase sums"


def _bind(func, args, kwargs) -> dict:
    """Arguments by name for the functional ops we watch (their signatures are stable)."""
    names = {
        **{f: ("input", "weight", "bias", "stride", "padding", "output_padding", "groups",
               "dilation") for f in _CONV_T},
        **{f: ("input", "weight", "bias", "stride", "padding", "dilation", "groups")
           for f in _CONV},
        **{f: ("input", "upscale_factor") for f in _SHUFFLE},
        **{f: ("input", "downscale_factor") for f in _UNSHUFFLE},
        F.interpolate: ("input", "size", "scale_factor", "mode", "align_corners"),
        **{f: ("input", "kernel_size", "stride", "padding") for f in _POOL},
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

    def post(m, inputs, output):
        if recorder.stack and recorder.stack[-1] is m:
            recorder.stack.pop()
        x = inputs[0] if inputs else None
        if isinstance(x, torch.Tensor) and isinstance(output, torch.Tensor):
            recorder.runs.append((recorder.names.get(id(m), "<unnamed>"), type(m).__name__,
                                  tuple(x.shape), tuple(output.shape),
                                  recorder.conv_inside.get(id(m))))

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
    with torch.no_grad(), _module_stack(model, recorder), recorder:
        model(*inputs, **forward_kwargs)
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

    def contains(outer: str, inner: str) -> bool:
        return outer in ("", "<unnamed>") or inner == outer or inner.startswith(outer + ".")

    candidates = [r for r in recorder.runs if _scale(r[2], r[3])
                  and not any(contains(r[0], f) for f in found)]
    innermost = [r for r in candidates
                 if not any(c is not r and c[0] != r[0] and contains(r[0], c[0])
                            for c in candidates)]
    sites = []
    for name, mtype, shape_in, shape_out, conv in innermost:
        scale = _scale(shape_in, shape_out)
        dims = len(shape_in) - 2
        if conv is not None and conv[1].shape[0] == shape_out[1] * scale**dims:
            conv_name, w, padding, conv_type, (dilation, groups) = conv
            tw = subpixel_transposed_weight(w.detach(), scale, dilation=dilation, groups=groups)
            k = tuple(w.shape[2:])
            site = ResamplingSite(
                name=conv_name, kind="subpixel", direction="up", dims=dims,
                stride=(scale,) * dims, kernel=k, padding=padding,
                module_type=f"{conv_type}+{mtype}", input_shape=shape_in,
                output_shape=shape_out, phase_imbalance=phase_imbalance(tw, scale),
                overlap=overlap([(tuple(scale * ka for ka in k), scale)], dims=dims), weight=tw,
                output_module=name)
            _judge(site)
        else:
            site = ResamplingSite(
                name=name, kind="upsample", direction="up", dims=dims, stride=(scale,) * dims,
                module_type=mtype, input_shape=shape_in, output_shape=shape_out,
                reason="upsamples by an operation checkerfree cannot see into: not judged",
                output_module=name)
        sites.append(site)
    return sites
