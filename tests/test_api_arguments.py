"""Promise 6 for the measurement API: a typed error, naming the argument, for every bad value.

One table row per bad argument of each public measurement function (score, loss, heat map,
spectrum, metric, overlap, phase_imbalance / phase_sums, the layer spec, the lattice building
blocks): the error class expected and a fragment of the message that names the argument and
what arrived. A hypothesis test then throws junk at the scalar arguments: the answer is a
result or a checkerfree error, never a builtin error from deep inside torch.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from checkerfree import (
    TransposedConvSpec,
    average_spectrum,
    checkerboard_heatmap,
    checkerboard_loss,
    checkerboard_score,
    overlap,
    phase_imbalance,
    phase_sums,
)
from checkerfree.score.batch import ImageScorer
from checkerfree.errors import (
    CheckerfreeError,
    InvalidArgumentError,
    InvalidTypeError,
    LimitError,
    ShapeError,
    SpecError,
)
from checkerfree.score.lattice import (
    crop_to_period,
    lattice_coords,
    lattice_excess,
    period_bins,
    period_spectrum,
    periodic_spectrum,
)

X = torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(0)) * 255
W = torch.ones(2, 3, 4, 4)


def _metric(**kwargs):
    pytest.importorskip("torchmetrics")
    from checkerfree.score.metric import CheckerboardScore

    return CheckerboardScore(**kwargs)


# (id, call, error class, fragments of the message)
CASES = [
    # checkerboard_score
    ("score window=0", lambda: checkerboard_score(X, window=0),
     InvalidArgumentError, ["window", "got 0"]),
    ("score window=0 without hotspot", lambda: checkerboard_score(X, window=0, hotspot=False),
     InvalidArgumentError, ["window", "got 0"]),
    ("score window=-3", lambda: checkerboard_score(X, window=-3.0),
     InvalidArgumentError, ["window", "got -3.0"]),
    ("score window=inf", lambda: checkerboard_score(X, window=math.inf),
     InvalidArgumentError, ["window", "finite", "got inf"]),
    ("score window='8'", lambda: checkerboard_score(X, window="8"),
     InvalidTypeError, ["window", "got '8'"]),
    ("score window=True", lambda: checkerboard_score(X, window=True),
     InvalidTypeError, ["window", "got True"]),
    ("score threshold='x'", lambda: checkerboard_score(X, threshold="x"),
     InvalidTypeError, ["threshold", "got 'x'"]),
    ("score threshold=nan", lambda: checkerboard_score(X, threshold=math.nan),
     InvalidArgumentError, ["threshold", "got nan"]),
    ("score threshold=-1", lambda: checkerboard_score(X, threshold=-1),
     InvalidArgumentError, ["threshold", ">= 0", "got -1"]),
    ("score threshold=[1]", lambda: checkerboard_score(X, threshold=[1.0]),
     InvalidTypeError, ["threshold", "got [1.0]"]),
    ("score hotspot='no'", lambda: checkerboard_score(X, hotspot="no"),
     InvalidTypeError, ["hotspot", "True or False", "got 'no'"]),
    ("score periods=1", lambda: checkerboard_score(X, periods=1),
     InvalidArgumentError, ["periods", ">= 2", "got 1"]),
    ("score periods=()", lambda: checkerboard_score(X, periods=()),
     InvalidArgumentError, ["periods", "none"]),
    ("score periods=2.0", lambda: checkerboard_score(X, periods=2.0),
     InvalidTypeError, ["periods", "got 2.0"]),
    ("score periods=(2, '4')", lambda: checkerboard_score(X, periods=(2, "4")),
     InvalidTypeError, ["periods", "'4'"]),
    ("score periods=(2, True)", lambda: checkerboard_score(X, periods=(2, True)),
     InvalidTypeError, ["periods", "True"]),
    ("score periods=32 on 32x32", lambda: checkerboard_score(X, periods=32),
     InvalidArgumentError, ["period 32", "64 samples", "(32, 32)"]),
    ("score periods=2048 (lattice limit)",
     lambda: checkerboard_score(torch.zeros(1, 1, 4096, 4096), periods=2048),
     LimitError, ["period 2048", "4194304 lattice bins", "up to 1024"]),
    ("score spatial_dims=4", lambda: checkerboard_score(X, spatial_dims=4),
     InvalidArgumentError, ["spatial_dims", "got 4"]),
    ("score spatial_dims=2.0", lambda: checkerboard_score(X, spatial_dims=2.0),
     InvalidTypeError, ["spatial_dims", "got 2.0"]),
    ("score 3-D without spatial_dims", lambda: checkerboard_score(X[0]),
     ShapeError, ["spatial_dims", "(1, 32, 32)"]),
    ("score x=list", lambda: checkerboard_score([[1.0]]),
     InvalidTypeError, ["torch.Tensor", "list"]),
    ("score x=numpy", lambda: checkerboard_score(np.zeros((32, 32))),
     InvalidTypeError, ["torch.Tensor", "ndarray"]),
    ("score x complex", lambda: checkerboard_score(X.to(torch.complex64)),
     InvalidTypeError, ["real", "complex64"]),
    ("score x bool", lambda: checkerboard_score(X > 100),
     InvalidTypeError, ["real", "bool"]),
    ("score x sparse", lambda: checkerboard_score(X.to_sparse()),
     InvalidTypeError, ["dense", "sparse"]),
    ("score x meta", lambda: checkerboard_score(X.to("meta")),
     InvalidArgumentError, ["x", "meta"]),
    ("score x empty", lambda: checkerboard_score(torch.zeros(0, 1, 32, 32)),
     ShapeError, ["non-empty", "(0, 1, 32, 32)"]),
    ("ImageScorer threshold=nan", lambda: ImageScorer(threshold=math.nan),
     InvalidArgumentError, ["threshold", "got nan"]),
    ("ImageScorer threshold='1'", lambda: ImageScorer(threshold="1"),
     InvalidTypeError, ["threshold", "got '1'"]),
    # checkerboard_loss
    ("loss reduction=3", lambda: checkerboard_loss(X, reduction=3),
     InvalidArgumentError, ["reduction", "got 3"]),
    ("loss reduction='avg'", lambda: checkerboard_loss(X, reduction="avg"),
     InvalidArgumentError, ["reduction", "'avg'"]),
    ("loss periods=0", lambda: checkerboard_loss(X, periods=0),
     InvalidArgumentError, ["periods", "got 0"]),
    ("loss x meta", lambda: checkerboard_loss(X.to("meta")),
     InvalidArgumentError, ["x", "meta"]),
    # checkerboard_heatmap
    # Narrower than the largest period, the map read 0 on an exact checkerboard (silently).
    ("heat map window below the largest period", lambda: checkerboard_heatmap(X, window=4),
     InvalidArgumentError, ["window", "largest period (8)", "got 4"]),
    ("heat map window=0", lambda: checkerboard_heatmap(X, window=0),
     InvalidArgumentError, ["window", "got 0"]),
    ("heat map window=nan", lambda: checkerboard_heatmap(X, window=math.nan),
     InvalidArgumentError, ["window", "got nan"]),
    ("heat map window=inf", lambda: checkerboard_heatmap(X, window=math.inf),
     InvalidArgumentError, ["window", "got inf"]),
    ("heat map window=None", lambda: checkerboard_heatmap(X, window=None),
     InvalidTypeError, ["window", "got None"]),
    ("heat map periods=[]", lambda: checkerboard_heatmap(X, periods=[]),
     InvalidArgumentError, ["periods"]),
    ("heat map x=None", lambda: checkerboard_heatmap(None),
     InvalidTypeError, ["torch.Tensor", "NoneType"]),
    # average_spectrum
    ("spectrum images=None", lambda: average_spectrum(None),
     InvalidTypeError, ["images", "NoneType"]),
    ("spectrum images='ab'", lambda: average_spectrum("ab"),
     InvalidTypeError, ["images", "str"]),
    ("spectrum images=[]", lambda: average_spectrum([]),
     InvalidArgumentError, ["at least one image", "none"]),
    ("spectrum images=[x, 3]", lambda: average_spectrum([X, 3]),
     InvalidTypeError, ["torch.Tensor", "int"]),
    ("spectrum two shapes", lambda: average_spectrum([X, torch.zeros(1, 1, 16, 16)]),
     ShapeError, ["one spatial shape", "(32, 32)", "(16, 16)"]),
    ("spectrum eps=0", lambda: average_spectrum(X, eps=0),
     InvalidArgumentError, ["eps", "got 0"]),
    ("spectrum eps=-1", lambda: average_spectrum(X, eps=-1e-10),
     InvalidArgumentError, ["eps", "got -1e-10"]),
    ("spectrum eps='a'", lambda: average_spectrum(X, eps="a"),
     InvalidTypeError, ["eps", "got 'a'"]),
    # CheckerboardScore
    ("metric periods=(1,)", lambda: _metric(periods=(1,)),
     InvalidArgumentError, ["periods", "got 1"]),
    ("metric periods=(2.5,)", lambda: _metric(periods=(2.5,)),
     InvalidTypeError, ["periods", "2.5"]),
    ("metric periods=None", lambda: _metric(periods=None),
     InvalidTypeError, ["periods", "None"]),
    ("metric threshold=nan", lambda: _metric(threshold=math.nan),
     InvalidArgumentError, ["threshold", "got nan"]),
    ("metric threshold='x'", lambda: _metric(threshold="x"),
     InvalidTypeError, ["threshold", "got 'x'"]),
    ("metric spatial_dims=0", lambda: _metric(spatial_dims=0),
     InvalidArgumentError, ["spatial_dims", "got 0"]),
    ("metric update list", lambda: _metric().update([1.0]),
     InvalidTypeError, ["torch.Tensor", "list"]),
    # overlap and the layer spec
    ("overlap float kernel", lambda: overlap([(3.0, 2)]),
     SpecError, ["kernel_size", "got 3.0"]),
    ("overlap float stride", lambda: overlap([(3, 2.0)]),
     SpecError, ["stride", "got 2.0"]),
    ("overlap None kernel", lambda: overlap([(None, 2)]),
     SpecError, ["kernel_size", "got None"]),
    ("overlap numpy kernel", lambda: overlap([(np.float64(3), 2)]),
     SpecError, ["kernel_size"]),
    ("overlap dict float", lambda: overlap([{"kernel_size": 3.5, "stride": 2}]),
     SpecError, ["kernel_size", "got 3.5"]),
    ("overlap dims=2.0", lambda: overlap([(3, 2)], dims=2.0),
     SpecError, ["dims", "got 2.0"]),
    ("overlap dims=True", lambda: overlap([(3, 2)], dims=True),
     SpecError, ["dims", "got True"]),
    ("overlap size=0", lambda: overlap([(3, 2)], size=0),
     InvalidArgumentError, ["size", "(0, 0)"]),
    ("overlap size=2.5", lambda: overlap([(3, 2)], size=2.5),
     InvalidArgumentError, ["size", "2.5"]),
    ("overlap layer=3.0", lambda: overlap([3.0]),
     InvalidTypeError, ["layer", "got 3.0"]),
    ("overlap layers=None", lambda: overlap(None),
     InvalidTypeError, ["layer", "None"]),
    ("spec kernel 0", lambda: TransposedConvSpec(0, 2),
     SpecError, ["kernel_size", ">= 1", "(0,)"]),
    ("spec kernel 3.0", lambda: TransposedConvSpec(3.0, 2),
     SpecError, ["kernel_size", "got 3.0"]),
    ("spec padding None", lambda: TransposedConvSpec(3, 2, None),
     SpecError, ["padding", "got None"]),
    ("spec parse 3:x", lambda: TransposedConvSpec.parse("3:x"),
     SpecError, ["K:S", "'3:x'"]),
    ("spec output_size 2.0", lambda: TransposedConvSpec(3, 2).output_size(2.0),
     SpecError, ["size", "got 2.0"]),
    # phase_imbalance / phase_sums
    ("phase_imbalance bool weights", lambda: phase_imbalance(W > 0, 2),
     InvalidTypeError, ["weight", "torch.bool"]),
    ("phase_imbalance complex weights", lambda: phase_imbalance(W.to(torch.complex64), 2),
     InvalidTypeError, ["weight", "complex64"]),
    ("phase_imbalance meta weights", lambda: phase_imbalance(W.to("meta"), 2),
     InvalidArgumentError, ["weight", "meta", "to_empty"]),
    ("phase_imbalance meta module",
     lambda: phase_imbalance(torch.nn.ConvTranspose2d(2, 3, 4, 2, device="meta")),
     InvalidArgumentError, ["weight", "meta"]),
    ("phase_imbalance numpy", lambda: phase_imbalance(W.numpy(), 2),
     InvalidTypeError, ["weight", "ndarray"]),
    ("phase_imbalance Linear", lambda: phase_imbalance(torch.nn.Linear(2, 2)),
     InvalidTypeError, ["ConvTranspose", "Linear"]),
    ("phase_imbalance stride missing", lambda: phase_imbalance(W),
     InvalidArgumentError, ["stride"]),
    ("phase_imbalance stride=0", lambda: phase_imbalance(W, 0),
     SpecError, ["stride", "(0, 0)"]),
    ("phase_imbalance stride=2.0", lambda: phase_imbalance(W, 2.0),
     SpecError, ["stride", "got 2.0"]),
    ("phase_imbalance groups=True", lambda: phase_imbalance(W, 2, groups=True),
     InvalidArgumentError, ["groups", "got True"]),
    ("phase_imbalance groups=3", lambda: phase_imbalance(W, 2, groups=3),
     InvalidArgumentError, ["groups", "in_channels=2", "got 3"]),
    ("phase_imbalance dilation=0.5", lambda: phase_imbalance(W, 2, dilation=0.5),
     SpecError, ["dilation", "got 0.5"]),
    ("phase_imbalance per_channel='yes'", lambda: phase_imbalance(W, 2, per_channel="yes"),
     InvalidTypeError, ["per_channel", "got 'yes'"]),
    ("phase_imbalance empty", lambda: phase_imbalance(torch.ones(0, 3, 4, 4), 2),
     ShapeError, ["weight", "(0, 3, 4, 4)"]),
    ("phase_imbalance 1-D weight", lambda: phase_imbalance(torch.ones(4), 2),
     ShapeError, ["weight", "(4,)"]),
    ("phase_sums bool", lambda: phase_sums(W > 0, 2),
     InvalidTypeError, ["weight", "torch.bool"]),
    # the lattice building blocks
    ("crop_to_period s=0", lambda: crop_to_period(X, 0, 2),
     InvalidArgumentError, ["period s", "got 0"]),
    ("crop_to_period s=2.0", lambda: crop_to_period(X, 2.0, 2),
     InvalidTypeError, ["period s", "got 2.0"]),
    ("crop_to_period d=5", lambda: crop_to_period(X, 2, 5),
     InvalidArgumentError, ["d (the number of spatial axes)", "got 5"]),
    ("crop_to_period s=64 on 32", lambda: crop_to_period(X, 64, 2),
     ShapeError, ["period s=64", "(1, 1, 32, 32)"]),
    ("lattice_coords s=1", lambda: lattice_coords(1, (2,), 2),
     InvalidArgumentError, ["period s", "got 1"]),
    ("lattice_coords periods=None", lambda: lattice_coords(4, None, 2),
     InvalidTypeError, ["periods", "None"]),
    ("lattice_coords s=2**40", lambda: lattice_coords(2**40, (2,), 1),
     LimitError, ["lattice bins", "MAX_LATTICE_BINS"]),
    ("periodic_spectrum block=0", lambda: periodic_spectrum(X, 2, 0),
     InvalidArgumentError, ["block", "got 0"]),
    ("periodic_spectrum block=99", lambda: periodic_spectrum(X, 2, 99),
     ShapeError, ["block=99"]),
    ("periodic_spectrum int", lambda: periodic_spectrum(X.long(), 2),
     InvalidTypeError, ["floating", "int64"]),
    ("period_spectrum s=0", lambda: period_spectrum(X, 0, 2),
     InvalidArgumentError, ["period s", "got 0"]),
    ("period_bins s=40", lambda: period_bins(X, 40, 2),
     ShapeError, ["period s=40"]),
    ("lattice_excess text", lambda: lattice_excess("spectrum", 2, (2,), 2),
     InvalidTypeError, ["spectrum", "str"]),
    ("lattice_excess uncropped", lambda: lattice_excess(torch.fft.fft2(X[..., :31, :31]
                                                                       .to(torch.float64)),
                                                        2, (2,), 2),
     ShapeError, ["multiple of s=2"]),
]


@pytest.mark.parametrize("case, call, error, fragments", CASES, ids=[c[0] for c in CASES])
def test_bad_argument_gives_a_typed_error_naming_it(case, call, error, fragments):
    with pytest.raises(error) as info:
        call()
    exc = info.value
    assert type(exc).__module__ == "checkerfree.errors", (case, type(exc))
    assert isinstance(exc, CheckerfreeError) and isinstance(exc, (ValueError, TypeError))
    message = str(exc)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, (case, fragment, message)


def test_integer_weights_read_as_exact_float64():
    """The documented rule: integer weights are summed in float64, exactly."""
    w = torch.tensor([[[1, 2, 3]]])  # taps 1, 2, 3 with stride 2: sums (1 + 3, 2) = (4, 2)
    sums = phase_sums(w, 2)
    assert sums.dtype == torch.float64 and sums.tolist() == [[[4.0, 2.0]]]
    expected = math.sqrt(2.0) / math.sqrt(20.0)  # ||(1, -1)|| / ||(4, 2)||
    assert phase_imbalance(w, 2) == pytest.approx(expected, rel=1e-12)
    assert phase_imbalance(w, 2) == phase_imbalance(w.double(), 2)


def test_threshold_inf_flags_nothing_and_zero_flags_any_significant_peak():
    i = torch.arange(32)
    x = 100 + 0.01 * (-1.0) ** (i[:, None] + i[None, :])
    assert not checkerboard_score(x, threshold=math.inf).flagged.any()
    assert checkerboard_score(x, threshold=0).flagged.all()
    assert not checkerboard_score(x).flagged.any()  # 0.02 grey levels: below the default


def test_scalar_arguments_accept_numpy_and_tensor_numbers():
    base = checkerboard_score(X, threshold=1.0, window=8.0)
    for threshold, window in ((np.float32(1.0), np.int64(8)), (torch.tensor(1.0), 8)):
        other = checkerboard_score(X, threshold=threshold, window=window)
        assert torch.equal(other.hotspot, base.hotspot) and other.threshold == 1.0


_JUNK = st.one_of(
    st.none(), st.booleans(), st.text(max_size=3), st.integers(-10**30, 10**30),
    st.floats(allow_nan=True, allow_infinity=True), st.lists(st.integers(-3, 40), max_size=3),
    st.tuples(st.floats(), st.integers()), st.just(np.float64(np.nan)), st.just(torch.zeros(2)),
    st.just(object()),
)
_SMALL = torch.rand(1, 1, 16, 16, generator=torch.Generator().manual_seed(2)) * 255


@settings(max_examples=40, deadline=None)
@given(name=st.sampled_from(["threshold", "window", "periods", "spatial_dims", "hotspot"]),
       value=_JUNK)
def test_junk_score_arguments_never_leak_a_builtin_error(name, value):
    try:
        checkerboard_score(_SMALL, **{name: value})
    except CheckerfreeError as exc:
        assert isinstance(exc, (ValueError, TypeError)) and "\n" not in str(exc)


@settings(max_examples=30, deadline=None)
@given(value=_JUNK, where=st.sampled_from(["window", "eps", "periods"]))
def test_junk_heatmap_and_spectrum_arguments_never_leak_a_builtin_error(value, where):
    try:
        if where == "eps":
            average_spectrum(_SMALL, eps=value)
        else:
            checkerboard_heatmap(_SMALL, **{where: value})
    except CheckerfreeError as exc:
        assert isinstance(exc, (ValueError, TypeError))


@settings(max_examples=40, deadline=None)
@given(layer=st.tuples(*[st.one_of(st.integers(-2, 6), st.floats(0, 6), st.none(),
                                   st.text(max_size=2)) for _ in range(2)]))
def test_junk_layer_tuples_never_leak_a_builtin_error(layer):
    try:
        overlap([layer], dims=1)
    except CheckerfreeError as exc:
        assert isinstance(exc, (ValueError, TypeError))
