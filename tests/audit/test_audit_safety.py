"""The audit never touches the user's model, reads any output, and never measures a NaN.

Table-driven: each model is fingerprinted (every state-dict value, tensor identity,
``requires_grad``, ``.grad``, mode, hook dict, attribute, and the global random states),
audited, and fingerprinted again; the two must be equal. Premise tests show each case really
exercises what it is there for (a plain forward does move the VQ-VAE codebook, does sample in
the AutoencoderKL, does leave graph tensors on DynUNet).
"""

from __future__ import annotations

import copy
import random
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.modules.module as _module_globals
from hypothesis import given
from hypothesis import strategies as st

from checkerfree.audit import ArtifactAudit, audit
from checkerfree.audit.checks import MAX_PROBE_ELEMENTS
from checkerfree.audit.probes import display_scale
from checkerfree.audit.snapshot import ModelSnapshot, detached_deepcopy
from checkerfree.cli import main
from checkerfree.errors import (
    InvalidArgumentError,
    InvalidTypeError,
    LimitError,
    NonFiniteError,
    ShapeError,
)

monai = pytest.importorskip("monai")
from monai.networks.nets import VQVAE, AutoencoderKL, DynUNet  # noqa: E402

# torch 2.13 deprecates scripting; scripted models still exist in the wild and are audited.
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script:DeprecationWarning")

HOOK_DICTS = ("_forward_hooks", "_forward_hooks_with_kwargs", "_forward_hooks_always_called",
              "_forward_pre_hooks", "_forward_pre_hooks_with_kwargs", "_backward_hooks",
              "_backward_pre_hooks", "_state_dict_hooks", "_state_dict_pre_hooks",
              "_load_state_dict_pre_hooks", "_load_state_dict_post_hooks")


# ----------------------------------------------------------------------------- models

def _base() -> nn.Module:
    return nn.Sequential(nn.ConvTranspose2d(1, 4, 3, stride=2), nn.ReLU(),
                         nn.Conv2d(4, 1, 3, padding=1))


def vqvae_train() -> nn.Module:
    return VQVAE(spatial_dims=2, in_channels=1, out_channels=1, channels=(8, 8),
                 num_res_channels=8, num_res_layers=1,
                 downsample_parameters=((2, 4, 1, 1), (2, 4, 1, 1)),
                 upsample_parameters=((2, 4, 1, 1, 0), (2, 4, 1, 1, 0)),
                 num_embeddings=16, embedding_dim=8).train()


def dynunet_deep_supervision() -> nn.Module:
    return DynUNet(2, 1, 1, kernel_size=[3, 3, 3], strides=[1, 2, 2],
                   upsample_kernel_size=[2, 2], deep_supervision=True, deep_supr_num=1).train()


def autoencoder_kl() -> nn.Module:
    return AutoencoderKL(spatial_dims=2, in_channels=1, out_channels=1, channels=(8, 8),
                         latent_channels=2, num_res_blocks=1, norm_num_groups=4,
                         attention_levels=(False, False), with_encoder_nonlocal_attn=False,
                         with_decoder_nonlocal_attn=False)


class _Recorder:
    def __init__(self):
        self.calls = 0

    def __call__(self, *args, **kwargs):
        self.calls += 1


def with_hooks() -> nn.Module:
    m = _base()
    m.register_forward_pre_hook(_Recorder())
    m[0].register_forward_hook(_Recorder())
    m[0].register_forward_hook(_Recorder(), with_kwargs=True, always_call=True)
    m[2].register_full_backward_hook(_Recorder())
    m[2].register_full_backward_pre_hook(_Recorder())
    return m


def frozen_parameter() -> nn.Module:
    m = _base()
    m[0].weight.requires_grad_(False)
    m[2].weight.grad = torch.ones_like(m[2].weight)  # a gradient the user accumulated
    return m


def mixed_modes() -> nn.Module:
    m = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.Dropout(0.5),
                      nn.ConvTranspose2d(4, 4, 3, stride=2), nn.BatchNorm2d(4), nn.ReLU(),
                      nn.Conv2d(4, 1, 3, padding=1)).train()
    m[4].eval()
    m[6].eval()
    return m


