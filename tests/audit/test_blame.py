"""Blame by ablation, checked against a brute-force ablation by model surgery.

The reference builds, for each site, a copy of the model with a block-mean module put after
the site (and after each linear layer that follows it up to the next nonlinearity) or, for a
downsampling site, a module before it that phase-averages the gradient; it measures each
copy's lattice energy with ``checkerboard_score`` directly, one model at a time. The audit
ablates by counting calls inside a TorchFunctionMode, all on one stacked batch; both must
name the same culprits with the same shares.
"""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from checkerfree.audit import audit
from checkerfree.audit.attribution import MIN_SHARE, PhaseAveragedGradient, phase_average
from checkerfree.audit.probes import display_scale, probe_inputs, stretch
from checkerfree.score.checkerboard import DEFAULT_THRESHOLD, MIN_SIGNIFICANCE, checkerboard_score


class BlockMean(nn.Module):
    """Brute force: each s x s block replaced by its mean, by explicit loops over blocks."""

    def __init__(self, s):
        super().__init__()
        self.s = s

    def forward(self, x):
        y = x.clone()
        s = self.s
        for i in range(0, x.shape[-2], s):
            for j in range(0, x.shape[-1], s):
                y[..., i:i + s, j:j + s] = x[..., i:i + s, j:j + s].mean((-2, -1), keepdim=True)
        return y


