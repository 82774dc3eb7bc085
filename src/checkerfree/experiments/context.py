"""What an experiment may use: the output folder, the quick flag, figure writing, a memo.

Experiments that share a costly step (the super-resolution training that four claims read)
keep its result in :attr:`Context.memo` so one run trains each model once. What to train is
:attr:`Context.needs`: the runner sets it to what the claims it computes declare
(:data:`checkerfree.experiments.registry.NEEDS`), so ``--only X`` trains only X's models;
``None`` (a context made by hand) means everything. Long loops report their steps through
:meth:`Context.steps` (:class:`~checkerfree.experiments.progress.StepProgress`).

>>> import tempfile
>>> ctx = Context(tempfile.mkdtemp(), quick=True, needs={"sr": ["deconv-k3"]})
>>> ctx.pick(quick=2, full=8), ctx.needed("sr", ("deconv-k3", "deconv-k4"))
(2, ('deconv-k3',))
"""

from __future__ import annotations

import io
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from checkerfree.experiments.progress import StepProgress
from checkerfree.files import OutputSet

__all__ = ["FIGURE_DIR", "Context"]

FIGURE_DIR = "figures"


@dataclass
class Context:
    """Run settings and helpers handed to every experiment."""

    out: Path
    quick: bool = False
    verbose: bool = False
    memo: dict = field(default_factory=dict)
    #: The run's planned files (:func:`checkerfree.experiments.runner.reproduce` makes it);
    #: by default figures belong to this run and replace earlier ones.
    outputs: OutputSet | None = None
    #: The claim being computed (the runner sets it): the prefix of progress lines.
    claim: str = ""
    #: Shared things to compute, by kind (``"sr"``: upsamplers, ``"classifiers"``: designs).
    needs: dict | None = None
    #: Seconds between two progress lines of one loop.
    progress_interval: float = 5.0
    #: Worker processes for independent trainings (the super-resolution models); 1: none.
    jobs: int = 1

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        self._start = time.monotonic()

    def pick(self, quick, full):
        """``quick`` in a quick run, ``full`` otherwise."""
        return quick if self.quick else full

    def needed(self, what: str, default) -> tuple:
        """The ``what`` items this run computes, in ``default``'s order: those :attr:`needs`
        names (none when it names none), or all of ``default`` when :attr:`needs` is None."""
        if self.needs is None:
            return tuple(default)
        wanted = set(self.needs.get(what, ()))
        return tuple(item for item in default if item in wanted)

    def steps(self, label: str, total: int) -> StepProgress:
        """A step counter for one loop, printing ``[claim] label i/n steps, ETA s``."""
        return StepProgress(label, total, prefix=self.claim, enabled=self.verbose,
                            interval=self.progress_interval)

    def log(self, message: str) -> None:
        """A progress line on stderr (stdout carries results)."""
        if self.verbose:
            elapsed = time.monotonic() - self._start
            print(f"  [{elapsed:6.1f} s] {message}", file=sys.stderr, flush=True)

    def save_figure(self, fig, name: str, dpi: int = 100) -> str:
        """Write a matplotlib figure as ``figures/<name>.png``; return that relative path."""
        import matplotlib.pyplot as plt

        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
        plt.close(fig)
        rel = f"{FIGURE_DIR}/{name}.png"
        outputs = self.outputs if self.outputs is not None else OutputSet(force=True)
        outputs.write(self.out / rel, buf.getvalue())
        return rel
