"""The interactive explorer: a self-contained page that redraws the overlap of a stack live."""

from checkerfree.explore.page import build_page, layer_text, model_state

__all__ = ["build_page", "layer_text", "model_state"]
