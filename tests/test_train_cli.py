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

    # A checkpoint damaged after training is not exported (it would ship under a fresh, valid sha256).
    data = bytearray((out / "checkpoint.pt").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (out / "checkpoint.pt").write_bytes(bytes(data))
    result = run("train.export", str(out), "--variant", "damaged", "--eval-scenes", "0")
    assert result.returncode == 2 and "sha256" in result.stderr and "Traceback" not in result.stderr
    assert not (ROOT / "weights/timelapse/damaged.json").exists()


def test_kept_checkpoints_are_compared_on_other_scenes_and_the_chosen_one_exported(tmp_path, monkeypatch, capsys):
    """keep_checkpoints=true keeps every checkpoint; bench.timelapse --compare scores them on held-out scenes that
    are not the benchmark's; export --checkpoint ships the chosen one, with its own step in the card."""
    import bench.common
    import bench.timelapse
    import torch
    from demo_lib import registry
    from train.export import export

    out = tmp_path / "run"
    result = run("train.train", "timelapse", "--preset", "tiny", "steps=3", "ckpt_every=1", "keep_checkpoints=true",
                 "--out", str(out), "--no-progress")
    assert result.returncode == 0, result.stderr[-2000:]
    kept = sorted(p.name for p in out.glob("checkpoint-*.pt"))
    assert kept == ["checkpoint-1.pt", "checkpoint-2.pt", "checkpoint-3.pt"]
    assert torch.load(out / "checkpoint-2.pt", weights_only=True)["step"] == 2

    monkeypatch.setattr(bench.common, "RESULTS", tmp_path)
    paths = [str(out / name) for name in kept[:2]]
    results = bench.timelapse.main(["--compare", *paths, "--scenes", "2", "--first-scene", "1000"])
    assert [results[p]["step"] for p in paths] == [1, 2]
    assert all(0 <= r["mean_hours"] <= 12 and len(r["by_hour"]) == 12 for r in results.values())
    first, second = (results[p] for p in paths)                  # differences are paired with the first listed
    assert first[f"minus_{paths[0]}"]["mean_hours"] == 0
    assert abs(second[f"minus_{paths[0]}"]["mean_hours"] - (second["mean_hours"] - first["mean_hours"])) < 2e-3
    table = (tmp_path / "timelapse_compare.md").read_text()
    assert "held-out scenes 1000-1001" in table and paths[1] in table
    assert "the benchmark scores scenes 0-47" in table                 # its own 48, whatever --scenes compares on

    path = export(out, variant="chosen", eval_scenes=0, out_root=tmp_path / "weights", checkpoint="checkpoint-2.pt")
    card = json.loads(path.with_suffix(".json").read_text())
    assert card["train"]["steps"] == 2 and card["train"]["checkpoint"] == "checkpoint-2.pt"
    photo = __import__("numpy").full((16, 16, 3), 90, "uint8")
    from_checkpoint = registry.pipeline_from_checkpoint(out / "checkpoint-2.pt").generate(photo, [6.0], seed=1)
    exported = registry.pipeline_from_file("timelapse", path, "cpu").generate(photo, [6.0], seed=1)
    assert abs(from_checkpoint.astype(int) - exported).max() <= 2                 # float16 storage rounds a little
    assert bench.timelapse.compare([str(path)], 1, 1000)[str(path)]["step"] == 2  # weights files compare too
    with pytest.raises(SystemExit):
        bench.timelapse.main(["--compare", str(tmp_path / "missing.pt")])
    message = capsys.readouterr().err
    assert "--compare" in message and "missing.pt" in message and "Traceback" not in message


def test_fine_tune_from_shipped_weights_records_them_in_the_card(tmp_path):
    from train.export import export

    first = tmp_path / "first"
    assert run("train.train", "timelapse", "--preset", "tiny", "--out", str(first), "--no-progress").returncode == 0
    weights = export(first, variant="a", eval_scenes=0, out_root=tmp_path / "weights")
    second = tmp_path / "second"
    result = run("train.train", "timelapse", "--preset", "tiny", "steps=1", "--init", str(weights),
                 "--out", str(second), "--no-progress")
    assert result.returncode == 0, result.stderr[-2000:]
    second_weights = export(second, variant="b", eval_scenes=0, out_root=tmp_path / "weights")
    card = json.loads(second_weights.with_suffix(".json").read_text())
    first_card = json.loads(weights.with_suffix(".json").read_text())
    assert card["train"]["steps"] == 2 + 1                                  # theirs and this run's
    assert card["train"]["init_from"]["sha256"] == first_card["sha256"]
    assert card["train"]["init_from"]["command"] == first_card["train"]["command"]
    assert "--init" in card["train"]["command"]

    # A fine-tune of that fine-tune nests the chain back to the first run.
    third = tmp_path / "third"
    assert run("train.train", "timelapse", "--preset", "tiny", "steps=1", "--init", str(second_weights),
               "--out", str(third), "--no-progress").returncode == 0
    chain = json.loads(export(third, variant="c", eval_scenes=0, out_root=tmp_path / "weights")
                       .with_suffix(".json").read_text())["train"]
    assert chain["steps"] == 2 + 1 + 1
    assert chain["init_from"]["sha256"] == card["sha256"]
    assert chain["init_from"]["init_from"]["sha256"] == first_card["sha256"]


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
    (["batch_size=0", "lr_g=nan"], "batch_size=0 (must be >= 1); lr_g=nan"),
    (["image_size=0"], "image_size=0 (must be a positive multiple of 4)"),
])
def test_bad_command_lines_give_a_message_not_a_traceback(args, message):
    result = run("train.train", "timelapse", "--preset", "tiny", *args, "--out", "/tmp/never")
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    """A finished two-step tiny run (checkpoint.pt at step 2, its sha256, log.jsonl), shared by the resume tests."""
    out = tmp_path_factory.mktemp("tiny") / "run"
    result = run("train.train", "timelapse", "--preset", "tiny", "--out", str(out), "--no-progress")
    assert result.returncode == 0, result.stderr[-2000:]
    return out


