"""Shared fixtures. Tests run on CPU, with tiny configs, and never need ../shared or a GPU."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
torch.set_num_threads(min(2, os.cpu_count() or 1))


class RandomTimelapseBatches(torch.utils.data.Dataset):
    """Random tensors with the time-lapse batch schema; deterministic per index."""

    def __init__(self, size: int, frames: int, length: int = 64):
        self.size, self.frames, self.length = size, frames, length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        g = torch.Generator().manual_seed(i)
        s, n = self.size, self.frames
        return {"source": torch.rand(3, s, s, generator=g) * 2 - 1, "times": torch.rand(n, generator=g) * 24,
                "target": torch.rand(3, n, s, s, generator=g) * 2 - 1,
                "clip": torch.rand(3, n, s, s, generator=g) * 2 - 1, "source_hour": torch.rand((), generator=g) * 24}


@pytest.fixture
def random_weights(monkeypatch):
    """Untrained tiny models (VSL_RANDOM_WEIGHTS=1): fast, and independent of weights that may be training. Name it
    before `app_url` in a browser test, which starts the app."""
    monkeypatch.setenv("VSL_RANDOM_WEIGHTS", "1")


@pytest.fixture
def weights_dir(monkeypatch, tmp_path) -> Path:
    """An empty weights folder standing in for weights/ (VSL_RANDOM_WEIGHTS unset, no model cached): leave it empty
    for "not trained yet", or save files into it for "shipped". Returns the folder."""
    from demo_lib import registry
    from demo_lib.ui import common

    folder = tmp_path / "weights"
    monkeypatch.delenv("VSL_RANDOM_WEIGHTS", raising=False)
    monkeypatch.setattr(common, "_MODELS", {})
    monkeypatch.setattr(registry, "weights_path", lambda name, variant=None:
                        folder / name / f"{variant or 'demo'}.safetensors")
    monkeypatch.setattr(registry, "load", lambda name, variant=None, device=None:
                        registry.pipeline_from_file(name, registry.weights_path(name, variant)))
    return folder


@pytest.fixture
def tiny_timelapse():
    from demo_lib import registry

    spec = registry.get("timelapse")
    cfg, train_cfg = spec.preset("tiny")
    return spec, cfg, train_cfg, RandomTimelapseBatches(cfg.image_size, cfg.frames)


def check_phases(nets, phases, batch, every_parameter: bool = False) -> tuple[dict[str, dict], dict]:
    """Run every phase's loss on one batch with backward: finite losses, logs and gradients, and some gradient in
    each phase's networks (`every_parameter`: in all of their parameters). Returns (each phase's logs by name, the
    state the phases shared)."""
    from demo_lib.trainer import StepState

    state, out = StepState(0), {}
    for phase in phases:
        nets.zero_grad()
        loss, logs = phase.loss(nets, batch, state)
        loss.backward()
        assert torch.isfinite(loss) and all(torch.isfinite(torch.as_tensor(v)) for v in logs.values()), phase.name
        trained = [p for n in phase.nets for p in nets[n].parameters()]
        if every_parameter:
            assert all(p.grad is not None for p in trained), f"{phase.name}: a parameter got no gradient"
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in trained), phase.name
        assert all(torch.isfinite(p.grad).all() for p in trained if p.grad is not None), phase.name
        out[phase.name] = logs
    return out, state
