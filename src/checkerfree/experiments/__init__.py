"""Experiments behind ``checkerfree reproduce``: one module per group of claims.

Each claim of ``docs/claims.md`` (and each finding of our own) is a function ``(Context) -> Claim``
listed in :mod:`checkerfree.experiments.registry`; :mod:`checkerfree.experiments.runner`
runs them with a cache and writes the report.

>>> from checkerfree.experiments.registry import claim_ids
>>> "overlap-1d" in claim_ids()
True
"""
