"""Helpers shared by every tab: lazy model cache, user-facing errors, output files, timing, photo upload.

Handlers in the tab modules are plain functions; these helpers keep them short and make every failure a readable
`gr.Error` (a toast in the page; the app stays up and the outputs already shown are kept).
"""

from __future__ import annotations

import atexit
import functools
import itertools
import logging
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable

import gradio as gr
import numpy as np

from .. import registry
from ..video import MediaError, read_image
from ..weights import WeightsError

log = logging.getLogger(__name__)
RANDOM_WEIGHTS_ENV = "VSL_RANDOM_WEIGHTS"

# ---------------------------------------------------------------------------------------------------------------
# Models: loaded on first use, once per process (never at import, so `import app` stays fast).

_MODELS: dict[tuple[str, bool], Any] = {}
_MODELS_LOCK = threading.Lock()


def random_weights() -> bool:
    """True when VSL_RANDOM_WEIGHTS asks for untrained 'tiny' models (tests, trying the UI before training)."""
    return os.environ.get(RANDOM_WEIGHTS_ENV, "").strip().lower() not in ("", "0", "false", "no")


def get_model(name: str) -> Any:
    """The inference pipeline of registry model `name`: shipped weights, or a random 'tiny' one if asked; cached."""
    key = (name, random_weights())
    with _MODELS_LOCK:  # two first requests at once must not load twice
        if key not in _MODELS:
            _MODELS[key] = registry.random_pipeline(name, "tiny") if key[1] else registry.load(name)
        return _MODELS[key]


def loaded_models() -> list[tuple[str, bool]]:
    """(name, random) of the models loaded so far in this process."""
    return list(_MODELS)


def model_card(name: str) -> dict[str, Any] | None:
    """The shipped weights' card (a small JSON, read without loading the weights), or None if there is none."""
    from ..weights import read_card

    try:
        return read_card(registry.weights_path(name))
    except (WeightsError, OSError, ValueError):
        return None


def weights_status(name: str) -> str:
    """One Markdown line on which weights the tab runs, so a missing file is visible before anyone clicks."""
    if random_weights():
        return (f"**Untrained weights** ({RANDOM_WEIGHTS_ENV} is set): the pictures below are noise-shaped on "
                f"purpose; this mode is for trying the interface.")
    path = registry.weights_path(name)
    if not path.is_file():
        shown = path.relative_to(registry.WEIGHTS_DIR.parent) if path.is_relative_to(registry.WEIGHTS_DIR.parent) \
            else path
        return (f"**Weights missing:** `{shown}` "
                f"is not there yet. Train and export them (`python -m train.train {name} --preset demo`, then "
                f"`python -m train.export <run_dir>`), or start the app with `{RANDOM_WEIGHTS_ENV}=1` to try the "
                f"interface with an untrained model.")
    card = model_card(name) or {}
    train = card.get("train") if isinstance(card.get("train"), dict) else {}
    return (f"Weights: `{path.name}` ({train.get('steps', '?')} training steps, {train.get('date', 'undated')}; "
            f"sha256 checked on load).")


# ---------------------------------------------------------------------------------------------------------------
# Errors: every failure a user can cause becomes a readable message, never a stack trace in the page.


def user_errors(fn: Callable) -> Callable:
    """Decorate a handler: MediaError / WeightsError / ValueError / MemoryError -> gr.Error(readable message)."""

    @functools.wraps(fn)  # keeps the signature, so Gradio still sees gr.Progress / gr.SelectData parameters
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:  # already meant for the user (note: gr.Error is itself a ValueError)
            raise
        except (MediaError, WeightsError, ValueError) as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        except MemoryError:
            raise gr.Error("Out of memory: try a smaller photo or fewer frames.", print_exception=False) from None

    return wrapper


# ---------------------------------------------------------------------------------------------------------------
# Photos


class PhotoUpload(gr.Image):
    """A gr.Image whose upload reaches the handler as the raw file path, undecoded.

    Plain gr.Image opens the file with PIL before the handler runs, so a text file named .png or a 20000x20000
    header fails with a PIL traceback; here `load_user_image` decodes and validates it and says what is wrong.
    `is_template` makes the page render it as an ordinary image component.
    """

    is_template = True

    def preprocess(self, payload):
        if payload is not None and getattr(payload, "path", None) and not str(payload.url or "").startswith("data:"):
            return str(payload.path)
        return super().preprocess(payload)


def load_user_image(path: str | Path | None, what: str = "photo") -> np.ndarray:
    """Decode and validate an uploaded file -> uint8 RGB (H, W, 3); gr.Error with the reason otherwise."""
    if path is None or str(path) == "":
        raise gr.Error(f"No {what} yet: upload one or pick an example.", print_exception=False)
    try:
        return read_image(path)
    except MediaError as exc:
        raise gr.Error(str(exc), print_exception=False) from None


# ---------------------------------------------------------------------------------------------------------------
# Output files and timing

_OUT_DIR: Path | None = None
_COUNTER = itertools.count()


def output_dir() -> Path:
    """A temporary folder for this process's MP4/GIF/example files (removed at exit)."""
    global _OUT_DIR
    if _OUT_DIR is None:
        _OUT_DIR = Path(tempfile.mkdtemp(prefix="vsl-app-"))
        atexit.register(shutil.rmtree, _OUT_DIR, ignore_errors=True)
    return _OUT_DIR


def output_path(stem: str, suffix: str) -> Path:
    """A fresh file name in `output_dir()`: two sessions never overwrite each other's results."""
    return output_dir() / f"{stem}-{os.getpid()}-{next(_COUNTER):05d}{suffix}"


def timing(frames: int, seconds: float, device: Any) -> str:
    """'rendered 24 frames in 1.84 s on cpu'."""
    kind = getattr(device, "type", None) or str(device)
    return f"rendered {frames} frame{'s' if frames != 1 else ''} in {seconds:.2f} s on {kind}"


def hhmm(hour: float) -> str:
    """6.25 -> '06:15' (hours on the 24 h clock; 24 -> '24:00')."""
    minutes = int(round(float(hour) * 60))
    return f"{minutes // 60:02d}:{minutes % 60:02d}"
