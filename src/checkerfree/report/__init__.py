"""Figures (matplotlib, extra ``plot``), terminal renderings and reports."""
