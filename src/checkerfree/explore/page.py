"""Build the explorer page: the template with its script and initial state inlined.

The page (``explore.html``, ``explore.js``, shipped as package data) works from ``file://``
with no request of any kind: its Content-Security-Policy allows only inline script and style
and ``data:`` images. Its state is the URL fragment ``#dims=2&layers=3:2:1:1,3:2`` (the
``--layer`` syntax of ``checkerfree overlap``); the initial state below is used when the
link has none. Its arithmetic mirrors :func:`checkerfree.overlap.overlap` exactly.

>>> page = build_page(["3:2"], dims=2)
>>> page.startswith("<!DOCTYPE html>"), '"layers": ["3:2"]' in page
(True, True)
"""

from __future__ import annotations

import html
import json
from importlib import resources

import torch
from torch import nn

from checkerfree.errors import InvalidTypeError
from checkerfree.spec import TransposedConvSpec, coerce_layers

__all__ = ["DEFAULT_LAYERS", "build_page", "layer_text", "model_state"]

#: The stack shown when neither TARGET nor the link says otherwise: the article's k=3, s=2.
DEFAULT_LAYERS = ("3:2",)
_FIELDS = ("kernel_size", "stride", "padding", "output_padding", "dilation")
_DEFAULTS = (None, None, 0, 0, 1)


def _asset(name: str) -> str:
    return resources.files("checkerfree.explore").joinpath(name).read_text(encoding="utf-8")


def layer_text(spec: TransposedConvSpec) -> str:
    """``K:S[:P[:OP[:D]]]`` of a spec, per-axis fields as ``AxB``, trailing defaults dropped.

    >>> layer_text(TransposedConvSpec((4, 4), 2, 1)), layer_text(TransposedConvSpec(3, 2, 0, 0, 2))
    ('4:2:1', '3:2:0:0:2')
    """
    parts = []
    for f in _FIELDS:
        values = getattr(spec, f)
        parts.append(str(values[0]) if len(set(values)) == 1 else "x".join(map(str, values)))
    while len(parts) > 2 and parts[-1] == str(_DEFAULTS[len(parts) - 1]):
        parts.pop()
    return ":".join(parts)


def _script_json(value) -> str:
    # Inside <script>, "</" would end the element: escape it (JSON allows "\/").
    return json.dumps(value).replace("</", "<\\/")


def model_state(model: nn.Module) -> dict:
    """The explorer's state for a model: its transposed convolutions in registration order,
    and per layer the mean over channel pairs of its learned per-phase sums
    (:func:`checkerfree.overlap.phase_sums`) with :func:`~checkerfree.overlap.phase_imbalance`.

    >>> import torch; _ = torch.manual_seed(0)
    >>> s = model_state(nn.Sequential(nn.ConvTranspose2d(2, 2, 4, 2, 1)))
    >>> s["layers"], s["dims"], len(s["phases"][0]["sums"])
    (['4:2:1'], 2, 2)
    """
    from checkerfree.overlap import phase_imbalance, phase_sums

    if not isinstance(model, nn.Module):
        raise InvalidTypeError(f"expected an nn.Module, got {type(model).__name__}")
    specs, dims = coerce_layers(model)
    convs = [(name, m) for name, m in model.named_modules()
             if isinstance(m, (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d))]
    phases = []
    for (name, m), spec in zip(convs, specs):
        # First: it refuses NaN and meta weights with a typed error, before they are read.
        imbalance = phase_imbalance(m)
        sums = phase_sums(m).detach().to("cpu", torch.float64).mean(dim=(0, 1))
        while sums.dim() > 2:  # 3D: the first depth phase
            sums = sums[0]
        if sums.dim() == 1:
            sums = sums[None]
        phases.append({"name": name or type(m).__name__, "spec": spec.describe(),
                       "imbalance": f"{imbalance:.4g}",
                       "sums": [[float(v) for v in row] for row in sums.tolist()]})
    return {"dims": dims, "layers": [layer_text(s) for s in specs], "phases": phases}


def build_page(layers=DEFAULT_LAYERS, dims: int | None = 2, *, phases=None,
               title: str = "checkerfree explore") -> str:
    """The explorer's HTML, opening on ``layers`` (anything :func:`coerce_layers` takes).

    ``phases``: per layer, what :func:`model_state` gives, drawn as small heat maps.

    >>> "<title>checkerfree explore</title>" in build_page([(4, 2, 1)], dims=1)
    True
    """
    specs, dims = coerce_layers(list(layers) if isinstance(layers, tuple) else layers, dims)
    state = {"dims": dims, "layers": [layer_text(s) for s in specs], "phases": phases or []}
    return (_asset("explore.html")
            .replace("{{TITLE}}", html.escape(title))
            .replace("{{STATE}}", _script_json(state))
            .replace("{{SCRIPT}}", _asset("explore.js")))
