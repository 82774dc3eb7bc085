"""phase_imbalance is 0 exactly when constant inputs give constant outputs (Sugawara)."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from checkerfree import phase_imbalance, phase_sums
from checkerfree.errors import InvalidArgumentError, InvalidTypeError, ShapeError

_CONV_T = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


def balance(weight, stride, dilation=1):
    """Make every (in, out) pair's phase sums equal by shifting each phase's taps."""
    w = weight.clone()
    dims = w.dim() - 2
    s = (stride,) * dims if isinstance(stride, int) else stride
    d = (dilation,) * dims if isinstance(dilation, int) else dilation
    grids = torch.meshgrid(*[torch.arange(n) for n in w.shape[2:]], indexing="ij")
    phase = sum(((g * da) % sa) * (torch.tensor(s[a + 1:]).prod() if a + 1 < dims else 1)
                for a, (g, sa, da) in enumerate(zip(grids, s, d)))
    n_phases = int(torch.tensor(s).prod())
    sums = torch.stack([w[..., phase == q].sum(-1) for q in range(n_phases)], -1)
    target = sums.mean(-1)
    for q in range(n_phases):
        mask = phase == q
        count = int(mask.sum())
        if count == 0:
            return None  # a phase with no taps cannot be balanced unless all sums are 0
        w[..., mask] += ((target - sums[..., q]) / count)[..., None]
    return w


def interior_spread(weight, stride, dilation, groups, dims):
    """Max spread of the output for a random constant input, away from the borders."""
    cin = weight.shape[0]
    n = 2 * max(weight.shape[2:]) * dilation + 4
    x = torch.rand(1, cin, *([1] * dims), dtype=torch.float64).expand(1, cin, *([n] * dims))
    y = _CONV_T[dims](x, weight, stride=stride, dilation=dilation, groups=groups)
    margin = [dilation * (k - 1) + 1 for k in weight.shape[2:]]
    crop = y[(slice(None), slice(None)) + tuple(slice(m, n - m) for m, n in
                                                zip(margin, y.shape[2:]))]
    flat = crop.reshape(crop.shape[1], -1)
    return float((flat.max(-1).values - flat.min(-1).values).max())


@pytest.mark.parametrize("dims", [1, 2, 3])
@given(data=st.data())
def test_zero_iff_constant_in_constant_out(dims, data):
    k = data.draw(st.integers(1, 5))
    s = data.draw(st.integers(1, 3))
    dil = data.draw(st.integers(1, 2))
    groups = data.draw(st.sampled_from([1, 2]))
    make_balanced = data.draw(st.booleans())
    seed = data.draw(st.integers(0, 2**16))
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(2 * groups, 2, *([k] * dims), generator=g, dtype=torch.float64)
    if make_balanced:
        balanced = balance(w, s, dil)
        if balanced is not None:
            w = balanced
    imb = phase_imbalance(w, s, dilation=dil, groups=groups)
    spread = interior_spread(w, s, dil, groups, dims)
    assert (imb == 0.0) == (spread < 1e-9), (imb, spread)
    assert 0.0 <= imb <= 1.0


def test_ones_kernels():
    assert phase_imbalance(torch.ones(1, 1, 4, 4), 2) == 0.0
    assert phase_imbalance(torch.ones(1, 1, 3, 3), 2) == pytest.approx((4.75 / 25) ** 0.5)
    assert phase_sums(torch.ones(1, 1, 3, 3), 2)[0, 0].tolist() == [[4.0, 2.0], [2.0, 1.0]]


def test_module_input_and_per_channel():
    m = nn.ConvTranspose2d(4, 6, 4, stride=2, padding=1, groups=2)
    with torch.no_grad():
        m.weight.copy_(balance(m.weight.double(), 2).float())
        m.weight[:, 0] += torch.randn_like(m.weight[:, 0])  # unbalance channel 0 of each group
    per = phase_imbalance(m, per_channel=True)
    assert per.shape == (6,)
    assert (per[[0, 3]] > 0).all() and (per[[1, 2, 4, 5]] == 0).all()
    assert phase_imbalance(m) > 0


def test_phase_sums_are_differentiable():
    w = torch.randn(2, 3, 4, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: phase_sums(t, 2), (w,))


def test_exception():
    with pytest.raises(ShapeError):
        phase_imbalance(torch.ones(3, 3), 2)
    with pytest.raises(InvalidTypeError):
        phase_imbalance([[1.0]], 2)
    with pytest.raises(InvalidTypeError):
        phase_imbalance(nn.Conv2d(1, 1, 3), 2)
    with pytest.raises(InvalidArgumentError):
        phase_imbalance(torch.ones(3, 1, 3), 2, groups=2)
    with pytest.raises(InvalidArgumentError):
        phase_imbalance(torch.ones(1, 1, 3))
