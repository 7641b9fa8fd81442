"""train/ command lines: a tiny run, export with a measured card, and readable errors for bad settings or data."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, cwd=cwd, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)})


def test_tiny_training_then_export(tmp_path):
    out = tmp_path / "run"
    result = run("train.train", "timelapse", "--preset", "tiny", "--out", str(out), "--no-progress")
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads((out / "config.json").read_text())["model_config"]["image_size"] == 32
    assert (out / "command.txt").read_text().startswith("python -m train.train timelapse --preset tiny")
    from train.export import export

    path = export(out, variant="t", eval_scenes=1, out_root=tmp_path / "weights")
    card = json.loads(path.with_suffix(".json").read_text())
    assert card["train"]["steps"] == 2 and card["metrics"]["timestamp_error_hours"] >= 0
    from demo_lib import registry
    from demo_lib.weights import load_weights

    state, _ = load_weights(path)
    assert card["train"]["dtype"] == "float16" and {v.dtype for v in state.values()} == {__import__("torch").float16}

    model = registry.pipeline_from_file("timelapse", path, "cpu")
    assert model.generate(__import__("numpy").zeros((16, 16, 3), "uint8"), [3.0]).shape == (1, 16, 16, 3)


def test_fine_tune_from_shipped_weights_records_them_in_the_card(tmp_path):
    from train.export import export

    first = tmp_path / "first"
    assert run("train.train", "timelapse", "--preset", "tiny", "--out", str(first), "--no-progress").returncode == 0
    weights = export(first, variant="a", eval_scenes=0, out_root=tmp_path / "weights")
    second = tmp_path / "second"
    result = run("train.train", "timelapse", "--preset", "tiny", "steps=1", "--init", str(weights),
                 "--out", str(second), "--no-progress")
    assert result.returncode == 0, result.stderr[-2000:]
    card = json.loads(export(second, variant="b", eval_scenes=0, out_root=tmp_path / "weights")
                      .with_suffix(".json").read_text())
    first_card = json.loads(weights.with_suffix(".json").read_text())
    assert card["train"]["steps"] == 2 + 1                                  # theirs and this run's
    assert card["train"]["init_from"]["sha256"] == first_card["sha256"]
    assert card["train"]["init_from"]["command"] == first_card["train"]["command"]
    assert "--init" in card["train"]["command"]


def test_fine_tune_from_missing_or_foreign_weights_is_refused(tmp_path):
    import torch

    from demo_lib.weights import save_weights

    foreign = save_weights({"w": torch.zeros(2)}, tmp_path / "foreign", {
        "model": "inbetween", "variant": "x", "paper": {}, "config": {}, "train": {"steps": 1}, "metrics": {},
        "license": "MIT", "limitations": ""})
    for path, message in [(tmp_path / "nothing.safetensors", "weights not found"),
                          (foreign, "weights of 'inbetween', not of 'timelapse'")]:
        result = run("train.train", "timelapse", "--preset", "tiny", "--init", str(path), "--out", str(tmp_path / "r"))
        assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("args, message", [
    (["stpes=3"], "unknown setting 'stpes'"),
    (["steps=many"], "expected int"),
    (["--preset", "huge"], "unknown preset"),
    (["data_root=/nonexistent/place"], "neither an 'amos' nor a 'tlvdb' folder"),
])
def test_bad_command_lines_give_a_message_not_a_traceback(args, message):
    result = run("train.train", "timelapse", "--preset", "tiny", *args, "--out", "/tmp/never")
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
