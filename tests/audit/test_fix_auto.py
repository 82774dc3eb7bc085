"""``checkerfree audit --fix``: the advised fix per culprit, a re-audit, and honest no-ops."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn as nn

from checkerfree.audit import audit
from checkerfree.audit.fixing import fix_and_reaudit
from checkerfree.cli import main
from checkerfree.zoo import EXAMPLES


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_fix_resize_with_no_conv_transpose_says_so_in_one_line(capsys):
    code, out, err = run(capsys, "audit", "classifier-strided", "--fix", "resize", "--seeds", "1")
    assert code == 0
    lines = [line for line in out.splitlines() if "nothing to convert" in line]
    assert lines == ["fix resize: Sequential has no ConvTranspose1d/2d/3d with stride > 1; "
                     "nothing to convert"]
    assert "Warning" not in err and "warn" not in err and "after the fix" not in out


def test_fix_resize_json_records_the_no_op(capsys):
    code, out, err = run(capsys, "audit", "classifier-strided", "--fix", "resize", "--seeds",
                         "1", "--json")
    assert code == 0
    doc = json.loads(out)
    assert "fixed" not in doc and doc["fix"]["applied"] == []
    assert "nothing to convert" in doc["fix"]["message"]
    assert err.count("\n") == 1 and "nothing to convert" in err and "Warning" not in err


def test_fix_blur_converts_the_classifier(capsys):
    code, out, err = run(capsys, "audit", "classifier-strided", "--fix", "blur", "--seeds", "1",
                         "--json")
    doc = json.loads(out)
    assert code == 0 and err == ""
    assert [a["site"] for a in doc["fix"]["applied"]] == ["0", "2", "4"]
    assert doc["gradient"]["verdict"] == "artifacts"
    assert doc["fixed"]["gradient"]["verdict"] == "clean"


@pytest.mark.parametrize("name", sorted(n for n, e in EXAMPLES.items() if e.artifacts))
def test_fix_auto_ends_clean_on_builtin_examples(capsys, name):
    code, out, err = run(capsys, "audit", name, "--fix", "auto", "--seeds", "1", "--json")
    doc = json.loads(out)
    assert code == 0 and "Warning" not in err
    assert doc["verdict"] == "artifacts" and doc["fix"]["applied"]
    assert doc["fixed"]["verdict"] == "clean"
    # What the fix guarantees whatever the probes say: no culprit is left in the fixed model.
    assert not any(layer["culprit"] for layer in doc["fixed"]["layers"])


def test_fix_auto_text_report_lists_each_fix(capsys):
    code, out, _ = run(capsys, "audit", "espcn", "--fix", "auto", "--seeds", "1")
    assert code == 0
    block = out[out.index("fix auto:"):out.index("after the fix:")]
    assert "ICNR" in block and "`4`" in block


def test_fix_auto_on_a_clean_model_changes_nothing(capsys):
    code, out, _ = run(capsys, "audit", "dcgan-resize", "--fix", "auto", "--seeds", "1")
    assert code == 0
    assert "fix auto: nothing to fix: the audit measured no artifacts" in out.splitlines()
    assert "after the fix" not in out


def test_fix_and_reaudit_leaves_the_model_alone_and_catches_warnings():
    torch.manual_seed(0)
    model = EXAMPLES["audio-decoder"].factory()
    model[0].register_forward_hook(lambda *a: None)  # convert warns about dropped hooks
    state = {k: v.clone() for k, v in model.state_dict().items()}
    kwargs = dict(input_shape=(2, 16, 64), seeds=1)
    report = audit(model, **kwargs)
    fixed, summary, after = fix_and_reaudit(model, report, "hold", kwargs)
    assert any("hooks" in n for n in summary["notes"])
    assert [type(m) for m in model] == [nn.ConvTranspose1d, nn.ReLU] * 3 + [nn.Conv1d]
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())
    assert after.verdict == "clean" and fixed is not model
    with pytest.raises(ValueError, match="fix must be one of"):
        fix_and_reaudit(model, report, "magic", kwargs)


def test_fix_auto_on_monai_subpixel_upsample_equalises_its_bias():
    blocks = pytest.importorskip("monai.networks.blocks")
    torch.manual_seed(0)
    model = blocks.SubpixelUpsample(2, 8, 8, apply_pad_pool=False)
    kwargs = dict(input_shape=(2, 8, 32, 32), seeds=1)
    report = audit(model, **kwargs)
    assert report.forward.verdict == "artifacts"  # the random per-phase bias
    fixed, summary, after = fix_and_reaudit(model, report, "auto", kwargs)
    assert [a["site"] for a in summary["applied"]] == ["conv_block"]
    assert "ICNR" in summary["applied"][0]["fix"] and after.verdict == "clean"
    with torch.no_grad():
        y = fixed(torch.full((1, 8, 8, 8), 0.3))[..., 2:-2, 2:-2]
    assert float(y.amax((-2, -1)).sub(y.amin((-2, -1))).max()) < 1e-5