class KeepsGraph(nn.Module):
    """Stores its last output (a graph tensor) and appends to a list in forward."""

    def __init__(self):
        super().__init__()
        self.net = _base()
        self.history: list[torch.Tensor] = []
        self.last = torch.zeros(1)

    def forward(self, x):
        y = self.net(x)
        self.last = y
        self.history.append(y.sum())
        return y


def keeps_graph() -> nn.Module:
    m = KeepsGraph()
    m(torch.randn(1, 1, 8, 8))  # the user ran it once: graph tensors are on the module
    return m


def compiled() -> nn.Module:
    return torch.compile(_base())


def scripted() -> nn.Module:
    return torch.jit.script(_base())


MODELS = {
    "vqvae-train": (vqvae_train, (2, 1, 32, 32)),
    "dynunet-deep-supervision": (dynunet_deep_supervision, (2, 1, 32, 32)),
    "autoencoder-kl": (autoencoder_kl, (2, 1, 32, 32)),
    "hooks": (with_hooks, (2, 1, 16, 16)),
    "frozen": (frozen_parameter, (2, 1, 16, 16)),
    "mixed-modes": (mixed_modes, (2, 1, 16, 16)),
    "keeps-graph": (keeps_graph, (2, 1, 16, 16)),
    "compiled": (compiled, (2, 1, 16, 16)),
    "scripted": (scripted, (2, 1, 16, 16)),
}


# ------------------------------------------------------------------------ fingerprint

def _rng() -> tuple:
    return torch.get_rng_state(), random.getstate(), np.random.get_state()


def fingerprint(model: nn.Module) -> dict:
    modules = dict(model.named_modules())
    tensors = dict(model.named_parameters()) | dict(model.named_buffers())
    attrs = {}
    for name, m in modules.items():
        if isinstance(m, torch.jit.ScriptModule):
            continue
        for key, value in vars(m).items():
            attrs[(name, key)] = (id(value), [id(v) for v in value]
                                  if isinstance(value, (list, dict)) else None)
    return {
        "values": {k: v.detach().clone() for k, v in model.state_dict().items()},
        "identity": {k: id(t) for k, t in tensors.items()},
        "versions": {k: t._version for k, t in tensors.items()},
        "requires_grad": {k: t.requires_grad for k, t in tensors.items()},
        "grads": {k: None if t.grad is None else (id(t.grad), t.grad.clone())
                  for k, t in tensors.items()},
        "modes": {k: m.training for k, m in modules.items()},
        "hooks": {(k, h): list(getattr(m, h).items()) for k, m in modules.items()
                  for h in HOOK_DICTS if isinstance(getattr(m, h, None), dict)},
        "attrs": attrs,
        "global_hooks": {h: list(getattr(_module_globals, h).items())
                         for h in dir(_module_globals) if h.startswith("_global_")
                         and isinstance(getattr(_module_globals, h), dict)},
        "rng": _rng(),
    }


def assert_same(before: dict, after: dict) -> None:
    assert before["values"].keys() == after["values"].keys()
    changed = [k for k in before["values"]
               if not torch.equal(before["values"][k], after["values"][k])]
    assert not changed, f"values changed: {changed[:5]}"
    for key in ("identity", "requires_grad", "modes", "hooks", "attrs", "global_hooks"):
        assert before[key] == after[key], key
    for k, g in before["grads"].items():
        h = after["grads"][k]
        assert (g is None) == (h is None) and (g is None or (g[0] == h[0]
                                                              and torch.equal(g[1], h[1]))), k
    cpu, py, npy = before["rng"]
    cpu2, py2, npy2 = after["rng"]
    assert torch.equal(cpu, cpu2) and py == py2
    assert npy[0] == npy2[0] and np.array_equal(npy[1], npy2[1]) and npy[2:] == npy2[2:]


@pytest.mark.parametrize("name", list(MODELS))
def test_audit_leaves_model_and_rng_as_found(name):
    build, shape = MODELS[name]
    model = build()
    random.seed(5)
    np.random.seed(5)
    before = fingerprint(model)
    report = audit(model, input_shape=shape, seeds=1)
    assert report.verdict in ("artifacts", "clean")
    assert_same(before, fingerprint(model))


