"""Typed configs with defaults in one place.

Every model has a frozen dataclass config; training has one shared `TrainConfig`. Presets are plain functions at
the end of each model's file that return both. This module turns configs into JSON and back, and applies `--key=value`
overrides checked against the dataclass fields (type-converted, unknown keys rejected), so a mistyped flag fails
loudly instead of being ignored.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from pathlib import Path
from typing import Any, TypeVar

C = TypeVar("C")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """The training loop's settings, shared by every model (the model's own loss weights live in its config)."""

    steps: int = 2000                 # optimizer steps of G (and of D)
    batch_size: int = 8
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    lr_decay_from: int = 0            # from this step both learning rates fall linearly to 0 at `steps` (the
                                      # pix2pixHD / vid2vid schedule); 0 keeps them constant
    ema_decay: float = 0.999          # EMA of every generator; 0 disables it
    ema_ramp: bool = True             # ramp the EMA decay up from 0 (G starts random); off under --init (G trained)
    d_warmup_steps: int = 0           # first steps of a run train only the discriminators (G's weights frozen;
                                      # norm layers in G still track the fakes it draws): fresh Ds on a trained G
                                      # (--init) learn it before G follows their gradients. Needs a discriminator.
    amp: bool = True                  # mixed precision, used on CUDA only
    grad_clip: float = 0.0            # 0 disables clipping
    seed: int = 0
    num_workers: int = 0
    log_every: int = 10
    ckpt_every: int = 500
    keep_checkpoints: bool = False    # also keep each checkpoint as checkpoint-<step>.pt, for choosing one on a
                                      # validation set (`bench.timelapse --compare`, `export --checkpoint`)
    out_dir: str = "runs"
    data_root: str = ""               # optional real data folder(s); model-specific meaning, '' = procedural only
    time_limit_s: float = 0.0         # stop early, with a checkpoint, after this many seconds of training; 0 = none


def smoke_test_training(batch_size: int = 2) -> TrainConfig:
    """The `tiny` presets' training: two steps, every step logged, no checkpoints; a short EMA so it moves."""
    return TrainConfig(steps=2, batch_size=batch_size, log_every=1, ckpt_every=0, ema_decay=0.9)


def to_dict(cfg: Any) -> dict[str, Any]:
    """A JSON-ready dict of a (possibly nested) dataclass config."""
    return json.loads(json.dumps(dataclasses.asdict(cfg)))


def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _convert(value: Any, annotation: Any, name: str) -> Any:
    """Convert a JSON value or a command-line string to the field's declared type."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is tuple:
        if isinstance(value, str):
            value = [v for v in value.strip("()[] ").split(",") if v.strip()]
        item_types = args if args and args[-1] is not Ellipsis else (args[0],) * len(value)
        if len(item_types) != len(value):
            raise ValueError(f"{name}: expected {len(item_types)} values, got {len(value)}")
        return tuple(_convert(v, t, name) for v, t in zip(value, item_types))
    if annotation is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"{name}: expected a boolean (true/false), got {value!r}")
    if annotation in (int, float, str):
        try:
            if annotation is int and isinstance(value, str) and not value.strip().lstrip("-").isdigit():
                as_float = float(value)  # accept "2e3" for steps, but never silently truncate "2.5"
                if not as_float.is_integer():
                    raise ValueError
                return int(as_float)
            return annotation(value)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name}: expected {annotation.__name__}, got {value!r}") from exc
    return value


def from_dict(cls: type[C], data: dict[str, Any]) -> C:
    """Build a config from a dict, rejecting unknown keys and converting types."""
    types = _field_types(cls)
    unknown = sorted(set(data) - set(types))
    if unknown:
        raise ValueError(f"unknown {cls.__name__} field(s): {', '.join(unknown)}")
    return cls(**{k: _convert(v, types[k], k) for k, v in data.items()})


def override(cfg: C, overrides: dict[str, Any] | list[str]) -> C:
    """Return `cfg` with fields replaced; `overrides` is a dict or a list of 'key=value' strings."""
    if isinstance(overrides, list):
        parsed: dict[str, Any] = {}
        for item in overrides:
            key, sep, value = item.lstrip("-").partition("=")
            if not sep:
                raise ValueError(f"override {item!r} is not of the form key=value")
            parsed[key.replace("-", "_")] = value
        overrides = parsed
    types = _field_types(type(cfg))
    unknown = sorted(set(overrides) - set(types))
    if unknown:
        valid = ", ".join(sorted(types))
        raise ValueError(f"unknown {type(cfg).__name__} field(s): {', '.join(unknown)}; valid fields: {valid}")
    return dataclasses.replace(cfg, **{k: _convert(v, types[k], k) for k, v in overrides.items()})


def split_overrides(cfg_a: Any, cfg_b: Any, overrides: list[str]) -> tuple[list[str], list[str]]:
    """Route 'key=value' strings to whichever of two configs has the field (model config first)."""
    fields_a = set(_field_types(type(cfg_a)))
    fields_b = set(_field_types(type(cfg_b)))
    to_a, to_b = [], []
    for item in overrides:
        key = item.lstrip("-").partition("=")[0].replace("-", "_")
        if key in fields_a:
            to_a.append(item)
        elif key in fields_b:
            to_b.append(item)
        else:
            valid = ", ".join(sorted(fields_a | fields_b))
            raise ValueError(f"unknown setting {key!r}; valid settings: {valid}")
    return to_a, to_b


def save_json(data: Any, path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if dataclasses.is_dataclass(data):
        data = to_dict(data)
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