@pytest.mark.parametrize("damage, settings, message", [
    ("empty", [], "is empty (0 bytes)"),
    ("flipped", [], "is damaged: its sha256"),
    ("", ["g_channels=16"], "does not fit this run's networks"),
    ("", ["steps=1"], "steps=1 is below step 2, which this run has already reached"),
])
def test_resume_from_a_wrong_checkpoint_gives_a_message_not_a_traceback(tiny_run, tmp_path, damage, settings,
                                                                        message):
    """--resume used to raise EOFError for an empty file, a size-mismatch RuntimeError for another preset's, resume
    from flipped bytes without a word, and "succeed" without training when steps was below the checkpoint's."""
    import shutil

    for name in ("checkpoint.pt", "checkpoint.pt.sha256"):
        if (tiny_run / name).is_file():
            shutil.copy(tiny_run / name, tmp_path / name)
    checkpoint = tmp_path / "checkpoint.pt"
    data = bytearray(checkpoint.read_bytes())
    if damage == "empty":
        data = bytearray()
    elif damage == "flipped":
        data[len(data) // 2] ^= 0x01
    checkpoint.write_bytes(bytes(data))
    result = run("train.train", "timelapse", "--preset", "tiny", *settings, "--resume", str(checkpoint),
                 "--out", str(tmp_path / "resumed"), "--no-progress")
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr, result.stderr


def test_resume_after_a_kill_logs_each_step_once(tiny_run, tmp_path):
    """A run killed after logging step 3 but before checkpointing it: the resume drops that row and logs it anew."""
    import shutil

    out = tmp_path / "run"
    shutil.copytree(tiny_run, out)
    with open(out / "log.jsonl", "a") as f:
        f.write(json.dumps({"step": 3, "time_s": 9.0}) + "\n")
    result = run("train.train", "timelapse", "--preset", "tiny", "steps=4", "--resume", str(out / "checkpoint.pt"),
                 "--out", str(out), "--no-progress")
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4] and rows[2]["time_s"] != 9.0
    assert "dropped 1 row(s) after step 2" in result.stdout