def test_model_is_restored_when_the_audit_fails():
    """Batch norm updates its statistics, then the next layer rejects the input."""
    model = nn.Sequential(nn.BatchNorm2d(1), nn.Conv2d(3, 1, 3)).train()
    before = fingerprint(model)
    with pytest.raises(ShapeError, match="rejected an input"):
        audit(model, input_shape=(2, 1, 16, 16), seeds=1)
    assert_same(before, fingerprint(model))


# What a forward (or an audit pass) could do to a module: each draw is one such change.
MUTATIONS = st.lists(st.sampled_from([
    "add-to-weight", "fill-buffer", "freeze", "eval", "train-child", "forward-hook",
    "pre-hook", "global-hook", "set-attr", "replace-attr", "fill-list", "grad", "new-param",
    "replace-child"]), min_size=1, max_size=6)


def _mutate(model: KeepsGraph, what: str) -> None:
    conv = model.net[0]
    with torch.no_grad():
        if what == "add-to-weight":
            conv.weight.add_(1.0)
        elif what == "fill-buffer":
            model.bn.running_mean.fill_(3.0)
        elif what == "freeze":
            conv.weight.requires_grad_(not conv.weight.requires_grad)
        elif what == "eval":
            model.eval()
        elif what == "train-child":
            model.bn.train(not model.bn.training)
        elif what == "forward-hook":
            conv.register_forward_hook(_Recorder())
        elif what == "pre-hook":
            model.register_forward_pre_hook(_Recorder())
        elif what == "global-hook":
            nn.modules.module.register_module_forward_hook(_Recorder())
        elif what == "set-attr":
            model.cache = torch.ones(2)
        elif what == "replace-attr":
            model.last = torch.full((3,), 7.0)
        elif what == "fill-list":
            model.history.append(torch.zeros(1))
        elif what == "grad":
            conv.weight.grad = torch.zeros_like(conv.weight)
        elif what == "new-param":
            conv.weight = nn.Parameter(conv.weight.detach() * 2)
        elif what == "replace-child":
            model.net[2] = nn.Identity()


@given(MUTATIONS)
def test_snapshot_restore_undoes_any_mix_of_changes(mutations):
    model = keeps_graph()
    model.bn = nn.BatchNorm2d(1)
    model.train()
    before = fingerprint(model)
    snap = ModelSnapshot(model)
    for what in mutations:
        _mutate(model, what)
    snap.restore()
    assert_same(before, fingerprint(model))


def test_untouched_weights_keep_their_version():
    """A graph the user built before the audit can still be back-propagated after it."""
    model = with_hooks()
    x = torch.randn(2, 1, 16, 16)
    loss = model(x).square().mean()
    versions = [p._version for p in model.parameters()]
    audit(model, input_shape=(2, 1, 16, 16), seeds=1)
    assert [p._version for p in model.parameters()] == versions
    loss.backward()  # raises if a saved weight had been written in place
    assert all(p.grad is not None for p in model.parameters())


# Premises: without the snapshot each case would change; the tests above can fail.

def test_premise_train_forward_moves_vqvae_codebook():
    model = vqvae_train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        model(torch.randn(2, 1, 32, 32))
    moved = max((before[k] - v).abs().max().item() for k, v in model.state_dict().items()
                if v.is_floating_point())
    assert moved > 1.0
    assert any(not torch.equal(before[k], p) for k, p in model.named_parameters())


def test_premise_dynunet_keeps_graph_tensors_that_deepcopy_refuses():
    model = dynunet_deep_supervision()
    model(torch.randn(1, 1, 32, 32))
    with pytest.raises(RuntimeError, match="deepcopy"):
        copy.deepcopy(model)
    clone = detached_deepcopy(model)
    x = torch.randn(1, 1, 32, 32)
    model.eval(), clone.eval()
    with torch.no_grad():
        assert torch.equal(model(x), clone(x))


def test_premise_autoencoder_kl_samples_in_forward():
    model = autoencoder_kl()
    x = torch.randn(1, 1, 32, 32)
    with torch.no_grad():
        assert not torch.equal(model(x)[0], model(x)[0])


