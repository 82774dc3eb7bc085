"""Audit a model for checkerboard artifacts: inventory, probes, attribution, advice."""
