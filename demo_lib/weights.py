"""Weights on disk: safetensors (never pickle) plus a JSON model card, verified on load.

A shipped model is two files, `weights/<model>/<variant>.safetensors` (the inference generator's state dict, with
the resolved model config in the safetensors metadata) and `<variant>.json`, the card: model, paper, config,
training command, steps, data, measured metrics, sha256 of the tensor file, licence, limitations.
`train/export.py` is the only road from a training run to these files.

On load (`verify_weights`) the tensor file must match the card's sha256, and the config in its metadata must equal
the card's "config": the network is built from the card, and the sha256 covers only the tensor file, so an edited
card (another `image_size`, say) would otherwise load without a word and change the output. A file saved without
that metadata has only its sha256 checked.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

REPO_ROOT = Path(__file__).resolve().parent.parent
WEIGHTS_DIR = REPO_ROOT / "weights"
CARD_KEYS = ("model", "variant", "paper", "config", "train", "metrics", "sha256", "license", "limitations")


class WeightsError(RuntimeError):
    """Missing, corrupt or mismatched weights; the message says what to do."""


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def clean_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Strip DDP's 'module.' and torch.compile's '_orig_mod.' prefixes; make tensors contiguous CPU copies."""
    out = {}
    for key, value in state.items():
        for prefix in ("module.", "_orig_mod."):
            key = key.replace(prefix, "")
        out[key] = value.detach().cpu().contiguous()
    return out


def save_weights(state: dict[str, torch.Tensor], path: str | Path, card: dict[str, Any]) -> Path:
    """Write `<path>.safetensors` and the card `<path>.json` (sha256 filled in here). Returns the tensor path."""
    path = Path(path).with_suffix(".safetensors")
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(clean_state_dict(state), str(path), metadata={"format": "pt", "config": json.dumps(card["config"])})
    card = dict(card, sha256=sha256_of(path))
    missing = [k for k in CARD_KEYS if k not in card]
    if missing:
        raise WeightsError(f"model card is missing {missing}")
    write_card(path, card)
    return path


def write_card(path: str | Path, card: dict[str, Any]) -> None:
    """The card of the weights at `path`, as `<path>.json` (indented JSON)."""
    Path(path).with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n")


def read_card(path: str | Path) -> dict[str, Any]:
    card_path = Path(path).with_suffix(".json")
    if not card_path.is_file():
        raise WeightsError(f"no model card beside {Path(path).name} (expected {card_path.name})")
    return json.loads(card_path.read_text())


def record_in_card(path: str | Path, key: str, value: Any) -> None:
    """Add `value` under card["metrics"][key] of the weights at `path` (e.g. a benchmark's numbers measured after
    export). The tensor file, and so the sha256, is untouched."""
    card = read_card(path)
    card.setdefault("metrics", {})[key] = value
    write_card(path, card)


def _tensor_path(path: str | Path) -> Path:
    """The `.safetensors` file of `path`, which must exist."""
    path = Path(path).with_suffix(".safetensors")
    if not path.is_file():
        raise WeightsError(
            f"weights not found: {path}. Train and export them with `python -m train.train <model> --preset demo` "
            f"then `python -m train.export <run_dir>` (see README)."
        )
    return path


def file_config(path: str | Path) -> dict[str, Any] | None:
    """The model config `save_weights` wrote into a weights file's metadata; None for a file saved without it."""
    try:
        with safe_open(str(path), "pt") as f:
            metadata = f.metadata() or {}
        return json.loads(metadata["config"]) if "config" in metadata else None
    except (SafetensorError, OSError, ValueError) as exc:
        raise WeightsError(f"{Path(path).name} cannot be read as a safetensors file ({exc})") from exc


def verify_weights(path: str | Path) -> dict[str, Any]:
    """Check a weights file against its card without loading its tensors, and return the card: the file's sha256
    must be the card's, and the config in the file's metadata (where it has one) the card's "config"."""
    path = _tensor_path(path)
    card = read_card(path)
    actual = sha256_of(path)
    if actual != card.get("sha256"):
        raise WeightsError(f"{path.name}: sha256 {actual[:12]}... does not match its card "
                           f"({str(card.get('sha256'))[:12]}...); the file is corrupt or was replaced")
    saved = file_config(path)
    if saved is not None:
        shown = json.loads(json.dumps(card.get("config")))
        if not isinstance(shown, dict):
            shown = {}
        absent = "(unset)"
        changes = [f"{k} {saved.get(k, absent)} in the file, {shown.get(k, absent)} in the card"
                   for k in sorted(set(saved) | set(shown)) if saved.get(k, absent) != shown.get(k, absent)]
        if changes:
            raise WeightsError(
                f"{path.with_suffix('.json').name}: the card's config differs from the one saved in {path.name} "
                f"({'; '.join(changes)}). The card was edited after export, and the network would be built with "
                f"settings these weights were not trained with: put the file's values back in the card's "
                f"\"config\" (or export the run again)")
    return card


def load_weights(path: str | Path, verify: bool = True) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Load a state dict and its card. `verify` (the default) checks them against each other first
    (`verify_weights`: the sha256, and the file's config against the card's where the file has one)."""
    path = _tensor_path(path)
    card = verify_weights(path) if verify else read_card(path)
    state = load_file(str(path))
    return state, card