@pytest.mark.parametrize("build", [autoencoder_kl, mixed_modes], ids=["kl", "dropout"])
def test_repeat_audits_give_identical_numbers(build):
    model = build()
    shape = (2, 1, 32, 32)
    first = audit(model, input_shape=shape, seeds=2).to_dict()
    torch.rand(7), random.random(), np.random.rand()  # the user's streams move on
    second = audit(model, input_shape=shape, seeds=2).to_dict()
    assert first == second


# -------------------------------------------------------------- compiled and scripted

def _numbers(report) -> tuple:
    return (report.verdict, report.forward.periods, report.gradient.periods,
            report.forward.items, report.gradient.items)


def test_compiled_model_is_audited_through_its_original_module():
    base = _base()
    plain = audit(base, input_shape=(2, 1, 16, 16), seeds=1)
    wrapped = audit(torch.compile(base), input_shape=(2, 1, 16, 16), seeds=1)
    assert _numbers(wrapped) == _numbers(plain)
    assert [f.site.name for f in wrapped.layers] == [f.site.name for f in plain.layers]
    assert any("torch.compile" in n for n in wrapped.notes)


def test_scripted_model_gets_the_probes_and_says_the_inventory_is_missing():
    base = _base()
    plain = audit(base, input_shape=(2, 1, 16, 16), seeds=1)
    script = audit(torch.jit.script(base), input_shape=(2, 1, 16, 16), seeds=1)
    assert _numbers(script) == _numbers(plain)
    assert script.layers == [] and any("scripted" in n for n in script.notes)
    # A scripted submodule inside a Python model takes the same path.
    outer = nn.Sequential(torch.jit.script(_base()), nn.Identity())
    assert any("`0`" in n for n in audit(outer, input_shape=(2, 1, 16, 16), seeds=1).notes)


# -------------------------------------------------------------- stacked outputs

class Stack(nn.Module):
    """A deep-supervision-like head: the same output three times, (N, 3, C, H, W)."""

    def __init__(self, base):
        super().__init__()
        self.base = base

    def forward(self, x):
        y = self.base(x)
        return torch.stack([y, y, y], 1)


@pytest.mark.parametrize("shape", [(2, 1, 32, 32), (1, 1, 16, 16, 16)], ids=["2d", "3d"])
def test_stacked_output_reads_heads_as_pictures(shape):
    """Three copies of one picture: the same median per period, three times the items."""
    dims = len(shape) - 2
    conv_t = (nn.ConvTranspose2d, nn.ConvTranspose3d)[dims - 2]
    base = nn.Sequential(conv_t(1, 1, 3, stride=2, padding=1, output_padding=1))
    plain = audit(base, input_shape=shape, seeds=1, attribute=False)
    stacked = audit(Stack(base), input_shape=shape, seeds=1, attribute=False)
    assert stacked.forward.items == 3 * plain.forward.items
    assert stacked.forward.periods == pytest.approx(plain.forward.periods, abs=1e-5)
    assert stacked.gradient.periods == pytest.approx(plain.gradient.periods, abs=1e-4)
    assert stacked.verdict == plain.verdict == "artifacts"


def test_artifact_audit_reads_stacked_outputs_and_leaves_batch_norm():
    base = nn.Sequential(nn.ConvTranspose2d(1, 1, 3, stride=2, padding=1, output_padding=1),
                         nn.BatchNorm2d(1))
    reports = []
    x = torch.randn(2, 1, 32, 32)
    for model in (base, Stack(base)):
        before = fingerprint(model)
        with ArtifactAudit(model) as rec:
            model(x).sum().backward()
        after_loop = fingerprint(model)  # the user's own pass moved batch norm: theirs
        reports.append(rec.report())
        assert_same(after_loop, fingerprint(model))
        assert not torch.equal(before["values"]["1.running_mean" if model is base else
                                                "base.1.running_mean"],
                               after_loop["values"]["1.running_mean" if model is base else
                                                    "base.1.running_mean"])
    plain, stacked = reports
    assert stacked.forward.items == 3 * plain.forward.items
    assert stacked.forward.periods == pytest.approx(plain.forward.periods, abs=1e-5)


