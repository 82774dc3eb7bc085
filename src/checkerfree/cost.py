"""What a layer costs: its parameter count and its multiply-adds, counted, never estimated.

Multiply-adds are what ``torch.utils.flop_counter.FlopCounterMode`` counts (its FLOPs / 2:
one multiply and one add per multiply-add) for convolutions and matrix products;
element-wise work (biases, pads, the adds of a zero-order hold's box, pooling) is not
counted. The forward runs on the ``meta`` device, so a layer of any size is counted at no
memory and no compute; the weights' values are never read. For a transposed convolution the
count is ``N * in * out / groups * prod(k) * prod(L)`` (each input position meets every tap),
for a convolution the same with the output positions.

>>> from torch import nn
>>> ct = nn.ConvTranspose2d(4, 2, 3, stride=2)
>>> parameter_count(ct), multiply_adds(ct, (1, 4, 5, 5))
(74, 1800)
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
import torch.nn as nn

from checkerfree.errors import InvalidArgumentError, InvalidTypeError

__all__ = ["parameter_count", "multiply_adds", "meta_copy"]


def _check_module(module) -> nn.Module:
    if not isinstance(module, nn.Module):
        raise InvalidTypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    return module


def parameter_count(module: nn.Module) -> int:
    """Number of parameter elements of ``module`` (shared parameters once).

    >>> parameter_count(torch.nn.Conv1d(2, 3, 4))
    27
    """
    return sum(p.numel() for p in _check_module(module).parameters())


def meta_copy(module: nn.Module) -> nn.Module:
    """A deep copy of ``module`` whose tensors live on the ``meta`` device (no data copied).

    >>> meta_copy(torch.nn.Linear(2, 3)).weight.device.type
    'meta'
    """
    memo: dict = {}
    for m in _check_module(module).modules():
        for name, p in m.named_parameters(recurse=False):
            memo[id(p)] = nn.Parameter(torch.empty_like(p, device="meta"), p.requires_grad)
        for name, b in m.named_buffers(recurse=False):
            memo[id(b)] = torch.empty_like(b, device="meta")
        # Non-leaf tensors held as attributes (the legacy weight norm's computed weight).
        for value in vars(m).values():
            if isinstance(value, torch.Tensor) and id(value) not in memo:
                memo[id(value)] = torch.empty_like(value.detach(), device="meta")
    return copy.deepcopy(module, memo)


def multiply_adds(module: nn.Module, input_shape: Sequence[int]) -> int:
    """Multiply-adds of one forward of ``module`` on an input of ``input_shape``, counted.

    The module is run on a :func:`meta_copy`; see the module docstring for what counts.

    >>> multiply_adds(torch.nn.Conv2d(3, 8, 3, padding=1), (2, 3, 10, 10))
    43200
    """
    _check_module(module)
    if (isinstance(input_shape, (str, bytes)) or not isinstance(input_shape, Sequence)
            or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0
                       for n in input_shape)):
        raise InvalidArgumentError(
            f"input_shape must be a sequence of integers >= 0, got {input_shape!r}")
    from torch.utils.flop_counter import FlopCounterMode

    ghost = module if _on_meta(module) else meta_copy(module)
    x = torch.empty(tuple(input_shape), device="meta",
                    dtype=next((p.dtype for p in ghost.parameters()), torch.float32))
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        ghost(x)
    return counter.get_total_flops() // 2


def _on_meta(module: nn.Module) -> bool:
    tensors = [*module.parameters(), *module.buffers()]
    return bool(tensors) and all(t.device.type == "meta" for t in tensors)
