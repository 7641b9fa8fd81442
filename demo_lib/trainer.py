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
`torch.load(weights_only=True)`, a JSONL log, a tqdm bar, and DistributedDataParallel under `torchrun`
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
from pathlib import Path
from typing import Any, Callable

import torch
import torch.distributed as dist
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset, Sampler
from tqdm.auto import tqdm

from .config import TrainConfig, to_dict
from .device import amp_dtype, autocast, best_device


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
            (self.run_dir / "config.json").write_text(json.dumps(
                {"model": model_name, "model_config": model_config, "train_config": to_dict(cfg)}, indent=2) + "\n")

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
            for p_ema, p in zip(ema.parameters(), self.nets[name].parameters()):
                p_ema.lerp_(p.detach(), 1 - decay)
            for b_ema, b in zip(ema.buffers(), self.nets[name].buffers()):
                b_ema.copy_(b)

    # -- the loop --------------------------------------------------------------------------------------------

    def fit(self, steps: int | None = None, progress: bool = True,
            on_log: Callable[[int, dict[str, float]], None] | None = None) -> list[dict[str, float]]:
        """Train until `steps` (default cfg.steps) total steps; returns the logged rows. Resumes from self.step."""
        total = self.cfg.steps if steps is None else steps
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
        tmp.replace(path)  # atomic: a crash mid-write never leaves a broken checkpoint
        if self.cfg.keep_checkpoints:  # the same bytes, not serialised twice
            shutil.copyfile(path, path.with_name(f"{path.stem}-{self.step}.pt"))
        return path

    def load_checkpoint(self, path: str | Path) -> None:
        state = torch.load(path, map_location=self.device, weights_only=True)
        for n, m in self.nets.items():
            m.load_state_dict(state["nets"][n])
        for n, m in self.ema.items():
            m.load_state_dict(state["ema"][n])
        for n, o in self.optimizers.items():
            o.load_state_dict(state["optimizers"][n])
        self.scaler.load_state_dict(state["scaler"])
        torch.set_rng_state(state["rng_cpu"].cpu())
        if "rng_cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([s.cpu() for s in state["rng_cuda"]])
        self.step = int(state["step"])
