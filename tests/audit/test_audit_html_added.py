"""The audit page's "added beyond input" column: shown with values, or left out with a note."""

from __future__ import annotations

import re

import pytest
import torch

from checkerfree.audit import audit
from checkerfree.audit.probes import ProbeResult
from checkerfree.report.audit_html import _probe_table, write_audit_html
from checkerfree.zoo import EXAMPLES

pytest.importorskip("matplotlib")


def cells(page: str) -> list[str]:
    return re.findall(r"<td>(.*?)</td>", page)


def test_image_to_image_probe_has_the_column_with_its_values():
    p = ProbeResult("artifacts", periods={2: 3.5, 4: 0.25}, score=3.5, items=2,
                    added={2: 1.25, 4: 0.0})
    table = _probe_table(p, "Output")
    assert "<th>added beyond input</th>" in table and "note" not in table
    assert cells(table) == ["2", "3.50", "1.25", "4", "0.25", "0.00"]


@pytest.mark.parametrize("label, why", [("Output", "latent vector"),
                                        ("Input gradient", "with respect to the input")])
def test_without_an_input_picture_the_column_is_left_out_and_said_why(label, why):
    p = ProbeResult("clean", periods={2: 3.5}, score=3.5, items=2, added=None)
    table = _probe_table(p, label)
    assert "<th>added beyond input</th>" not in table
    assert cells(table) == ["2", "3.50"]  # no empty cell
    assert why in re.search(r"<p class='note'>(.*?)</p>", table).group(1)


def test_generator_page_has_no_empty_cells(tmp_path):
    torch.manual_seed(0)
    ex = EXAMPLES["dcgan"]
    report = audit(ex.factory(), input_shape=ex.input_shape, seeds=1, attribute=False)
    assert report.forward.added is None  # a latent input: nothing to subtract
    page = write_audit_html(report, tmp_path / "page").read_text()
    output = page[page.index("<h3>Output</h3>"):page.index("<h3>Input gradient</h3>")]
    assert "" not in cells(output) and "added beyond input</th>" not in output
    assert "latent vector" in output
