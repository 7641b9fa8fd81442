"""ModelSpec: everything the app, train/, bench/, tests and notebooks need to know about one model.

Each paper's file (`demo_lib/models/<name>.py`) ends with its presets and its `SPEC = ModelSpec(...)`, the way DiT
keeps `DiT_XL_2(...)` beside the model; `registry.MODELS` collects them. The spec lives in a module of its own so
that a model file can build one without importing the registry that imports it.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import torch
import torch.nn as nn

from . import config as config_lib
from .config import TrainConfig
from .trainer import Phase
from .weights import WEIGHTS_DIR

Preset = Callable[[], tuple[Any, TrainConfig]]                       # () -> (model config, train config)


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    name: str
    title: str
    paper: str
    paper_url: str
    config_cls: type
    presets: dict[str, Preset]
    build_nets: Callable[[Any], nn.ModuleDict]                  # every network, for training
    objective: Callable[[Any], Any]                             # config -> object with .phases() and .ema_nets
    build_dataset: Callable[[Any, TrainConfig], torch.utils.data.Dataset]   # binds a demo_lib/data builder to the cfg
    inference_net: str                                          # the (EMA) network that weights/ ships
    build_pipeline: Callable[[Any, dict[str, torch.Tensor], torch.device, dict], Any]
    evaluate: Callable[[Any, int], dict[str, Any]]             # (pipeline, held-out items) -> card metrics
    default_variant: str = "demo"
    # (config, trained nets with the EMA inference net loaded, train config) -> card info; runs at export, e.g. to
    # store what inference needs besides the weights (vid2vid's per-class style clusters) in the inference net.
    finalize: Callable[[Any, nn.ModuleDict, TrainConfig], dict[str, Any]] | None = None

    def preset(self, name: str, overrides: list[str] | None = None) -> tuple[Any, TrainConfig]:
        """A named preset, with 'key=value' overrides routed to the model or the train config."""
        if name not in self.presets:
            raise ValueError(f"{self.name}: unknown preset {name!r}; choose from {sorted(self.presets)}")
        model_cfg, train_cfg = self.presets[name]()
        model_over, train_over = config_lib.split_overrides(model_cfg, train_cfg, overrides or [])
        return config_lib.override(model_cfg, model_over), config_lib.override(train_cfg, train_over)

    def build_objective(self, cfg: Any) -> tuple[list[Phase], tuple[str, ...]]:
        """(the trainer phases in update order, the networks that get an EMA)."""
        objective = self.objective(cfg)
        return objective.phases(), objective.ema_nets

    @property
    def license(self) -> str:
        """The weights card's licence: the "Licence" section of weights/<name>/README.md."""
        return card_prose(self.name)["Licence"]

    @property
    def limitations(self) -> str:
        """The weights card's limitations: the "Limitations" section of weights/<name>/README.md."""
        return card_prose(self.name)["Limitations"]


@functools.lru_cache(maxsize=None)
def card_prose(name: str) -> dict[str, str]:
    """{heading: paragraph} of the "## Licence" and "## Limitations" sections that end weights/<name>/README.md,
    each paragraph's lines joined by single spaces (the cards store one line)."""
    sections: dict[str, list[str]] = {}
    current = None
    for line in (WEIGHTS_DIR / name / "README.md").read_text().splitlines():
        if line.startswith("## "):
            current = line[3:].strip()
            sections[current] = []
        elif current is not None and line.strip():
            sections[current].append(line.strip())
    missing = {"Licence", "Limitations"} - set(sections)
    if missing:
        raise ValueError(f"weights/{name}/README.md has no {' or '.join(sorted(missing))} section")
    return {key: " ".join(sections[key]) for key in ("Licence", "Limitations")}


def pipeline_loader(pipeline_cls: type, build_net: Callable[[Any], nn.Module]) -> Callable[..., Any]:
    """A spec's `build_pipeline`: the inference net alone (`build_net(cfg)`, no discriminators), loaded strictly
    from a weights state dict, in `pipeline_cls(net, cfg, device, card)`."""

    def build_pipeline(cfg: Any, state: dict[str, torch.Tensor], device: torch.device, card: dict | None = None):
        net = build_net(cfg)
        net.load_state_dict(state, strict=True)
        return pipeline_cls(net, cfg, device, card)

    return build_pipeline
