"""Blurred downsampling: a low-pass filter of the stride's size, then keep every ``s``-th sample.

Zhang, "Making Convolutional Networks Shift-Invariant Again", ICML 2019. Subsampling by ``s``
has a backward pass that puts ``s - 1`` zeros between gradient samples, so the input gradient
of a strided convolution is a transposed convolution of stride ``s``: its ``s^d`` phases get
different kernel sums and the gradient is a checkerboard (Odena et al., Distill 2016). A filter
whose taps at positions ``= r (mod s)`` sum to the same value for every ``r`` (equal polyphase
sums, Sugawara et al. 2019) maps every period-``s`` pattern to a constant, so put before the
subsampling it makes the gradient of a constant upstream gradient constant (away from the
borders) and removes aliasing in the forward pass. Per axis of stride ``s``, ``filter`` is

- ``"box"``: ``s`` taps of ``1 / s`` (the zero-order hold's kernel);
- ``"binomial"`` (default): the box convolved with itself, ``2 s - 1`` taps; for ``s = 2`` it
  is ``[1, 2, 1] / 4``, the binomial filter of Zhang 2019 and Composer's BlurPool. (The true
  binomial of ``s + 1`` taps has unequal phase sums for ``s >= 3``, so it is not used.)

Borders are padded by replication (a constant stays constant up to the edges). Three ways in:
:func:`blur_pool` / :class:`BlurPool2d` (filter, then subsample: an anti-aliased ``x[..., ::s]``),
:meth:`BlurPool2d.from_pool` (max or average pooling at stride 1, then the blurred subsampling:
Zhang's MaxBlurPool), and :meth:`BlurPool2d.from_conv` -> :class:`BlurConv2d` (the blur, then
the strided convolution with its weights). Zhang applies the convolution at stride 1 and blurs
after it; the two orders are the same linear map (convolutions commute) up to the borders, and
blurring first, as Composer's ``apply_blurpool(blur_first=True)`` does, costs ``s^d`` times
less and keeps the convolution's state dict. Every constructor is shape-exact: the output shape
equals the original layer's for every input size the original accepts.

>>> x = torch.tensor([[[0.0, 4.0] * 4]])  # period 2
>>> x[..., ::2]
tensor([[[0., 0., 0., 0.]]])
>>> blur_pool(x, 2)
tensor([[[1., 2., 2., 2.]]])
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from checkerfree.errors import InvalidArgumentError, InvalidTypeError, ShapeError
from checkerfree.layers._geometry import as_scale, check_padding_mode
from checkerfree.layers.hold import zero_order_hold_kernel

__all__ = [
    "FILTERS",
    "blur_kernel",
    "blur_pool",
    "BlurPool1d",
    "BlurPool2d",
    "BlurPool3d",
    "BlurConv1d",
    "BlurConv2d",
    "BlurConv3d",
]

#: Low-pass filters by name, as the order of the hold whose kernel they are.
FILTERS = {"box": 0, "binomial": 1}

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_MAX = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
_AVG = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}
_F_PAD_MODE = {"zeros": "constant", "reflect": "reflect", "replicate": "replicate",
               "circular": "circular"}


def _check_filter(filter) -> str:
    if filter not in FILTERS:
        raise InvalidArgumentError(
            f"filter must be one of {', '.join(map(repr, FILTERS))}, got {filter!r}")
    return filter


def blur_kernel(stride, filter: str = "binomial", dims: int = 2, *, device=None, dtype=None):
    """The N-D low-pass kernel for ``stride``, taps summing to 1, equal polyphase sums.

    Shape ``(s,) * dims`` for ``"box"``, ``(2 s - 1,) * dims`` for ``"binomial"`` (per axis:
    an axis of stride 1 gets one tap).

    >>> blur_kernel(2, "binomial", dims=1).tolist()
    [0.25, 0.5, 0.25]
    >>> blur_kernel(3, "box", dims=2).shape
    torch.Size([3, 3])
    """
    order = FILTERS[_check_filter(filter)]
    return zero_order_hold_kernel(stride, order, dims, device=device, dtype=dtype)


def _check_rank(x, dims: int) -> None:
    if not isinstance(x, torch.Tensor):
        raise InvalidTypeError(f"expected a torch.Tensor, got {type(x).__name__}")
    if x.dim() not in (dims + 1, dims + 2):
        raise ShapeError(
            f"expected a tensor (N, C, *spatial) or (C, *spatial) with {dims} spatial axes, "
            f"got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise InvalidTypeError(f"expected a floating-point tensor, got {x.dtype}")


def _low_pass(x: torch.Tensor, kernel: torch.Tensor, stride: tuple[int, ...],
              padding_mode: str) -> torch.Tensor:
    """Filter every channel of ``x`` with ``kernel`` ("same" size), keeping every ``stride``-th.

    Channels become batch items of a one-channel convolution: one fixed kernel for all of
    them, whatever their number. For an even kernel size the extra tap is padded after.
    """
    dims = kernel.dim()
    if all(k == 1 for k in kernel.shape) and all(s == 1 for s in stride):
        return x
    lead, spatial = x.shape[:-dims], x.shape[-dims:]
    y = x.reshape(-1, 1, *spatial)
    pads = []
    for k in reversed(kernel.shape):
        pads += [(k - 1) // 2, k - 1 - (k - 1) // 2]
    if any(pads):
        y = F.pad(y, pads, mode=_F_PAD_MODE[padding_mode])
    w = kernel.to(device=x.device, dtype=x.dtype)[None, None]
    y = _CONV[dims](y, w, stride=stride)
    return y.reshape(*lead, *y.shape[2:])


def blur_pool(x: torch.Tensor, stride, filter: str = "binomial", *,
              padding_mode: str = "replicate") -> torch.Tensor:
    """Low-pass ``x`` ``(N, C, *spatial)`` with :func:`blur_kernel`, then keep every ``stride``-th.

    The number of spatial axes is ``x.dim() - 2``. An axis of length ``L`` gives
    ``ceil(L / s)`` outputs, the length of ``x[..., ::s]``; output ``i`` is centred on input
    ``s i`` (half a sample later for the box of even size).

    >>> blur_pool(torch.ones(1, 2, 7, 6), 2).shape
    torch.Size([1, 2, 4, 3])
    """
    if not isinstance(x, torch.Tensor):
        raise InvalidTypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    dims = x.dim() - 2
    if dims not in (1, 2, 3):
        raise ShapeError(f"x must be (N, C, *spatial) with 1 to 3 spatial axes, got shape "
                         f"{tuple(x.shape)}")
    _check_rank(x, dims)
    s = as_scale(stride, dims, "stride")
    kernel = blur_kernel(s, filter, dims, device=x.device, dtype=x.dtype)
    return _low_pass(x, kernel, s, check_padding_mode(padding_mode))


def _pool_length(n: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """PyTorch's pooling output length on one axis (``pooling_output_shape``)."""
    span = n + 2 * p - d * (k - 1) - 1
    out = (span + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1  # the last window must start inside the input or its left padding
    return out


def dense_pool(x: torch.Tensor, mode: str, kernel_size, stride, padding, dilation,
               ceil_mode: bool, count_include_pad: bool = True,
               divisor_override: int | None = None) -> tuple[torch.Tensor, tuple[int, ...]]:
    """The pool at stride 1 over the padded input, and the strided pool's output lengths.

    ``dense[..., ::s]`` cut to the lengths is exactly the strided pool, ceil mode included:
    the input is padded once more on the right (``-inf`` for max, not counted for average),
    so the windows that ceil mode lets hang over the right edge exist at stride 1 too.
    """
    dims = len(kernel_size)
    spatial = x.shape[-dims:]
    lengths = tuple(_pool_length(n, k, s, p, d, ceil_mode) for n, k, s, p, d in
                    zip(spatial, kernel_size, stride, padding, dilation))
    if any(n < 1 for n in lengths):
        raise ShapeError(f"input of spatial size {tuple(spatial)} is too small for a pool of "
                         f"kernel {kernel_size}, padding {padding}, dilation {dilation}")
    extra = []
    for n, k, s, p, d, m in zip(spatial, kernel_size, stride, padding, dilation, lengths):
        dense = n + 2 * p - d * (k - 1)
        extra.append(max(0, (m - 1) * s + 1 - dense))
    pads = []
    for p, e in zip(reversed(padding), reversed(extra)):
        pads += [p, p + e]
    lead = x.shape[:-dims]
    y = x.reshape(-1, 1, *spatial)
    if mode == "max":
        y = F.pad(y, pads, value=-math.inf)
        y = _MAX[dims](y, kernel_size, stride=1, dilation=dilation)
    else:
        y = _AVG[dims](F.pad(y, pads), kernel_size, stride=1)  # mean over the whole window
        if divisor_override:
            y = y * (math.prod(kernel_size) / divisor_override)
        else:
            # PyTorch divides by the window's cells inside the input (and, with
            # count_include_pad, inside the padding), never the ceil-mode overhang.
            mask = torch.ones((1, 1, *spatial), device=x.device, dtype=x.dtype)
            mask = F.pad(mask, [v for p in reversed(padding) for v in (p, p)],
                         value=1.0 if count_include_pad else 0.0)
            mask = F.pad(mask, [v for e in reversed(extra) for v in (0, e)])
            y = y / _AVG[dims](mask, kernel_size, stride=1)
    return y.reshape(*lead, *y.shape[2:]), lengths


class _BlurPoolNd(nn.Module):
    """Shared body of BlurPool1d/2d/3d."""

    _dims: int

    def __init__(self, stride, filter: str = "binomial", *, padding_mode: str = "replicate",
                 pool: str | None = None, kernel_size=1, padding=0, dilation=1,
                 ceil_mode: bool = False, count_include_pad: bool = True,
                 divisor_override: int | None = None, device=None, dtype=None):
        super().__init__()
        d = self._dims
        self.stride = as_scale(stride, d, "stride")
        self.filter = _check_filter(filter)
        self.padding_mode = check_padding_mode(padding_mode)
        if pool not in (None, "max", "avg"):
            raise InvalidArgumentError(f"pool must be None, 'max' or 'avg', got {pool!r}")
        self.pool = pool
        self.kernel_size = as_scale(kernel_size, d, "kernel_size")
        self.padding = as_scale(padding, d, "padding", minimum=0)
        self.dilation = as_scale(dilation, d, "dilation")
        if pool != "max" and any(v != 1 for v in self.dilation):
            raise InvalidArgumentError(f"dilation applies to max pooling only, got "
                                       f"{self.dilation} with pool={pool!r}")
        if pool is None and (any(k != 1 for k in self.kernel_size) or any(self.padding)):
            raise InvalidArgumentError(
                "kernel_size and padding need pool='max' or 'avg'; without a pool the layer "
                f"only blurs and subsamples, got kernel_size={kernel_size!r}, "
                f"padding={padding!r}")
        self.ceil_mode = bool(ceil_mode)
        self.count_include_pad = bool(count_include_pad)
        self.divisor_override = divisor_override
        size = tuple((s if self.filter == "box" else 2 * s - 1) for s in self.stride)
        self.register_buffer("kernel", torch.empty(size, device=device, dtype=dtype),
                             persistent=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        with torch.no_grad():
            self.kernel.copy_(blur_kernel(self.stride, self.filter, self._dims))

    def extra_repr(self) -> str:
        s = f"stride={self.stride}, filter={self.filter!r}, padding_mode={self.padding_mode!r}"
        if self.pool:
            s += (f", pool={self.pool!r}, kernel_size={self.kernel_size}, "
                  f"padding={self.padding}, dilation={self.dilation}, ceil_mode={self.ceil_mode}")
        return s

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_rank(x, self._dims)
        if self.pool is None:
            return _low_pass(x, self.kernel, self.stride, self.padding_mode)
        y, lengths = dense_pool(x, self.pool, self.kernel_size, self.stride, self.padding,
                                self.dilation, self.ceil_mode, self.count_include_pad,
                                self.divisor_override)
        y = _low_pass(y, self.kernel, self.stride, self.padding_mode)
        for a, n in enumerate(lengths):  # the ceil-mode extension may leave one more
            y = y.narrow(y.dim() - self._dims + a, 0, n)
        return y

    @classmethod
    def from_pool(cls, m: nn.Module, filter: str = "binomial", *,
                  padding_mode: str = "replicate") -> _BlurPoolNd:
        """``MaxPool``/``AvgPool`` ``m`` as the same pool at stride 1, then the blurred subsampling.

        Same kernel, padding, dilation, ceil mode and divisor as ``m``, so every output shape
        (and, at stride 1, every value) is ``m``'s. ``m`` is not modified.
        """
        d = cls._dims
        maxes = (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)
        avgs = (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)
        if not isinstance(m, (maxes[d - 1], avgs[d - 1])):
            raise InvalidTypeError(
                f"{cls.__name__}.from_pool expects nn.MaxPool{d}d or nn.AvgPool{d}d, got "
                f"{type(m).__name__}")
        if isinstance(m, maxes[d - 1]):
            if m.return_indices:
                raise InvalidArgumentError(
                    f"{m!r} returns its indices (for a MaxUnpool); a blurred pool has no "
                    "indices, so it cannot replace it")
            new = cls(m.stride, filter, padding_mode=padding_mode, pool="max",
                      kernel_size=m.kernel_size, padding=m.padding, dilation=m.dilation,
                      ceil_mode=m.ceil_mode)
        else:
            new = cls(m.stride, filter, padding_mode=padding_mode, pool="avg",
                      kernel_size=m.kernel_size, padding=m.padding, ceil_mode=m.ceil_mode,
                      count_include_pad=m.count_include_pad,
                      divisor_override=getattr(m, "divisor_override", None))
        new.train(m.training)
        return new

    @classmethod
    def from_conv(cls, m: nn.Module, filter: str = "binomial", *,
                  padding_mode: str = "replicate") -> nn.Module:
        """Strided ``Conv`` ``m`` as a :class:`BlurConv2d` (the blur, then ``m`` with its weights)."""
        blur_conv = {1: BlurConv1d, 2: BlurConv2d, 3: BlurConv3d}[cls._dims]
        return blur_conv.from_conv(m, filter, padding_mode=padding_mode)


class BlurPool1d(_BlurPoolNd):
    """Blurred subsampling of the last axis of ``(N, C, L)``; see the module docstring.

    >>> BlurPool1d(2)(torch.tensor([[[0.0, 4.0, 0.0, 4.0, 0.0]]]))
    tensor([[[1., 2., 1.]]])
    """

    _dims = 1


class BlurPool2d(_BlurPoolNd):
    """Blurred subsampling of ``(H, W)`` in ``(N, C, H, W)``; see the module docstring.

    >>> m = BlurPool2d.from_pool(nn.MaxPool2d(3, 2, 1, ceil_mode=True))
    >>> x = torch.randn(1, 4, 9, 10)
    >>> m(x).shape == nn.MaxPool2d(3, 2, 1, ceil_mode=True)(x).shape
    True
    """

    _dims = 2


class BlurPool3d(_BlurPoolNd):
    """Blurred subsampling of ``(D, H, W)`` in ``(N, C, D, H, W)``; see the module docstring.

    >>> BlurPool3d(2, "box")(torch.ones(1, 1, 4, 4, 5)).shape
    torch.Size([1, 1, 2, 2, 3])
    """

    _dims = 3


class _BlurConvNd:
    """Shared body of BlurConv1d/2d/3d: a low-pass of the stride's size, then the convolution.

    The blur has no parameters and a non-persistent kernel, so the state dict is exactly the
    convolution's: checkpoints of the original model load unchanged.
    """

    _dims: int

    def __init__(self, *args, filter: str = "binomial", blur_padding_mode: str = "replicate",
                 **kwargs):
        super().__init__(*args, **kwargs)
        self.filter = _check_filter(filter)
        self.blur_padding_mode = check_padding_mode(blur_padding_mode)
        size = tuple((s if self.filter == "box" else 2 * s - 1) for s in self.stride)
        self.register_buffer("blur_kernel",
                             torch.empty(size, device=self.weight.device, dtype=self.weight.dtype),
                             persistent=False)
        self._fill_blur_kernel()

    def _fill_blur_kernel(self) -> None:
        with torch.no_grad():
            self.blur_kernel.copy_(blur_kernel(self.stride, self.filter, self._dims))

    def reset_parameters(self) -> None:
        super().reset_parameters()
        if "blur_kernel" in self._buffers:  # nn.ConvNd calls this before the buffer exists
            self._fill_blur_kernel()

    def extra_repr(self) -> str:
        return super().extra_repr() + f", filter={self.filter!r}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ones = (1,) * self._dims
        return super().forward(_low_pass(x, self.blur_kernel, ones, self.blur_padding_mode))

    @classmethod
    def from_conv(cls, m: nn.Module, filter: str = "binomial", *,
                  padding_mode: str = "replicate"):
        """A copy of ``m`` (same weights, device, dtype, training flag) with the blur before it.

        The blur keeps the input's size, so every output shape is ``m``'s. ``m`` is not
        modified.
        """
        d = cls._dims
        conv = (nn.Conv1d, nn.Conv2d, nn.Conv3d)[d - 1]
        if not isinstance(m, conv) or isinstance(m, _BlurConvNd):
            raise InvalidTypeError(
                f"{cls.__name__}.from_conv expects an nn.Conv{d}d (not already blurred), got "
                f"{type(m).__name__}")
        if nn.parameter.is_lazy(m.weight):
            raise InvalidArgumentError(
                f"{m!r} has uninitialised (lazy) parameters; run one forward pass first")
        new = cls(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding,
                  m.dilation, m.groups, m.bias is not None, m.padding_mode,
                  device=m.weight.device, dtype=m.weight.dtype,
                  filter=filter, blur_padding_mode=padding_mode)
        with torch.no_grad():
            new.weight.copy_(m.weight)
            if m.bias is not None:
                new.bias.copy_(m.bias)
        new.train(m.training)
        return new


class BlurConv1d(_BlurConvNd, nn.Conv1d):
    """``nn.Conv1d`` whose input is first low-passed with the kernel of its stride.

    >>> m = BlurConv1d.from_conv(nn.Conv1d(2, 3, 3, stride=2, padding=1))
    >>> m(torch.randn(1, 2, 9)).shape, sorted(m.state_dict())
    (torch.Size([1, 3, 5]), ['bias', 'weight'])
    """

    _dims = 1


class BlurConv2d(_BlurConvNd, nn.Conv2d):
    """``nn.Conv2d`` whose input is first low-passed with the kernel of its stride.

    >>> conv = nn.Conv2d(3, 8, 3, stride=2, padding=1)
    >>> x = torch.randn(1, 3, 11, 8)
    >>> BlurConv2d.from_conv(conv)(x).shape == conv(x).shape
    True
    """

    _dims = 2


class BlurConv3d(_BlurConvNd, nn.Conv3d):
    """``nn.Conv3d`` whose input is first low-passed with the kernel of its stride."""

    _dims = 3
