"""The shared GAN trainer: steps, exact resume, checkpoints that load with weights_only=True, DDP."""

import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
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


def make_configured_trainer(model, run_dir, overrides=(), train_overrides=()):
    """A tiny trainer of `model` whose recorded model config is the real one (make_trainer's is a stand-in)."""
    from conftest import RandomTimelapseBatches

    from demo_lib import registry
    from demo_lib.config import to_dict

    spec = registry.get(model)
    cfg, train_cfg = spec.preset("tiny", list(overrides))
    train_cfg = dataclasses.replace(train_cfg, **dict(train_overrides))
    torch.manual_seed(0)
    nets = spec.build_nets(cfg)
    phases, ema = spec.build_objective(cfg)
    return GANTrainer(nets, phases, ema, RandomTimelapseBatches(32, 4), train_cfg, run_dir, to_dict(cfg), model)


def test_a_checkpoint_keeps_its_sha256_beside_it_and_a_flipped_byte_is_refused(tmp_path, capsys):
    """torch.load reads a checkpoint with a flipped byte in a tensor without a word; the sha256 written beside it
    (sha256sum format, kept checkpoints too) catches it before anything is loaded, and the message says what to do.
    A checkpoint without its sha256 file (older runs, a copy) still resumes, with a note."""
    from demo_lib.trainer import CheckpointError, checksum_path
    from demo_lib.weights import sha256_of

    trainer = make_configured_trainer("timelapse", tmp_path / "run", train_overrides={"keep_checkpoints": True})
    trainer.fit(steps=1, progress=False)
    path = trainer.save_checkpoint()
    assert checksum_path(path).read_text() == f"{sha256_of(path)}  checkpoint.pt\n"
    kept = path.with_name("checkpoint-1.pt")
    assert checksum_path(kept).read_text() == f"{sha256_of(kept)}  checkpoint-1.pt\n"

    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF                                    # inside a tensor: torch.load does not notice
    path.write_bytes(bytes(data))
    assert torch.load(path, weights_only=True)["step"] == 1
    resumed = make_configured_trainer("timelapse", tmp_path / "resumed")
    before = [p.clone() for p in resumed.nets["G_B"].parameters()]
    with pytest.raises(CheckpointError, match="is damaged") as info:
        resumed.load_checkpoint(path)
    assert "checkpoint-1.pt" in str(info.value) and "checkpoint.pt.sha256" in str(info.value)
    assert resumed.step == 0 and all(map(torch.equal, before, resumed.nets["G_B"].parameters()))

    resumed.load_checkpoint(kept)                                   # the kept one verifies
    assert resumed.step == 1
    copy = tmp_path / "copied.pt"
    copy.write_bytes(kept.read_bytes())                             # without its sha256 file: loads, with a note
    capsys.readouterr()
    make_configured_trainer("timelapse", tmp_path / "again").load_checkpoint(copy)
    assert "integrity is not checked" in capsys.readouterr().out


def test_a_second_save_replaces_the_checkpoint_and_its_sha256_together(tmp_path, monkeypatch):
    """While the new checkpoint replaces the old one the sha256 file accepts both (no rename swaps two files), so a
    kill between the two renames leaves a pair that verifies; afterwards only the new one is accepted."""
    from demo_lib import trainer as trainer_lib

    trainer = make_configured_trainer("timelapse", tmp_path)
    first = trainer.save_checkpoint()
    old = trainer_lib._read_checksums(first)
    accepted_during_swap = []
    real_replace = Path.replace

    def spy(self, target):
        if self.name == "checkpoint.tmp":  # the moment the new checkpoint replaces the old one
            accepted_during_swap.extend(trainer_lib._read_checksums(Path(target)))
            assert trainer_lib.verify_checkpoint(target)             # killed here: the old checkpoint verifies
        return real_replace(self, target)

    trainer.fit(steps=1, progress=False)
    monkeypatch.setattr(Path, "replace", spy)
    trainer.save_checkpoint()
    monkeypatch.undo()
    new = trainer_lib._read_checksums(first)
    assert len(new) == 1 and new != old and set(accepted_during_swap) == set(new + old)
    assert trainer_lib.verify_checkpoint(first)


