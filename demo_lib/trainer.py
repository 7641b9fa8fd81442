"""One GAN training loop for every model: the models supply losses, not loops.

A model's objective lists its *phases* in the order its paper updates them (Nam et al.: discriminators, then G_A,
then G_B; vid2vid: G then D). Each phase names the networks it updates and gives a loss function
`loss(nets, batch, state) -> (loss, logs)`. `state` is the step's `StepState`: the fakes a step needs are made in one
place, the objective's sampling function, by whichever phase asks first (`state.shared(key, make)`); a phase that
made them anyway, with gradients, hands them on detached (`state.share`). So every phase also runs alone, e.g. the
discriminators during `d_warmup_steps`. Per step the trainer, for each phase:
turns `requires_grad` on for that phase's networks only, computes the loss under autocast (CUDA only), steps that
phase's Adam optimizer, and at the end of the step updates the EMA copies of the generators.

Also here: deterministic batches indexed by step (so resume is exact), checkpoints loadable with
`torch.load(weights_only=True)` with their sha256 beside them (`checkpoint.pt.sha256`, checked on resume; a wrong
file is a `CheckpointError` that says what is wrong and what to do), a JSONL log that a resume continues without
repeating steps, a tqdm bar, and DistributedDataParallel under `torchrun`
(gloo on CPU, NCCL on GPU), where each phase sees DDP wrappers for the networks it trains and plain modules for
the rest (a frozen network inside DDP would wait forever for gradients that never come).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset, Sampler
from tqdm.auto import tqdm

from .config import TrainConfig, to_dict
from .device import amp_dtype, autocast, best_device
from .weights import sha256_of

CHECKPOINT_KEYS = ("step", "model", "model_config", "train_config", "nets", "ema", "optimizers", "scaler", "rng_cpu")


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be resumed (missing, damaged, unreadable, another model's or another
    configuration's); the message says what is wrong and what to do."""


def checksum_path(path: str | Path) -> Path:
    """Where a checkpoint's sha256 is kept: `<name>.sha256` beside it, in `sha256sum` format."""
    path = Path(path)
    return path.with_name(path.name + ".sha256")


def _read_checksums(path: Path) -> list[str]:
    """The digests the sha256 file of `path` accepts (none when there is no such file)."""
    target = checksum_path(path)
    if not target.is_file():
        return []
    return [line.split()[0] for line in target.read_text().splitlines() if line.strip()]


def _write_checksums(path: Path, digests: list[str]) -> None:
    """Write the sha256 file of `path` atomically, one `<digest>  <name>` line per accepted digest."""
    target = checksum_path(path)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text("".join(f"{digest}  {path.name}\n" for digest in dict.fromkeys(digests)))
    tmp.replace(target)


