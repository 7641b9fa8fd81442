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
                "clip": torch.rand(3, n, s, s, generator=g) * 2 - 1}


@pytest.fixture
def tiny_timelapse():
    from demo_lib import registry

    spec = registry.get("timelapse")
    cfg, train_cfg = spec.preset("tiny")
    return spec, cfg, train_cfg, RandomTimelapseBatches(cfg.image_size, cfg.frames)
