"""Resize-convolution: upsample (nearest or linear), then convolve (Odena et al., Distill 2016).

``ResizeConv{1,2,3}d`` are ``nn.Conv{1,2,3}d`` whose forward is
``conv(interpolate(x, scale_factor, mode))``; weight, bias, padding, stride, dilation and groups
mean exactly what they mean for that convolution.

Nearest upsampling by ``s`` followed by a ``k``-tap convolution (stride 1, zero padding ``p``
before, dilation ``d``) is one linear operator on the low-resolution input. Per axis, output
phase ``r`` of ``y[s q + r]`` reads ::

    y[s q + r] = sum_j w[j] x[q + floor((r - p + j d) / s)]

so each phase is a small convolution of ``x`` whose taps are sums of the ``w[j]`` that land on
the same input offset. All phases together are one transposed convolution of stride ``s``
with a *tied* kernel ``W[t] = sum_j M[t, j] w[j]`` (``M`` a 0/1 matrix, per axis; the N-D
kernel is the tensor product). For ``s = 2, k = 3, p = 1`` this is ``ConvTranspose(4, 2, 1)``:
16 instead of 36 multiply-adds per low-resolution pixel and channel pair in 2D, and the ``s^d``
times larger upsampled tensor is never made. Each phase's taps are a partition of the ``k``
taps, so every phase sums to ``sum(w)``: equal polyphase sums, the condition for an
artifact-free upsampler (Sugawara et al.).

Six exact forms compute the fused operator (:data:`FORMS`), each one autograd node:
``"transposed"``, the tied kernel (built in one batched product,
:mod:`checkerfree.layers._tied_kernel`) and one ``conv_transpose``
(:mod:`checkerfree.layers._transposed_form`); ``"channels_last"``, the same call on a
channels-last copy of a contiguous input, which skips the copy ``conv_transpose`` makes of its
output on CPU and **returns the output channels-last** (1D: as 2D with a unit axis, strides
``(L C, 1, C)``); ``"phases"``, one convolution to ``out * s^d``
channels with the window every phase fits in (2 taps per axis for ``k = 3, s = 2``), then a
shifted interleave (:mod:`checkerfree.layers._phase_form`); ``"sliced"``, one convolution per
phase written into its slice of one output (:mod:`checkerfree.layers._sliced_phases`);
``"chunked"``, the transposed form by blocks of the batch or of the output channels, which
never holds two output-sized tensors at once; and ``"box"``, ``conv_transpose`` with the
flipped weight itself, then the ``s``-tap box (the nearest upsampler's hold) on every axis:
``k^d`` multiply-adds instead of the tied kernel's ``((k - 1) d + s)^d``
(:mod:`checkerfree.layers._box_form`). All but the box form do the same multiply-adds; which
is fastest depends on the shape and the backend. The transposed form is the default (deterministic);
``benchmark = True`` times all but ``"chunked"`` on the first call per shape and keeps the
fastest, as ``torch.backends.cudnn.benchmark`` does (so with it a contiguous input may get a
channels-last output: same values, other strides); ``form`` forces one (``"chunked"`` only
this way: it is for memory). Without autograd the tied kernel is cached per weight and
version. Figures: ``benchmarks/upsample.py`` and ``docs/performance.md``.

>>> import torch.nn.functional as F
>>> m = ResizeConv2d(3, 4, 3, padding=1, scale_factor=2)
>>> x = torch.randn(1, 3, 5, 5)
>>> ref = F.conv2d(F.interpolate(x, scale_factor=2), m.weight, m.bias, padding=1)
>>> m(x).shape, bool(torch.allclose(m(x), ref, atol=1e-5))
(torch.Size([1, 4, 10, 10]), True)
"""

from __future__ import annotations

import time
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import nn

from checkerfree.errors import InvalidArgumentError
from checkerfree.layers._box_form import box_transposed
from checkerfree.layers._geometry import (
    apply_trim,
    as_scale,
    as_trim,
    check_padding_mode,
    conv_transpose_geometry,
    trim_to_match,
)
from checkerfree.layers._phase_form import phase_form, phase_plan
from checkerfree.layers._sliced_phases import sliced_phases
from checkerfree.layers._tied_kernel import tied_kernel
from checkerfree.layers._transposed_form import (
    Spec,
    channels_last_transposed,
    chunked_transposed,
    fused_transposed,
)

