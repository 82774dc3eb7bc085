"""Ways to run :class:`~checkerfree.score.batch.ImageScorer` over many files: local threads, Ray Data."""
