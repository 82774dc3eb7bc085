"""Ways to run :class:`~checkerfree.batch.ImageScorer` over many files: local threads, Ray Data."""
