"""Zero-order hold: a fixed, normalised box filter of size ``s`` that removes period-``s`` patterns.

Sugawara et al., "Checkerboard artifacts free convolutional neural networks", APSIPA Trans.
Signal Inf. Process. 8 (2019); Kinoshita and Kiya, "Fixed smooth convolutional layer for
avoiding checkerboard artifacts in CNNs", ICASSP 2020. The order-``n`` hold is the box
``h_0 = (1/s) [1, ..., 1]`` (``s`` taps) convolved with itself ``n`` more times, separably on
every axis: ``n (s - 1) + s`` taps, gain 1 (the taps sum to 1). Its frequency response
``(sin(pi s f) / (s sin(pi f)))^(n + 1)`` vanishes at every non-zero multiple of ``1/s``, so
any period-``s`` pattern comes out constant, and an upsampler of factor ``s`` followed by it has
equal polyphase sums: a constant input gives a constant output away from the borders. Place it
after an upsampling layer (``HeldConvTranspose2d`` does this for a transposed convolution)
or before a strided downsampling.

The output has the input's size ("same" padding). For an even kernel size the extra position
is padded after, as PyTorch's ``padding="same"`` does: ``y[n]`` averages ``x[n - b .. n + a]``
with ``b = (K - 1) // 2`` and ``a = K - 1 - b``. Borders are padded by replication by default,
so a constant stays constant up to the edges.

>>> x = torch.tensor([[[1.0, 3.0] * 4]])  # period 2
>>> zero_order_hold(x, 2)
tensor([[[2., 2., 2., 2., 2., 2., 2., 2.]]])
"""

from __future__ import annotations


import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from checkerfree.errors import InvalidArgumentError
from checkerfree.layers._geometry import (
    apply_trim,
    as_scale,
    as_trim,
    check_padding_mode,
    conv_transpose_geometry,
)

__all__ = [
    "zero_order_hold",
    "zero_order_hold_kernel",
    "ZeroOrderHold1d",
    "ZeroOrderHold2d",
    "ZeroOrderHold3d",
    "HeldConvTranspose1d",
    "HeldConvTranspose2d",
    "HeldConvTranspose3d",
]

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_F_PAD_MODE = {"zeros": "constant", "reflect": "reflect", "replicate": "replicate",
               "circular": "circular"}


def _check_order(order) -> int:
    if isinstance(order, bool) or not isinstance(order, int) or order < 0:
        raise InvalidArgumentError(f"order must be an integer >= 0, got {order!r}")
    return order


def zero_order_hold_kernel(scale, order: int = 0, dims: int = 2, *, device=None, dtype=None):
    """The N-D hold kernel, shape ``(order (s - 1) + s,) * dims``, taps summing to 1.

    >>> zero_order_hold_kernel(2, order=1, dims=1).tolist()
    [0.25, 0.5, 0.25]
    """
    s = as_scale(scale, dims, "scale")
    order = _check_order(order)
    kernel = np.ones((), dtype=np.float64)
    for f in s:
        axis = np.full(f, 1.0 / f)
        taps = axis
        for _ in range(order):
            taps = np.convolve(taps, axis)
        kernel = np.multiply.outer(kernel, taps)
    return torch.as_tensor(kernel, dtype=dtype or torch.get_default_dtype(), device=device)


