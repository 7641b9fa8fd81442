"""bench.vid2vid --compare: models side by side on held-out streets, with a table and a contact sheet."""

from __future__ import annotations

import json

import bench.common
import bench.vid2vid as B


def test_compare_writes_a_table_and_a_contact_sheet(tmp_path, monkeypatch):
    from demo_lib.data import street

    monkeypatch.setattr(bench.common, "RESULTS", tmp_path)
    monkeypatch.setattr(B, "RESULTS", tmp_path)
    monkeypatch.setattr(street, "street_root", lambda data_root="": None)      # procedural held-out streets
    from demo_lib.weights import WEIGHTS_DIR

    weights = str(WEIGHTS_DIR / "vid2vid" / "demo_per_frame.safetensors")
    results = B.main(["--compare", weights, "--size", "64x128", "--tag", "t"])
    scores = results["models"][weights]
    assert 0 < scores["sharpness_ratio"] < 3 and scores["psnr_db"] > 5 and scores["s_per_frame"] > 0
    assert "style_difference_building" in scores or "style_difference_car" in scores
    assert json.loads((tmp_path / "vid2vid_compare_t.json").read_text())["size"] == [64, 128]
    assert weights in (tmp_path / "vid2vid_compare_t.md").read_text()
    assert (tmp_path / "vid2vid_compare_t.jpg").stat().st_size > 1000