class GradBlockMean(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.s = s

    def forward(self, x):
        return PhaseAveragedGradient.apply(x, (self.s, self.s))


class Functional(nn.Module):
    """Bare functional calls only (no submodule wraps the resampling)."""

    def __init__(self):
        super().__init__()
        self.w1 = nn.Parameter(torch.randn(4, 8, 3, 3) / 6)
        self.w2 = nn.Parameter(torch.randn(8, 8, 3, 3) / 8)
        self.w3 = nn.Parameter(torch.randn(8, 1, 4, 4) / 8)

    def forward(self, x):
        x = F.relu(F.conv_transpose2d(x, self.w1, stride=2, padding=1, output_padding=1))
        x = F.relu(F.conv2d(F.interpolate(x, scale_factor=2.0), self.w2, padding=1))
        return F.conv_transpose2d(x, self.w3, stride=2, padding=1)


def _sequential():
    return nn.Sequential(nn.ConvTranspose2d(4, 8, 3, 2, 1, 1), nn.ReLU(),
                         nn.Upsample(scale_factor=2), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
                         nn.ConvTranspose2d(8, 1, 4, 2, 1))


def _as_sequential(m: Functional) -> nn.Sequential:
    """The same maths as modules, so that surgery can put the references in between."""
    seq = _sequential()
    with torch.no_grad():
        seq[0].weight.copy_(m.w1), seq[0].bias.zero_()
        seq[3].weight.copy_(m.w2), seq[3].bias.zero_()
        seq[5].weight.copy_(m.w3), seq[5].bias.zero_()
    return seq


def _energy(y, scale, flagged_ref=None):
    """Per item, the sum of squared values over its flagged periods (interior, display scale)."""
    z = display_scale(y, scale)
    n = z.shape[-1]
    z = z[..., n // 8: n - n // 8, n // 8: n - n // 8]
    r = checkerboard_score(z, periods=(2, 4, 8), hotspot=False)
    if flagged_ref is None:
        flagged_ref = torch.stack([(r.periods[s] > DEFAULT_THRESHOLD)
                                   & (r.significance[s] > MIN_SIGNIFICANCE)
                                   for s in (2, 4, 8)], -1)
    values = torch.stack([r.periods[s] for s in (2, 4, 8)], -1)
    return (values.square() * flagged_ref).sum(-1), flagged_ref


def _one_flagged_per_kind(x, flagged, kinds):
    """The audit's ablation batch: the first flagged item of each probe kind (no batch norm)."""
    chosen = {}
    for i in flagged.nonzero().flatten().tolist():
        chosen.setdefault(kinds[i], i)
    return x if len(chosen) >= len(x) else x[sorted(chosen.values())]


def _reference_shares(seq, x, inserts, kinds):
    """Share of each site: mean over flagged items of the relative energy drop."""
    with torch.no_grad():
        _, loud = _energy(seq(x), stretch(seq(x)))
        x = _one_flagged_per_kind(x, loud.any(-1), kinds)
        base = seq(x)
    scale = stretch(base)
    e_base, loud = _energy(base, scale)
    items = loud.any(-1)
    shares = []
    for positions in inserts:
        m = copy.deepcopy(seq)
        layers = list(m)
        for pos in sorted(positions, reverse=True):
            layers.insert(pos, BlockMean(2))
        with torch.no_grad():
            e, _ = _energy(nn.Sequential(*layers)(x), scale, loud)
        shares.append(float((1 - e[items] / e_base[items]).clamp(0, 1).mean()))
    return shares


# Site i's reference ablation: block means after the site and after each linear layer that
# follows it before a nonlinearity (the Upsample's after the Upsample and after the Conv2d).
_INSERTS = [[1], [3, 4], [6]]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("functional", [False, True])
def test_blame_matches_surgery(seed, functional):
    torch.manual_seed(seed)
    model = Functional() if functional else _sequential()
    seq = _as_sequential(model) if functional else model
    if not functional:
        with torch.no_grad():
            for i in (0, 3, 5):
                seq[i].bias.zero_()
    shape = (2, 4, 8, 8)
    report = audit(model, input_shape=shape, seeds=1, gradient=False)
    assert [f.site.kind for f in report.layers] == ["conv_transpose", "interpolate",
                                                     "conv_transpose"]
    inputs = probe_inputs(shape, seeds=1)
    x = torch.cat([inputs[0].tensor, inputs[-1].tensor])  # smooth then constant: the stack
    kinds = [inputs[0].kind] * shape[0] + [inputs[-1].kind] * shape[0]
    reference = _reference_shares(seq, x, _INSERTS, kinds)
    got = [f.shares.get("forward") for f in report.layers]
    assert got == pytest.approx(reference, abs=2e-3), (got, reference)
    expected = [r >= MIN_SHARE for r in reference]
    assert [f.culprit for f in report.layers] == expected
    assert any(expected)


def test_gradient_blame_matches_surgery():
    torch.manual_seed(0)
    seq = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1), nn.ReLU(), nn.Conv2d(8, 8, 3, 2, 1), nn.ReLU(),
                        nn.Conv2d(8, 1, 1))
    shape = (2, 3, 32, 32)
    report = audit(seq, input_shape=shape, seeds=1)
    assert report.gradient.verdict == "artifacts"
    inputs = probe_inputs(shape, seeds=1)
    x = torch.cat([inputs[0].tensor, inputs[-1].tensor])

    def grad(m):
        xx = x.clone().requires_grad_(True)
        m(xx).sum().backward()
        return xx.grad

    kinds = [inputs[0].kind] * shape[0] + [inputs[-1].kind] * shape[0]
    base = grad(seq)
    _, loud = _energy(base, stretch(base))
    x = _one_flagged_per_kind(x, loud.any(-1), kinds)
    base = grad(seq)
    scale = stretch(base)
    e_base, loud = _energy(base, scale)
    items = loud.any(-1)
    reference = []
    for pos in (0, 2):
        layers = list(copy.deepcopy(seq))
        layers.insert(pos, GradBlockMean(2))
        e, _ = _energy(grad(nn.Sequential(*layers)), scale, loud)
        reference.append(float((1 - e[items] / e_base[items]).clamp(0, 1).mean()))
    got = [f.shares.get("gradient") for f in report.layers]
    assert got == pytest.approx(reference, abs=2e-3)
    assert [f.culprit for f in report.layers] == [r >= MIN_SHARE for r in reference]


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 3), st.integers(1, 3), st.integers(2, 9), st.integers(2, 9),
       st.integers(0, 10_000))
def test_phase_average_equals_block_loop(sh, sw, h, w, seed):
    x = torch.randn(2, 3, h, w, generator=torch.Generator().manual_seed(seed))
    y = phase_average(x, (sh, sw))
    ref = x.clone()
    for i in range(0, h, sh):
        for j in range(0, w, sw):
            ref[..., i:i + sh, j:j + sw] = x[..., i:i + sh, j:j + sw].mean((-2, -1), keepdim=True)
    torch.testing.assert_close(y, ref)
