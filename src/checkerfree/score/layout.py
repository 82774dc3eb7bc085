"""How measurement functions read a tensor: batch, channels, spatial axes, periods.

One convention for every measurement (score, heat map, spectrum, metric):

- ``spatial_dims=None`` infers the layout from ``x.ndim`` only where that is unambiguous:
  2 -> one grey image ``(H, W)``; 4 -> images ``(N, C, H, W)``; 5 -> volumes
  ``(N, C, D, H, W)``. A 3-D tensor could be one image ``(C, H, W)`` or signals ``(N, C, L)``,
  so it (and any other rank) needs ``spatial_dims``.
- With ``spatial_dims=d``: ``ndim == d + 2`` is a batch ``(N, C, *S)``, ``ndim == d + 1`` one
  item ``(C, *S)``, ``ndim == d`` one single-channel item ``(*S)``.

Results always carry a batch axis (``N = 1`` for a single item).

>>> import torch
>>> as_batch(torch.zeros(3, 32, 32), spatial_dims=2)[0].shape
torch.Size([1, 3, 32, 32])
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch

from checkerfree.errors import InvalidArgumentError, InvalidTypeError, ShapeError
from checkerfree.finite import require_values
from checkerfree.score.lattice import check_lattice_size

__all__ = ["as_batch", "check_periods"]

_INFERRED = {2: (2, "(H, W)"), 4: (2, "(N, C, H, W)"), 5: (3, "(N, C, D, H, W)")}


def as_batch(x: torch.Tensor, spatial_dims: int | None = None, *,
             integers: bool = False) -> tuple[torch.Tensor, int]:
    """Return ``x`` as a floating ``(N, C, *S)`` tensor and the number of spatial axes.

    Integer inputs become ``float32`` (with ``integers``, they are returned as they are,
    for a caller that converts them where it reads them: ``float32`` is what they stand
    for); ``float16``/``bfloat16`` are computed in ``float32``
    (FFTs in half precision are limited); ``float32``/``float64`` are kept. Sparse and
    ``meta`` tensors (no values) are refused.

    >>> import torch
    >>> y, d = as_batch(torch.zeros(8, 9))
    >>> tuple(y.shape), d
    ((1, 1, 8, 9), 2)
    """
    if not isinstance(x, torch.Tensor):
        raise InvalidTypeError(f"expected a torch.Tensor, got {type(x).__name__}")
    if x.is_complex() or x.dtype == torch.bool:
        raise InvalidTypeError(f"expected a real tensor, got dtype {x.dtype}")
    if x.layout != torch.strided:
        raise InvalidTypeError(
            f"expected a dense (strided) tensor, got layout {x.layout}; pass x.to_dense()"
        )
    require_values(x, "x")
    if spatial_dims is None:
        if x.ndim not in _INFERRED:
            raise ShapeError(
                f"cannot tell the layout of a {x.ndim}-D tensor of shape {tuple(x.shape)}; "
                "pass spatial_dims (1 for signals (N, C, L), 2 for images, 3 for volumes); "
                "a 3-D tensor is one image (C, H, W) with spatial_dims=2 "
                "or a batch of signals (N, C, L) with spatial_dims=1"
            )
        spatial_dims = _INFERRED[x.ndim][0]
    if isinstance(spatial_dims, bool) or not isinstance(spatial_dims, int):
        raise InvalidTypeError(f"spatial_dims must be 1, 2 or 3, got {spatial_dims!r}")
    if spatial_dims not in (1, 2, 3):
        raise InvalidArgumentError(f"spatial_dims must be 1, 2 or 3, got {spatial_dims}")
    extra = x.ndim - spatial_dims
    if extra not in (0, 1, 2):
        raise ShapeError(
            f"with spatial_dims={spatial_dims} expected {spatial_dims} to {spatial_dims + 2} "
            f"axes ((N, C, *S), (C, *S) or (*S)), got shape {tuple(x.shape)}"
        )
    x = x.reshape((1,) * (2 - extra) + tuple(x.shape))
    if x.numel() == 0:
        raise ShapeError(f"expected a non-empty tensor, got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        if not integers:
            x = x.to(torch.float32)
    elif x.dtype in (torch.float16, torch.bfloat16):
        x = x.to(torch.float32)
    return x, spatial_dims


def check_period_request(periods) -> tuple[int, ...] | str:
    """``"auto"`` as given, or the periods checked (:func:`check_periods`, any size).

    For constructors that take ``periods`` before any input is seen (``ImageScorer``,
    ``CheckerboardScore``): "auto" is resolved per input later, so only its spelling is
    checked here.

    >>> check_period_request("auto"), check_period_request([4, 2, 2])
    ('auto', (2, 4))
    >>> check_period_request("Auto")
    Traceback (most recent call last):
    ...
    checkerfree.errors.InvalidTypeError: periods must be 'auto', an int or a sequence of ints, got 'Auto'
    """
    if isinstance(periods, str):
        if periods != "auto":
            raise InvalidTypeError(
                f"periods must be 'auto', an int or a sequence of ints, got {periods!r}")
        return periods
    return check_periods(periods, (math.inf,))


def check_periods(periods: Iterable[int] | int, spatial: tuple[int, ...]) -> tuple[int, ...]:
    """Validate periods against the spatial shape; return them sorted without repeats.

    A period ``s`` needs at least two periods (``2 s`` samples) along every spatial axis:
    with fewer, every frequency of the cropped axis is a lattice frequency and there is no
    neighbourhood left to estimate the floor from. A period with more than
    :data:`~checkerfree.score.lattice.MAX_LATTICE_BINS` lattice bins (``s**d``) raises
    :class:`~checkerfree.errors.LimitError`.

    >>> check_periods((8, 2, 4, 2), (32, 32))
    (2, 4, 8)
    """
    if isinstance(periods, int) and not isinstance(periods, bool):
        periods = (periods,)
    try:
        items = list(periods)
    except TypeError:
        raise InvalidTypeError(
            f"periods must be an int or a sequence of ints, got {periods!r}"
        ) from None
    if not items:
        raise InvalidArgumentError("periods must name at least one period, got none")
    for s in items:
        if isinstance(s, bool) or not isinstance(s, int):
            raise InvalidTypeError(f"periods must be ints, got {s!r} in {tuple(items)!r}")
        if s < 2:
            raise InvalidArgumentError(f"periods must be >= 2, got {s} in {tuple(items)!r}")
        if 2 * s > min(spatial):
            raise InvalidArgumentError(
                f"period {s} needs at least {2 * s} samples (two periods) along every "
                f"spatial axis, got spatial shape {tuple(spatial)}"
            )
        check_lattice_size(s, len(spatial))
    return tuple(sorted(set(items)))
