"""MODELS: one plain dict, name -> ModelSpec, used alike by the app, train/, tests, notebooks and benchmarks.

    from demo_lib import registry
    m = registry.load("timelapse")                       # shipped weights, best device, cached
    frames = m.generate(image, times=[0.0, 6.0, 12.0, 18.0], seed=0)

A spec says how to build a model's config (named presets), its networks and objective for training, its dataset,
and its inference pipeline from a weights file. Nothing here is imported by string.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn as nn

from . import config as config_lib
from .config import TrainConfig
from .device import best_device
from .models import timelapse
from .trainer import Phase
from .weights import WEIGHTS_DIR, WeightsError, load_weights


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    name: str
    title: str
    paper: str
    paper_url: str
    config_cls: type
    presets: dict[str, Callable[[], tuple[Any, TrainConfig]]]   # preset name -> (model config, train config)
    build_nets: Callable[[Any], nn.ModuleDict]                  # every network, for training
    build_objective: Callable[[Any], tuple[list[Phase], tuple[str, ...]]]  # (phases in order, EMA'd nets)
    build_dataset: Callable[[Any, TrainConfig], torch.utils.data.Dataset]
    inference_net: str                                          # the (EMA) network that weights/ ships
    build_pipeline: Callable[[Any, dict[str, torch.Tensor], torch.device, dict], Any]
    evaluate: Callable[[Any, int], dict[str, Any]]             # (pipeline, held-out items) -> card metrics
    license: str
    limitations: str
    default_variant: str = "demo"

    def preset(self, name: str, overrides: list[str] | None = None) -> tuple[Any, TrainConfig]:
        """A named preset, with 'key=value' overrides routed to the model or the train config."""
        if name not in self.presets:
            raise ValueError(f"{self.name}: unknown preset {name!r}; choose from {sorted(self.presets)}")
        model_cfg, train_cfg = self.presets[name]()
        model_over, train_over = config_lib.split_overrides(model_cfg, train_cfg, overrides or [])
        return config_lib.override(model_cfg, model_over), config_lib.override(train_cfg, train_over)


# ---------------------------------------------------------------------------------------------------------------
# Time-lapse (Nam et al. 2019)


def _timelapse_tiny() -> tuple[timelapse.TimelapseConfig, TrainConfig]:
    return (timelapse.TimelapseConfig(image_size=32, frames=3, z_dim=4, g_channels=8, g_downsamples=2,
                                      g_res_blocks=1, mapper_channels=4, mapper_blocks=1, d_channels=8,
                                      d_layers=2, anchor_pool=4),
            TrainConfig(steps=2, batch_size=2, log_every=1, ckpt_every=0, ema_decay=0.9))


def _timelapse_demo() -> tuple[timelapse.TimelapseConfig, TrainConfig]:
    return timelapse.TimelapseConfig(), TrainConfig(steps=5000, batch_size=8, lr_g=2e-4, lr_d=2e-4,
                                                    log_every=25, ckpt_every=250)


def _timelapse_paper() -> tuple[timelapse.TimelapseConfig, TrainConfig]:
    # The published method: adversarial terms and the reconstruction loss only, 128 px, 8 frames per set.
    return (timelapse.TimelapseConfig(image_size=128, frames=8, g_channels=64, g_res_blocks=6, d_channels=64,
                                      d_layers=4, lambda_anchor=0.0, lambda_div=0.0),
            TrainConfig(steps=200_000, batch_size=16, lr_g=1e-4, lr_d=1e-4, log_every=100, ckpt_every=5000))


def _timelapse_objective(cfg: timelapse.TimelapseConfig) -> tuple[list[Phase], tuple[str, ...]]:
    objective = timelapse.TimelapseObjective(cfg)
    return objective.phases(), objective.ema_nets


def _timelapse_dataset(cfg: timelapse.TimelapseConfig, train: TrainConfig) -> torch.utils.data.Dataset:
    from .data.timelapse_data import build_training_data  # data code is not needed for inference

    return build_training_data(cfg.image_size, cfg.frames, train.seed, train.data_root)


def _timelapse_evaluate(pipeline: timelapse.TimelapsePipeline, num_scenes: int) -> dict[str, Any]:
    """Timestamp error on held-out procedural scenes, with the estimator's own floor and time-blind baselines."""
    from .data.outdoor import Weather
    from .data.timelapse_data import heldout_scenes

    scenes = heldout_scenes(num_scenes, (128, 128))
    weathers = [Weather(cloud_cover=c, haze=h) for c in (0.05, 0.5, 0.95) for h in (0.05, 0.3, 0.6)]
    weather_rng = np.random.default_rng(1)

    errors = timelapse.timestamp_error({
        "timestamp_error_hours": lambda im, hours, i: pipeline.generate(im, hours, seed=i, guided=False),
        "timestamp_error_mean_z_hours": lambda im, hours, i: pipeline.generate(
            im, hours, z=np.zeros(pipeline.cfg.z_dim), guided=False),
        "ground_truth_random_weather_hours": lambda im, hours, i: np.stack(
            [scenes[i].render(h, Weather.random(weather_rng)) for h in hours]),
        "time_blind_input_copy_hours": lambda im, hours, i: np.repeat(im[None], len(hours), axis=0),
        "time_blind_model_at_noon_hours": lambda im, hours, i: pipeline.generate(
            im, [12.0] * len(hours), seed=i, guided=False),
    }, scenes, weathers=weathers)
    return {
        **{name: round(result["mean_hours"], 3) for name, result in errors.items()},
        "protocol": (
            f"{num_scenes} held-out procedural scenes at 128x128, each photographed at a random hour; frames asked "
            f"for hours 0, 2, ..., 22 with z drawn from seed = scene index (timestamp_error_hours) or z = 0, the "
            f"mean weather (timestamp_error_mean_z_hours). Each frame is dated by the nearest of the scene's "
            f"ground-truth renders every 15 min in 9 weathers (8x8 log-intensity thumbnails); mean circular error "
            f"in hours. ground_truth_random_weather: true renders in random weather, the estimator's own floor. "
            f"Time-blind: the input photo unchanged, or the model asked for 12:00 every time."),
    }


