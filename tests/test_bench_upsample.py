"""Smoke tests of benchmarks/upsample.py: its memory accounting, one tiny run, its tables."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
import upsample


def test_cpu_peak_counts_temporaries_inside_an_operation():
    # 4 MiB made and freed inside one call, then 1 MiB kept: the peak is the 4 MiB (plus the
    # kept one only if it was made first), never just what is live at the end.
    mib = 2**20

    def fn():
        t = torch.empty(mib, dtype=torch.uint8)
        torch.empty(4 * mib, dtype=torch.uint8).fill_(1)  # a temporary, freed at once
        return t

    peak = upsample._cpu_peak(fn)
    assert 5 * mib <= peak < 5 * mib + mib // 2


def test_tiny_run_summary_and_tables():
    shapes = [(2, 2, 4, 6)]
    doc = {"meta": {"device": "cpu", "threads": 1, "torch": torch.__version__,
                    "dtype": "float32", "channels_last": False, "repeats": 1,
                    "statistic": "fastest of 1 interleaved runs"},
           **upsample.run(torch.device("cpu"), 1, shapes)}
    rows = {r["contender"]: r for r in doc["rows"]}
    assert set(rows) == set(upsample.CONTENDERS)
    # The naive path holds the upsampled tensor, its gradient and the output: more than the
    # chunked fused form, which never holds two outputs at once.
    assert rows["resize_chunked"]["peak_bytes"] < rows["naive"]["peak_bytes"]
    assert rows["naive"]["saved_bytes"] > rows["resize_fused"]["saved_bytes"]
    # The bound (output, input gradient, parameter gradients) is below every measured peak,
    # and above what is left at the end (the two gradients alone).
    bound = rows["resize_fused"]["bound_bytes"]
    assert all(bound <= r["peak_bytes"] for r in rows.values())
    x_bytes, out_bytes = 2 * 4 * 6 * 6 * 4, 2 * 4 * 12 * 12 * 4
    assert bound == out_bytes + x_bytes + (4 * 4 * 9 + 4) * 4
    s = doc["summary"]
    assert s["conv_t"]["train_vs_conv_t"] == 1.0 and s["naive"]["peak_vs_naive"] == 1.0
    doc["variants"] = {"bfloat16": {"meta": {**doc["meta"], "dtype": "bfloat16"},
                                    **upsample.run(torch.device("cpu"), 1, shapes,
                                                   torch.bfloat16)}}
    text = upsample.markdown(doc)
    assert "| (2, 2, 4, 6) |" in text and "bfloat16 (bfloat16, 1 shape)" in text
    assert "Targets:" in text and "bound / naive peak" in text


def test_like_output_keeps_the_values_in_the_outputs_layout():
    # The fused layer forced to its channels-last form returns channels-last: the gradient
    # handed to it must be too (same values), and a contiguous output gets a contiguous one.
    import upsample_forms

    m = upsample.build("resize_fused", 2, 4, torch.device("cpu"), torch.float32)
    x = torch.randn(2, 4, 5, 5)
    g = torch.randn(2, 4, 10, 10)
    cl = upsample.like_output(upsample_forms.Forced(m, "channels_last"), x, g)
    assert cl.is_contiguous(memory_format=torch.channels_last) and not cl.is_contiguous()
    assert torch.equal(cl, g)
    plain = upsample.like_output(upsample_forms.Forced(m, "transposed"), x, g)
    assert plain.is_contiguous() and torch.equal(plain, g)


def test_forced_forms_tiny_run():
    import upsample_forms

    r = upsample_forms.row(2, 2, 4, 6, 1)
    assert set(r) == {*upsample_forms.FORMS, "channels_last, back", "conv_t_ms"}
    assert all(v > 0 for v in r.values())
    # "back" makes the output contiguous; the form itself does not.
    m = upsample.build("resize_fused", 2, 4, torch.device("cpu"), torch.float32)
    x = torch.randn(1, 4, 3, 3)
    assert upsample_forms.Forced(m, "channels_last", contiguous=True)(x).is_contiguous()
    assert not upsample_forms.Forced(m, "channels_last")(x).is_contiguous()