def _checkpoint_file(path: str | Path) -> Path:
    """`path`, if it can be a checkpoint at all: an existing, non-empty file that is not exported weights."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}: give the checkpoint.pt of a run folder")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path} is empty (0 bytes): a copy or a save that did not finish. Resume from "
                              f"another checkpoint or start the run again")
    if path.suffix == ".safetensors":
        raise CheckpointError(f"{path} is an exported weights file (the inference net only, no optimizers), not a "
                              f"training checkpoint: start a new run from it with --init instead")
    return path


def verify_checkpoint(path: str | Path) -> bool:
    """Compare a checkpoint with the sha256 written beside it when it was saved.

    True when it matches; False when there is no sha256 file (a checkpoint saved before they were written, or copied
    without it): nothing to compare with. Raises CheckpointError when it differs: torch.load reads most flipped
    bytes without a word, and training would go on from damaged weights.
    """
    path = _checkpoint_file(path)
    accepted = _read_checksums(path)
    if not accepted:
        return False
    actual = sha256_of(path)
    if actual in accepted:
        return True
    kept = sorted(path.parent.glob(f"{path.stem}-*.pt"), key=lambda p: p.stat().st_mtime)
    other = (f"resume from a kept checkpoint beside it ({', '.join(p.name for p in kept[-3:])})" if kept
             else "start the run again (keep_checkpoints=true keeps every checkpoint to fall back on)")
    raise CheckpointError(
        f"{path} is damaged: its sha256 {actual[:12]}... is not the {accepted[0][:12]}... written in "
        f"{checksum_path(path).name} when it was saved (flipped or missing bytes, or the file was changed since). "
        f"Do not resume from it: {other}. Only if you changed it on purpose and trust it, delete "
        f"{checksum_path(path).name} to resume without the check.")


def read_checkpoint(path: str | Path, map_location: torch.device | str = "cpu") -> dict[str, Any]:
    """Load a checkpoint (weights_only) and check that it is one: CheckpointError for a missing, empty, truncated
    or foreign file, instead of whichever exception torch.load happens to raise. Does not check the sha256
    (`verify_checkpoint` does)."""
    path = _checkpoint_file(path)
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except MemoryError:
        raise
    except Exception as exc:  # every kind of damage has its own exception (EOFError, RuntimeError from the zip
        # reader, UnicodeDecodeError, KeyError, UnpicklingError, ...): all mean the same thing here
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0].split(". ")[0][:160]
        raise CheckpointError(f"{path} cannot be read as a training checkpoint ({reason}): it is truncated, damaged "
                              f"or not a checkpoint. Resume from another checkpoint or start the run again") from exc
    missing = [k for k in CHECKPOINT_KEYS if k not in state] if isinstance(state, dict) else list(CHECKPOINT_KEYS)
    if missing:
        raise CheckpointError(f"{path} is not a training checkpoint of this project (it has no {', '.join(missing)}):"
                              f" give the checkpoint.pt of a run folder")
    return state


def _config_changes(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """'key saved -> current' for every setting that differs between two JSON-ready configs."""
    saved, current = json.loads(json.dumps(saved)), json.loads(json.dumps(current))
    absent = "(unset)"
    return [f"{k} {saved.get(k, absent)} -> {current.get(k, absent)}" for k in sorted(set(saved) | set(current))
            if saved.get(k, absent) != current.get(k, absent)]


class StepState:
    """What the phases of one training step share: values made once per step, whichever phase needs them first.

    `shared(key, make)` returns this step's value for `key`, calling `make()` only if no phase made it yet;
    `share(key, value)` hands on a value a phase computed anyway (a G phase's fakes, detached). No phase can read
    what an earlier phase was merely expected to leave behind.
    """

    def __init__(self, step: int):
        self.step = step
        self._values: dict[str, Any] = {}

    def shared(self, key: str, make: Callable[[], Any]) -> Any:
        if key not in self._values:
            self._values[key] = make()
        return self._values[key]

    def share(self, key: str, value: Any) -> None:
        self._values[key] = value

    def __getitem__(self, key: str) -> Any:
        """What a phase made this step, to look at (tests, notebooks); phases ask with `shared`."""
        return self._values[key]


LossFn = Callable[[dict[str, nn.Module], dict[str, Any], StepState], tuple[torch.Tensor, dict[str, float]]]


@dataclasses.dataclass
class Phase:
    """One optimisation phase of a GAN step."""

    name: str                     # shown in logs, e.g. "D", "G_A", "G_B"
    nets: tuple[str, ...]         # the networks this phase updates
    loss: LossFn
    discriminator: bool = False   # uses TrainConfig.lr_d instead of lr_g


class StepBatchSampler(Sampler[list[int]]):
    """Batches as a pure function of the step: batch s of rank r is the same whatever happened before.

    Indices walk through a seeded permutation of the dataset, one permutation per epoch; under DDP each rank takes
    its own slice of the global batch.
    """

    def __init__(self, length: int, batch_size: int, start_step: int, steps: int, seed: int,
                 rank: int = 0, world: int = 1):
        self.length, self.batch_size, self.seed = length, batch_size, seed
        self.start_step, self.steps, self.rank, self.world = start_step, steps, rank, world
        self._perm_epoch, self._perm = -1, torch.empty(0, dtype=torch.long)

    def _permutation(self, epoch: int) -> torch.Tensor:
        if epoch != self._perm_epoch:
            gen = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._perm, self._perm_epoch = torch.randperm(self.length, generator=gen), epoch
        return self._perm

    def batch(self, step: int) -> list[int]:
        start = (step * self.world + self.rank) * self.batch_size
        out = []
        for flat in range(start, start + self.batch_size):
            epoch, i = divmod(flat, self.length)
            out.append(int(self._permutation(epoch)[i]))
        return out

    def __iter__(self):
        for step in range(self.start_step, self.steps):
            yield self.batch(step)

    def __len__(self) -> int:
        return max(0, self.steps - self.start_step)


def distributed_context() -> tuple[int, int, int]:
    """(rank, local_rank, world_size); initialises the process group under torchrun (gloo on CPU, NCCL on GPU)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 0, 1
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank)
    return dist.get_rank(), local_rank, world


