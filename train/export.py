"""The only road from a training run to weights/: the EMA generator as safetensors plus a measured model card.

    python -m train.export runs/timelapse-demo                 # -> weights/timelapse/demo.{safetensors,json}
    python -m train.export runs/timelapse-demo --variant demo --eval-scenes 24
    python -m train.export runs/timelapse-demo --checkpoint checkpoint-2750.pt   # a kept one (keep_checkpoints=true)

The card records the model config, the exact training command, steps, data, wall time, and metrics measured here
on held-out data by the model's own evaluation (`ModelSpec.evaluate`), so that a test can check card and file agree.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
from pathlib import Path

import torch

from demo_lib import registry
from demo_lib.config import TrainConfig, from_dict
from demo_lib.trainer import CheckpointError, read_checkpoint, verify_checkpoint
from demo_lib.weights import REPO_ROOT, WEIGHTS_DIR, save_weights


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def read_optional(path: Path, default):
    if not path.is_file():
        return default
    text = path.read_text()
    return json.loads(text) if path.suffix == ".json" else text.strip()


def training_seconds(log_rows: list[dict]) -> float | None:
    """Wall time over every invocation of a run: each resume restarts the log's clock, so add up the segments."""
    if not log_rows:
        return None
    total, last = 0.0, 0.0
    for row in log_rows:
        if row["time_s"] < last:  # a new invocation began
            total += last
        last = row["time_s"]
    return round(total + last, 1)


def export(run_dir: str | Path, variant: str = "demo", eval_scenes: int = 24, out_root: Path = WEIGHTS_DIR,
           dtype: str = "float16", checkpoint: str = "checkpoint.pt") -> Path:
    run_dir = Path(run_dir)
    verify_checkpoint(run_dir / checkpoint)       # a damaged checkpoint must not ship under a fresh, valid sha256
    state = read_checkpoint(run_dir / checkpoint)
    spec = registry.get(state["model"])
    cfg = from_dict(spec.config_cls, state["model_config"])
    weights, weights_from = registry.inference_weights(spec, state)
    finalized = {}
    if spec.finalize is not None:  # e.g. vid2vid's style clusters, computed with the trained nets into the weights
        nets = spec.build_nets(cfg)
        for name, net in nets.items():
            net.load_state_dict(state["nets"][name])
        nets[spec.inference_net].load_state_dict(weights)
        finalized = spec.finalize(cfg, nets, from_dict(TrainConfig, state["train_config"]))
        weights = nets[spec.inference_net].state_dict()
    if dtype == "float16":  # half the file; the card's metrics below are measured with these rounded weights
        weights = {k: v.half() if v.is_floating_point() else v for k, v in weights.items()}
    log_rows = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()] \
        if (run_dir / "log.jsonl").is_file() else []
    pipeline = spec.build_pipeline(cfg, weights, torch.device("cpu"), {})
    metrics = spec.evaluate(pipeline, eval_scenes) if eval_scenes > 0 else {}
    init = read_optional(run_dir / "init.json", None)   # written by `train --init`
    card = {
        "model": spec.name,
        "variant": variant,
        "paper": {"title": spec.paper, "url": spec.paper_url},
        "config": state["model_config"],
        "train": {
            # A resumed run has one line per invocation: together they reproduce the weights.
            "command": " && ".join(read_optional(run_dir / "command.txt", "unknown").splitlines()),
            # Started from shipped weights (train --init): they and their own command are part of the recipe,
            # and `steps` counts theirs too.
            "steps": int(state["step"]) + int((init or {}).get("steps", 0)),
            **({"init_from": init} if init else {}),
            "train_config": state["train_config"],
            "data": read_optional(run_dir / "data.json", {}),
            "wall_time_s": training_seconds(log_rows),
            "final_losses": {k: round(v, 4) for k, v in (log_rows[-1] if log_rows else {}).items()
                             if k.endswith("total")},
            "git_commit": git_commit(),
            "date": dt.date.today().isoformat(),
            "weights_from": weights_from,
            # A kept checkpoint chosen on a validation set (`keep_checkpoints=true`), not the run's last state.
            **({"checkpoint": checkpoint} if checkpoint != "checkpoint.pt" else {}),
            "dtype": dtype,
            **({"finalize": finalized} if finalized else {}),
        },
        "metrics": metrics,
        "license": spec.license,
        "limitations": spec.limitations,
    }
    path = save_weights(weights, out_root / spec.name / f"{variant}.safetensors", card)
    print(json.dumps({"weights": str(path), "metrics": metrics}, indent=2))
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir")
    parser.add_argument("--variant", default="demo")
    parser.add_argument("--eval-scenes", type=int, default=24, help="held-out scenes for the card's metrics")
    parser.add_argument("--dtype", choices=("float16", "float32"), default="float16",
                        help="storage type of the weights (inference always runs in float32 on the CPU)")
    parser.add_argument("--checkpoint", default="checkpoint.pt",
                        help="which checkpoint of the run folder (default its last state; checkpoint-<step>.pt are "
                             "kept by keep_checkpoints=true, e.g. to export the one chosen on a validation set)")
    args = parser.parse_args(argv)
    try:
        export(args.run_dir, args.variant, args.eval_scenes, dtype=args.dtype, checkpoint=args.checkpoint)
    except CheckpointError as exc:
        parser.error(str(exc))


if __name__ == "__main__":
    main()