def _timelapse_pipeline(cfg, state, device, card) -> timelapse.TimelapsePipeline:
    generator = timelapse.TimelapseGenerator(cfg)
    generator.load_state_dict(state, strict=True)
    return timelapse.TimelapsePipeline(generator, cfg, device, card)


MODELS: dict[str, ModelSpec] = {
    "timelapse": ModelSpec(
        name="timelapse",
        title="Time-lapse from one photo",
        paper="Nam et al., End-to-End Time-Lapse Video Synthesis from a Single Outdoor Image, CVPR 2019",
        paper_url="https://arxiv.org/abs/1904.00680",
        config_cls=timelapse.TimelapseConfig,
        presets={"tiny": _timelapse_tiny, "demo": _timelapse_demo, "paper": _timelapse_paper},
        build_nets=timelapse.build_nets,
        build_objective=_timelapse_objective,
        build_dataset=_timelapse_dataset,
        inference_net="G_B",
        build_pipeline=_timelapse_pipeline,
        evaluate=_timelapse_evaluate,
        license=("Code: MIT. Weights: MIT, trained by this project on its procedural scenes and, where present, "
                 "the real sky time-lapse clips of shared/data (research use only)."),
        limitations=("Trained briefly on procedural scenes at 64x64: it learns the global light of the day (sky "
                     "colour, brightness, sunrise/sunset tones, night), not real-world detail such as real clouds, "
                     "shadows moving with the sun or seasonal change; z varies the weather only mildly. Real "
                     "photos work through guided upsampling, which keeps their detail and moves the colours."),
    ),
}


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
