"""The README's Python tour runs, and the numbers in its comments are what it prints."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_tour_numbers():
    torch.manual_seed(0)
    namespace: dict = {}
    checked = 0
    for block in python_blocks():
        for line in block.splitlines():
            code, _, comment = line.partition("#")
            code = code.strip()
            if not code:
                continue
            if "=" in code.split("(")[0] or code.startswith(("import", "from")):
                exec(code, namespace)
                continue
            value = eval(code, namespace)
            checked += 1
            claim = comment.strip().split(":")[0].strip()
            if claim.startswith("("):
                assert repr(value) == claim, (code, value, claim)
            elif claim.startswith("'"):
                assert str(value).startswith(claim.strip("'").rstrip(". ")), (code, value)
            elif claim.startswith("~"):
                assert value == pytest.approx(float(claim[1:].split()[0]), abs=0.05), (code, value)
            elif claim in ("True", "False"):
                assert repr(value) == claim, (code, value, claim)
            elif re.fullmatch(r"[\d.]+", claim):
                assert value == float(claim), (code, value, claim)
    assert checked >= 8  # every commented expression above was evaluated
