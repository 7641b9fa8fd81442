"""Train any registry model: one entry point, torchrun-ready.

    python -m train.train timelapse --preset tiny                      # seconds, for a smoke test
    python -m train.train timelapse --preset demo                      # the run behind the shipped weights (CPU: 3.5 h)
    python -m train.train timelapse --preset demo steps=500 batch_size=4 --out runs/try
    python -m train.train timelapse --preset demo --resume runs/timelapse-demo/checkpoint.pt
    python -m train.train timelapse --preset demo --init weights/timelapse/demo.safetensors   # fine-tune shipped G
    python -m train.train timelapse --preset demo --dry-run            # print the resolved configs and stop
    python -m train.train timelapse --preset demo keep_checkpoints=true   # keep checkpoint-<step>.pt, to choose one
    torchrun --nproc_per_node=2 -m train.train timelapse --preset demo  # DDP: gloo on CPU, NCCL on GPUs

Settings after the preset are `key=value` overrides of the model config or the train config (`--key=value` works
too); an unknown key is an error listing the valid ones, and so is a value out of range (`batch_size=0`). The run
folder gets config.json, command.txt (every invocation, one per line), data.json, log.jsonl, checkpoint.pt and its
sha256 (checkpoint.pt.sha256, checked by --resume); `python -m train.export <run folder>` turns it into weights/.
`steps` counts every step of a run, so a resume trains up to it (not that many more). A run folder that holds a
checkpoint is only ever resumed: a fresh run into it is refused, and so is a resume whose checkpoint does not fit,
before anything in the folder is written. A resume may change settings that keep the networks' shapes (the size,
a loss weight): the trainer says which.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import sys
from pathlib import Path

import torch

from demo_lib import registry
from demo_lib.config import to_dict
from demo_lib.trainer import CheckpointError, GANTrainer, distributed_context
from demo_lib.weights import WeightsError, load_weights


def describe_dataset(dataset) -> dict:
    """What the run trained on, for the model card (datasets may describe themselves)."""
    if hasattr(dataset, "describe"):
        return dataset.describe()
    return {"type": type(dataset).__name__, "length": len(dataset)}


def init_from_weights(net: torch.nn.Module, path: str, model: str) -> dict:
    """Load shipped weights (sha256-checked) into `net`; returns what the exported card records about them."""
    state, card = load_weights(path)
    if card.get("model") != model:
        raise WeightsError(f"these are weights of {card.get('model')!r}, not of {model!r}")
    # Tensors are matched by name; a config that swaps a layer (a new output head) starts that layer fresh and
    # drops the old one, and the card lists both. A tensor whose shape changed is an error, not a fresh start.
    own = net.state_dict()
    shapes = [f"{k} {tuple(v.shape)} -> {tuple(own[k].shape)}" for k, v in state.items()
              if k in own and v.shape != own[k].shape]
    if shapes:
        raise WeightsError(f"tensors of another shape: {'; '.join(shapes)}")
    result = net.load_state_dict({k: v.float() for k, v in state.items() if k in own}, strict=False)
    dropped, fresh = sorted(set(state) - set(own)), sorted(result.missing_keys)
    if len(fresh) == len(own):
        raise WeightsError("no tensor of these weights belongs to this net")
    train = card.get("train", {})
    # Fine-tunes of fine-tunes keep the whole chain: each link's own start is nested under it.
    return {"weights": str(path), "sha256": card.get("sha256"), "command": train.get("command"),
            "steps": int(train.get("steps", 0)), "git_commit": train.get("git_commit"),
            **({"started_fresh": fresh, "dropped": dropped} if fresh or dropped else {}),
            **({"init_from": train["init_from"]} if "init_from" in train else {})}


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", choices=list(registry.MODELS))
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--out", default="", help="run folder (default runs/<model>-<preset>)")
    parser.add_argument("--resume", default="", help="a checkpoint.pt to continue from")
    parser.add_argument("--init", default="", help="shipped weights (.safetensors) to start the inference net from; "
                        "the other nets (discriminators, ...) start fresh (d_warmup_steps=N trains them alone "
                        "first), the EMA starts as the loaded net (ema_ramp=False). The card of the result names them.")
    parser.add_argument("--dry-run", action="store_true", help="print the resolved configs and exit")
    parser.add_argument("--no-progress", action="store_true")
    args, overrides = parser.parse_known_args(argv)
    spec = registry.get(args.model)
    try:
        model_cfg, train_cfg = spec.preset(args.preset, overrides)
    except ValueError as exc:
        parser.error(str(exc))
    if args.init and not any(o.lstrip("-").startswith("ema_ramp=") for o in overrides):
        train_cfg = dataclasses.replace(train_cfg, ema_ramp=False)  # the EMA starts as the trained G, not at 0
    if args.dry_run:
        print(json.dumps({"model_config": to_dict(model_cfg), "train_config": to_dict(train_cfg)}, indent=2))
        return Path()
    run_dir = Path(args.out or Path(train_cfg.out_dir) / f"{args.model}-{args.preset}")
    if not args.resume and (run_dir / "checkpoint.pt").is_file():  # a fresh run would overwrite it, unasked
        parser.error(f"{run_dir} already holds a run ({run_dir / 'checkpoint.pt'}): continue it with --resume "
                     f"{run_dir / 'checkpoint.pt'}, or give another --out (or remove that folder to start over)")
    rank, _, world = distributed_context()
    torch.manual_seed(train_cfg.seed)  # identical initial weights on every rank
    nets = spec.build_nets(model_cfg)
    phases, ema_nets = spec.build_objective(model_cfg)
    try:
        dataset = spec.build_dataset(model_cfg, train_cfg)
    except (ValueError, OSError) as exc:  # a wrong data layout: say what was expected, no traceback
        parser.error(str(exc))
    if args.init:  # before the trainer copies the nets into their EMA
        try:
            init_info = init_from_weights(nets[spec.inference_net], args.init, args.model)
        except (WeightsError, RuntimeError) as exc:
            parser.error(f"--init {args.init}: {exc}".splitlines()[0])
    try:
        trainer = GANTrainer(nets, phases, ema_nets, dataset, train_cfg, run_dir, to_dict(model_cfg), args.model)
    except ValueError as exc:  # settings that cannot work together, e.g. d_warmup_steps without a discriminator
        parser.error(str(exc))
    if args.resume:  # a wrong file is a message, not a traceback, and never a silent start from damaged weights
        try:
            trainer.load_checkpoint(args.resume)
            trainer.check_steps(train_cfg.steps)
        except (CheckpointError, ValueError) as exc:
            parser.error(f"--resume: {exc}")  # the message names the file
    if rank == 0:
        launcher = f"torchrun --nproc_per_node={world}" if world > 1 else "python"
        command = f"{launcher} -m train.train " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
        with open(run_dir / "command.txt", "a" if args.resume else "w") as f:  # a resumed run keeps its history
            f.write(command + "\n")
        (run_dir / "data.json").write_text(json.dumps(describe_dataset(dataset), indent=2) + "\n")
        if args.init:
            (run_dir / "init.json").write_text(json.dumps(init_info, indent=2) + "\n")
            if init_info.get("started_fresh") or init_info.get("dropped"):
                print(f"--init: started fresh {init_info['started_fresh']}; dropped {init_info['dropped']}")
        print(f"training {args.model} ({args.preset}) for {train_cfg.steps} steps on {trainer.device} "
              f"x{world} -> {run_dir}", flush=True)
    trainer.fit(progress=not args.no_progress)
    trainer.save_checkpoint()
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
    return run_dir


if __name__ == "__main__":
    main()
