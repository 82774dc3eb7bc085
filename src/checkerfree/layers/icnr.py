"""ICNR: initialise a sub-pixel convolution so that it starts as nearest-neighbour resizing.

Aitken et al., "Checkerboard artifact free sub-pixel convolution", arXiv:1707.02937 (2017).
A convolution to ``C * S`` channels (``S = s^d`` phases) followed by a pixel shuffle equals
"convolve to ``C`` channels, then nearest-neighbour upsample" exactly when every output channel
``c`` uses one kernel for all its phases: rows ``c * S + r`` of the weight are equal for every
``r`` (interleaved, matching :func:`~checkerfree.layers.pixel_shuffle_nd`). Tiling the kernel
(rows ``r * C + c``) instead is only right for ``C = 1``. The bias must be equal across the
phases as well, or a constant input gives a period-``s`` pattern.

>>> w = icnr_(torch.empty(8, 3, 3, 3), 2)
>>> bool((w[0::4] == w[1::4]).all() and (w[0::4] == w[3::4]).all())
True
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn as nn

from checkerfree.errors import InvalidTypeError, ShapeError
from checkerfree.layers._geometry import as_scale

__all__ = ["icnr_", "icnr_bias_", "default_conv_init_"]


def default_conv_init_(weight: torch.Tensor) -> torch.Tensor:
    """PyTorch's default convolution init (``kaiming_uniform_`` with ``a = sqrt(5)``).

    >>> default_conv_init_(torch.empty(2, 3, 3)).abs().max() <= 1 / 3
    tensor(True)
    """
    return nn.init.kaiming_uniform_(weight, a=math.sqrt(5))


def _phases(weight: torch.Tensor, scale, dims: int | None, what: str) -> int:
    if not isinstance(weight, torch.Tensor):
        raise InvalidTypeError(f"{what} must be a torch.Tensor, got {type(weight).__name__}")
    if dims is None:
        dims = weight.dim() - 2
    if dims not in (1, 2, 3):
        raise ShapeError(
            f"{what} must be a convolution weight (out, in/groups, *kernel) with 1 to 3 "
            f"kernel axes, got shape {tuple(weight.shape)}"
        )
    phases = math.prod(as_scale(scale, dims, "scale"))
    if weight.shape[0] % phases:
        raise ShapeError(
            f"{what}.shape[0] must be divisible by the number of phases prod(scale) = "
            f"{phases} (scale {scale!r}, {dims} axes), got shape {tuple(weight.shape)}"
        )
    return phases


def icnr_(
    weight: torch.Tensor,
    scale=2,
    initializer: Callable[[torch.Tensor], object] | None = None,
    *,
    dims: int | None = None,
) -> torch.Tensor:
    """Fill a convolution weight ``(C * s^d, in/groups, *kernel)`` with ICNR, in place.

    A kernel ``(C, in/groups, *kernel)`` is drawn with ``initializer`` (default: PyTorch's
    convolution init, whose fan-in is that of the full weight, so the layer's scale is the usual
    one) and each of its rows is repeated ``s^d`` times: ``weight[c * S + r] = kernel[c]``.
    ``scale`` is an integer or one integer per axis; ``dims`` defaults to ``weight.dim() - 2``.
    Returns ``weight``.

    >>> w = icnr_(torch.empty(9, 1, 3), 3, nn.init.ones_, dims=2)
    >>> w.shape, bool((w == 1).all())
    (torch.Size([9, 1, 3]), True)
    """
    phases = _phases(weight, scale, dims, "weight")
    init = default_conv_init_ if initializer is None else initializer
    kernel = torch.empty(
        (weight.shape[0] // phases, *weight.shape[1:]), device=weight.device, dtype=weight.dtype
    )
    with torch.no_grad():
        init(kernel)
        weight.copy_(kernel.repeat_interleave(phases, dim=0))
    return weight


def icnr_bias_(bias: torch.Tensor, scale=2, dims: int = 2) -> torch.Tensor:
    """Make a bias ``(C * s^d,)`` equal across the ``s^d`` phases of each channel, in place.

    Each block of ``s^d`` entries is replaced by its mean (the nearest equal-phase bias), so a
    constant input gives a constant output. Returns ``bias``.

    >>> icnr_bias_(torch.tensor([1.0, 3.0, 0.0, 2.0]), 2, dims=1).tolist()
    [2.0, 2.0, 1.0, 1.0]
    """
    if not isinstance(bias, torch.Tensor) or bias.dim() != 1:
        raise ShapeError(
            f"bias must be a 1-D tensor (C * s^d,), got "
            f"{tuple(bias.shape) if isinstance(bias, torch.Tensor) else type(bias).__name__}"
        )
    phases = math.prod(as_scale(scale, dims, "scale"))
    if bias.shape[0] % phases:
        raise ShapeError(
            f"bias length must be divisible by prod(scale) = {phases} (scale {scale!r}, "
            f"{dims} axes), got {bias.shape[0]}"
        )
    with torch.no_grad():
        blocks = bias.view(-1, phases)
        blocks.copy_(blocks.mean(dim=1, keepdim=True).expand_as(blocks))
    return bias


def set_effective_weight_(module: nn.Module, value: torch.Tensor) -> None:
    """Give ``module.weight`` the value ``value``, also when the weight is parametrised.

    With ``torch.nn.utils.parametrizations.weight_norm`` (or any parametrisation that has a
    ``right_inverse``) the underlying parameters are set so that the *computed* weight equals
    ``value``; the older hook-based ``torch.nn.utils.weight_norm`` is handled through its
    ``weight_g``/``weight_v``.
    """
    from torch.nn.utils import parametrize

    with torch.no_grad():
        if parametrize.is_parametrized(module, "weight"):
            module.weight = value  # runs right_inverse of the parametrisation
        elif hasattr(module, "weight_g") and hasattr(module, "weight_v"):
            hook = next(
                h for h in module._forward_pre_hooks.values() if getattr(h, "name", "") == "weight"
            )
            module.weight_v.copy_(value)
            module.weight_g.copy_(torch.norm_except_dim(value, 2, hook.dim))
            setattr(module, "weight", hook.compute_weight(module))
        else:
            module.weight.copy_(value)
