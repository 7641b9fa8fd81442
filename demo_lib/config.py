"""Typed configs with defaults in one place.

Every model has a frozen dataclass config; training has one shared `TrainConfig`. Presets are plain functions at
the end of each model's file that return both. This module turns configs into JSON and back, and applies `--key=value`
overrides checked against the dataclass fields (type-converted, unknown keys rejected), so a mistyped flag fails
loudly instead of being ignored. Value ranges are checked when a config is built (`check_ranges`, called from a
config's `__post_init__`), so `batch_size=0` or `lr_g=nan` is refused with its name before anything trains.
"""

from __future__ import annotations

import dataclasses
import json
import math
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

C = TypeVar("C")

# A field's range: a test of its value, and how the message words the range.
Rule = tuple[Callable[[Any], bool], str]


def at_least(low: float) -> Rule:
    """A finite number >= `low` (NaN and infinity fail: they would train silently into NaNs or never stop)."""
    return (lambda v: math.isfinite(v) and v >= low), f">= {low:g}"


def positive() -> Rule:
    """A finite number > 0 (a regulariser or threshold that 0 would break)."""
    return (lambda v: math.isfinite(v) and v > 0), "> 0"


def fraction() -> Rule:
    """A number in [0, 1): decays and Adam's betas (1 would freeze the average at its start)."""
    return (lambda v: 0 <= v < 1), "in [0, 1)"


def multiple_of(m: int) -> Rule:
    """A positive multiple of `m` (input sides of nets that halve them log2(m) times)."""
    return (lambda v: v >= m and v % m == 0), f"a positive multiple of {m}"


def loss_weights(cfg: Any) -> dict[str, Rule]:
    """Every `lambda_*` field of a model config: a finite weight >= 0 (0 switches its term off)."""
    return {f.name: at_least(0) for f in dataclasses.fields(cfg) if f.name.startswith("lambda_")}


def check_ranges(cfg: Any, rules: dict[str, Rule]) -> None:
    """Raise ValueError naming every field of `cfg` outside its range, with its value and the range.

    Called from a config's `__post_init__`, so no config out of range can exist, whichever road built it (a preset,
    a command-line override, a checkpoint's JSON): a bad value is reported by name, not as a ZeroDivisionError or a
    run of NaNs later.
    """
    problems = []
    for name, (ok, expected) in rules.items():
        value = getattr(cfg, name)
        try:
            good = bool(ok(value))
        except TypeError:  # a value of the wrong type, given to the constructor directly
            good = False
        if not good:
            problems.append(f"{name}={value!r} (must be {expected})")
    if problems:
        raise ValueError(f"{type(cfg).__name__} setting(s) out of range: {'; '.join(problems)}")


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

    def __post_init__(self) -> None:
        check_ranges(self, {
            "steps": at_least(1),
            "batch_size": at_least(1),
            "lr_g": at_least(0),              # 0 is a frozen G (tests of models without a D use it)
            "lr_d": at_least(0),
            "betas": ((lambda b: len(b) == 2 and all(0 <= x < 1 for x in b)), "two numbers in [0, 1)"),
            "lr_decay_from": at_least(0),
            "ema_decay": fraction(),
            "d_warmup_steps": at_least(0),
            "grad_clip": at_least(0),
            "seed": ((lambda v: 0 <= v < 2**32), "in [0, 2**32): seeds also go to numpy"),
            "num_workers": at_least(0),
            "log_every": at_least(1),
            "ckpt_every": at_least(0),
            "time_limit_s": at_least(0),
        })


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
        return tuple(_convert(v, t, name) for v, t in zip(value, item_types, strict=True))
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
