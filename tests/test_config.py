import json

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
