"""MODELS: one plain dict, name -> ModelSpec, used alike by the app, train/, tests, notebooks and benchmarks.

    from demo_lib import registry
    m = registry.load("timelapse")                       # shipped weights, best device, cached
    frames = m.generate(image, times=[0.0, 6.0, 12.0, 18.0], seed=0)

Each paper's file in `models/` ends with its presets and its `SPEC` (config, networks, objective, dataset builder,
inference pipeline, evaluation protocol); this module collects them and loads weights. Nothing is imported by
string.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import torch

from . import config as config_lib
from .device import best_device
from .models import inbetween, munit_video, street_segmenter, timelapse, vid2vid
from .spec import ModelSpec
from .weights import WEIGHTS_DIR, WeightsError, load_weights

__all__ = ["MODELS", "ModelSpec", "get", "load", "weights_path", "pipeline_from_file", "pipeline_from_checkpoint",
           "inference_weights", "random_pipeline"]

MODELS: dict[str, ModelSpec] = {spec.name: spec for spec in (
    timelapse.SPEC, vid2vid.SPEC, munit_video.SPEC, street_segmenter.SPEC, inbetween.SPEC)}


def get(name: str) -> ModelSpec:
    if name not in MODELS:
        raise KeyError(f"unknown model {name!r}; available: {', '.join(MODELS)}")
    return MODELS[name]


def weights_path(name: str, variant: str | None = None) -> Path:
    spec = get(name)
    return WEIGHTS_DIR / name / f"{variant or spec.default_variant}.safetensors"


def pipeline_from_file(name: str, path: str | Path, device: torch.device | str | None = None) -> Any:
    """Build a model's inference pipeline from a weights file (verified against its card)."""
    spec = get(name)
    state, card = load_weights(path)
    if card.get("model") != name:
        raise WeightsError(f"{Path(path).name} holds weights for {card.get('model')!r}, not {name!r}")
    cfg = config_lib.from_dict(spec.config_cls, card["config"])
    device = best_device(str(device)) if device is not None else best_device()
    return spec.build_pipeline(cfg, state, device, card)


def inference_weights(spec: ModelSpec, state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], str]:
    """The inference net's weights in a training checkpoint: its EMA where the run kept one ("EMA"), else "raw"."""
    if spec.inference_net in state["ema"]:
        return state["ema"][spec.inference_net], "EMA"
    return state["nets"][spec.inference_net], "raw"


def pipeline_from_checkpoint(path: str | Path, device: torch.device | str | None = "cpu") -> Any:
    """A training checkpoint's inference pipeline, to compare checkpoints before one is exported (train.export)."""
    from .trainer import read_checkpoint, verify_checkpoint

    verify_checkpoint(path)
    state = read_checkpoint(path)
    spec = get(state["model"])
    if spec.finalize is not None:
        raise ValueError(f"{spec.name} computes part of its weights at export: export the run, then load the file")
    weights, _ = inference_weights(spec, state)
    cfg = config_lib.from_dict(spec.config_cls, state["model_config"])
    card = {"model": spec.name, "variant": f"checkpoint {Path(path).name}", "train": {"steps": int(state["step"])}}
    return spec.build_pipeline(cfg, weights, best_device(str(device)) if device else best_device(), card)


@functools.lru_cache(maxsize=8)
def _load_cached(name: str, variant: str | None, device: str | None) -> Any:
    return pipeline_from_file(name, weights_path(name, variant), device)


def load(name: str, variant: str | None = None, device: str | None = None) -> Any:
    """The shipped model `name` (e.g. "timelapse") ready for `.generate(...)`, on the best device; cached."""
    return _load_cached(name, variant, device)


def random_pipeline(name: str, preset: str = "tiny", device: str | None = "cpu", seed: int = 0) -> Any:
    """An untrained pipeline from a preset: for tests, and for trying the app before any training."""
    spec = get(name)
    cfg, _ = spec.preset(preset)
    torch.manual_seed(seed)
    net = spec.build_nets(cfg)[spec.inference_net]
    return spec.build_pipeline(cfg, net.state_dict(), best_device(device), {"model": name, "variant": "random"})
