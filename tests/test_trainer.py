"""The shared GAN trainer: steps, exact resume, checkpoints that load with weights_only=True, DDP."""

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import torch

from demo_lib.trainer import GANTrainer, StepBatchSampler

ROOT = Path(__file__).resolve().parent.parent


def make_trainer(tiny_timelapse, run_dir):
    spec, cfg, train_cfg, data = tiny_timelapse
    torch.manual_seed(0)
    nets = spec.build_nets(cfg)
    phases, ema = spec.build_objective(cfg)
    return GANTrainer(nets, phases, ema, data, train_cfg, run_dir, {"tiny": True}, "timelapse")


def test_two_steps_then_exact_resume(tiny_timelapse, tmp_path):
    straight = make_trainer(tiny_timelapse, tmp_path / "a")
    straight.fit(steps=4, progress=False)

    first = make_trainer(tiny_timelapse, tmp_path / "b")
    rows = first.fit(steps=2, progress=False)
    assert len(rows) == 2 and all(torch.isfinite(torch.tensor(v)) for r in rows for v in r.values())
    ckpt = first.save_checkpoint()
    resumed = make_trainer(tiny_timelapse, tmp_path / "c")
    resumed.load_checkpoint(ckpt)
    assert resumed.step == 2
    resumed.fit(steps=4, progress=False)
    for name in straight.nets:
        for (k, a), b in zip(straight.nets[name].state_dict().items(), resumed.nets[name].state_dict().values()):
            assert torch.equal(a, b), f"{name}.{k} differs after resume"
    for name in straight.ema:
        for a, b in zip(straight.ema[name].parameters(), resumed.ema[name].parameters()):
            assert torch.equal(a, b)
    assert (tmp_path / "b" / "log.jsonl").is_file() and (tmp_path / "b" / "config.json").is_file()


def test_time_limit_stops_early_with_a_checkpoint(tiny_timelapse, tmp_path, capsys):
    """time_limit_s (a budget of device time): training stops after the step that crosses it and saves a checkpoint
    at that step, which resumes to the full length."""
    trainer = make_trainer(tiny_timelapse, tmp_path)
    trainer.cfg = dataclasses.replace(trainer.cfg, time_limit_s=1e-9, ckpt_every=100)
    rows = trainer.fit(steps=5, progress=False)
    assert trainer.step == 1 and "time limit" in capsys.readouterr().out
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert state["step"] == 1 and len(rows) <= 1
    trainer.cfg = dataclasses.replace(trainer.cfg, time_limit_s=0.0)
    trainer.fit(steps=3, progress=False)
    assert trainer.step == 3


def test_discriminator_warmup_freezes_the_generators_and_ema_without_ramp_keeps_a_trained_g(tiny_timelapse, tmp_path):
    """d_warmup_steps: the first steps train the discriminators only. ema_ramp=False (set by --init): the EMA moves
    by 1 - ema_decay per step from the start, not by 90% on the first step as the ramp for a random G does."""
    trainer = make_trainer(tiny_timelapse, tmp_path)
    trainer.cfg = dataclasses.replace(trainer.cfg, d_warmup_steps=2, ema_ramp=False, ema_decay=0.9)
    before = {n: [p.detach().clone() for p in trainer.nets[n].parameters()] for n in ("G_B", "G_A", "D_A")}
    rows = trainer.fit(steps=2, progress=False)
    assert all(not k.startswith("G") for r in rows for k in r if k not in ("step", "time_s"))
    for name in ("G_B", "G_A"):
        assert all(torch.equal(a, b) for a, b in zip(before[name], trainer.nets[name].parameters())), name
    assert not all(torch.equal(a, b) for a, b in zip(before["D_A"], trainer.nets["D_A"].parameters()))
    ema_before = [p.clone() for p in trainer.ema["G_B"].parameters()]
    trainer.fit(steps=3, progress=False)  # the first generator step
    for e0, e1, g in zip(ema_before, trainer.ema["G_B"].parameters(), trainer.nets["G_B"].parameters()):
        torch.testing.assert_close(e1, 0.9 * e0 + 0.1 * g)