class GANTrainer:
    """Trains `nets` (a ModuleDict holding generators and discriminators) with a model's phases.

    Args:
        nets: every network of the model, by name.
        phases: the model's phases, in update order.
        ema_nets: names of the networks that get an exponential moving average (the ones used for inference).
        dataset: items are dicts of tensors; batches come from `StepBatchSampler`.
        cfg: the shared training settings.
        run_dir: where `config.json`, `log.jsonl` and checkpoints go (created).
        model_config: the model's config as a dict, saved in the run and in every checkpoint.
        device: defaults to the best available (the local GPU under torchrun).
    """

    def __init__(self, nets: nn.ModuleDict, phases: list[Phase], ema_nets: tuple[str, ...], dataset: Dataset,
                 cfg: TrainConfig, run_dir: str | Path, model_config: dict[str, Any], model_name: str = "",
                 device: torch.device | None = None):
        if cfg.d_warmup_steps > 0 and not any(p.discriminator for p in phases):
            raise ValueError(f"d_warmup_steps={cfg.d_warmup_steps} trains only discriminators, and "
                             f"{model_name or 'this model'} has none: it would train nothing")
        self.rank, local_rank, self.world = distributed_context()
        if device is None:
            device = torch.device("cuda", local_rank) if torch.cuda.is_available() else best_device()
        self.device, self.cfg, self.phases = device, cfg, phases
        self.model_name, self.model_config = model_name, model_config
        self.run_dir = Path(run_dir)
        torch.manual_seed(cfg.seed + self.rank)  # different noise (z, mismatches) on every rank
        self.nets = nets.to(device)
        self.dataset = dataset
        self.step = 0
        self.wrapped: dict[str, nn.Module] = dict(self.nets.items())
        if self.world > 1:  # wrapping broadcasts rank 0's initial weights to every rank
            for name in sorted({n for p in phases for n in p.nets}):
                self.wrapped[name] = nn.parallel.DistributedDataParallel(
                    self.nets[name], device_ids=[device.index] if device.type == "cuda" else None)
        self.ema = nn.ModuleDict({n: copy.deepcopy(nets[n]).eval().requires_grad_(False) for n in ema_nets})
        self.optimizers = {
            p.name: torch.optim.Adam([q for n in p.nets for q in self.nets[n].parameters()],
                                     lr=cfg.lr_d if p.discriminator else cfg.lr_g, betas=cfg.betas)
            for p in phases
        }
        use_amp = cfg.amp and amp_dtype(device) is torch.float16
        self.scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
        if self.rank == 0:
            self.run_dir.mkdir(parents=True, exist_ok=True)

    def write_config(self) -> None:
        """The run folder's config.json: written when training starts, so that a resume refused for a wrong
        checkpoint or bad settings leaves the folder's record of the run as it was."""
        if self.rank == 0:
            (self.run_dir / "config.json").write_text(json.dumps(
                {"model": self.model_name, "model_config": self.model_config, "train_config": to_dict(self.cfg)},
                indent=2) + "\n")

    # -- one step --------------------------------------------------------------------------------------------

    def _view(self, phase: Phase) -> dict[str, nn.Module]:
        """The phase's networks as DDP wrappers (they get gradient all-reduce), every other one unwrapped."""
        return {n: (self.wrapped[n] if n in phase.nets else self.nets[n]) for n in self.nets}

    def train_step(self, batch: dict[str, Any]) -> dict[str, float]:
        batch = {k: (v.to(self.device, non_blocking=True) if torch.is_tensor(v) else v) for k, v in batch.items()}
        state = StepState(self.step)
        logs: dict[str, float] = {}
        for phase in self.phases:
            if self.step < self.cfg.d_warmup_steps and not phase.discriminator:
                continue
            for name, net in self.nets.items():
                net.requires_grad_(name in phase.nets)
            opt = self.optimizers[phase.name]
            for group in opt.param_groups:  # set every step, so a resumed run follows its own config's rates
                group["lr"] = (self.cfg.lr_d if phase.discriminator else self.cfg.lr_g) * self.learning_rate_scale()
            opt.zero_grad(set_to_none=True)
            with autocast(self.device, self.cfg.amp):
                loss, phase_logs = phase.loss(self._view(phase), batch, state)
            self.scaler.scale(loss).backward()
            if self.cfg.grad_clip > 0:
                self.scaler.unscale_(opt)
                torch.nn.utils.clip_grad_norm_([q for n in phase.nets for q in self.nets[n].parameters()],
                                               self.cfg.grad_clip)
            self.scaler.step(opt)
            self.scaler.update()
            logs.update({f"{phase.name}/{k}": float(v.detach()) if torch.is_tensor(v) else float(v)
                         for k, v in phase_logs.items()})
            logs[f"{phase.name}/total"] = float(loss.detach())
        self._update_ema()
        self.step += 1
        return logs

    def learning_rate_scale(self) -> float:
        """1 until cfg.lr_decay_from, then linearly down to 0 at cfg.steps."""
        start, end = self.cfg.lr_decay_from, self.cfg.steps
        if start <= 0 or self.step < start:
            return 1.0
        return max(0.0, (end - self.step) / max(1, end - start))

    @torch.no_grad()
    def _update_ema(self) -> None:
        # Ramp the decay up at the start so the average is not dominated by the random initialisation; a G that
        # starts trained (--init) is already a good average, and a ramp would swap it for the raw, perturbed G.
        decay = self.cfg.ema_decay
        if self.cfg.ema_ramp:
            decay = min(decay, (1 + self.step) / (10 + self.step))
        for name, ema in self.ema.items():
            for p_ema, p in zip(ema.parameters(), self.nets[name].parameters(), strict=True):
                p_ema.lerp_(p.detach(), 1 - decay)
            for b_ema, b in zip(ema.buffers(), self.nets[name].buffers(), strict=True):
                b_ema.copy_(b)

    # -- the loop --------------------------------------------------------------------------------------------

    def fit(self, steps: int | None = None, progress: bool = True,
            on_log: Callable[[int, dict[str, float]], None] | None = None) -> list[dict[str, float]]:
        """Train until `steps` (default cfg.steps) total steps; returns the logged rows. Resumes from self.step."""
        total = self.cfg.steps if steps is None else steps
        self.check_steps(total)
        self.write_config()
        # Resumed: the steps after the checkpoint are trained, and logged, again. Fresh: rows left by an earlier run
        # in this folder that never saved a checkpoint (train.py refuses a folder that holds one) are not this run's.
        dropped = self._drop_log_rows_after(self.step)
        if dropped:
            print(f"log.jsonl: dropped {dropped} row(s) after step {self.step}, "
                  + ("the checkpoint this run resumes from (they are logged again)" if self.step
                     else "left by an earlier run in this folder that saved no checkpoint"), flush=True)
        sampler = StepBatchSampler(len(self.dataset), self.cfg.batch_size, self.step, total, self.cfg.seed,
                                   self.rank, self.world)
        # The loader gets its own generator: by default it draws a seed from the global RNG when it starts, which
        # would make a resumed run's noise differ from an uninterrupted one.
        loader = DataLoader(self.dataset, batch_sampler=sampler, num_workers=self.cfg.num_workers,
                            pin_memory=self.device.type == "cuda",
                            generator=torch.Generator().manual_seed(self.cfg.seed + self.step))
        for net in self.nets.values():
            net.train()
        rows: list[dict[str, float]] = []
        bar = tqdm(total=total, initial=self.step, disable=not progress or self.rank != 0, desc=self.model_name,
                   dynamic_ncols=True)
        t0 = time.perf_counter()
        for batch in loader:
            logs = self.train_step(batch)
            bar.update(1)
            if self.step % self.cfg.log_every == 0 or self.step == total:
                row = {"step": self.step, "time_s": round(time.perf_counter() - t0, 3), **logs}
                rows.append(row)
                bar.set_postfix({k: f"{v:.3f}" for k, v in logs.items() if k.endswith("total")})
                if self.rank == 0:
                    with open(self.run_dir / "log.jsonl", "a") as f:
                        f.write(json.dumps(row) + "\n")
                if on_log is not None:
                    on_log(self.step, row)
            out_of_time = self._out_of_time(time.perf_counter() - t0)
            if self.cfg.ckpt_every and (self.step % self.cfg.ckpt_every == 0 or self.step == total or out_of_time):
                self.save_checkpoint()
            if out_of_time:
                if self.rank == 0:
                    print(f"time limit of {self.cfg.time_limit_s:g} s reached at step {self.step} of {total}; "
                          f"the checkpoint can be resumed or exported", flush=True)
                break
        bar.close()
        return rows

    def _out_of_time(self, elapsed_s: float) -> bool:
        """Whether cfg.time_limit_s has passed (a budget of device time, e.g. a lent GPU). Under DDP rank 0's clock
        decides for every rank, so that all stop at the same step."""
        if self.cfg.time_limit_s <= 0:
            return False
        stop = torch.tensor(float(elapsed_s >= self.cfg.time_limit_s))
        if self.world > 1:
            stop = stop.to(self.device)
            dist.broadcast(stop, src=0)
        return bool(stop.item())

    # -- checkpoints -----------------------------------------------------------------------------------------

    def checkpoint_state(self) -> dict[str, Any]:
        """Everything needed for an exact resume, as tensors and plain containers only (weights_only-safe)."""
        state = {
            "step": self.step,
            "model": self.model_name,
            "model_config": self.model_config,
            "train_config": to_dict(self.cfg),
            "nets": {n: m.state_dict() for n, m in self.nets.items()},
            "ema": {n: m.state_dict() for n, m in self.ema.items()},
            "optimizers": {n: o.state_dict() for n, o in self.optimizers.items()},
            "scaler": self.scaler.state_dict(),
            "rng_cpu": torch.get_rng_state(),
        }
        if torch.cuda.is_available():
            state["rng_cuda"] = torch.cuda.get_rng_state_all()
        return state

    def save_checkpoint(self, path: str | Path | None = None) -> Path | None:
        if self.rank != 0:
            return None
        path = Path(path) if path else self.run_dir / "checkpoint.pt"
        tmp = path.with_suffix(".tmp")
        torch.save(self.checkpoint_state(), tmp)
        digest = sha256_of(tmp)
        # No rename swaps two files at once: while the new checkpoint replaces the old one (atomic: a crash
        # mid-write never leaves a broken checkpoint), the sha256 file accepts both, so a kill at any moment
        # leaves a checkpoint that verifies.
        _write_checksums(path, [digest, *(_read_checksums(path) if path.is_file() else [])])
        tmp.replace(path)
        _write_checksums(path, [digest])
        if self.cfg.keep_checkpoints:  # the same bytes, not serialised twice
            kept = path.with_name(f"{path.stem}-{self.step}.pt")
            shutil.copyfile(path, kept)
            _write_checksums(kept, [digest])
        return path

    def load_checkpoint(self, path: str | Path) -> None:
        """Continue from a checkpoint of this model with networks of the same shapes.

        Raises CheckpointError before anything is changed when the file is damaged (its sha256 differs from the
        one saved beside it), unreadable, another model's, or made with model settings that give other tensors
        (another preset); says so when model settings differ but fit (a changed loss weight, say).
        """
        verified = verify_checkpoint(path)
        state = read_checkpoint(path, self.device)
        if self.model_name and state["model"] != self.model_name:
            raise CheckpointError(f"{path} is a checkpoint of {state['model']!r}, and this run trains "
                                  f"{self.model_name!r}: give a checkpoint of a {self.model_name} run")
        changes = _config_changes(state["model_config"], self.model_config)
        problems = self._mismatches(state)
        if problems:
            shown = "; ".join(problems[:3]) + (f"; and {len(problems) - 3} more" if len(problems) > 3 else "")
            settings = (f"it was saved with other model settings (checkpoint -> this run: {', '.join(changes)})"
                        if changes
                        else "its networks differ from this run's")
            raise CheckpointError(f"{path} does not fit this run's networks ({shown}): {settings}. Resume with the "
                                  f"preset and settings it was trained with (its run folder's config.json)")
        try:
            for n, m in self.nets.items():
                m.load_state_dict(state["nets"][n])
            for n, m in self.ema.items():
                m.load_state_dict(state["ema"][n])
            for n, o in self.optimizers.items():
                o.load_state_dict(state["optimizers"][n])
            self.scaler.load_state_dict(state["scaler"])
        except (RuntimeError, ValueError, KeyError) as exc:  # what the shape check above cannot see
            raise CheckpointError(f"{path} does not fit this run: {str(exc).splitlines()[0]}") from exc
        torch.set_rng_state(state["rng_cpu"].cpu())
        if "rng_cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([s.cpu() for s in state["rng_cuda"]])
        self.step = int(state["step"])
        if self.rank == 0:
            if not verified:
                print(f"note: {path} has no {checksum_path(path).name} beside it (saved before checksums were "
                      f"written, or copied without it): its integrity is not checked", flush=True)
            if changes:
                print(f"note: resuming with model settings that differ from the checkpoint's (checkpoint -> this "
                      f"run): {', '.join(changes)}", flush=True)

    def _mismatches(self, state: dict[str, Any]) -> list[str]:
        """How a checkpoint's networks and optimizers differ from this trainer's: other names, missing or extra
        tensors, other shapes. Empty when it loads."""
        problems = []
        for group, own in (("nets", self.nets), ("ema", self.ema), ("optimizers", self.optimizers)):
            theirs = state[group]
            if set(theirs) != set(own):
                problems.append(f"{group} {sorted(theirs)} instead of {sorted(own)}")
                continue
            if group == "optimizers":
                continue
            for name, net in own.items():
                mine, saved = net.state_dict(), theirs[name]
                for key in sorted(set(mine) ^ set(saved)):
                    problems.append(f"{name}.{key} {'missing' if key in mine else 'not in this net'}")
                problems += [f"{name}.{key} {tuple(saved[key].shape)} instead of {tuple(value.shape)}"
                             for key, value in mine.items() if key in saved and saved[key].shape != value.shape]
        return problems

    def check_steps(self, total: int) -> None:
        """A run cannot train to fewer steps than it has: `steps` counts every step, not the steps to add."""
        if total < self.step:
            raise ValueError(f"steps={total} is below step {self.step}, which this run has already reached: steps "
                             f"counts every step of the run, not the steps to add; give steps={self.step} or more")

    def _drop_log_rows_after(self, step: int) -> int:
        """Drop log.jsonl rows after `step` (and a last line cut short), before training from `step` logs those
        steps again: the rows a killed run wrote after its last checkpoint. Returns how many were dropped."""
        log = self.run_dir / "log.jsonl"
        if self.rank != 0 or not log.is_file():
            return 0
        lines = log.read_text().splitlines()
        kept = []
        for line in lines:
            try:
                if int(json.loads(line)["step"]) <= step:
                    kept.append(line)
            except (ValueError, KeyError, TypeError):  # a line cut short by the kill
                pass
        if len(kept) < len(lines):
            tmp = log.with_suffix(".tmp")
            tmp.write_text("".join(line + "\n" for line in kept))
            tmp.replace(log)
        return len(lines) - len(kept)
