"""checkerfree: find, explain, measure and remove checkerboard artifacts."""

__version__ = "0.1.0"
