"""The audit and convert verbs, target loading and safe weights."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
import torch.nn as nn

from checkerfree.cli import main
from checkerfree.errors import InvalidArgumentError, ShapeError
from checkerfree.targets import load_target, load_weights

USER_MODEL = """
import torch.nn as nn

def build():
    return nn.Sequential(nn.ConvTranspose1d(4, 2, 3, stride=2), nn.ReLU(),
                         nn.ConvTranspose1d(2, 1, 3, stride=2))

def broken():
    raise RuntimeError("no such layer size")

not_a_model = 3
"""


@pytest.fixture
def user_file(tmp_path):
    path = tmp_path / "mynet.py"
    path.write_text(USER_MODEL)
    return path


def run_json(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, (json.loads(captured.out) if code == 0 and "--json" in argv else None), captured


def test_audit_builtin_json_contract(capsys):
    code, doc, _ = run_json(capsys, "audit", "audio-decoder", "--json", "--seeds", "1")
    assert code == 0
    assert {"layers", "forward", "gradient", "verdict", "advice"} <= set(doc)
    assert doc["verdict"] == "artifacts" and doc["forward"]["verdict"] == "artifacts"
    layer = doc["layers"][0]
    assert {"name", "kind", "kernel", "stride", "uneven", "culprit"} <= set(layer)
    assert any(lay["culprit"] for lay in doc["layers"])


def test_audit_user_file_with_fix_and_html(capsys, tmp_path, user_file):
    html_dir = tmp_path / "report"
    code, doc, _ = run_json(capsys, "audit", f"{user_file}:build", "--input-shape", "2,4,32",
                            "--fix", "resize", "--html", str(html_dir), "--json", "--seeds", "1")
    assert code == 0
    assert doc["fixed"]["verdict"] == "clean"
    assert all(not lay["culprit"] for lay in doc["fixed"]["layers"])
    page = (html_dir / "index.html").read_text()
    for src in __import__("re").findall(r"src='([^']+)'", page):
        assert (html_dir / src).read_bytes()[:4] == b"\x89PNG"
    assert "After the fix" in page
    # no overwrite without --force
    assert main(["audit", f"{user_file}:build", "--input-shape", "2,4,32", "--seeds", "1",
                 "--html", str(html_dir)]) == 2
    assert "exists" in capsys.readouterr().err


def test_audit_text_output(capsys):
    assert main(["audit", "classifier-strided", "--seeds", "1"]) == 0
    out = capsys.readouterr().out
    assert "verdict: artifacts" in out and "gradient" in out and "strided convolution" in out


@pytest.mark.parametrize("argv, message", [
    (["audit", "nosuchmodel"], "unknown TARGET"),
    (["audit", "no_such_module_xyz:build", "--input-shape", "1,1,8"], "failed to import"),
    (["audit", "{file}:broken", "--input-shape", "1,1,8"], "no such layer size"),
    (["audit", "{file}:not_a_model", "--input-shape", "1,1,8"], "must give an nn.Module"),
    (["audit", "{file}:missing", "--input-shape", "1,1,8"], "has no attribute"),
    (["audit", "{file}:build"], "--input-shape is required"),
    (["audit", "{file}:build", "--input-shape", "1,3,8"], "rejected an input of shape"),
    (["audit", "{file}:build", "--input-shape", "2,4,16", "--weights", "{weights}"],
     "do not match"),
])
def test_audit_bad_input_one_line_exit_2(capsys, tmp_path, user_file, argv, message):
    weights = tmp_path / "w.pt"
    torch.save({"0.weight": torch.zeros(1)}, weights)
    argv = [a.format(file=user_file, weights=weights) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and "Traceback" not in err


def test_bad_input_shape_text_is_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["audit", "dcgan", "--input-shape", "2,x"])
    assert info.value.code == 2


def test_convert_writes_safetensors_that_rebuild(capsys, tmp_path):
    from safetensors.torch import load_file

    import checkerfree
    from checkerfree.zoo import EXAMPLES

    out = tmp_path / "dcgan-resize.safetensors"
    assert main(["convert", "dcgan", "--to", "resize", "--out", str(out), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert len(doc["converted"]) == 4 and "rebuild" in doc
    rebuilt = checkerfree.convert(EXAMPLES["dcgan"].factory(), to="resize")
    load_weights(rebuilt, out)
    state = load_file(str(out))
    assert all(torch.equal(rebuilt.state_dict()[k], v) for k, v in state.items())
    assert main(["convert", "dcgan", "--to", "resize", "--out", str(out)]) == 2  # exists
    assert main(["convert", "dcgan", "--to", "resize", "--out", str(tmp_path / "x.pt")]) == 2


def test_load_weights_safe_formats(tmp_path):
    model = nn.Linear(2, 2)
    torch.save(model.state_dict(), tmp_path / "ok.pt")
    load_weights(nn.Linear(2, 2), tmp_path / "ok.pt")
    torch.save({"state_dict": model.state_dict()}, tmp_path / "nested.pt")
    load_weights(nn.Linear(2, 2), tmp_path / "nested.pt")

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"weight": Evil()}, tmp_path / "evil.pt", _use_new_zipfile_serialization=True)
    with pytest.raises(InvalidArgumentError, match="weights_only"):
        load_weights(nn.Linear(2, 2), tmp_path / "evil.pt")
    with pytest.raises(ShapeError, match="shape mismatch"):
        load_weights(nn.Linear(3, 2), tmp_path / "ok.pt")
    with pytest.raises(InvalidArgumentError):
        load_weights(model, tmp_path / "missing.pt")


def test_builtin_targets_are_deterministic():
    a, _ = load_target("dcgan")
    b, _ = load_target("dcgan")
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(),
                                                 b.state_dict().values()))


def test_module_factory_target():
    model, example = load_target("checkerfree.zoo:espcn")
    assert isinstance(model, nn.Module) and example is None


def test_audit_subprocess_no_traceback():
    proc = subprocess.run([sys.executable, "-m", "checkerfree", "audit", "nosuch"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
