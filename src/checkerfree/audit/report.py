"""The audit's result: layers, forward and gradient probes, verdict and advice.

``AuditReport.to_json()`` is the contract the command line prints; ``str(report)`` is a
readable table; ``to_html(dir)`` writes a page with pictures (see
:mod:`checkerfree.report.audit_html`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from checkerfree.audit.inventory import ResamplingSite
from checkerfree.audit.probes import ProbeResult

__all__ = ["LayerFinding", "AuditReport"]


def decided_by(p: ProbeResult) -> str:
    """``"; decided by KIND: F% of N flagged, median S"`` where kinds were summarised, else ``""``.

    The score and share above mix every probe kind; the verdict rests on one (a constant batch
    alone can decide while the median over every kind reads 0).

    >>> decided_by(ProbeResult("artifacts", kinds={"constant": {"items": 1,
    ...     "flagged_fraction": 1.0, "score": 27.0}}, deciding="constant"))
    '; decided by constant: 100% of 1 flagged, median 27.00'
    """
    k = p.kinds.get(p.deciding)
    if not k:
        return ""
    return (f"; decided by {p.deciding}: {k['flagged_fraction']:.0%} of {k['items']} flagged, "
            f"median {k['score']:.2f}")


@dataclass
class LayerFinding:
    """One resampling site with the audit's conclusions about it."""

    site: ResamplingSite
    culprit: bool = False
    #: the largest part of a measured pattern its ablation removes (0..1), and in which probe
    share: float | None = None
    probe: str | None = None  # "forward" or "gradient": which measurement it was ablated in
    advice: str | None = None
    #: the share per probe it was ablated in ({"forward": 0.9, "gradient": 0.1})
    shares: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        s = self.site
        return {
            "name": s.name,
            "kind": s.kind,
            "module_type": s.module_type,
            "direction": s.direction,
            "kernel": list(s.kernel) if s.kernel else None,
            "stride": list(s.stride),
            "uneven": s.uneven,
            "culprit": self.culprit,
            "share": None if self.share is None else round(self.share, 4),
            "probe": self.probe,
            "shares": {k: round(v, 4) for k, v in self.shares.items()},
            "overlap_ratio": None if s.overlap is None else s.overlap.ratio,
            "overlap_period": None if s.overlap is None else list(s.overlap.period),
            "phase_imbalance": None if s.phase_imbalance is None else round(s.phase_imbalance, 6),
            "reason": s.reason,
            "advice": self.advice,
        }


@dataclass
class AuditReport:
    """Everything the audit found; ``verdict`` is ``"artifacts"``, ``"clean"`` or ``"error"``.

    ``"error"``: the model could not be measured (non-finite weights, outputs or gradients);
    ``reason`` says how many values and where.
    """

    model: str
    mode: str
    device: str
    dtype: str
    input_shape: list[int]
    periods: list[int]
    layers: list[LayerFinding]
    forward: ProbeResult
    gradient: ProbeResult
    verdict: str
    advice: list[str]
    notes: list[str] = field(default_factory=list)
    fixed: AuditReport | None = None  # the audit of the converted model, with --fix
    reason: str = ""  # why the verdict is "error"
    #: what --fix did (checkerfree.audit.fixing): requested, applied, skipped, message
    fix: dict | None = None

    def to_dict(self) -> dict:
        out = {
            "model": self.model,
            "mode": self.mode,
            "device": self.device,
            "dtype": self.dtype,
            "input_shape": self.input_shape,
            "periods": self.periods,
            "layers": [f.to_dict() for f in self.layers],
            "forward": self.forward.to_dict(),
            "gradient": self.gradient.to_dict(),
            "verdict": self.verdict,
            "advice": self.advice,
            "notes": self.notes,
        }
        if self.reason:
            out["reason"] = self.reason
        if self.fix is not None:
            out["fix"] = self.fix
        if self.fixed is not None:
            out["fixed"] = self.fixed.to_dict()
        return out

    def to_json(self, indent: int | None = None) -> str:
        """The report as one JSON document."""
        from checkerfree.jsontext import dumps

        return dumps(self.to_dict(), indent=indent)

    def to_html(self, directory, *, force: bool = False, outputs=None):
        """Write ``index.html`` and its pictures to ``directory``; returns the page's path.

        ``outputs``: an :class:`~checkerfree.files.OutputSet` checked before the audit ran
        (:func:`checkerfree.report.audit_html.audit_html_outputs`)."""
        from checkerfree.report.audit_html import write_audit_html

        return write_audit_html(self, directory, force=force, outputs=outputs)

    def _probe_line(self, label: str, p: ProbeResult) -> str:
        if p.verdict == "n/a":
            return f"{label:9s} n/a ({p.reason})"
        per = "  ".join(f"p{s}={v:.2f}" for s, v in p.periods.items())
        return (f"{label:9s} {p.verdict:9s} score {p.score:.2f} grey levels "
                f"({p.flagged_fraction:.0%} of {p.items} flagged; {per}; inputs: "
                f"{', '.join(p.inputs)}){decided_by(p)}")

    def __str__(self) -> str:
        lines = [f"checkerfree audit: {self.model} ({self.mode} mode, {self.device}, "
                 f"{self.dtype}), input {tuple(self.input_shape)}"]
        if self.verdict == "error":  # nothing was measured: no table, no probe lines
            lines.append(f"verdict: error ({self.reason})")
            lines.extend(f"  note: {n}" for n in self.notes)
            if self.fixed is not None:
                lines += ["", "after the fix:"] + ["  " + ln for ln in str(self.fixed).splitlines()]
            return "\n".join(lines)
        if self.layers:
            rows = [("layer", "kind", "k", "s", "static", "culprit")]
            for f in self.layers:
                s = f.site
                rows.append((
                    s.name or "(model)", s.module_type or s.kind,
                    "x".join(map(str, s.kernel)) if s.kernel else "-",
                    "x".join(map(str, s.stride)),
                    ("uneven" if s.uneven else "even") if s.direction == "up" else "down",
                    ("yes" + (f" {f.share:.0%}" if f.share is not None else ""))
                    if f.culprit else "",
                ))
            widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
            for r in rows:
                lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
        else:
            lines.append("  no up- or downsampling operation found")
        lines.append(self._probe_line("forward", self.forward))
        lines.append(self._probe_line("gradient", self.gradient))
        lines.append(f"verdict: {self.verdict}" + (f" ({self.reason})" if self.reason else ""))
        for a in self.advice:
            lines.append(f"  - {a}")
        for n in self.notes:
            lines.append(f"  note: {n}")
        if self.fix is not None:
            lines.append("")
            how = self.fix["requested"]
            if self.fix.get("message"):
                lines.append(f"fix {how}: {self.fix['message']}")
            else:
                lines.append(f"fix {how}:")
                lines.extend(f"  - {a['fix']}" for a in self.fix["applied"])
            lines.extend(f"  - not fixed: {s['reason']}" for s in self.fix["skipped"]
                         if not self.fix.get("message"))
            lines.extend(f"  note: {n}" for n in self.fix.get("notes", []))
        if self.fixed is not None:
            lines.append("")
            lines.append("after the fix:")
            lines.extend("  " + line for line in str(self.fixed).splitlines())
        return "\n".join(lines)