@pytest.mark.parametrize("case, message", [
    ("empty", "is empty"),
    ("truncated", "cannot be read as a training checkpoint"),
    ("text", "cannot be read as a training checkpoint"),
    ("weights", "exported weights file (the inference net only, no optimizers), not a training checkpoint"),
    ("not_a_checkpoint", "not a training checkpoint of this project"),
    ("missing", "no checkpoint at"),
    ("other_model", "a checkpoint of 'inbetween', and this run trains 'timelapse'"),
    ("other_preset", "g_channels 16 -> 8"),
])
def test_a_wrong_checkpoint_is_refused_with_a_message_and_nothing_loaded(case, message, tmp_path):
    """Each of these used to surface as whatever torch.load or load_state_dict raised (EOFError, a miniz
    RuntimeError, KeyError: 'G_B', size mismatch) or, for a safetensors file, an UnpicklingError about PyTorch 2.6."""
    from demo_lib.trainer import CheckpointError
    from demo_lib.weights import save_weights

    good = make_configured_trainer("timelapse", tmp_path / "good").save_checkpoint()
    path = tmp_path / "wrong.pt"
    if case == "empty":
        path.write_bytes(b"")
    elif case == "truncated":
        path.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    elif case == "text":
        path.write_text("hello")
    elif case == "weights":
        nets = make_configured_trainer("timelapse", tmp_path / "w").nets
        path = save_weights(nets["G_B"].state_dict(), tmp_path / "w" / "x", {
            "model": "timelapse", "variant": "x", "paper": {}, "config": {}, "train": {}, "metrics": {},
            "license": "MIT", "limitations": ""})
    elif case == "not_a_checkpoint":
        torch.save({"w": torch.zeros(2)}, path)
    elif case == "other_model":
        path = make_configured_trainer("inbetween", tmp_path / "other").save_checkpoint()
    elif case == "other_preset":
        path = make_configured_trainer("timelapse", tmp_path / "wide", ["g_channels=16"]).save_checkpoint()
    trainer = make_configured_trainer("timelapse", tmp_path / "run")
    before = [p.clone() for p in trainer.nets["G_B"].parameters()]
    with pytest.raises(CheckpointError, match=re.escape(message)):
        trainer.load_checkpoint(path)
    assert trainer.step == 0 and all(map(torch.equal, before, trainer.nets["G_B"].parameters()))


def test_model_settings_that_differ_but_fit_are_named_on_resume(tmp_path, capsys):
    """A changed loss weight still loads (the networks are the same), and the resume says what changed."""
    path = make_configured_trainer("timelapse", tmp_path / "a").save_checkpoint()
    make_configured_trainer("timelapse", tmp_path / "b", ["lambda_rec=3"]).load_checkpoint(path)
    assert "lambda_rec 10.0 -> 3.0" in capsys.readouterr().out


def test_steps_below_the_checkpoint_are_an_error_not_a_silent_success(tiny_timelapse, tmp_path):
    trainer = make_trainer(tiny_timelapse, tmp_path / "a")
    trainer.fit(steps=2, progress=False)
    resumed = make_trainer(tiny_timelapse, tmp_path / "b")
    resumed.load_checkpoint(trainer.save_checkpoint())
    with pytest.raises(ValueError, match="steps=1 is below step 2"):
        resumed.fit(steps=1, progress=False)
    assert resumed.fit(steps=2, progress=False) == []               # already there: nothing to do, no error


def test_a_resume_does_not_log_the_steps_after_its_checkpoint_twice(tiny_timelapse, tmp_path, capsys):
    """A run killed after its last checkpoint has logged steps it will train again: a resume drops those rows (and
    a last line cut short by the kill) before logging them anew."""
    import json

    trainer = make_trainer(tiny_timelapse, tmp_path)
    trainer.cfg = dataclasses.replace(trainer.cfg, ckpt_every=2)
    trainer.fit(steps=2, progress=False)                             # checkpoint.pt at step 2
    log = tmp_path / "log.jsonl"
    with open(log, "a") as f:                                        # then step 3 logged, and killed writing step 4
        f.write(json.dumps({"step": 3, "time_s": 99.0}) + '\n{"step": 4, "ti')
    resumed = make_trainer(tiny_timelapse, tmp_path)                 # the same run folder
    resumed.load_checkpoint(tmp_path / "checkpoint.pt")
    resumed.fit(steps=3, progress=False)
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3] and rows[-1]["time_s"] != 99.0
    assert "dropped 2 row(s) after step 2" in capsys.readouterr().out
