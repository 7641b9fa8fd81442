"""Every trainer option works for every model: `train.train <model> --preset tiny ...` for each entry of MODELS.

A new model gets these tests by being in MODELS. Runs are in-process and on procedural data (Cityscapes, where
present, is hidden), so they take about a second each.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from demo_lib import registry
from demo_lib.config import TrainConfig
from demo_lib.weights import load_weights
from train.export import export
from train.train import main as train

MODELS = list(registry.MODELS)


@pytest.fixture(autouse=True)
def procedural_data(monkeypatch):
    """The same data everywhere: no real data folder is found (Cityscapes, sky clips), even where present."""
    import importlib

    for module in (importlib.import_module(f"demo_lib.data.{name}")
                   for name in ("cityscapes", "street", "paintings", "inbetween_data", "timelapse_data")):
        for name in ("default_cityscapes_root", "default_sky_timelapse_root"):
            if hasattr(module, name):
                monkeypatch.setattr(module, name, lambda: None)


def run(model: str, out: Path, *settings: str) -> dict:
    """Train `model`'s tiny preset into `out`; returns its last checkpoint."""
    train([model, "--preset", "tiny", "--out", str(out), "--no-progress", *settings])
    return torch.load(out / "checkpoint.pt", weights_only=True)


def log_rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]


def has_discriminator(model: str) -> bool:
    cfg, _ = registry.get(model).preset("tiny")
    return any(p.discriminator for p in registry.get(model).build_objective(cfg)[0])


@pytest.mark.parametrize("model", MODELS)
def test_d_warmup_steps_trains_only_the_discriminators_first(model, tmp_path, capsys):
    if not has_discriminator(model):                        # nothing to warm up: refused with a message
        with pytest.raises(SystemExit):
            run(model, tmp_path, "steps=3", "d_warmup_steps=2")
        assert "has none: it would train nothing" in capsys.readouterr().err
        return
    run(model, tmp_path, "steps=3", "d_warmup_steps=2")
    rows = log_rows(tmp_path)
    assert [r["step"] for r in rows] == [1, 2, 3]
    phases, _ = registry.get(model).build_objective(registry.get(model).preset("tiny")[0])
    for phase in phases:
        logged = [f"{phase.name}/total" in r for r in rows]
        assert logged == ([True] * 3 if phase.discriminator else [False, False, True]), (phase.name, logged)


@pytest.mark.parametrize("model", MODELS)
def test_resume_continues_exactly(model, tmp_path):
    straight = run(model, tmp_path / "straight", "steps=3")
    run(model, tmp_path / "first", "steps=2")
    resumed = run(model, tmp_path / "first", "steps=3", "--resume", str(tmp_path / "first" / "checkpoint.pt"))
    assert resumed["step"] == straight["step"] == 3
    for group in ("nets", "ema"):
        for name, weights in straight[group].items():
            assert all(torch.equal(weights[k], resumed[group][name][k]) for k in weights), (group, name)


@pytest.mark.parametrize("model", MODELS)
def test_lr_decay_from_lowers_every_rate_linearly(model, tmp_path):
    state = run(model, tmp_path, "steps=3", "lr_decay_from=1")
    train_cfg = TrainConfig(**{k: tuple(v) if k == "betas" else v for k, v in state["train_config"].items()})
    for name, optimizer in state["optimizers"].items():
        base = train_cfg.lr_d if name.startswith("D") else train_cfg.lr_g
        assert optimizer["param_groups"][0]["lr"] == pytest.approx(base * (3 - 2) / (3 - 1)), name  # at step 2


@pytest.mark.parametrize("model", MODELS)
def test_keep_checkpoints_keeps_every_one(model, tmp_path):
    run(model, tmp_path, "steps=2", "ckpt_every=1", "keep_checkpoints=true")
    assert sorted(p.name for p in tmp_path.glob("checkpoint-*.pt")) == ["checkpoint-1.pt", "checkpoint-2.pt"]


@pytest.mark.parametrize("model", MODELS)
def test_time_limit_stops_with_a_checkpoint(model, tmp_path):
    state = run(model, tmp_path, "steps=50", "time_limit_s=0.001", "ckpt_every=0")
    assert state["step"] == 1


@pytest.mark.parametrize("model", MODELS)
def test_ema_without_ramp_is_the_plain_average(model, tmp_path):
    """ema_ramp=false: after one step each EMA net is decay * start + (1 - decay) * trained net."""
    spec = registry.get(model)
    cfg, train_cfg = spec.preset("tiny")
    torch.manual_seed(train_cfg.seed)
    start = spec.build_nets(cfg)                                # train.train seeds the same way before building
    state = run(model, tmp_path, "steps=1", "ema_ramp=false")
    decay = train_cfg.ema_decay
    for name, ema in state["ema"].items():
        initial, trained = start[name].state_dict(), state["nets"][name]
        for key, value in ema.items():
            if value.is_floating_point() and key in dict(start[name].named_parameters()):
                expected = decay * initial[key] + (1 - decay) * trained[key]
                assert torch.allclose(value, expected, atol=1e-6), (name, key)


@pytest.mark.parametrize("model", MODELS)
def test_init_starts_from_exported_weights(model, tmp_path):
    """A tiny run exported (the model's own finalize included), then fine-tuned from it with --init: the new run
    starts from those weights, its EMA without a ramp, and the card of its export names them."""
    first = tmp_path / "first"
    run(model, first, "steps=1")
    weights = export(first, variant="a", eval_scenes=0, out_root=tmp_path / "weights")
    second = tmp_path / "second"
    frozen = ["d_warmup_steps=1"] if has_discriminator(model) else ["lr_g=0"]          # G still the init after it
    state = run(model, second, "steps=1", "--init", str(weights), *frozen)
    assert json.loads((second / "config.json").read_text())["train_config"]["ema_ramp"] is False
    loaded, _ = load_weights(weights)
    spec = registry.get(model)
    # Parameters only: the Ds' fakes come from G in train mode, which may move its norm layers' running statistics.
    parameters = dict(spec.build_nets(spec.preset("tiny")[0])[spec.inference_net].named_parameters())
    for group in ("nets", "ema"):
        trained = state[group][spec.inference_net]
        assert all(torch.equal(loaded[k].float(), trained[k].float()) for k in parameters), group
    card = json.loads(export(second, variant="b", eval_scenes=0, out_root=tmp_path / "weights")
                      .with_suffix(".json").read_text())
    assert card["train"]["init_from"]["weights"] == str(weights) and card["train"]["steps"] == 1 + 1


@pytest.mark.parametrize("model", MODELS)
def test_grad_clip_workers_amp_and_no_ema(model, tmp_path):
    """grad_clip, a DataLoader worker, amp (a no-op on CPU) and ema_decay=0, under which the EMA is the net."""
    state = run(model, tmp_path, "steps=2", "grad_clip=0.5", "num_workers=1", "amp=true", "ema_decay=0")
    assert state["step"] == 2
    for name, ema in state["ema"].items():
        assert all(torch.equal(v, state["nets"][name][k]) for k, v in ema.items()), name
