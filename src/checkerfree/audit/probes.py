"""Probe a model's output and input gradient for checkerboard artifacts.

Inputs are structured, not only white noise (zero-mean noise hides gain differences
between phases, DESIGN §4): latent noise for generators; scikit-image photographs for image
models with 1 or 3 input channels; smooth random fields otherwise; several seeds, and a
constant for every kind. Outputs and gradients are shown to the score as a person would look
at them: each item contrast-stretched to 0..255 between its 1st and 99th percentiles, so
values read as grey levels of the displayed picture, and each item is flagged by the score's
own calibrated rule (:func:`item_values`); the verdict is ``artifacts`` when half the items
of some kind are.

>>> import torch.nn as nn
>>> inputs = probe_inputs((2, 3, 32, 32), seeds=2)
>>> [(p.kind, tuple(p.tensor.shape)) for p in inputs]
[('photo', (2, 3, 32, 32)), ('photo', (2, 3, 32, 32)), ('constant', (2, 3, 32, 32))]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import functools

import torch
import torch.nn as nn
import torch.nn.functional as F

from checkerfree.audit.checks import (
    MAX_SEEDS,  # noqa: F401  (re-exported: the limit's old home)
    check_finite,
    check_input_shape,
    check_output_dtype,
    check_seeds,
)
from checkerfree.errors import InvalidArgumentError, ShapeError
from checkerfree.score.checkerboard import DEFAULT_THRESHOLD, MIN_SIGNIFICANCE, checkerboard_score

#: Verdict threshold of the probes: the score's calibrated threshold
#: (:data:`checkerfree.score.checkerboard.DEFAULT_THRESHOLD`, grey levels of the contrast-stretched
#: picture). An item is flagged by the score's own rule (:func:`checkerboard_score`'s
#: ``flagged``: amplitude above the threshold *and* a significant peak), so the audit and the
#: score take one decision; ``benchmarks/calibration.py`` measures it on models too.
AUDIT_THRESHOLD = DEFAULT_THRESHOLD

__all__ = ["AUDIT_THRESHOLD", "ProbeInput", "ProbeResult", "probe_inputs", "run_probes",
           "probe_forward", "probe_gradient", "item_values",
           "first_tensor", "display_scale", "stretch", "stacked_as_batch"]

_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "retina",
           "camera", "brick", "grass", "gravel")


@dataclass
class ProbeInput:
    """One batch of probe inputs: its kind (latent, photo, smooth, constant) and the seed."""

    kind: str
    seed: int
    tensor: torch.Tensor


@dataclass
class ProbeResult:
    """Scores of one probe (forward output or input gradient) over every probe input.

    ``periods`` holds, per period, the median over items of the value in grey levels of the
    contrast-stretched picture; ``flagged_fraction`` the share of items flagged by the
    score's rule (:func:`item_values`); ``verdict`` is ``"artifacts"`` when at least half
    the items of some probe kind are flagged (for image-to-image models: on what the model adds beyond its
    input), ``"clean"`` otherwise, ``"n/a"`` when there is nothing spatial to score
    (``reason`` says why).
    ``added`` (image-to-image models) is what the model adds beyond its input's own lattice
    energy, per period. ``kinds`` summarises each probe kind on its own (``items``,
    ``flagged_fraction``, ``score``: its median item's); ``deciding`` is the kind the verdict
    rests on, the one with the largest flagged fraction (the first in probe order on a tie):
    ``score`` mixes every kind, so a verdict decided by the constant batch alone can read a
    median of 0.
    """

    verdict: str
    periods: dict[int, float] = field(default_factory=dict)
    score: float = 0.0
    flagged_fraction: float = 0.0
    items: int = 0
    inputs: list[str] = field(default_factory=list)
    added: dict[int, float] | None = None
    reason: str = ""
    samples: torch.Tensor | None = field(default=None, repr=False)
    kinds: dict[str, dict] = field(default_factory=dict)
    deciding: str = ""

    def to_dict(self) -> dict:
        out = {
            "verdict": self.verdict,
            "score": round(self.score, 4),
            "periods": {str(s): round(v, 4) for s, v in self.periods.items()},
            "flagged_fraction": round(self.flagged_fraction, 4),
            "items": self.items,
            "inputs": self.inputs,
            "reason": self.reason,
        }
        if self.added is not None:
            out["added"] = {str(s): round(v, 4) for s, v in self.added.items()}
        if self.kinds:
            out["kinds"] = {k: {"items": v["items"],
                                "flagged_fraction": round(v["flagged_fraction"], 4),
                                "score": round(v["score"], 4)} for k, v in self.kinds.items()}
            out["deciding"] = self.deciding
        return out


def first_tensor(output):
    """The first tensor in a model output (tensor, tuple, dict, or a ``ModelOutput``)."""
    if isinstance(output, torch.Tensor):
        return output
    if hasattr(output, "sample") and isinstance(output.sample, torch.Tensor):
        return output.sample  # diffusers' DecoderOutput / UNet2DOutput
    if isinstance(output, dict):
        output = list(output.values())
    if isinstance(output, (list, tuple)):
        for item in output:
            found = first_tensor(item)
            if found is not None:
                return found
    return None


def stretch(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per item, the 1st percentile and the span to the 99th: the picture's display scale.

    Nearest-rank percentiles; of items over 16,384 values, from an even sample of 16,384 of
    them, so memory stays one copy of ``x`` however large the picture (sorting 2400x2400x3
    values would take a copy and an index of them all). A span of 0 marks a picture with
    nothing to show.

    >>> lo, span = stretch(torch.linspace(0, 1, 101).reshape(1, 1, 101))
    >>> round(lo.item(), 2), round(span.item(), 2)
    (0.01, 0.98)
    """
    flat = x.detach().reshape(x.shape[0], -1)
    n = flat.shape[1]
    if n > _SAMPLE:
        # Integer arithmetic: float32 linspace rounds n - 1 up to n beyond 2**24 values.
        idx = torch.arange(_SAMPLE, device=flat.device, dtype=torch.int64) * (n - 1) \
            // (_SAMPLE - 1)
        sample = flat[:, idx].float()
    else:
        sample = flat.float()
    # Nearest-rank percentiles by selection (kthvalue), 3x faster than one full sort and
    # equal to it; torch.quantile would sort once per quantile.
    last = sample.shape[1] - 1
    lo = sample.kthvalue(round(0.01 * last) + 1, dim=1).values
    hi = sample.kthvalue(round(0.99 * last) + 1, dim=1).values
    # A picture flat to 1e-4 of its level shows nothing: stretching rounding noise to full
    # contrast would invent patterns.
    level = sample.abs().mean(1)
    span = torch.maximum(hi - lo, 1e-4 * level).clamp_min(1e-12)
    return lo, torch.where(hi - lo > 1e-12, span, torch.zeros_like(span))


def display_scale(x: torch.Tensor, scale: tuple[torch.Tensor, torch.Tensor] | None = None
                  ) -> torch.Tensor:
    """Each item contrast-stretched to 0..255 between its 1st and 99th percentiles.

    Values beyond those percentiles are not clipped (clipping would add patterns of its own).
    ``scale`` (from :func:`stretch`) puts another tensor on the same display scale, so an
    ablated output is read in the grey levels of the picture it is compared with.

    >>> y = display_scale(torch.linspace(0, 1, 101).reshape(1, 1, 101))
    >>> round(y[0, 0, 1].item(), 3), round(y[0, 0, 50].item(), 3), round(y[0, 0, 99].item(), 3)
    (0.0, 127.5, 255.0)
    """
    lo, span = stretch(x) if scale is None else scale
    flat = x.detach().reshape(x.shape[0], -1)
    lo, span = lo.to(flat.device), span.to(flat.device)
    # In place on the one float copy: no further temporaries of the picture's size.
    scaled = flat.to(torch.float32, copy=True).sub_(lo[:, None])
    scaled.div_(span.clamp_min(1e-12)[:, None]).mul_(255.0)
    scaled.masked_fill_(~(span > 0)[:, None], 0.0)
    return scaled.reshape(x.shape)


# Values per item from which display_scale reads its percentiles.
_SAMPLE = 16_384


def stacked_as_batch(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """An output with more axes than its picture input, its extra leading axes read as batch.

    A picture input has as many spatial axes as the output; anything before ``(C, *spatial)``
    is batch-like: MONAI ``DynUNet``'s deep-supervision stack ``(N, heads, C, H, W)`` is
    ``N x heads`` pictures, not a volume. Latent inputs (every spatial size <= 4) say nothing
    about the output's rank and leave it as it is.

    >>> stacked_as_batch(torch.zeros(2, 3, 1, 16, 16), torch.zeros(2, 1, 16, 16)).shape
    torch.Size([6, 1, 16, 16])
    """
    if x.dim() < 3 or max(x.shape[2:]) <= 4 or y.dim() <= x.dim():
        return y
    return y.reshape(-1, *y.shape[y.dim() - x.dim() + 1:])


@functools.lru_cache(maxsize=16)
def _photo_array(name: str):
    """A scikit-image photograph as float32 (decoded once per process)."""
    import numpy as np
    from skimage import data

    return np.asarray(getattr(data, name)(), dtype=np.float32)


def _photo(name: str, channels: int, size: tuple[int, int]) -> torch.Tensor:
    return _photo_resized(name, channels, tuple(size)).clone()


@functools.lru_cache(maxsize=64)
def _photo_resized(name: str, channels: int, size: tuple[int, int]) -> torch.Tensor:
    import numpy as np

    img = _photo_array(name)
    if img.ndim == 2:
        img = img[..., None].repeat(3, axis=2)
    img = img[..., :3]
    if img.max() > 1.5:
        img = img / (65535.0 if img.max() > 255 else 255.0)
    t = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None]
    # Crop the largest centred region of the target aspect ratio, then resize with antialias.
    h, w = t.shape[-2:]
    ar = size[1] / size[0]
    ch, cw = (h, min(w, int(h * ar))) if w / h > ar else (min(h, int(w / ar)), w)
    top, left = (h - ch) // 2, (w - cw) // 2
    t = t[..., top: top + ch, left: left + cw]
    t = F.interpolate(t, size=size, mode="bilinear", antialias=True, align_corners=False)
    if channels == 1:
        t = (t * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    return (t[0] * 2 - 1).clamp(-1, 1)  # [-1, 1]


def _smooth(shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    """Gaussian-smoothed noise (sigma = 4 samples, periodic), unit standard deviation per item.

    Smoothing in the Fourier domain works for any size, however small.
    """
    dims = len(shape) - 2
    x = torch.randn(shape, generator=generator)
    spatial = shape[2:]
    axes = tuple(range(2, 2 + dims))
    spectrum = torch.fft.rfftn(x, dim=axes)
    sigma = 4.0
    gain = torch.ones(())
    for a, n in enumerate(spatial):
        f = torch.fft.rfftfreq(n) if a == dims - 1 else torch.fft.fftfreq(n)
        g = torch.exp(-2 * (torch.pi * sigma * f) ** 2)  # a Gaussian's transfer function
        gain = gain.unsqueeze(-1) * g if gain.dim() else g
    x = torch.fft.irfftn(spectrum * gain, s=spatial, dim=axes)
    flat = x.reshape(shape[0], -1)
    return ((flat - flat.mean(1, keepdim=True)) / flat.std(1, keepdim=True).clamp_min(1e-6)
            ).reshape(shape)


def probe_inputs(shape, seeds: int = 3, kind: str | None = None) -> list[ProbeInput]:
    """Structured probe inputs for a model taking tensors of ``shape``.

    ``kind`` defaults by shape: ``latent`` (no spatial axes, or all of size <= 4: a
    generator's code), ``photo`` (2 spatial axes, 1 or 3 channels, at least 16x16),
    else ``smooth`` fields; ``seeds`` batches of it, then one ``constant`` batch (ones; 0.5,
    a light grey, for photographs).
    """
    shape = tuple(int(v) for v in shape)
    if len(shape) < 2 or any(v < 1 for v in shape):
        raise ShapeError(f"input shape must be (N, C, *spatial) with positive sizes, got {shape}")
    if seeds < 1:
        raise InvalidArgumentError(f"seeds must be >= 1, got {seeds}")
    # Checked before any tensor exists: 2,4,100000,100000 would ask for 320 GB.
    check_input_shape(shape)
    check_seeds(seeds)
    spatial = shape[2:]
    if kind is None:
        if not spatial or max(spatial) <= 4:
            kind = "latent"
        elif len(spatial) == 2 and shape[1] in (1, 3) and min(spatial) >= 16:
            kind = "photo"
        else:
            kind = "smooth"
    if kind not in ("latent", "photo", "smooth"):
        raise InvalidArgumentError(f"kind must be latent, photo or smooth, got {kind!r}")
    out = []
    for seed in range(seeds):
        g = torch.Generator().manual_seed(seed)
        if kind == "latent":
            out.append(ProbeInput("latent", seed, torch.randn(shape, generator=g)))
        elif kind == "photo":
            names = [_PHOTOS[(seed * shape[0] + i) % len(_PHOTOS)] for i in range(shape[0])]
            batch = torch.stack([_photo(n, shape[1], spatial) for n in names])
            out.append(ProbeInput("photo", seed, batch))
        else:
            out.append(ProbeInput("smooth", seed, _smooth(shape, g)))
    # A constant input shows what the phases' sums and biases paint by themselves (Sugawara
    # et al.: an artifact-free upsampler maps a constant to a constant); every kind gets one.
    # Not 0: a zero input would hide the weights' phase sums and show only the biases.
    out.append(ProbeInput("constant", 0, torch.full(shape, 0.5 if kind == "photo" else 1.0)))
    return out


def _to(x: torch.Tensor, model: nn.Module) -> torch.Tensor:
    p = next(iter(model.parameters()), None)
    if p is None:
        return x
    return x.to(device=p.device, dtype=p.dtype if p.is_floating_point() else x.dtype)


def _interior(y: torch.Tensor) -> torch.Tensor:
    """Drop an eighth of each spatial axis at both ends: zero padding makes borders differ
    from the interior in every convolutional net, and that is not a checkerboard."""
    for a in range(2, y.dim()):
        n = y.shape[a]
        m = n // 8
        if m and n - 2 * m >= 8:
            y = y.narrow(a, m, n - 2 * m)
    return y


def _usable(periods, spatial) -> tuple[int, ...]:
    """Periods with enough repeats to tell a lattice peak from image content.

    At least 4 periods per axis, and 8 beyond period 8: a period-16 lattice in a 64-pixel
    picture sits among the lowest frequencies, where photographs have most of their energy.
    """
    return tuple(s for s in periods if all(n >= (8 if s > 8 else 4) * s for n in spatial))


def item_values(stretched: torch.Tensor, periods, raw_input: torch.Tensor | None = None,
                threshold: float = AUDIT_THRESHOLD) -> dict | None:
    """Per-item measurements of one contrast-stretched batch, by the score's own decision.

    Returns ``{"values", "added", "significance"}`` (each ``{s: (N,)}``), ``"score"`` and
    ``"flagged"`` ``(N,)``, or None when no period repeats enough. ``added`` is the value
    beyond the input's own (``raw_input``: image-to-image models), else the value. An item
    is flagged as :func:`checkerboard_score` flags a picture: some period's (added) value is
    above ``threshold`` and its peak is significant (above
    :data:`~checkerfree.score.checkerboard.MIN_SIGNIFICANCE`).

    >>> i, j = torch.meshgrid(torch.arange(64), torch.arange(64), indexing="ij")
    >>> y = (torch.linspace(0, 200, 64) + 3 * (-1.0) ** (i + j)).expand(1, 1, 64, 64)
    >>> r = item_values(y, (2, 4))
    >>> round(r["values"][2].item(), 1), r["flagged"].tolist()
    (6.0, [True])
    """
    y = _interior(stretched)
    spatial = tuple(y.shape[2:])
    usable = _usable(periods, spatial)
    if not usable:
        return None
    r = checkerboard_score(y.float(), periods=usable, spatial_dims=len(spatial),
                           hotspot=False, threshold=threshold)
    own = {}
    if raw_input is not None:
        ok = _usable(usable, tuple(raw_input.shape[2:]))
        if ok:
            rin = checkerboard_score(_interior(display_scale(raw_input)).float(), periods=ok,
                                     spatial_dims=raw_input.dim() - 2, hotspot=False)
            own = {s: rin.periods[s].detach().cpu() for s in ok}
    values = {s: r.periods[s].detach().cpu() for s in usable}
    sig = {s: r.significance[s].detach().cpu() for s in usable}
    added = {s: (values[s] - own[s]).clamp_min(0) if s in own else values[s] for s in usable}
    flagged = torch.stack([(added[s] > threshold) & (sig[s] > MIN_SIGNIFICANCE)
                           for s in usable], -1).any(-1)
    return {"values": values, "added": added, "significance": sig,
            "score": r.score.detach().cpu(), "flagged": flagged}


def _item_values_batched(stretched: list[torch.Tensor], periods, raw_inputs, threshold):
    """:func:`item_values` of each batch, from one call over all of them where they stack.

    Items are scored independently, so stacking changes no number; it saves the score's
    fixed cost per call (many small probe batches of one shape).
    """
    raws = list(raw_inputs) if raw_inputs else [None] * len(stretched)
    same = len({tuple(y.shape[1:]) for y in stretched}) == 1 and (
        all(x is None for x in raws)
        or (all(x is not None for x in raws) and len({tuple(x.shape[1:]) for x in raws}) == 1))
    if len(stretched) < 2 or not same:
        return [item_values(y, periods, x, threshold) for y, x in zip(stretched, raws)]
    raw = None if raws[0] is None else torch.cat(raws)
    r = item_values(torch.cat(stretched), periods, raw, threshold)
    if r is None:
        return [None] * len(stretched)
    sizes = [y.shape[0] for y in stretched]

    def split(v):
        return v.split(sizes) if isinstance(v, torch.Tensor) else None

    parts = {key: ({s: split(t) for s, t in v.items()} if isinstance(v, dict) else split(v))
             for key, v in r.items()}
    return [{key: ({s: t[i] for s, t in v.items()} if isinstance(v, dict) else v[i])
             for key, v in parts.items()} for i in range(len(sizes))]


def _summarise(stretched: list[torch.Tensor], periods, raw_inputs=None,
               threshold: float = AUDIT_THRESHOLD, kinds: list[str] | None = None
               ) -> ProbeResult:
    """Score contrast-stretched batches; summarise each period by its median over items.

    The verdict is ``artifacts`` when at least half the items of some probe kind (``kinds``,
    one per batch; default: all one kind) are flagged by the score's rule
    (:func:`item_values`): each kind tests its own mechanism (a constant input, the exact
    test of equal phase sums, shows a bias pattern that busy pictures hide). With ``raw_inputs`` (image-to-image models) an item is
    judged on what the model adds: its value per period minus the input's own, so a
    photograph's own Nyquist residue or a pattern already in the input is not blamed on the
    model.
    """
    values: dict[int, list[torch.Tensor]] = {s: [] for s in periods}
    added: dict[int, list[torch.Tensor]] = {s: [] for s in periods}
    flagged, scores = [], []
    by_kind: dict[str, list[torch.Tensor]] = {}
    kind_scores: dict[str, list[torch.Tensor]] = {}
    for i, r in enumerate(_item_values_batched(stretched, periods, raw_inputs, threshold)):
        if r is None:
            continue
        for s in r["values"]:
            values[s].append(r["values"][s])
            added[s].append(r["added"][s])
        flagged.append(r["flagged"])
        by_kind.setdefault(kinds[i] if kinds else "", []).append(r["flagged"])
        kind_scores.setdefault(kinds[i] if kinds else "", []).append(r["score"])
        scores.append(r["score"])
    if not scores:
        return ProbeResult("n/a", reason="the tensors are smaller than four times every period")
    flag = torch.cat(flagged).float()
    # The typical item of some kind decides: at least half of that kind's items flagged.
    loud = any(float(torch.cat(v).float().mean()) >= 0.5 for v in by_kind.values())
    summary = {k: {"items": int(torch.cat(v).numel()),
                   "flagged_fraction": float(torch.cat(v).float().mean()),
                   "score": float(torch.cat(kind_scores[k]).quantile(0.5))}
               for k, v in by_kind.items()}
    result = ProbeResult(
        verdict="artifacts" if loud else "clean",
        periods={s: float(torch.cat(v).quantile(0.5)) for s, v in values.items() if v},
        score=float(torch.cat(scores).quantile(0.5)),
        flagged_fraction=float(flag.mean()),
        items=int(flag.numel()),
        kinds=summary if kinds else {},
        deciding=max(summary, key=lambda k: summary[k]["flagged_fraction"]) if kinds else "",
    )
    if raw_inputs and any(r is not None for r in raw_inputs):
        result.added = {s: float(torch.cat(v).quantile(0.5)) for s, v in added.items() if v}
    return result


def _grad_ready(x: torch.Tensor) -> bool:
    """Inputs whose gradient is a picture: floating, with spatial axes longer than 4."""
    return x.is_floating_point() and x.dim() >= 3 and max(x.shape[2:]) > 4


def run_probes(model: nn.Module, inputs: list[ProbeInput], periods=(2, 4, 8), *,
               forward: bool = True, gradient: bool = True, objective: Callable | None = None,
               threshold: float = AUDIT_THRESHOLD, **forward_kwargs
               ) -> tuple[ProbeResult, ProbeResult]:
    """Score outputs and input gradients of ``objective(output)`` (default: the sum).

    One forward (and, where the input has a picture, one backward) pass per probe batch
    serves both measurements. Returns ``(forward, gradient)`` results.
    """
    outs, raw, grads, out_kinds, grad_kinds = [], [], [], [], []
    out_reason = grad_reason = ""
    for p in inputs:
        x = _to(p.tensor, model)
        want_grad = gradient and _grad_ready(x)
        if want_grad:
            x = x.detach().requires_grad_(True)
            y = first_tensor(model(x, **forward_kwargs))
        else:
            with torch.no_grad():
                y = first_tensor(model(x, **forward_kwargs))
        if y is None:
            out_reason = grad_reason = "the model returned no tensor"
            break
        # Never a measurement: a NaN picture has no lattice energy and would read as clean.
        check_output_dtype(y)
        check_finite(y.detach(), f"the output on the {p.kind} probe (seed {p.seed})")
        if forward:
            pictures = stacked_as_batch(y.detach(), x)
            if pictures.dim() < 3:
                out_reason = "the output has no spatial axes to score"
            else:
                outs.append(display_scale(pictures))
                # Image-to-image: the input has spatial axes of the same rank as the output
                # (repeated for each head of a deep-supervision stack).
                heads = pictures.shape[0] // x.shape[0]
                raw.append(x.detach().repeat_interleave(heads, 0)
                           if x.dim() == pictures.dim() and p.kind != "latent"
                           and _grad_ready(x) and heads * x.shape[0] == pictures.shape[0]
                           else None)
                out_kinds.append(p.kind)
        if want_grad:
            loss = objective(y) if objective is not None else y.sum()
            if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
                raise InvalidArgumentError(
                    f"objective must return a scalar tensor, got {type(loss).__name__}"
                    + (f" of shape {tuple(loss.shape)}" if isinstance(loss, torch.Tensor)
                       else ""))
            (g,) = torch.autograd.grad(loss, x, allow_unused=True)
            if g is None:
                grad_reason = "the objective does not depend on the input"
            else:
                check_finite(g, f"the input gradient on the {p.kind} probe (seed {p.seed})")
                grads.append(display_scale(g))
                grad_kinds.append(p.kind)
        elif gradient and not grad_reason:
            grad_reason = "the input has no spatial axes (a latent code)"

    def finish(items, kinds, reason, raw_inputs=None):
        if not items:
            return ProbeResult("n/a", reason=reason or "not probed",
                               inputs=sorted({q.kind for q in inputs}))
        result = _summarise(items, periods, raw_inputs, threshold, kinds)
        result.inputs = sorted(set(kinds))
        # Shown on the page: the first items of each kind's first batch (a constant batch
        # can decide the verdict on its own, so it is shown too), four at most.
        first: dict[str, torch.Tensor] = {}
        for item, kind in zip(items, kinds):
            first.setdefault(kind, item[:2])
        result.samples = torch.cat(list(first.values()))[:4].cpu()
        return result

    fwd = finish(outs, out_kinds, out_reason,
                 raw if any(r is not None for r in raw) else None) if forward else \
        ProbeResult("n/a", reason="not probed")
    grad = finish(grads, grad_kinds, grad_reason) if gradient else \
        ProbeResult("n/a", reason="not probed (gradient=False)")
    return fwd, grad


def probe_forward(model: nn.Module, inputs: list[ProbeInput], periods=(2, 4, 8),
                  threshold: float = AUDIT_THRESHOLD, **forward_kwargs) -> ProbeResult:
    """Score the model's outputs on ``inputs`` (no gradients)."""
    return run_probes(model, inputs, periods, gradient=False, threshold=threshold,
                      **forward_kwargs)[0]


def probe_gradient(model: nn.Module, inputs: list[ProbeInput], periods=(2, 4, 8),
                   objective: Callable | None = None, threshold: float = AUDIT_THRESHOLD,
                   **forward_kwargs) -> ProbeResult:
    """Score the input gradients of ``objective(output)`` (default: the output's sum).

    Only inputs with spatial axes are probed: a latent code's gradient has no picture.
    """
    return run_probes(model, inputs, periods, forward=False, objective=objective,
                      threshold=threshold, **forward_kwargs)[1]


def useful_periods(strides: list[int], default=(2, 4, 8)) -> tuple[int, ...]:
    """Periods worth measuring: the defaults plus the products of consecutive strides.

    >>> useful_periods([3])
    (2, 3, 4, 8)
    """
    found = set(default)
    for s in strides:
        if s > 1:
            found.add(s)
    acc = 1
    for s in strides:
        acc *= s
        if 1 < acc <= 16:
            found.add(acc)
    return tuple(sorted(found))


