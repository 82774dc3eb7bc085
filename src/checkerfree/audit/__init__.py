"""Audit a model for checkerboard artifacts: inventory, probes, attribution, advice."""

from checkerfree.audit.context import ArtifactAudit
from checkerfree.audit.core import audit
from checkerfree.audit.report import AuditReport, LayerFinding

__all__ = ["ArtifactAudit", "AuditReport", "LayerFinding", "audit"]