__all__ = [
    "ResizeConv1d",
    "ResizeConv2d",
    "ResizeConv3d",
    "nearest_resize_conv",
    "tied_transposed_kernel",
]

_LINEAR = {1: "linear", 2: "bilinear", 3: "trilinear"}


def _check_mode(mode, dims: int) -> str:
    accepted = ("nearest", "linear", _LINEAR[dims]) if dims > 1 else ("nearest", "linear")
    if mode not in accepted:
        raise InvalidArgumentError(
            f"mode must be one of {accepted} for a {dims}D layer, got {mode!r}"
        )
    return "nearest" if mode == "nearest" else _LINEAR[dims]


@lru_cache(maxsize=512)
def _axis_map(k: int, s: int, d: int, pl: int) -> tuple[tuple[tuple[int, ...], ...], int]:
    """One axis: the 0/1 matrix ``M[t, j]`` and the offset ``P`` with ``y[n] = full[n + P]``.

    Tap ``j`` of phase ``r`` reads input offset ``e = floor((r - pl + j d) / s)``; in a transposed
    convolution (``full[n] = sum_m x[m] W[n - s m]``, ``n = s q + r``, ``m = q + e``) that is
    kernel index ``r - s e``, shifted by ``P`` so that the first used index is 0.
    """
    where = {(r, j): r - s * ((r - pl + j * d) // s) for r in range(s) for j in range(k)}
    t_min = min(where.values())
    rows = [[0] * k for _ in range(max(where.values()) - t_min + 1)]
    for (_r, j), t in where.items():
        rows[t - t_min][j] = 1
    return tuple(map(tuple, rows)), -t_min


@lru_cache(maxsize=512)
def _kron_matrix(kernel: tuple, scale: tuple, dilation: tuple, pad_before: tuple, device,
                 dtype) -> torch.Tensor:
    """``(prod K, prod k)``: the Kronecker product of the axes' ``M``, row-major like the kernels."""
    m = torch.ones(1, 1, dtype=torch.float64)
    for k, s, d, p in zip(kernel, scale, dilation, pad_before, strict=True):
        m = torch.kron(m, torch.tensor(_axis_map(k, s, d, p)[0], dtype=torch.float64))
    return m.to(device=device, dtype=dtype)


def _pad_pairs(padding, kernel, dilation) -> tuple[tuple[int, int], ...]:
    if padding == "valid":
        return tuple((0, 0) for _ in kernel)
    if padding == "same":
        return tuple(
            (d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2)
            for k, d in zip(kernel, dilation, strict=True)
        )
    return tuple((p, p) for p in padding)


def tied_transposed_kernel(weight, scale, padding=0, dilation=1, groups: int = 1):
    """The transposed-convolution kernel ``(in, out/groups, *K)`` equal to nearest-up then conv.

    Differentiable in ``weight`` (a convolution weight ``(out, in/groups, *k)``). Returns the
    kernel and, per axis, the offset ``P`` such that output ``n`` of the resize-convolution is
    output ``n + P`` of ``conv_transpose(x, kernel, stride=scale)`` without padding. ``padding``
    is the zero padding before each axis (an int or one per axis).

    >>> k, offset = tied_transposed_kernel(torch.ones(1, 1, 3, 3), 2, padding=1)
    >>> k.shape, offset
    (torch.Size([1, 1, 4, 4]), (1, 1))
    >>> k[0, 0].tolist()[0]
    [1.0, 2.0, 2.0, 1.0]
    """
    dims = weight.dim() - 2
    s = as_scale(scale, dims, "scale")
    pl = as_scale(padding, dims, "padding", minimum=0)
    dil = as_scale(dilation, dims, "dilation")
    ks = tuple(weight.shape[2:])
    maps = [_axis_map(k, s[a], dil[a], pl[a]) for a, k in enumerate(ks)]
    m = _kron_matrix(ks, s, dil, pl, weight.device, weight.dtype)
    kernel = tied_kernel(weight, m, groups, tuple(len(rows) for rows, _ in maps))
    return kernel, tuple(offset for _, offset in maps)


FORMS = ("transposed", "phases", "sliced", "chunked", "channels_last", "box")

#: Force one of :data:`FORMS` for every fused call (tests, a reproducible run, ``"chunked"``
#: for memory); ``None`` leaves the choice to :data:`benchmark`. A geometry the phase forms do
#: not cover (``s >= 3`` with non-affine phase shifts) runs transposed whatever is forced;
#: so does ``"channels_last"`` on an input already channels-last (``"transposed"`` is then
#: that very call).
form: str | None = None

#: Like ``torch.backends.cudnn.benchmark``: when true, the first fused call for each
#: (shapes, dtype, device, memory format, geometry, autograd or not) times every exact form
#: but ``"chunked"`` (``"channels_last"`` only on a contiguous input)
#: (interleaved rounds after a warm-up, five or more for cheap calls, forward and, when
#: gradients are wanted, backward; the fastest round each) and :data:`choices` keeps another form than the
#: transposed one only where the fastest was at least 10% faster; it then keeps, of the forms
#: within 10% of the fastest, the one of least memory (:data:`_BY_MEMORY`). Off by default:
#: the forms round differently, so a timed choice can change the last bits of a result
#: between runs or machines; off, every call is the transposed form, deterministic.
benchmark: bool = False

#: The forms :data:`benchmark` chose, by call key; clear it to choose again.
choices: dict = {}


def _memory_format(x: torch.Tensor):
    if x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(
            memory_format=torch.channels_last):
        return torch.channels_last
    if x.dim() == 5 and not x.is_contiguous() and x.is_contiguous(
            memory_format=torch.channels_last_3d):
        return torch.channels_last_3d
    return torch.contiguous_format


def _transposed_geometry(x, weight, s, pads, dil, trim):
    """``(conv padding, output padding, crops)`` of the transposed form, or ``None``."""
    dims = len(s)
    kernel_sizes = weight.shape[2:]
    conv_pad, out_pad, crops = [], [], []
    for a in range(dims):
        k, (pl, pr), L = kernel_sizes[a], pads[a], x.shape[-dims + a]
        rows, offset = _axis_map(k, s[a], dil[a], pl)
        full = (L - 1) * s[a] + len(rows)  # length of the unpadded transposed convolution
        length = s[a] * L + pl + pr - dil[a] * (k - 1)
        tb, ta = trim[a] if trim else (0, 0)
        # Wanted: full[start:stop]; past the end of full only the bias remains.
        start, stop = offset + max(tb, 0), offset + length - max(ta, 0)
        if start < 0 or stop <= start or stop - full >= s[a]:
            return None  # bias-only outputs before the first contribution (huge padding)
        # Symmetric padding crops both ends; the rest is cropped as a view afterwards.
        pad = min(start, max(full - stop, 0))
        conv_pad.append(pad)
        out_pad.append(max(stop - full, 0))
        crops.append((start - pad, max(full - pad - stop, 0)))
    return conv_pad, out_pad, crops


def _transposed(x, weight, bias, s, pads, dil, groups, trim, geometry, variant="transposed",
                fmt=torch.contiguous_format):
    conv_pad, out_pad, crops = geometry
    pl = tuple(p for p, _ in pads)
    ks = tuple(weight.shape[2:])
    big = tuple(len(_axis_map(k, s[a], dil[a], pl[a])[0]) for a, k in enumerate(ks))
    spec = Spec(_kron_matrix(ks, s, dil, pl, weight.device, weight.dtype), groups, big, s,
                tuple(conv_pad), tuple(out_pad))
    if variant == "chunked":
        y = chunked_transposed(x, weight, bias, spec, fmt)
    elif variant == "channels_last":
        y = channels_last_transposed(x, weight, bias, spec)
    elif variant == "box":
        y = box_transposed(x, weight, bias, spec)
    else:
        y = fused_transposed(x, weight, bias, spec)
    y = apply_trim(y, crops)
    if trim:  # the crops are done; negative trims still zero-pad
        y = apply_trim(y, tuple((min(tb, 0), min(ta, 0)) for tb, ta in trim))
    return y


#: The timed choice runs at least ``_TRIAL_ROUNDS`` rounds, then more until ``_TRIAL_BUDGET``
#: seconds have gone or ``_TRIAL_MAX_ROUNDS``: cheap calls, where one noisy round weighs the
#: most against a 10% margin, get up to 25 rounds; a call of 50 ms or more gets 5.
_TRIAL_ROUNDS, _TRIAL_MAX_ROUNDS, _TRIAL_BUDGET, _TRIAL_MARGIN = 5, 25, 0.25, 0.9

#: The timed forms by their training peak on CPU, least first (``benchmarks/upsample_profile.py``):
#: among forms within the margin of the fastest the first here is kept.
_BY_MEMORY = ("channels_last", "transposed", "box", "phases", "sliced")


def _trial(forms: dict, args) -> str:
    """The fastest of ``forms`` on detached copies of ``args`` (see :data:`benchmark`)."""
    grad = torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in args)
    trial = [None if t is None else t.detach().requires_grad_(grad and t.requires_grad)
             for t in args]
    sync = torch.cuda.synchronize if args[0].is_cuda else (lambda: None)

    def once(name):
        y = forms[name](*trial)
        if grad:
            y.backward(torch.ones_like(y))
        sync()

    best = dict.fromkeys(forms, float("inf"))
    for name in forms:  # warm-up: allocator, kernels, caches
        once(name)
    start, r = time.perf_counter(), 0
    while r < _TRIAL_ROUNDS or (r < _TRIAL_MAX_ROUNDS
                                and time.perf_counter() - start < _TRIAL_BUDGET):
        for name in (list(forms) if r % 2 else list(forms)[::-1]):
            t = time.perf_counter()
            once(name)
            best[name] = min(best[name], time.perf_counter() - t)
        r += 1
    return _pick(best)


def _pick(best: dict) -> str:
    """The form to keep from the trial's fastest times ``{form: seconds}``.

    On a busy machine one lucky round can crown the wrong form: the default is left only for
    a clear win, and then the least memory among the forms within the margin of the fastest
    is taken (the box form is a little faster than channels-last on some activation-heavy
    shapes, at twice its training peak).

    >>> _pick({"transposed": 1.0, "box": 0.80, "channels_last": 0.85})
    'channels_last'
    >>> _pick({"transposed": 1.0, "box": 0.70, "channels_last": 0.85})
    'box'
    >>> _pick({"transposed": 0.95, "box": 0.90, "channels_last": 1.2})
    'transposed'
    """
    fastest = min(best.values())
    if best["transposed"] * _TRIAL_MARGIN <= fastest:
        return "transposed"
    return next(name for name in _BY_MEMORY
                if name in best and best[name] * _TRIAL_MARGIN <= fastest)


def _fused_nearest(x, weight, bias, s, pads, dil, groups, trim):
    """Nearest-up then conv by an exact fused form; ``None`` where none can be used."""
    geometry = _transposed_geometry(x, weight, s, pads, dil, trim)
    if geometry is None:
        return None
    fmt = _memory_format(x)
    forms = {"transposed": lambda x, w, b: _transposed(x, w, b, s, pads, dil, groups, trim,
                                                       geometry)}
    forms["box"] = lambda x, w, b: _transposed(x, w, b, s, pads, dil, groups, trim, geometry,
                                               "box")
    if fmt == torch.contiguous_format:  # on a channels-last input "transposed" is this form
        forms["channels_last"] = lambda x, w, b: _transposed(
            x, w, b, s, pads, dil, groups, trim, geometry, "channels_last")
    plan = phase_plan(tuple(weight.shape[2:]), s, dil, tuple(p for p, _ in pads))
    if plan is not None:
        forms["phases"] = lambda x, w, b: apply_trim(
            phase_form(x, w, b, plan, s, dil, pads, groups, fmt), trim)
        forms["sliced"] = lambda x, w, b: apply_trim(
            sliced_phases(x, w, b, plan, s, dil, pads, groups, fmt), trim)
    if form is not None:
        if form not in FORMS:
            raise InvalidArgumentError(
                f"checkerfree.layers.resize_conv.form must be None or one of {FORMS}, "
                f"got {form!r}")
        if form == "chunked":  # memory, not time: only when asked, never in the timed choice
            return _transposed(x, weight, bias, s, pads, dil, groups, trim, geometry,
                               "chunked", fmt)
        name = form if form in forms else "transposed"
    elif not benchmark or len(forms) == 1 or torch.jit.is_tracing() or \
            torch.compiler.is_compiling():
        name = "transposed"
    else:
        grad = torch.is_grad_enabled() and any(
            t is not None and t.requires_grad for t in (x, weight, bias))
        key = (tuple(x.shape), tuple(weight.shape), x.dtype, x.device, fmt, s, pads, dil,
               groups, trim, bias is None, grad)
        name = choices.get(key)
        if name is None:
            name = choices[key] = _trial(forms, (x, weight, bias))
    return forms[name](x, weight, bias)


def nearest_resize_conv(x, weight, bias=None, scale_factor=2, padding=0, dilation=1,
                        groups: int = 1, *, trim=None) -> torch.Tensor:
    """Nearest-neighbour upsampling by an integer factor, then a stride-1 zero-padded convolution.

    Functional form of :class:`ResizeConv2d` (and 1d/3d, from ``weight.dim()``) in nearest mode;
    computed by the fused transposed convolution (see the module docstring), never by
    upsampling first except in the rare geometries it does not cover (padding wider than the
    kernel's reach).

    >>> x, w = torch.randn(2, 3, 7), torch.randn(5, 3, 3)
    >>> ref = F.conv1d(F.interpolate(x, scale_factor=3), w, padding=1)
    >>> bool(torch.allclose(nearest_resize_conv(x, w, scale_factor=3, padding=1), ref, atol=1e-5))
    True
    """
    dims = weight.dim() - 2
    s = as_scale(scale_factor, dims)
    dil = as_scale(dilation, dims, "dilation")
    if isinstance(padding, str):
        pads = _pad_pairs(padding, weight.shape[2:], dil)
    else:
        pads = _pad_pairs(as_scale(padding, dims, "padding", minimum=0), weight.shape[2:], dil)
    trim = as_trim(trim, dims)
    y = _fused_nearest(x, weight, bias, s, pads, dil, groups, trim)
    if y is not None:
        return y
    up = F.interpolate(x, scale_factor=tuple(float(f) for f in s), mode="nearest")
    up = F.pad(up, [p for pair in reversed(pads) for p in pair])
    conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[dims]
    return apply_trim(conv(up, weight, bias, dilation=dil, groups=groups), trim)


class _ResizeConvNd:
    """Shared body of ResizeConv1d/2d/3d (a mixin placed before ``nn.ConvNd``)."""

    _dims: int

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", device=None, dtype=None, *,
                 scale_factor=2, mode="nearest", trim=None):
        check_padding_mode(padding_mode)
        scale = as_scale(scale_factor, self._dims)
        mode = _check_mode(mode, self._dims)
        trim = as_trim(trim, self._dims)
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, device, dtype)
        self.scale_factor = scale
        self.mode = mode
        self.trim = trim

    def extra_repr(self) -> str:
        s = super().extra_repr() + f", scale_factor={self.scale_factor}, mode={self.mode!r}"
        return s + (f", trim={self.trim}" if self.trim else "")

    def _pads(self):
        return _pad_pairs(self.padding, self.kernel_size, self.dilation)

    @property
    def fused(self) -> bool:
        """Whether forward takes the fused path (nearest, zero padding, stride 1)."""
        return (
            self.mode == "nearest"
            and self.padding_mode == "zeros"
            and all(st == 1 for st in self.stride)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == self._dims + 1:  # unbatched, as nn.Conv accepts
            return self.forward(x.unsqueeze(0)).squeeze(0)
        if self.fused:
            y = _fused_nearest(x, self.weight, self.bias, self.scale_factor, self._pads(),
                               self.dilation, self.groups, self.trim)
            if y is not None:
                return y
        up = F.interpolate(
            x,
            scale_factor=tuple(float(f) for f in self.scale_factor),
            mode=self.mode,
            align_corners=None if self.mode == "nearest" else False,
        )
        return apply_trim(self._conv_forward(up, self.weight, self.bias), self.trim)

    def output_length(self, axis: int, length: int) -> int:
        """Output length on spatial ``axis`` for an input of ``length`` (before ``trim``)."""
        (pl, pr) = self._pads()[axis]
        k, d, st = self.kernel_size[axis], self.dilation[axis], self.stride[axis]
        return (self.scale_factor[axis] * length + pl + pr - d * (k - 1) - 1) // st + 1

    def equivalent_transposed_weight(self) -> torch.Tensor:
        """The tied ConvTranspose kernel ``(in, out/groups, *K)`` of the nearest operator.

        Its polyphase sums are equal by construction (each phase sums all ``k`` taps), so
        :func:`checkerfree.overlap.phase_imbalance` of it is 0 for any weight.
        """
        pads = [p for p, _ in self._pads()]
        return tied_transposed_kernel(self.weight, self.scale_factor, pads, self.dilation,
                                      self.groups)[0]

    @classmethod
    def from_conv_transpose(cls, m, *, kernel_size=None, mode="nearest", **kwargs):
        """A new resize-convolution with ``m``'s channels, groups, device, dtype, training flag,
        bias, and output shape for every input size.

        The kernel defaults to ``k - 1`` for even ``k`` and ``k`` for odd ``k`` (at least 1),
        with "same" padding; ``trim`` absorbs the remaining constant length difference. The
        weight is freshly initialised, not copied: a transposed convolution's ``s^d`` phases
        have independent sub-kernels while a resize-convolution's are tied, so no weight of one
        reproduces the other in general. ``m`` is never modified.
        """
        dims = cls._dims
        axes = conv_transpose_geometry(m, dims, cls.__name__)
        if kernel_size is None:
            kernel_size = tuple(max(k - 1 if k % 2 == 0 else k, 1) for k, *_ in axes)
        ks = as_scale(kernel_size, dims, "kernel_size")
        dil = as_scale(kwargs.pop("dilation", 1), dims, "dilation")
        new = cls(
            m.in_channels, m.out_channels, ks,
            padding=tuple(d * (k - 1) // 2 for k, d in zip(ks, dil, strict=True)),
            dilation=dil, groups=m.groups, bias=m.bias is not None,
            device=m.weight.device, dtype=m.weight.dtype,
            scale_factor=tuple(s for _k, s, *_ in axes), mode=mode, **kwargs,
        )
        new.trim = trim_to_match(new.output_length, axes, cls.__name__)
        if m.bias is not None:
            with torch.no_grad():
                new.bias.copy_(m.bias)
        return new.train(m.training)


class ResizeConv1d(_ResizeConvNd, nn.Conv1d):
    """Upsample a signal (nearest or linear), then ``nn.Conv1d``; nearest is fused.

    >>> ResizeConv1d(2, 3, 3, padding=1, scale_factor=4)(torch.randn(1, 2, 5)).shape
    torch.Size([1, 3, 20])
    """

    _dims = 1


class ResizeConv2d(_ResizeConvNd, nn.Conv2d):
    """Upsample an image (nearest or bilinear), then ``nn.Conv2d``; nearest is fused.

    >>> m = ResizeConv2d(8, 4, 3, padding=1)
    >>> m(torch.randn(2, 8, 6, 7)).shape
    torch.Size([2, 4, 12, 14])
    >>> from torch import nn
    >>> ResizeConv2d.from_conv_transpose(nn.ConvTranspose2d(8, 4, 4, 2, 1)).kernel_size
    (3, 3)
    """

    _dims = 2


class ResizeConv3d(_ResizeConvNd, nn.Conv3d):
    """Upsample a volume (nearest or trilinear), then ``nn.Conv3d``; nearest is fused.

    >>> ResizeConv3d(1, 2, 3, padding=1)(torch.randn(1, 1, 2, 3, 4)).shape
    torch.Size([1, 2, 4, 6, 8])
    """

    _dims = 3
