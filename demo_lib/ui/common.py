"""Helpers shared by every tab: lazy model cache, user-facing errors, photo and video uploads, seeds, output files,
timing.

Handlers in the tab modules are plain functions; these helpers keep them short and make every failure a readable
`gr.Error` (a toast in the page; the app stays up and the outputs already shown are kept).
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import functools
import itertools
import logging
import os
import random
import shutil
import tempfile
import threading
import time
import zlib
from pathlib import Path
from typing import Any, Callable

import gradio as gr
import numpy as np

from .. import registry
from ..video import MediaError, fitted_shape, read_image, read_video
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


def get_model(name: str, variant: str | None = None) -> Any:
    """The inference pipeline of registry model `name` (its default weights, or weights/<name>/<variant>): shipped
    weights, or a random 'tiny' one if asked (each variant its own random init, so two variants differ); cached."""
    # The default variant keeps the key (name, random) that tests patch; other variants are "name/variant".
    key = (name if variant is None else f"{name}/{variant}", random_weights())
    with _MODELS_LOCK:  # two first requests at once must not load twice
        if key not in _MODELS:
            seed = 0 if variant is None else zlib.crc32(variant.encode())
            _MODELS[key] = registry.random_pipeline(name, "tiny", seed=seed) if key[1] else \
                registry.load(name, variant)
        return _MODELS[key]


def loaded_models() -> list[tuple[str, bool]]:
    """(name, random) of the models loaded so far in this process."""
    return list(_MODELS)


def model_card(name: str, variant: str | None = None) -> dict[str, Any] | None:
    """The shipped weights' card (a small JSON, read without loading the weights), or None if there is none."""
    from ..weights import read_card

    try:
        return read_card(registry.weights_path(name, variant))
    except (WeightsError, OSError, ValueError):
        return None


def model_config(name: str, variant: str | None = None) -> dict[str, Any]:
    """The config of the model a tab runs, read without loading it: the shipped card's settings over those of the
    preset the tab would otherwise build (tiny with VSL_RANDOM_WEIGHTS, demo without)."""
    random = random_weights()
    cfg, _ = registry.get(name).preset("tiny" if random else "demo")
    card = {} if random else (model_card(name, variant) or {})
    shipped = card.get("config") if isinstance(card.get("config"), dict) else {}
    return {**dataclasses.asdict(cfg), **shipped}


def how_to_get_weights(name: str, variant: str | None = None) -> str:
    """The sentence that says how to make missing weights, or how to try the interface without them."""
    return (f"Train and export them (`python -m train.train {name} --preset demo`, then "
            f"`python -m train.export <run_dir>{f' --variant {variant}' if variant else ''}`), or start the app "
            f"with `{RANDOM_WEIGHTS_ENV}=1` to try the interface with an untrained model.")


def weights_status(name: str, variant: str | None = None) -> str:
    """One Markdown line on which weights the tab runs, so a missing file is visible before anyone clicks."""
    if random_weights():
        return (f"**Untrained weights** ({RANDOM_WEIGHTS_ENV} is set): the pictures below are noise-shaped on "
                f"purpose; this mode is for trying the interface.")
    path = registry.weights_path(name, variant)
    if not path.is_file():
        shown = path.relative_to(registry.WEIGHTS_DIR.parent) if path.is_relative_to(registry.WEIGHTS_DIR.parent) \
            else path
        return f"**Weights missing:** `{shown}` is not there yet. {how_to_get_weights(name, variant)}"
    card = model_card(name, variant) or {}
    train = card.get("train") if isinstance(card.get("train"), dict) else {}
    return (f"Weights: `{path.name}` ({train.get('steps', '?')} training steps, {train.get('date', 'undated')}; "
            f"its sha256 and config are checked against the card when the model loads).")


def about_model(name: str, how: str, measured_on: str) -> str:
    """A tab's 'About this model' Markdown: how it works (`how`), the limitations (the shipped card's, else the
    registry's), the card's numeric metrics with their protocol ('**Measured** (`measured_on`): ...'), the licence."""
    spec = registry.get(name)
    card = model_card(name) or {}
    lines = [f"**How it works.** {how}", f"**Limitations.** {card.get('limitations') or spec.limitations}"]
    metrics = card.get("metrics") or {}
    shown = {k: v for k, v in metrics.items() if isinstance(v, (int, float))}
    if shown:
        lines.append(f"**Measured** ({measured_on}): " + ", ".join(f"{k} {v}" for k, v in shown.items()) + ". "
                     + str(metrics.get("protocol", "")))
    lines.append(f"**Licence.** {card.get('license') or spec.license}")
    return "\n\n".join(lines)


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


