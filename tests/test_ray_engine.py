"""--engine ray: the same rows as the local engine, in input order, and Parquet with --out."""

from __future__ import annotations

import json

import pytest
from image_fixtures import bad_files, good_files
from PIL import Image

from checkerfree.score.batch import ImageScorer
from checkerfree.cli import main

ray = pytest.importorskip("ray")
pq = pytest.importorskip("pyarrow.parquet")


def test_ray_rows_equal_local_rows(tmp_path, capsys):
    from checkerfree.engines.ray_engine import score_files_ray

    good, bad = good_files(tmp_path / "good"), bad_files(tmp_path / "bad")
    Image.open(good["rgb.png"]).crop((0, 0, 40, 48)).save(tmp_path / "good" / "crop.png")
    paths = [str(p) for p in (good["grey8.png"], bad["empty.png"], good["rgba.png"],
                              tmp_path / "good" / "crop.png", bad["missing.png"],
                              good["grey16.tif"], good["rgb.png"])]
    local = ImageScorer(periods=(2, 4), batch_size=2)(paths)
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    try:
        rows = score_files_ray(paths, {"periods": (2, 4), "batch_size": 2}, batch_size=2)
        assert rows == local  # same numbers, same order, errors included
        # The command line on the running cluster: Parquet rows equal the JSON rows.
        out = tmp_path / "rows.parquet"
        status = main(["score", *paths, "--period", "2", "--period", "4", "--engine", "ray",
                       "--json", "--out", str(out)])
    finally:
        ray.shutdown()
    doc = json.loads(capsys.readouterr().out)
    assert status == 1 and doc["summary"]["engine"] == "ray"
    # JSON rows add path_bytes: None for every name that is UTF-8 text (results.portable_row).
    assert doc["images"] == [{**{k: v for k, v in r.items() if k != "heatmap"},
                              "path_bytes": None} for r in local]
    table = pq.read_table(out).to_pylist()
    assert [{k: r[k] for k in doc["images"][0]} for r in table] == doc["images"]
