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


@pytest.mark.parametrize("args, message", [
    (["stpes=3"], "unknown setting 'stpes'"),
    (["steps=many"], "expected int"),
    (["--preset", "huge"], "unknown preset"),
    (["data_root=/nonexistent/place"], "neither an 'amos' nor a 'tlvdb' folder"),
])
def test_bad_command_lines_give_a_message_not_a_traceback(args, message):
    result = run("train.train", "timelapse", "--preset", "tiny", *args, "--out", "/tmp/never")
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