def test_a_refused_resume_and_a_fresh_run_leave_an_existing_run_folder_as_it_was(tiny_run, tmp_path):
    """A resume refused for settings that do not fit used to rewrite the folder's config.json with those settings
    first; a fresh run (no --resume) into a folder holding a checkpoint overwrote it without a word."""
    import shutil

    out = tmp_path / "run"
    shutil.copytree(tiny_run, out)
    before = {name: (out / name).read_bytes() for name in ("config.json", "command.txt", "log.jsonl", "checkpoint.pt")}
    refused = run("train.train", "timelapse", "--preset", "tiny", "g_channels=16", "--resume",
                  str(out / "checkpoint.pt"), "--out", str(out), "--no-progress")
    fresh = run("train.train", "timelapse", "--preset", "tiny", "--out", str(out), "--no-progress")
    assert refused.returncode == 2 and "does not fit this run's networks" in refused.stderr
    assert fresh.returncode == 2 and "already holds a run" in fresh.stderr and "--resume" in fresh.stderr
    assert "Traceback" not in refused.stderr + fresh.stderr
    assert {name: (out / name).read_bytes() for name in before} == before


def test_a_fresh_run_into_a_folder_without_a_checkpoint_starts_its_log_and_command_anew(tmp_path):
    """A run killed before its first checkpoint leaves log rows and a command line; the next fresh run in that
    folder is a new run, not a continuation, so its log and command.txt hold only its own."""
    out = tmp_path / "run"
    out.mkdir()
    (out / "log.jsonl").write_text("".join(json.dumps({"step": s, "time_s": 99.0}) + "\n" for s in (1, 2, 3)))
    (out / "command.txt").write_text("python -m train.train timelapse --preset tiny steps=9\n")
    result = run("train.train", "timelapse", "--preset", "tiny", "--out", str(out), "--no-progress")
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2] and all(r["time_s"] != 99.0 for r in rows)
    assert (out / "command.txt").read_text().count("\n") == 1 and "steps=9" not in (out / "command.txt").read_text()
    assert "left by an earlier run in this folder" in result.stdout


def test_fine_tune_into_a_new_output_head_starts_it_fresh_and_says_so(tmp_path):
    """--init matches tensors by name: weights of the pixels generator start a "gain" generator whose trunk is
    theirs and whose transform head is new (to_rgb dropped); both lists go into init.json. Changed shapes and
    weights with nothing in common are refused."""
    import dataclasses

    import torch

    from demo_lib import registry
    from demo_lib.models import timelapse as tl
    from demo_lib.weights import WeightsError, save_weights
    from train.train import init_from_weights

    tiny = registry.get("timelapse").preset("tiny")[0]
    torch.manual_seed(0)
    pixels = tl.TimelapseGenerator(tiny)
    card = {"model": "timelapse", "variant": "x", "paper": {}, "config": {}, "train": {"steps": 3}, "metrics": {},
            "license": "MIT", "limitations": ""}
    path = save_weights(pixels.state_dict(), tmp_path / "pixels", card)
    gain = tl.TimelapseGenerator(dataclasses.replace(tiny, output="gain"))
    info = init_from_weights(gain, str(path), "timelapse")
    assert info["started_fresh"] == ["to_affine.bias", "to_affine.weight"]
    assert info["dropped"] == ["to_rgb.bias", "to_rgb.weight"]
    for name, tensor in gain.state_dict().items():
        if not name.startswith("to_"):
            torch.testing.assert_close(tensor, pixels.state_dict()[name].float(), atol=1e-3, rtol=1e-3)  # float16
    with pytest.raises(WeightsError, match="another shape"):
        init_from_weights(tl.TimelapseGenerator(dataclasses.replace(tiny, g_channels=16)), str(path), "timelapse")
    with pytest.raises(WeightsError, match="no tensor"):
        init_from_weights(torch.nn.Linear(2, 2), str(path), "timelapse")
