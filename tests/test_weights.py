"""Weights files: safetensors + card round trip, and every shipped file matches its card."""

import json
from pathlib import Path

import pytest
import torch

from demo_lib import registry
from demo_lib.config import from_dict
from demo_lib.weights import WEIGHTS_DIR, WeightsError, load_weights, save_weights, sha256_of

SHIPPED = sorted(WEIGHTS_DIR.glob("*/*.safetensors"))


def test_round_trip_is_bit_exact_and_verified(tmp_path):
    spec = registry.get("timelapse")
    cfg, _ = spec.preset("tiny")
    net = spec.build_nets(cfg)["G_B"]
    card = {"model": "timelapse", "variant": "t", "paper": {}, "config": {"z_dim": cfg.z_dim}, "train": {},
            "metrics": {}, "license": "MIT", "limitations": ""}
    path = save_weights({f"module.{k}": v for k, v in net.state_dict().items()}, tmp_path / "t", card)
    state, loaded_card = load_weights(path)
    assert set(state) == set(net.state_dict())  # DDP prefix stripped
    assert all(torch.equal(state[k], v) for k, v in net.state_dict().items())
    assert loaded_card["sha256"] == sha256_of(path)
    path.write_bytes(path.read_bytes()[:-1] + b"\x00")  # corrupt one byte
    with pytest.raises(WeightsError, match="sha256"):
        load_weights(path)
    with pytest.raises(WeightsError, match="not found"):
        load_weights(tmp_path / "missing")


def test_a_weights_directory_exists_for_every_model():
    for name in registry.MODELS:
        assert registry.weights_path(name).parent.is_dir()


@pytest.mark.parametrize("path", SHIPPED, ids=[p.parent.name + "/" + p.stem for p in SHIPPED])
def test_shipped_weights_match_their_card(path: Path):
    card = json.loads(path.with_suffix(".json").read_text())
    assert card["sha256"] == sha256_of(path), "card sha256 does not match the file"
    spec = registry.get(card["model"])
    cfg = from_dict(spec.config_cls, card["config"])
    state, _ = load_weights(path)
    net = spec.build_nets(cfg)[spec.inference_net]
    net.load_state_dict(state, strict=True)  # the card's config builds exactly this network
    train = card["train"]
    assert train["command"].startswith(("python -m train.train", "torchrun")) and f"{card['model']}" in train["command"]
    assert train["steps"] > 0 and card["metrics"], "a shipped card records steps and measured metrics"
    assert card["license"] and card["limitations"]


def test_the_shipped_timelapse_model_loads_through_the_registry():
    path = registry.weights_path("timelapse")
    if not path.is_file():
        pytest.skip("no shipped timelapse weights in this checkout")
    model = registry.load("timelapse", device="cpu")
    assert model.card["model"] == "timelapse"


@pytest.mark.parametrize("name", list(registry.MODELS))
def test_card_prose_lives_in_the_weights_readme_and_the_shipped_card_carries_it(name):
    """Licence and limitations are read from the last two sections of weights/<model>/README.md (one home); the
    shipped default weights' card was exported with the same text."""
    spec = registry.get(name)
    assert spec.license.startswith("Code: MIT.") and len(spec.limitations) > 40
    card = json.loads(registry.weights_path(name).with_suffix(".json").read_text())
    assert (card["license"], card["limitations"]) == (spec.license, spec.limitations)
