"""Artifact-free upsampling layers."""