# One minimum size for every picture and video frame in every tab (the generators downsample 2-4 times). Each tab
# also refuses what its own downscaling would bring under it: see `fitted_size`.
MIN_SIDE = 16


def load_user_image(path: str | Path | None, what: str = "photo") -> np.ndarray:
    """Decode and validate an uploaded file -> uint8 RGB (H, W, 3), upright (EXIF orientation applied), at least
    MIN_SIDE pixels per side; gr.Error with the reason otherwise."""
    if path is None or str(path) == "":
        raise gr.Error(f"No {what} yet: upload one or pick an example.", print_exception=False)
    try:
        return read_image(path, min_side=MIN_SIDE, what=what)
    except MediaError as exc:
        raise gr.Error(str(exc), print_exception=False) from None


# ---------------------------------------------------------------------------------------------------------------
# Videos

MAX_FRAME_PIXELS = 2560 * 1440     # per uploaded frame: 49 decoded 1440p frames are ~550 MB already
MAX_FPS = 60.0
DEFAULT_FPS = 12.0


def _probe_video(path: str | Path | None, what: str, works_at: str) -> Path:
    """The upload's path, refused early if there is none, it is empty, or its frames are over MAX_FRAME_PIXELS
    (checked from the stream header, before decoding dozens of them)."""
    if path is None or str(path) == "":
        raise gr.Error(f"No {what} yet: upload one.", print_exception=False)
    path = Path(path)
    if not path.is_file():
        raise MediaError(f"No such video file: {path.name}")
    if path.stat().st_size == 0:
        raise MediaError(f"{path.name} is empty (0 bytes).")
    import av

    try:
        with av.open(str(path)) as container:
            streams = container.streams.video
            if streams and streams[0].codec_context.width * streams[0].codec_context.height > MAX_FRAME_PIXELS:
                w, h = streams[0].codec_context.width, streams[0].codec_context.height
                raise MediaError(f"{path.name}: frames of {w}x{h} are too large for this demo (at most "
                                 f"{MAX_FRAME_PIXELS / 1e6:.1f} megapixels, e.g. 2560x1440); it works at "
                                 f"{works_at} anyway, so please downscale the video first.")
    except av.error.FFmpegError:  # type: ignore[attr-defined]
        pass                      # read_video says it in its own words
    return path


def read_user_video(path: str | Path | None, what: str, max_frames: int,
                    works_at: str) -> tuple[np.ndarray, float, bool]:
    """An uploaded video -> (frames uint8 (T, H, W, 3), fps, whether frames beyond `max_frames` were dropped).

    MediaError / gr.Error saying why for a missing, empty, corrupt, oversized (MAX_FRAME_PIXELS per frame; the
    message says the tab works at `works_at`, e.g. '256x128') or tiny (< MIN_SIDE) video. The fps is made
    sane (DEFAULT_FPS when unknown, at most MAX_FPS).
    """
    path = _probe_video(path, what, works_at)
    frames, fps = read_video(path, max_frames=max_frames + 1)    # one more: tells whether the video was cut
    if min(frames.shape[1:3]) < MIN_SIDE:
        raise MediaError(f"{path.name}: frames of {frames.shape[2]}x{frames.shape[1]} are too small (at least "
                         f"{MIN_SIDE} pixels per side).")
    return frames[:max_frames], clean_fps(fps), len(frames) > max_frames


def fitted_size(name: str, size: tuple[int, int], side: int) -> tuple[int, int]:
    """The (h, w) a picture or frame of `size` = (H, W) takes once its longest side is brought to at most `side`
    (the smallest the tab shows it at; as `fit_within` rounds), or MediaError if that leaves a side under MIN_SIDE.

    Without it a long thin strip would pass the minimum size and then come out squashed, since `fit_within`
    keeps 8 pixels whatever the aspect.
    """
    h, w = size
    small_h, small_w = fitted_shape(h, w, side)
    if min(small_h, small_w) < MIN_SIDE:
        raise MediaError(f"{name}: {w}x{h} is too thin: with its longest side brought down to {side} pixels, as "
                         f"this tab shows it, it would be {small_w}x{small_h} (at least {MIN_SIDE} pixels per side "
                         f"are needed); crop it to a less extreme shape first.")
    return small_h, small_w


def clean_fps(fps: float) -> float:
    """A frame rate fit for the MP4s: DEFAULT_FPS when unknown or not positive, at most MAX_FPS."""
    return min(float(fps), MAX_FPS) if np.isfinite(fps) and fps > 0 else DEFAULT_FPS