def _hold(x: torch.Tensor, scale: tuple[int, ...], order: int, padding_mode: str) -> torch.Tensor:
    """Pad once for the whole kernel, then run ``order + 1`` box filters per axis.

    The order-``n`` kernel is separable and is the box convolved with itself ``n`` times, so
    ``n + 1`` unpadded box passes per axis (gain 1) equal one convolution with the full
    kernel, at a fraction of the cost of a one-channel convolution.
    """
    dims = len(scale)
    if x.dim() < dims + 1:
        from checkerfree.errors import ShapeError

        raise ShapeError(
            f"expected a tensor (N, C, *spatial) with {dims} spatial axes, got shape "
            f"{tuple(x.shape)}"
        )
    shape = x.shape
    if x.numel() == 0:  # a transposed convolution can legally return an empty axis
        return x.clone()
    sizes = [order * (s - 1) + s for s in scale]
    pads = []
    for k in reversed(sizes):
        pads += [(k - 1) // 2, k - 1 - (k - 1) // 2]
    y = x.reshape(-1, 1, *shape[-dims:]) if x.dim() != dims + 2 else x
    if any(pads):
        y = F.pad(y, pads, mode=_F_PAD_MODE[padding_mode])
    for a, s in enumerate(scale):
        if s == 1:
            continue
        axis = y.dim() - dims + a
        for _ in range(order + 1):
            # A box of s taps as s shifted views added: cheaper, forward and backward, than
            # a pooling or one-channel convolution kernel on CPU.
            n = y.shape[axis] - s + 1
            total = y.narrow(axis, 0, n)
            for i in range(1, s):
                total = total + y.narrow(axis, i, n)
            y = total / s
    return y.reshape(shape)


def zero_order_hold(x: torch.Tensor, scale, order: int = 0, *,
                    padding_mode: str = "replicate") -> torch.Tensor:
    """Filter ``x`` ``(N, C, *spatial)`` with the order-``order`` hold of factor ``scale``.

    The number of spatial axes is ``x.dim() - 2``; the output has ``x``'s shape.

    >>> zero_order_hold(torch.ones(1, 2, 5, 5), 3, order=1).unique()
    tensor([1.0000])
    """
    dims = x.dim() - 2
    check_padding_mode(padding_mode)
    return _hold(x, as_scale(scale, dims, "scale"), _check_order(order), padding_mode)


class _ZeroOrderHoldNd(nn.Module):
    """Shared body of ZeroOrderHold1d/2d/3d."""

    _dims: int

    def __init__(self, scale, order: int = 0, *, padding_mode: str = "replicate",
                 device=None, dtype=None, trim=None):
        super().__init__()
        self.scale = as_scale(scale, self._dims, "scale")
        self.order = _check_order(order)
        self.padding_mode = check_padding_mode(padding_mode)
        self.trim = as_trim(trim, self._dims)
        size = tuple(order * (s - 1) + s for s in self.scale)
        self.register_buffer("kernel", torch.empty(size, device=device, dtype=dtype),
                             persistent=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        with torch.no_grad():
            self.kernel.copy_(zero_order_hold_kernel(self.scale, self.order, self._dims))

    def extra_repr(self) -> str:
        s = f"scale={self.scale}, order={self.order}, padding_mode={self.padding_mode!r}"
        return s + (f", trim={self.trim}" if self.trim else "")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # ``kernel`` documents the filter; the separable box passes compute it exactly.
        return apply_trim(_hold(x, self.scale, self.order, self.padding_mode), self.trim)

    @classmethod
    def from_conv_transpose(cls, m, *, order: int = 0, padding_mode: str = "replicate"):
        """``m`` (copied, weights kept) followed by a hold of its stride: a ``HeldConvTranspose``.

        The hold keeps the size, so every output shape is ``m``'s. ``m`` is not modified.
        """
        held = {1: HeldConvTranspose1d, 2: HeldConvTranspose2d, 3: HeldConvTranspose3d}
        return held[cls._dims].from_conv_transpose(m, order=order, padding_mode=padding_mode)


class ZeroOrderHold1d(_ZeroOrderHoldNd):
    """Zero-order hold over the last axis of ``(N, C, L)``.

    >>> ZeroOrderHold1d(2)(torch.tensor([[[0.0, 4.0, 0.0, 4.0]]]))
    tensor([[[2., 2., 2., 4.]]])
    """

    _dims = 1


class ZeroOrderHold2d(_ZeroOrderHoldNd):
    """Zero-order hold over ``(H, W)`` of ``(N, C, H, W)``.

    >>> ZeroOrderHold2d(2, order=1).kernel.shape
    torch.Size([3, 3])
    """

    _dims = 2


class ZeroOrderHold3d(_ZeroOrderHoldNd):
    """Zero-order hold over ``(D, H, W)`` of ``(N, C, D, H, W)``.

    >>> ZeroOrderHold3d(2)(torch.ones(1, 1, 3, 3, 3)).shape
    torch.Size([1, 1, 3, 3, 3])
    """

    _dims = 3


class _HeldConvTransposeNd:
    """Shared body of HeldConvTranspose1d/2d/3d: ``ConvTranspose`` then a hold of its stride.

    The hold has no parameters and a non-persistent kernel, so the state dict is exactly the
    ConvTranspose's: checkpoints of the original model load unchanged.
    """

    _dims: int

    def __init__(self, *args, order: int = 0, hold_padding_mode: str = "replicate", **kwargs):
        super().__init__(*args, **kwargs)
        hold = {1: ZeroOrderHold1d, 2: ZeroOrderHold2d, 3: ZeroOrderHold3d}[self._dims]
        self.hold = hold(self.stride, order, padding_mode=hold_padding_mode,
                         device=self.weight.device, dtype=self.weight.dtype)

    def forward(self, x: torch.Tensor, output_size=None) -> torch.Tensor:
        return self.hold(super().forward(x, output_size))

    @classmethod
    def from_conv_transpose(cls, m, *, order: int = 0, padding_mode: str = "replicate"):
        """A copy of ``m`` (same weights, device, dtype, training flag) with a hold after it."""
        conv_transpose_geometry(m, cls._dims, cls.__name__)
        new = cls(
            m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding, m.output_padding,
            m.groups, m.bias is not None, m.dilation, m.padding_mode,
            device=m.weight.device, dtype=m.weight.dtype,
            order=order, hold_padding_mode=padding_mode,
        )
        with torch.no_grad():
            new.weight.copy_(m.weight)
            if m.bias is not None:
                new.bias.copy_(m.bias)
        # Hooks, parametrisations and extra attributes of m are not carried; keep it explicit.
        new.train(m.training)
        return new


class HeldConvTranspose1d(_HeldConvTransposeNd, nn.ConvTranspose1d):
    """``nn.ConvTranspose1d`` followed by :class:`ZeroOrderHold1d` of its stride.

    >>> m = HeldConvTranspose1d(1, 1, 3, stride=2, padding=1, output_padding=1, bias=False)
    >>> _ = m.weight.data.copy_(torch.tensor([[[1.0, 2.0, 3.0]]]))
    >>> m(torch.ones(1, 1, 6))[0, 0, :-2].unique().tolist()  # the last outputs miss a tap
    [3.0]
    """

    _dims = 1


class HeldConvTranspose2d(_HeldConvTransposeNd, nn.ConvTranspose2d):
    """``nn.ConvTranspose2d`` followed by :class:`ZeroOrderHold2d` of its stride.

    >>> m = HeldConvTranspose2d.from_conv_transpose(nn.ConvTranspose2d(4, 2, 3, 2, 1, 1))
    >>> m(torch.randn(1, 4, 5, 5)).shape, sorted(m.state_dict())
    (torch.Size([1, 2, 10, 10]), ['bias', 'weight'])
    """

    _dims = 2


class HeldConvTranspose3d(_HeldConvTransposeNd, nn.ConvTranspose3d):
    """``nn.ConvTranspose3d`` followed by :class:`ZeroOrderHold3d` of its stride."""

    _dims = 3

