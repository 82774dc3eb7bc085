"""The rebuild line ``convert`` prints runs as printed and gives the weights it wrote."""

from __future__ import annotations

import json
import os

import torch
from safetensors.torch import load_file

from checkerfree.cli import main


def test_the_printed_rebuild_line_runs(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the line names the file as given, relative to here
    assert main(["convert", "dcgan", "--to", "resize", "--out", "dcgan-resize.safetensors"]) == 0
    text = capsys.readouterr().out
    line = next(t for t in text.splitlines() if t.startswith("rebuild in Python with: "))
    code = line.removeprefix("rebuild in Python with: ")
    namespace: dict = {}
    exec(code, namespace)  # noqa: S102 - the point of the test: it is runnable Python
    state = load_file(os.fspath(tmp_path / "dcgan-resize.safetensors"))
    rebuilt = namespace["model"].state_dict()
    assert set(rebuilt) == set(state)
    assert all(torch.equal(rebuilt[k], v) for k, v in state.items())


def test_json_carries_the_same_line(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["convert", "dcgan", "--to", "hold", "--out", "h.safetensors", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    namespace: dict = {}
    exec(doc["rebuild"], namespace)  # noqa: S102
    assert "model" in namespace and doc["rebuild"].startswith("import checkerfree")
