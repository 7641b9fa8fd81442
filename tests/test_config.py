import dataclasses
import json
import re

import pytest

from demo_lib import config, registry
from demo_lib.config import TrainConfig


def test_override_converts_types_and_rejects_unknown_keys():
    cfg = config.override(TrainConfig(), ["steps=2e3", "amp=false", "betas=0.0,0.99", "--lr_g=1e-3"])
    assert cfg.steps == 2000 and cfg.amp is False and cfg.betas == (0.0, 0.99) and cfg.lr_g == 1e-3
    with pytest.raises(ValueError, match="unknown TrainConfig field"):
        config.override(TrainConfig(), ["stpes=10"])
    with pytest.raises(ValueError, match="expected int"):
        config.override(TrainConfig(), ["steps=2.5"])
    with pytest.raises(ValueError, match="boolean"):
        config.override(TrainConfig(), ["amp=maybe"])
    with pytest.raises(ValueError, match="key=value"):
        config.override(TrainConfig(), ["steps"])


def test_json_round_trip_and_presets(tmp_path):
    spec = registry.get("timelapse")
    for name in spec.presets:
        model_cfg, train_cfg = spec.preset(name)
        for cfg in (model_cfg, train_cfg):
            config.save_json(cfg, tmp_path / "c.json")
            again = config.from_dict(type(cfg), json.loads((tmp_path / "c.json").read_text()))
            assert again == cfg


def test_preset_routes_overrides_to_the_right_config():
    model_cfg, train_cfg = registry.get("timelapse").preset("tiny", ["z_dim=7", "steps=3"])
    assert model_cfg.z_dim == 7 and train_cfg.steps == 3
    with pytest.raises(ValueError, match="unknown setting"):
        registry.get("timelapse").preset("tiny", ["zdim=7"])
    with pytest.raises(ValueError, match="unknown preset"):
        registry.get("timelapse").preset("huge")


@pytest.mark.parametrize("setting, named", [
    ("batch_size=0", "batch_size=0"), ("steps=-5", "steps=-5"), ("lr_g=nan", "lr_g=nan"), ("lr_d=-1e-4", "lr_d"),
    ("betas=0.5,1.0", "betas"), ("ema_decay=1.5", "ema_decay"), ("log_every=0", "log_every=0"),
    ("ckpt_every=-1", "ckpt_every"), ("grad_clip=inf", "grad_clip=inf"), ("time_limit_s=nan", "time_limit_s"),
    ("num_workers=-1", "num_workers"), ("seed=-1", "seed"), ("d_warmup_steps=-2", "d_warmup_steps"),
])
def test_train_settings_out_of_range_are_refused_by_name(setting, named):
    """Ranges are checked when a TrainConfig is built (by a preset, an override or a checkpoint's JSON): batch_size=0
    used to fail later as an IndexError, lr_g=nan to train into NaNs without a word."""
    with pytest.raises(ValueError, match="out of range") as info:
        config.override(TrainConfig(), [setting])
    assert named in str(info.value)
    with pytest.raises(ValueError, match="out of range"):
        config.from_dict(TrainConfig, {setting.partition("=")[0]: setting.partition("=")[2]})


def test_every_preset_and_the_edges_of_the_ranges_are_accepted():
    for spec in registry.MODELS.values():
        for name in spec.presets:
            spec.preset(name)
    edges = config.override(TrainConfig(), ["lr_g=0", "lr_d=0", "ema_decay=0", "betas=0,0.999", "steps=1",
                                            "ckpt_every=0", "grad_clip=0", "time_limit_s=0"])
    assert edges.lr_g == 0 and edges.steps == 1


@pytest.mark.parametrize("model, setting, named", [
    ("timelapse", {"image_size": 0}, "image_size=0"),                   # was a ZeroDivisionError (issue 28)
    ("timelapse", {"lambda_anchor": float("nan")}, "lambda_anchor=nan"),
    ("vid2vid", {"height": 100}, "height=100 (must be a positive multiple of 16)"),
    ("vid2vid", {"lambda_temporal": -1.0}, "lambda_temporal=-1.0 (must be >= 0)"),
    ("munit_video", {"shared_min_std": -0.1}, "shared_min_std=-0.1 (must be >= 0)"),
    ("munit_video", {"flow_grid": (4, 2)}, "flow_grid=(4, 2)"),
    ("inbetween", {"gate_kernel": 2}, "gate_kernel=2 (must be odd and >= 1)"),
])
def test_model_settings_out_of_range_are_refused_by_name(model, setting, named):
    cfg = registry.get(model).preset("demo")[0]
    with pytest.raises(ValueError, match=re.escape(named)):
        dataclasses.replace(cfg, **setting)
