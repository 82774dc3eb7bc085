"""Sub-pixel convolution: a convolution to ``out * s^d`` channels, then an N-D pixel shuffle.

Shi et al., CVPR 2016; initialised with ICNR (Aitken et al., arXiv:1707.02937) so that at
initialisation it *is* "convolve, then nearest-neighbour upsample": every phase of an output
channel uses the same kernel and bias, hence equal polyphase sums and no checkerboard.
Training may break the tie; :func:`checkerfree.overlap.phase_imbalance` of
:meth:`SubPixelConv2d.equivalent_transposed_weight` measures by how much.

As a transposed convolution of stride ``s`` (per axis, conv weight ``w`` of ``k`` taps,
dilation ``d``, padding ``p``): ``W[i, o, r + s d (k - 1 - j)] = w[o s^d + r, i, j]`` and the
output is the unpadded transposed convolution's output shifted by ``s (d (k - 1) - p)``.

>>> import torch.nn.functional as F
>>> m = SubPixelConv2d(3, 2, 3, padding=1, scale_factor=2)
>>> x = torch.randn(1, 3, 5, 5)
>>> ref = F.interpolate(F.conv2d(x, m.weight[::4], m.bias[::4], padding=1), scale_factor=2)
>>> m(x).shape, bool(torch.allclose(m(x), ref, atol=1e-6))
(torch.Size([1, 2, 10, 10]), True)
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from checkerfree.errors import InvalidArgumentError, InvalidTypeError
from checkerfree.layers._geometry import (
    apply_trim,
    as_scale,
    as_trim,
    check_padding_mode,
    conv_transpose_geometry,
    trim_to_match,
)
from checkerfree.layers.icnr import default_conv_init_, icnr_, set_effective_weight_
from checkerfree.layers.pixel_shuffle import pixel_shuffle_nd

__all__ = ["SubPixelConv1d", "SubPixelConv2d", "SubPixelConv3d", "subpixel_transposed_weight"]

_INITS = ("icnr", "default")


def subpixel_transposed_weight(weight: torch.Tensor, scale, *, dilation=1,
                               groups: int = 1) -> torch.Tensor:
    """A convolution feeding a pixel shuffle, as the transposed-convolution weight it equals.

    A stride-1 convolution to ``C * s^d`` channels followed by a pixel shuffle is a transposed
    convolution of stride ``s`` and kernel ``s * k`` (dilated taps spread first) whose tap
    ``s*j + r`` is tap ``j`` of the convolution's output channel ``c * s^d + r``, flipped
    (convolution is correlation). Returned in ConvTranspose layout ``(in, out/groups, *K)``;
    differentiable.

    >>> w = torch.ones(4, 1, 3, 3)  # one channel x 4 phases, all equal: balanced
    >>> subpixel_transposed_weight(w, 2).shape
    torch.Size([1, 1, 6, 6])
    """
    dims = weight.dim() - 2
    s = as_scale(scale, dims, "scale")
    dil = as_scale(dilation, dims, "dilation")
    out_s, in_g, *ks = weight.shape
    out = out_s // math.prod(s)
    w = weight.reshape(out, *s, in_g, *ks).flip(list(range(2 + dims, 2 + 2 * dims)))
    if any(d > 1 for d in dil):
        sizes = [d * (k - 1) + 1 for k, d in zip(ks, dil, strict=True)]
        spread = w.new_zeros(out, *s, in_g, *sizes)
        spread[(Ellipsis, *(slice(None, None, d) for d in dil))] = w
        w, ks = spread, sizes
    # (out, s_1..s_d, in/g, K_1..K_d) -> (out, in/g, K_1, s_1, ..., K_d, s_d)
    perm = [0, 1 + dims]
    for a in range(dims):
        perm += [2 + dims + a, 1 + a]
    w = w.permute(perm).reshape(out, in_g, *(k * f for k, f in zip(ks, s, strict=True)))
    w = w.reshape(groups, out // groups, in_g, *w.shape[2:]).transpose(1, 2)
    return w.reshape(groups * in_g, out // groups, *w.shape[3:])


class _SubPixelConvNd:
    """Shared body of SubPixelConv1d/2d/3d (a mixin placed before ``nn.ConvNd``).

    ``out_channels`` is the channel count of the *output* (after the shuffle); the weight has
    ``out_channels * s^d`` rows, row ``c * s^d + r`` feeding phase ``r`` of channel ``c``.
    The bias has one entry per row, or with ``shared_bias=True`` one per output channel, added
    after the shuffle (equal on every phase by construction).
    """

    _dims: int

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", device=None, dtype=None, *,
                 scale_factor=2, init="icnr", trim=None, shared_bias=False):
        check_padding_mode(padding_mode)
        if not isinstance(shared_bias, bool):
            raise InvalidTypeError(
                f"shared_bias must be a bool, got {type(shared_bias).__name__}")
        scale = as_scale(scale_factor, self._dims)
        if init not in _INITS:
            raise InvalidArgumentError(f"init must be one of {_INITS}, got {init!r}")
        trim = as_trim(trim, self._dims)
        if isinstance(groups, int) and groups > 0 and out_channels % groups:
            raise InvalidArgumentError(
                f"out_channels must be divisible by groups so that every phase of a channel "
                f"stays in its group, got out_channels={out_channels}, groups={groups}"
            )
        phases = math.prod(scale)
        super().__init__(in_channels, out_channels * phases, kernel_size, stride, padding,
                         dilation, groups, bias and not shared_bias, padding_mode, device, dtype)
        if bias and shared_bias:
            # One bias per output channel, added after the shuffle: every phase gets the same
            # value for ever (not only at initialisation), at 1 / s^d of the parameters.
            self.bias = nn.Parameter(torch.empty(out_channels, device=device, dtype=dtype))
        self.shared_bias = shared_bias
        self.out_channels = out_channels
        self.scale_factor = scale
        self.init = init
        self.trim = trim
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """ICNR weight and phase-equal bias (or PyTorch's init with ``init="default"``).

        Works on the *effective* weight, so it stays ICNR under weight norm or any
        parametrisation with a ``right_inverse``.
        """
        if "scale_factor" not in self.__dict__:  # called by nn.ConvNd.__init__, redone later
            return
        phases = math.prod(self.scale_factor)
        w = torch.empty(self.weight.shape, device=self.weight.device, dtype=self.weight.dtype)
        if self.init == "icnr":
            icnr_(w, self.scale_factor, dims=self._dims)
        else:
            default_conv_init_(w)
        set_effective_weight_(self, w)
        if self.bias is not None:
            fan_in = w.shape[1] * math.prod(w.shape[2:])
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            with torch.no_grad():
                if self.init == "icnr" and not self.shared_bias:
                    b = torch.empty(self.out_channels, device=w.device, dtype=w.dtype)
                    self.bias.copy_(b.uniform_(-bound, bound).repeat_interleave(phases))
                else:
                    self.bias.uniform_(-bound, bound)

    def extra_repr(self) -> str:
        s = super().extra_repr() + f", scale_factor={self.scale_factor}, init={self.init!r}"
        s += ", shared_bias=True" if self.shared_bias else ""
        return s + (f", trim={self.trim}" if self.trim else "")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == self._dims + 1:
            return self.forward(x.unsqueeze(0)).squeeze(0)
        if not self.shared_bias:
            y = self._low_res(x, self.bias)
            return apply_trim(pixel_shuffle_nd(y, self.scale_factor, self._dims), self.trim)
        y = pixel_shuffle_nd(self._low_res(x, None), self.scale_factor, self._dims)
        if self.bias is not None:
            y = y + self.bias.view(-1, *(1,) * self._dims)
        return apply_trim(y, self.trim)

    def _low_res(self, x: torch.Tensor, bias) -> torch.Tensor:
        """The convolution before the shuffle; an uneven "same" zero padding done by ``F.pad``.

        What PyTorch does internally for an even kernel, done here so that it does not warn
        (a UserWarning about the zero-padded copy) and exports as a plain ``Pad`` node.
        """
        pads = self._reversed_padding_repeated_twice
        if self.padding != "same" or self.padding_mode != "zeros" or pads[0::2] == pads[1::2]:
            return self._conv_forward(x, self.weight, bias)
        conv = (F.conv1d, F.conv2d, F.conv3d)[self._dims - 1]
        return conv(F.pad(x, pads), self.weight, bias, self.stride, 0, self.dilation,
                    self.groups)

    def output_length(self, axis: int, length: int) -> int:
        """Output length on spatial ``axis`` for an input of ``length`` (before ``trim``)."""
        if isinstance(self.padding, str):
            total = 0 if self.padding == "valid" else self.dilation[axis] * (
                self.kernel_size[axis] - 1)
        else:
            total = 2 * self.padding[axis]
        k, d, st = self.kernel_size[axis], self.dilation[axis], self.stride[axis]
        return self.scale_factor[axis] * ((length + total - d * (k - 1) - 1) // st + 1)

    def equivalent_transposed_weight(self) -> torch.Tensor:
        """The ConvTranspose weight ``(in, out/groups, *K)``, stride ``s``, of this layer.

        Exact for stride 1 (see the module docstring for the output shift); differentiable.
        Feed it to :func:`checkerfree.overlap.phase_imbalance` with ``stride=scale_factor``.
        """
        return subpixel_transposed_weight(self.weight, self.scale_factor, dilation=self.dilation,
                                          groups=self.groups)

    @classmethod
    def from_conv_transpose(cls, m, *, kernel_size=None, shared_bias=True, **kwargs):
        """A new ICNR sub-pixel convolution with ``m``'s channels, groups, device, dtype,
        training flag and output shape for every input size, at most ``m``'s parameters and
        multiply-adds.

        The kernel defaults to ``max(1, k // s)`` taps per axis at low resolution, with
        "same" padding (the low-resolution output has the input's length, for every length
        ``m`` accepts), and ``trim`` absorbs the constant length difference. ``s k // s <= k``
        per axis and the bias is one per output channel (``shared_bias=True``, added after the
        shuffle), so the parameters are at most ``m``'s and so are the multiply-adds (``s^d``
        phases of ``(k // s)^d`` taps per input position against ``k^d``). When ``s`` divides
        ``k`` this is ``ceil(k / s)``, which spans ``m``'s reach; otherwise ``ceil(k / s)`` would
        exceed the parameters (k3 s2: 16 taps against 9), so one tap fewer. With ``k < s``
        even one tap per phase (``s^d``) exceeds ``m``'s ``k^d``: the one-tap minimum is used.
        ``kernel_size=`` overrides the default; ``shared_bias=False`` gives every phase its
        own bias (a copy of ``m``'s, equal across phases). The weight is ICNR-initialised, so
        with the shared bias a constant input gives a constant output away from the borders.
        ``m``'s dilation is not carried (``dilation=`` sets the low-resolution one; the
        shapes are kept either way). ``m`` is not modified.

        >>> ct = nn.ConvTranspose2d(64, 64, 4, stride=2, padding=1)
        >>> new = SubPixelConv2d.from_conv_transpose(ct)
        >>> new.kernel_size, new.bias.shape
        ((2, 2), torch.Size([64]))
        >>> sum(p.numel() for p in new.parameters()) == sum(p.numel() for p in ct.parameters())
        True
        """
        dims = cls._dims
        axes = conv_transpose_geometry(m, dims, cls.__name__)
        if kernel_size is None:
            kernel_size = tuple(max(k // s, 1) for k, s, *_ in axes)
        ks = as_scale(kernel_size, dims, "kernel_size")
        dil = as_scale(kwargs.pop("dilation", 1), dims, "dilation")
        new = cls(
            m.in_channels, m.out_channels, ks, padding="same",
            dilation=dil, groups=m.groups, bias=m.bias is not None,
            device=m.weight.device, dtype=m.weight.dtype,
            scale_factor=tuple(s for _k, s, *_ in axes), shared_bias=shared_bias, **kwargs,
        )
        # "same" pads an odd total one more after: the kernel reads half a position late.
        offsets = [s * ((d * (k - 1) // 2) - d * (k - 1) / 2)
                   for k, d, (_k, s, *_) in zip(ks, dil, axes, strict=True)]
        new.trim = trim_to_match(new.output_length, axes, cls.__name__, offsets)
        if m.bias is not None:
            with torch.no_grad():
                b = m.bias if shared_bias else m.bias.repeat_interleave(math.prod(new.scale_factor))
                new.bias.copy_(b)
        return new.train(m.training)


class SubPixelConv1d(_SubPixelConvNd, nn.Conv1d):
    """``nn.Conv1d`` to ``out * s`` channels, then a 1-D pixel shuffle; ICNR by default.

    >>> SubPixelConv1d(2, 3, 3, padding=1, scale_factor=3)(torch.randn(1, 2, 5)).shape
    torch.Size([1, 3, 15])
    """

    _dims = 1


class SubPixelConv2d(_SubPixelConvNd, nn.Conv2d):
    """``nn.Conv2d`` to ``out * s^2`` channels, then ``pixel_shuffle``; ICNR by default.

    >>> from checkerfree.overlap import phase_imbalance
    >>> m = SubPixelConv2d(4, 4, 3, padding=1)
    >>> phase_imbalance(m.equivalent_transposed_weight(), 2)
    0.0
    """

    _dims = 2


class SubPixelConv3d(_SubPixelConvNd, nn.Conv3d):
    """``nn.Conv3d`` to ``out * s^3`` channels, then a 3-D pixel shuffle; ICNR by default.

    >>> SubPixelConv3d(1, 2, 3, padding=1)(torch.randn(1, 1, 2, 3, 4)).shape
    torch.Size([1, 2, 4, 6, 8])
    """

    _dims = 3
