"""The explorer page and `checkerfree explore`, without a browser: assets, state, CLI."""

from __future__ import annotations

import json
import re
from importlib import resources

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from checkerfree.cli import main
from checkerfree.errors import InvalidArgumentError, InvalidTypeError, NonFiniteError, SpecError
from checkerfree.explore import build_page, layer_text, model_state
from checkerfree.overlap import phase_imbalance, phase_sums
from checkerfree.spec import TransposedConvSpec


def test_assets_ship_as_package_data():
    files = resources.files("checkerfree.explore")
    assert "window.checkerfreeExplore" in files.joinpath("explore.js").read_text()
    assert "{{SCRIPT}}" in files.joinpath("explore.html").read_text()


def test_page_is_self_contained():
    page = build_page(["3:2", "4:2:1"], dims=2)
    assert "{{" not in page
    # No address to fetch: no src/href attribute, no URL scheme outside the CSP line.
    assert not re.search(r"\s(src|href)=", page)
    assert not re.search(r"(https?|wss?|ftp)://", page)
    assert "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; " \
           "script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:\">" in page
    state = json.loads(re.search(r'id="initial-state">(.*?)</script>', page, re.DOTALL).group(1))
    assert state == {"dims": 2, "layers": ["3:2", "4:2:1"], "phases": []}


def test_title_and_state_cannot_break_out_of_the_page():
    page = build_page(["3:2"], title="</script><script>alert(1)</script>")
    assert "<script>alert(1)" not in page
    assert page.count("</script>") == 2  # the state's and the program's


def test_bad_layers_are_refused_with_typed_errors():
    with pytest.raises(SpecError, match="stride must be >= 1"):
        build_page(["3:0"])
    with pytest.raises(InvalidTypeError, match="nn.Module"):
        model_state("dcgan")


fields = st.tuples(st.integers(1, 9), st.integers(1, 5), st.integers(0, 4), st.integers(0, 4),
                   st.integers(1, 4))


@given(st.lists(fields, min_size=1, max_size=3))
def test_layer_text_round_trips(axes):
    # One axis per tuple; output padding kept valid as PyTorch requires.
    axes = [(k, s, p, op % max(s, d), d) for k, s, p, op, d in axes]
    spec = TransposedConvSpec(*(tuple(a[f] for a in axes) for f in range(5)))
    text = layer_text(spec)
    assert TransposedConvSpec.parse(text).broadcast(spec.dims) == spec
    parts = text.split(":")  # no trailing field at its default (padding 0, op 0, dilation 1)
    assert len(parts) == 2 or parts[-1] != ("0", "0", "1")[len(parts) - 3]


def test_model_state_takes_the_stack_and_phase_sums():
    torch.manual_seed(1)
    model = nn.Sequential(nn.ConvTranspose2d(3, 4, 3, 2, 1, 1), nn.ReLU(),
                          nn.ConvTranspose2d(4, 2, (4, 3), (2, 3), 1))
    state = model_state(model)
    assert state["dims"] == 2 and state["layers"] == ["3:2:1:1", "4x3:2x3:1"]
    for (name, m), got in zip([("0", model[0]), ("2", model[2])], state["phases"]):
        # per output phase, the mean over channel pairs
        want = phase_sums(m).detach().double().mean(dim=(0, 1))
        assert got["name"] == name
        assert torch.equal(torch.tensor(got["sums"], dtype=torch.float64), want)
        assert got["imbalance"] == f"{phase_imbalance(m):.4g}"


def test_model_state_refuses_nan_and_meta_weights():
    bad = nn.ConvTranspose2d(1, 1, 3, 2)
    with torch.no_grad():
        bad.weight[0, 0, 1, 1] = float("nan")
    with pytest.raises(NonFiniteError):
        model_state(nn.Sequential(bad))
    with pytest.raises(InvalidArgumentError, match="materialise"):
        model_state(nn.Sequential(nn.ConvTranspose2d(1, 1, 3, 2, device="meta")))


def test_cli_writes_the_page_and_refuses_to_overwrite(tmp_path, capsys):
    out = tmp_path / "ex"
    assert main(["explore", "--layer", "3:2", "--layer", "3:2", "--dims", "1", "--out",
                 str(out), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc == {"out": str(out / "index.html"), "url": (out / "index.html").resolve().as_uri()}
    assert '"layers": ["3:2", "3:2"]' in (out / "index.html").read_text()
    assert main(["explore", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "exists; pass --force" in err
    assert main(["explore", "--out", str(out), "--force"]) == 0
    assert '"layers": ["3:2"]' in (out / "index.html").read_text()


def test_cli_default_folder_and_target(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["explore", "dcgan"]) == 0
    page = (tmp_path / "checkerfree-explore" / "index.html").read_text()
    state = json.loads(re.search(r'id="initial-state">(.*?)</script>', page, re.DOTALL).group(1))
    assert state["layers"] == ["4:1", "3:2:1:1", "3:2:1:1", "3:2:1:1", "3:2:1:1"]
    assert len(state["phases"]) == 5 and "wrote checkerfree-explore" in capsys.readouterr().out


def test_cli_open_hands_the_url_to_the_web_browser(tmp_path, capsys, monkeypatch):
    import webbrowser

    opened = []
    monkeypatch.setattr(webbrowser, "open", opened.append)
    assert main(["explore", "--out", str(tmp_path), "--open", "--json"]) == 0
    assert opened == [json.loads(capsys.readouterr().out)["url"]]
    assert opened[0].startswith("file://") and opened[0].endswith("/index.html")


@pytest.mark.parametrize("argv, message", [
    (["explore", "espcn"], "contains no ConvTranspose1d/2d/3d layer"),
    (["explore", "dcgan", "--layer", "3:2"], "TARGET or --layer, not both"),
    (["explore", "--weights", "w.safetensors"], "--weights needs a TARGET"),
    (["explore", "no-such-model"], "unknown TARGET"),
])
def test_cli_bad_arguments_one_line_exit_2(tmp_path, capsys, argv, message):
    assert main([*argv, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
