"""Weights files: safetensors + card round trip, and every shipped file matches its card."""

import json
from pathlib import Path

import pytest
import torch

from demo_lib import config, registry
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


def tiny_weights(tmp_path: Path) -> tuple[Path, dict]:
    """Tiny timelapse weights saved the way export saves them (the card's config in the file's metadata)."""
    spec = registry.get("timelapse")
    cfg, _ = spec.preset("tiny")
    net = spec.build_nets(cfg)["G_B"]
    card = {"model": "timelapse", "variant": "t", "paper": {}, "config": config.to_dict(cfg), "train": {},
            "metrics": {}, "license": "MIT", "limitations": ""}
    return save_weights(net.state_dict(), tmp_path / "t", card), card


def test_a_card_whose_config_differs_from_the_weights_file_is_refused(tmp_path):
    """The sha256 covers the tensor file only, and the network is built from the card: a card edited to another
    image_size used to load without a word and change the output. The config saved in the file must match."""
    path, _ = tiny_weights(tmp_path)
    card = json.loads(path.with_suffix(".json").read_text())
    card["config"]["image_size"] = 64
    path.with_suffix(".json").write_text(json.dumps(card))
    with pytest.raises(WeightsError, match=r"image_size 32 in the file, 64 in the card") as info:
        load_weights(path)
    assert "put the file's values back" in str(info.value)
    with pytest.raises(WeightsError, match="image_size"):
        registry.pipeline_from_file("timelapse", path, "cpu")
    from demo_lib.weights import verify_weights

    assert verify_weights(tiny_weights(tmp_path / "again")[0])["config"]["image_size"] == 32  # checks, no tensors


def test_weights_saved_without_config_metadata_still_load_with_their_sha256_checked(tmp_path):
    """Files written before the config went into the metadata: the card's sha256 is all there is to check."""
    from safetensors.torch import save_file

    from demo_lib.weights import file_config, write_card

    path, card = tiny_weights(tmp_path)
    state, _ = load_weights(path)
    save_file(state, str(path))                                      # no metadata
    write_card(path, dict(card, sha256=sha256_of(path)))
    assert file_config(path) is None
    loaded, _ = load_weights(path)
    assert all(torch.equal(loaded[k], v) for k, v in state.items())
    write_card(path, dict(card, sha256="0" * 64))
    with pytest.raises(WeightsError, match="sha256"):
        load_weights(path)


def test_every_shipped_weights_file_carries_the_config_of_its_card():
    """What the check above compares: every shipped file has the metadata, equal to its card (none re-exported)."""
    from demo_lib.weights import file_config

    for path in SHIPPED:
        assert file_config(path) == json.loads(path.with_suffix(".json").read_text())["config"], path