def cut_note(dropped: bool, max_frames: int) -> str:
    """' (first 48 frames used)' after the name of a video that `read_user_video` cut, else ''."""
    return f" (first {max_frames} frames used)" if dropped else ""


# ---------------------------------------------------------------------------------------------------------------
# Seeds

MAX_SEED = 2**31 - 1


def clean_seed(seed: Any) -> int:
    """A seed as a gr.Number gives it (None, a float, a huge int) -> an int in [0, MAX_SEED]."""
    if seed is None or (isinstance(seed, float) and not np.isfinite(seed)):
        return 0
    return int(seed) % (MAX_SEED + 1)


def new_seed() -> int:
    """A fresh random seed ('resample')."""
    return random.randint(0, MAX_SEED)


def seed_row(label: str, button: str, elem_prefix: str) -> tuple[gr.Number, gr.Button]:
    """A seed box and its 'resample' button on one row (inside the caller's layout); elem ids <prefix>-seed and
    <prefix>-resample."""
    with gr.Row():
        seed = gr.Number(0, label=label, precision=0, minimum=0, maximum=MAX_SEED, elem_id=f"{elem_prefix}-seed",
                         scale=2)
        resample = gr.Button(button, elem_id=f"{elem_prefix}-resample", scale=1)
    return seed, resample


# ---------------------------------------------------------------------------------------------------------------
# Output files and timing

_OUT_DIR: Path | None = None
_COUNTER = itertools.count()
# Resources a long-running app must not keep for good (issue 28): a session's state (an API client may never close
# its session) and the files made for it. Gradio serves copies of the files from its own cache, which the app's
# `delete_cache` empties on the same schedule.
STATE_TTL_S = float(os.environ.get("VSL_STATE_TTL_S", 3600))
OUTPUT_MAX_AGE_S = float(os.environ.get("VSL_OUTPUT_MAX_AGE_S", 3600))


def session_state() -> gr.State:
    """A tab's per-session state (the photo or video in use), dropped STATE_TTL_S after its last change."""
    return gr.State(None, time_to_live=STATE_TTL_S)


def output_dir() -> Path:
    """A temporary folder for this process's MP4/GIF/example files (removed at exit)."""
    global _OUT_DIR
    if _OUT_DIR is None:
        _OUT_DIR = Path(tempfile.mkdtemp(prefix="vsl-app-"))
        atexit.register(shutil.rmtree, _OUT_DIR, ignore_errors=True)
    return _OUT_DIR


def remove_cached_files(blocks: gr.Blocks) -> None:
    """Delete every file Gradio cached for `blocks`, the ones it keeps for good (examples, initial values) too,
    and the folders that held them: called when the app stops, so that it leaves nothing in the temp folder."""
    files = set().union(*blocks.temp_file_sets, *(getattr(b, "keep_in_cache", ()) for b in blocks.blocks.values()))
    for name in files:
        path = Path(name)
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)
            path.parent.rmdir()                  # Gradio puts each file in a folder of its own (its hash)


def written_once(fn: Callable) -> Callable:
    """functools.cache for the functions that write a tab's example files, with a lock around it: when the page's
    first requests arrive together, the files are written by one of them while the others wait, instead of being
    rewritten while Gradio serves or copies them (a file cut short under a response that declared its length is the
    server's "h11 LocalProtocolError: Too little data for declared Content-Length", issue 28)."""
    cached, lock = functools.cache(fn), threading.RLock()

    @functools.wraps(fn)
    def locked(*args, **kwargs):
        with lock:
            return cached(*args, **kwargs)

    locked.cache_clear = cached.cache_clear
    return locked


def output_path(stem: str, suffix: str) -> Path:
    """A fresh file name in `output_dir()`: two sessions never overwrite each other's results. Files older than
    OUTPUT_MAX_AGE_S are removed first (the page has long since fetched them)."""
    folder, now = output_dir(), time.time()
    for old in folder.iterdir():
        with contextlib.suppress(OSError):      # another request may be removing it too
            if now - old.stat().st_mtime > OUTPUT_MAX_AGE_S:
                old.unlink()
    return folder / f"{stem}-{os.getpid()}-{next(_COUNTER):05d}{suffix}"


def timing(frames: int, seconds: float, device: Any) -> str:
    """'rendered 24 frames in 1.84 s on cpu'."""
    kind = getattr(device, "type", None) or str(device)
    return f"rendered {frames} frame{'s' if frames != 1 else ''} in {seconds:.2f} s on {kind}"


def hhmm(hour: float) -> str:
    """6.25 -> '06:15' (hours on the 24 h clock; 24 -> '24:00')."""
    minutes = int(round(float(hour) * 60))
    return f"{minutes // 60:02d}:{minutes % 60:02d}"