def test_dynunet_deep_supervision_stack_is_two_dimensional():
    model = dynunet_deep_supervision()
    n, heads = 2, 2  # deep_supr_num=1: the output and one supervision head
    with torch.no_grad():
        assert model(torch.randn(n, 1, 32, 32)).shape == (n, heads, 1, 32, 32)
    report = audit(model, input_shape=(n, 1, 32, 32), seeds=1, attribute=False)
    # One photo batch (one channel, 32 x 32) and the constant one: n pictures per head each.
    assert report.forward.inputs == ["constant", "photo"]
    assert report.forward.items == 2 * n * heads
    attributed = audit(model, input_shape=(n, 1, 32, 32), seeds=1)
    assert attributed.forward.items == report.forward.items


# -------------------------------------------------------------- outputs of any size

def test_display_scale_beyond_2_24_values_matches_the_ramp_theory():
    """A ramp 0..n-1 stretched between its 1st and 99th percentiles: y = 255 (v - lo) / span."""
    n = 3 * 2400 * 2400  # 17.28 M values: float32 index arithmetic overflows here
    ramp = torch.arange(n, dtype=torch.float32).reshape(1, 3, 2400, 2400)
    y = display_scale(ramp).reshape(-1)
    lo, hi = 0.01 * (n - 1), 0.99 * (n - 1)
    for i in (0, n // 100, n // 2, 99 * n // 100, n - 1):
        assert y[i].item() == pytest.approx(255 * (i - lo) / (hi - lo), abs=0.05)


def test_x2_upsampler_at_1200_squared_is_audited():
    """Nearest x2 then a 1x1 conv: every phase sees the same values, so no lattice at all."""
    model = nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(3, 3, 1))
    report = audit(model, input_shape=(1, 3, 1200, 1200), seeds=1)
    assert report.verdict == "clean"
    assert report.forward.items == 2 and max(report.forward.periods.values()) < 0.5  # + constant


@pytest.mark.slow
@pytest.mark.parametrize("shape", ["1,3,1200,1200", "1,1,64,64,64"], ids=["2400sq", "128cube"])
def test_large_outputs_memory_is_a_small_multiple_of_the_output(shape):
    """Peak memory beyond the interpreter's stays under 24 x the output's bytes (16 to 18 x
    measured by benchmarks/audit_memory.py: forward, backward, inventory pass, one stretched
    copy); a sort of every value, or an index as large as the picture, would add more."""
    sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
    try:
        from audit_memory import measure
    finally:
        sys.path.pop(0)
    row = measure(shape)
    assert row["verdict"] == "clean" and row["ratio"] < 24, row


# -------------------------------------------------------------- non-finite: "error"

class Poisoned(nn.Module):
    """An upsampler whose output or input gradient is made non-finite on purpose."""

    def __init__(self, what: str):
        super().__init__()
        self.what = what
        self.net = nn.Sequential(nn.ConvTranspose2d(1, 2, 3, stride=2, padding=1,
                                                    output_padding=1))

    def forward(self, x):
        if self.what == "nan-gradient":
            x = _NanGradient.apply(x)
        y = self.net(x)
        if self.what == "nan-output":
            y = y * float("nan")
        elif self.what == "inf-output":
            y = y.clone()
            y[:, :, 5, 5] = float("inf")
        return y


class _NanGradient(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, g):
        return torch.full_like(g, float("nan"))


def nan_weights() -> nn.Module:
    m = nn.Sequential(nn.ConvTranspose2d(1, 2, 3, stride=2), nn.BatchNorm2d(2))
    m.load_state_dict({k: torch.full_like(v, float("nan")) if v.is_floating_point() else v
                       for k, v in m.state_dict().items()})
    return m


def inf_buffer() -> nn.Module:
    m = nn.Sequential(nn.ConvTranspose2d(1, 2, 3, stride=2), nn.BatchNorm2d(2)).eval()
    m[1].running_var[0] = float("inf")
    return m


