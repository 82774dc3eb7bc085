"""``CheckerboardScore``: a torchmetrics ``Metric`` over the functional checkerboard score.

Needs torchmetrics (extra ``metrics``), imported here only: ``import checkerfree`` does not.
States are sums (score, flagged count, per-period values, item count) reduced with ``sum``
across processes, so ``compute()`` is the mean over every item seen, on one process or many.
With ``periods="auto"`` the periods measured differ from item to item (each adds the ones
its search finds), so there is no per-period mean: ``compute()`` gives ``score`` and
``flagged`` only.

>>> import torch
>>> metric = CheckerboardScore(periods=(2,))
>>> metric.update(torch.zeros(2, 1, 16, 16))
>>> {k: round(v.item(), 3) for k, v in metric.compute().items()}
{'score': 0.0, 'flagged': 0.0, 'period_2': 0.0}
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from checkerfree.arguments import check_threshold
from checkerfree.errors import InvalidArgumentError, require
from checkerfree.score.layout import check_period_request
from checkerfree.score.checkerboard import checkerboard_score

torchmetrics = require("torchmetrics", "metrics")

__all__ = ["CheckerboardScore"]


class CheckerboardScore(torchmetrics.Metric):
    """Mean checkerboard score, flagged fraction and per-period means over all updates.

    ``compute()`` returns ``{"score", "flagged", "period_<s>" ...}`` (scalars): the mean score
    (grey levels for 0..255 inputs), the fraction of items flagged, and each period's mean
    (none with ``periods="auto"``: see the module doc).
    Keyword arguments other than those below go to ``torchmetrics.Metric``.

    >>> import torch
    >>> metric = CheckerboardScore()
    >>> metric(torch.rand(3, 3, 32, 32) * 255)["flagged"].shape
    torch.Size([])
    """

    is_differentiable = True
    higher_is_better = False
    full_state_update = False

    def __init__(
        self,
        periods: Iterable[int] | int | str = (2, 4, 8),
        *,
        threshold: float | None = None,
        spatial_dims: int | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        # Checked here, not at the first update: a bad argument should fail where it is given.
        self.periods = check_period_request(periods)
        self.threshold = None if threshold is None else check_threshold(threshold)
        if spatial_dims is not None and (
            isinstance(spatial_dims, bool) or spatial_dims not in (1, 2, 3)
        ):
            raise InvalidArgumentError(f"spatial_dims must be 1, 2 or 3, got {spatial_dims!r}")
        self.spatial_dims = spatial_dims
        zero = torch.tensor(0.0, dtype=torch.float64)
        self.add_state("score_sum", default=zero.clone(), dist_reduce_fx="sum")
        self.add_state("flagged_sum", default=zero.clone(), dist_reduce_fx="sum")
        listed = () if self.periods == "auto" else self.periods
        periods_zero = torch.zeros(len(listed), dtype=torch.float64)
        self.add_state("period_sum", default=periods_zero, dist_reduce_fx="sum")
        self.add_state("total", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, x: torch.Tensor) -> None:
        """Score a batch (hotspots are not needed and not computed).

        A batch with a NaN or infinite value (or whose power overflows) raises
        :class:`~checkerfree.errors.NonFiniteError` before any state changes: it is never
        counted as a score of 0.
        """
        result = checkerboard_score(
            x,
            self.periods,
            threshold=self.threshold,
            spatial_dims=self.spatial_dims,
            hotspot=False,
        )
        self.score_sum += result.score.sum().to(self.score_sum)
        self.flagged_sum += result.flagged.sum().to(self.flagged_sum)
        if self.periods != "auto":
            self.period_sum += torch.stack(
                [result.periods[s].sum() for s in self.periods]
            ).to(self.period_sum)
        self.total += result.score.shape[0]

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Score a batch, add it to the state, return the batch's values (``compute`` of it).

        torchmetrics' forward resets the state, updates and merges the saved state back; a
        batch that raises in between (non-finite, wrong shape) would lose every earlier
        update, so the state is put back before the error goes on.
        """
        saved = {attr: getattr(self, attr).clone() for attr in self._defaults}
        count, on_cpu = self._update_count, self.compute_on_cpu
        try:
            return super().forward(x)
        except Exception:
            for attr, value in saved.items():
                setattr(self, attr, value)
            # Where torchmetrics' forward leaves them when it completes.
            self._update_count, self.compute_on_cpu = count, on_cpu
            self._to_sync, self._should_unsync = self.sync_on_compute, True
            self._enable_grad, self._computed = False, None
            raise

    def compute(self) -> dict[str, torch.Tensor]:
        """Means over every item seen since the last ``reset()``."""
        count = self.total.clamp_min(1).to(self.score_sum)
        out = {"score": self.score_sum / count, "flagged": self.flagged_sum / count}
        for i, s in enumerate(() if self.periods == "auto" else self.periods):
            out[f"period_{s}"] = self.period_sum[i] / count
        return out