def test_linear_learning_rate_decay_and_a_resume_follows_its_own_rates(tiny_timelapse, tmp_path):
    """lr_decay_from: constant rates until that step, then linear to 0 at `steps`. The rates are set from the
    config every step, so a run resumed with new rates uses them instead of the ones saved in the optimizer."""
    trainer = make_trainer(tiny_timelapse, tmp_path)
    trainer.cfg = dataclasses.replace(trainer.cfg, steps=6, lr_decay_from=2, lr_g=1e-3, lr_d=4e-3)
    scales = []
    for step in range(7):
        trainer.step = step
        scales.append(trainer.learning_rate_scale())
    assert scales == [1.0, 1.0, 1.0, 0.75, 0.5, 0.25, 0.0]
    trainer.step = 0
    trainer.fit(steps=4, progress=False)  # the last step taken is step 3, at scale 0.75
    for phase in trainer.phases:
        base = 4e-3 if phase.discriminator else 1e-3
        assert trainer.optimizers[phase.name].param_groups[0]["lr"] == base * 0.75, phase.name
    ckpt = trainer.save_checkpoint()
    resumed = make_trainer(tiny_timelapse, tmp_path / "resumed")  # the tiny preset: constant, different rates
    resumed.load_checkpoint(ckpt)
    resumed.fit(steps=5, progress=False)
    for phase in resumed.phases:
        base = resumed.cfg.lr_d if phase.discriminator else resumed.cfg.lr_g
        assert resumed.optimizers[phase.name].param_groups[0]["lr"] == base, phase.name


def test_checkpoint_loads_with_weights_only(tiny_timelapse, tmp_path):
    trainer = make_trainer(tiny_timelapse, tmp_path)
    trainer.fit(steps=1, progress=False)
    state = torch.load(trainer.save_checkpoint(), weights_only=True)
    assert state["step"] == 1 and set(state["nets"]) == {"G_B", "G_A", "D_B", "D_A", "D_A_set"}


def test_batches_depend_only_on_the_step():
    full = list(StepBatchSampler(10, 4, 0, 6, seed=3))
    tail = list(StepBatchSampler(10, 4, 3, 6, seed=3))
    assert full[3:] == tail
    # Every index appears once per epoch.
    flat = [i for batch in full for i in batch]
    assert sorted(flat[:10]) == list(range(10))
    # Two ranks split a global batch without overlap.
    r0, r1 = StepBatchSampler(100, 4, 0, 1, 0, rank=0, world=2), StepBatchSampler(100, 4, 0, 1, 0, rank=1, world=2)
    assert not set(r0.batch(0)) & set(r1.batch(0))


def test_two_process_gloo_ddp_step(tmp_path):
    """torchrun with 2 CPU processes: one training step of the tiny preset, weights identical on both ranks."""
    script = tmp_path / "ddp_step.py"
    script.write_text(f"""
import dataclasses, sys, torch, torch.distributed as dist
sys.path.insert(0, {str(ROOT)!r}); sys.path.insert(0, {str(ROOT / 'tests')!r})
from conftest import RandomTimelapseBatches
from demo_lib import registry
from demo_lib.trainer import GANTrainer
spec = registry.get("timelapse"); cfg, tcfg = spec.preset("tiny")
torch.manual_seed(0)
nets = spec.build_nets(cfg); phases, ema = spec.build_objective(cfg)
tr = GANTrainer(nets, phases, ema, RandomTimelapseBatches(cfg.image_size, cfg.frames), tcfg,
                {str(tmp_path / 'run')!r}, {{}}, "timelapse")
tr.fit(steps=2, progress=False)
flat = torch.cat([p.detach().flatten() for p in tr.nets.parameters()])
gathered = [torch.zeros_like(flat) for _ in range(dist.get_world_size())]
dist.all_gather(gathered, flat)
assert torch.equal(gathered[0], gathered[1]), "ranks diverged"
tr.cfg = dataclasses.replace(tr.cfg, time_limit_s=1e-9)    # rank 0's clock stops both ranks at the same step
tr.fit(steps=5, progress=False)
assert tr.step == 3, tr.step
print("DDP-OK", dist.get_rank(), dist.get_world_size(), flush=True)
dist.destroy_process_group()
""")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    # --standalone: torchrun binds its own free port (a port picked here could be taken before torchrun binds it)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(script)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env, cwd=ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert result.stdout.count("DDP-OK") == 2