N, C, H = 2, 2, 16  # probe batch and output channels; the output is 32 x 32
NON_FINITE = {
    # model, expected words in the reason (how many, where)
    "nan-output": (lambda: Poisoned("nan-output"),
                   [f"{N * C * 32 * 32:,} of {N * C * 32 * 32:,} values", "output", "NaN"]),
    "inf-output": (lambda: Poisoned("inf-output"),
                   [f"{N * C:,} of {N * C * 32 * 32:,} values", "output", f"{N * C} infinite"]),
    "nan-gradient": (lambda: Poisoned("nan-gradient"),
                     [f"{N * H * H:,} of {N * H * H:,} values", "input gradient"]),
    "nan-weights": (nan_weights, ["weights", "parameter `0.weight`", "18 of 18", "more"]),
    "inf-buffer": (inf_buffer, ["buffer `1.running_var`", "1 of 2", "1 infinite"]),
}


@pytest.mark.parametrize("name", list(NON_FINITE))
def test_non_finite_model_gets_error_verdict_with_reason(name):
    build, words = NON_FINITE[name]
    model = build()
    before = fingerprint(model)
    report = audit(model, input_shape=(N, 1, H, H), seeds=1)
    assert report.verdict == "error"
    for w in words:
        assert w in report.reason, (w, report.reason)
    assert report.to_dict()["reason"] == report.reason
    assert f"verdict: error ({report.reason})" in str(report)
    if name != "nan-weights":  # NaN == NaN is False for torch.equal
        assert_same(before, fingerprint(model))


def test_artifact_audit_reports_non_finite_recordings():
    model = Poisoned("nan-output")
    with ArtifactAudit(model) as rec:
        model(torch.randn(2, 1, 16, 16)).sum().backward()
    report = rec.report()
    assert report.verdict == "error" and "recorded output 0" in report.reason


def test_non_finite_example_input_is_refused():
    x = torch.randn(2, 1, 16, 16)
    x[0, 0, 3, 3] = float("nan")
    with pytest.raises(NonFiniteError, match="1 of 512 values of example_input"):
        audit(_base(), x)


# -------------------------------------------------------------- typed errors and limits

class Casts(nn.Module):
    def __init__(self, dtype):
        super().__init__()
        self.dtype = dtype
        self.conv = nn.Conv2d(1, 2, 3, padding=1)

    def forward(self, x):
        y = self.conv(x)
        return y.argmax(1) if self.dtype == "argmax" else y.to(self.dtype)


class Counting(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 1, 1)
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return self.conv(x)


@pytest.mark.parametrize("kwargs, error, words", [
    ({"input_shape": "2,4,8,8"}, InvalidTypeError, ["input_shape", "tuple of ints", "str"]),
    ({"input_shape": (2, 4.0, 8, 8)}, InvalidTypeError, ["input_shape", "float"]),
    ({"input_shape": (2, True, 8, 8)}, InvalidTypeError, ["input_shape", "bool"]),
    ({"input_shape": 8}, InvalidTypeError, ["input_shape", "int"]),
    ({"input_shape": (2, 4, 100000, 100000)}, LimitError,
     ["80,000,000,000 elements", f"{MAX_PROBE_ELEMENTS:,}"]),
    ({"input_shape": (2, 4, 8, 8), "seeds": 1000}, LimitError, ["seeds", "64", "1000"]),
    ({"input_shape": (2, 4, 8, 8), "seeds": 2.0}, InvalidTypeError, ["seeds", "float"]),
], ids=["str", "float", "bool", "int", "huge", "seeds", "seeds-float"])
def test_bad_arguments_are_refused_before_any_work(kwargs, error, words):
    model = Counting()
    start = time.perf_counter()
    with pytest.raises(error) as info:
        audit(model, **kwargs)
    assert time.perf_counter() - start < 1.0 and model.calls == 0
    for w in words:
        assert w in str(info.value), (w, str(info.value))
    assert "\n" not in str(info.value)


def test_meta_model_is_refused():
    with torch.device("meta"):
        model = _base()
    with pytest.raises(InvalidArgumentError, match="parameter `0.weight` is on the meta"):
        audit(model, input_shape=(2, 1, 16, 16), seeds=1)


@pytest.mark.parametrize("shape", [[2, 1, 16, 16], torch.Size([2, 1, 16, 16]),
                                   (np.int64(2), 1, 16, 16)], ids=["list", "size", "numpy"])
