"""bench/timelapse.py on an untrained tiny model: speed rows, the timestamp-error table, and --record writing the
results into the weights' card without touching the tensor file."""

import dataclasses
import json

import bench.common
import bench.timelapse as B
from demo_lib import registry
from demo_lib.weights import save_weights, sha256_of


def test_main_writes_results_and_records_them_in_the_card(tmp_path, monkeypatch):
    spec = registry.get("timelapse")
    cfg, _ = spec.preset("tiny")
    card = {"model": "timelapse", "variant": "tiny", "paper": {}, "config": dataclasses.asdict(cfg),
            "train": {"steps": 1}, "metrics": {"timestamp_error_hours": 9.0}, "license": "MIT", "limitations": ""}
    path = save_weights(spec.build_nets(cfg)[spec.inference_net].state_dict(), tmp_path / "tiny", card)
    digest = sha256_of(path)
    monkeypatch.setattr(bench.common, "RESULTS", tmp_path)
    monkeypatch.setattr(registry, "weights_path", lambda model, variant=None: path)

    argv = ["--scenes", "1", "--repeats", "1", "--device", "cpu", "--variant", "tiny", "--record"]
    results = B.main(argv)

    errors = results["timestamp_error"]
    assert 0 <= errors["ground_truth_random_weather_hours"] <= 12 and "look the same" in errors["protocol"]
    table = (tmp_path / "timelapse_tiny.md").read_text()       # a variant's own files: the shipped ones stay
    assert "Timestamp error on 1 held-out" in table and f"Weights: tiny (sha256 {digest})" in table
    assert not (tmp_path / "timelapse.md").exists() and results["weights"]["sha256"] == digest
    assert set(results["photos"]) == {"china.jpg (scikit-learn)", "rocket (scikit-image)"}
    assert all(0 < r["daytime_sharpness"] and -1 <= r["daytime_structure_ssim"] <= 1
               for r in results["photos"].values())
    assert "| rocket (scikit-image) |" in table and (tmp_path / "timelapse_tiny_photos.jpg").is_file()
    written = json.loads(path.with_suffix(".json").read_text())
    assert written["metrics"]["timestamp_error_hours"] == 9.0                       # the export's numbers stay
    recorded = written["metrics"]["benchmark"]
    assert recorded["command"] == "python -m bench.timelapse " + " ".join(argv)
    assert recorded["timestamp_error"] == errors and set(recorded["seconds"]) == {"cpu"}
    assert sha256_of(path) == digest == written["sha256"]