def test_input_shape_sequences_of_ints_are_accepted(shape):
    report = audit(_base(), input_shape=shape, seeds=1)
    assert report.input_shape == [2, 1, 16, 16] and report.verdict == "artifacts"


@pytest.mark.parametrize("dtype, words", [
    (torch.complex64, ["complex64", "real"]), ("argmax", ["int64"]), (torch.int32, ["int32"]),
    (torch.bool, ["bool"])])
def test_complex_and_integer_outputs_are_a_typed_error(dtype, words):
    with pytest.raises(InvalidTypeError) as info:
        audit(Casts(dtype), input_shape=(2, 1, 16, 16), seeds=1)
    assert all(w in str(info.value) for w in words) and "\n" not in str(info.value)


# -------------------------------------------------------------- command line

USER_MODELS = textwrap.dedent("""
    import torch
    import torch.nn as nn

    def good():
        return nn.Sequential(nn.ConvTranspose2d(1, 2, 3, stride=2))

    def nan_weights():
        m = good()
        torch.nn.init.constant_(m[0].weight, float("nan"))
        return m

    class Complex(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 1, 3)

        def forward(self, x):
            return self.conv(x).to(torch.complex64)

    def compiled():
        return torch.compile(good())

    def scripted():
        return torch.jit.script(good())
""")


@pytest.fixture
def user_models(tmp_path):
    path = tmp_path / "models.py"
    path.write_text(USER_MODELS)
    torch.save(nn.Sequential(nn.ConvTranspose2d(1, 2, 3, stride=2)), tmp_path / "whole.pt")
    import pickle

    with open(tmp_path / "raw.pkl", "wb") as f:
        pickle.dump(nn.Sequential(nn.ConvTranspose2d(1, 2, 3, stride=2)).state_dict(), f)
    return path


@pytest.mark.parametrize("factory, extra, code, words", [
    ("nan_weights", [], 1, ["error", "parameter `0.weight`", "not finite"]),
    ("Complex", [], 2, ["complex64", "real"]),
    ("good", ["--input-shape", "2,4,100000,100000"], 2, ["limit", "134,217,728"]),
    ("good", ["--weights", "{dir}/whole.pt"], 2, ["weights_only=True", "pickled"]),
    ("good", ["--weights", "{dir}/raw.pkl"], 2, ["weights_only=True", "pickled"]),
    ("compiled", [], 0, []),
    ("scripted", [], 0, []),
], ids=["nan-weights", "complex", "huge", "whole-pickle", "raw-pickle", "compiled", "scripted"])
def test_cli_audit_one_line_and_exit_code(capsys, user_models, factory, extra, code, words):
    extra = [e.format(dir=user_models.parent) for e in extra]
    shape = [] if "--input-shape" in extra else ["--input-shape", "2,1,16,16"]
    got = main(["audit", f"{user_models}:{factory}", *shape, "--seeds", "1", *extra])
    err = capsys.readouterr().err.strip()
    assert got == code, err
    if code:
        assert len(err.splitlines()) == 1 and err.startswith("checkerfree audit: error")
        assert all(w in err for w in words), err


@pytest.mark.parametrize("factory, extra, code", [
    ("nan_weights", [], 1),
    ("good", ["--weights", "{dir}/raw.pkl"], 2),
    ("good", ["--input-shape", "2,4,100000,100000"], 2),
], ids=["nan-weights", "raw-pickle", "huge"])
def test_cli_audit_subprocess_stderr_is_one_line(user_models, factory, extra, code):
    """A real process: the exit status, and no warning or traceback text on stderr."""
    extra = [e.format(dir=user_models.parent) for e in extra]
    shape = [] if "--input-shape" in extra else ["--input-shape", "2,1,16,16"]
    out = subprocess.run([sys.executable, "-m", "checkerfree", "audit",
                          f"{user_models}:{factory}", *shape, "--seeds", "1", *extra],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == code, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("checkerfree audit: error"), out.stderr
    assert "Warning" not in out.stderr and "weights_only=False" not in out.stderr
    if code == 1:
        assert "verdict: error" in out.stdout
