"""Tab 4: video inbetweening with direct 3D convolutions (Li, Roblek & Tagliasacchi 2019).

Handlers first (plain functions of numpy arrays and paths, tested without a browser in
tests/test_app_inbetween.py), then `build()`, which lays the tab out and wires the events. Run alone with
`python -m demo_lib.ui.inbetween_tab`.

A start and an end keyframe in (an upload each, or an example pair), several stochastic clips between them out,
beside two references that need no training: linear blending (a cross-dissolve) and classical optical-flow
interpolation (DIS flow), and, for the held-out procedural examples, the true clip. The samples play as looping
GIFs; a frame scrubber shows frame t of every clip side by side; the whole comparison downloads as MP4 and GIF.

Each keyframe lives in a `gr.State` as a `Keyframe` (downscaled to at most KEEP_SIDE on upload; its uploaded size
kept, so the crop is reported in the upload's own pixels). The model centre-crops each keyframe to a square and
resizes it to its S x S (64 x 64 for the shipped models) on its own, so keyframes of different sizes are allowed
and said so. `inbetween()` does the work of the Generate button and is what the tests call; `run()` wraps it for
the page (GIFs, the scrubber's first mosaic, downloads, the readout).
"""

from __future__ import annotations

import dataclasses
import functools
import html
import shutil
import time
from pathlib import Path

import gradio as gr
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .. import registry
from ..data import paintings
from ..data.cityscapes import HELDOUT_SEQUENCES
from ..video import (
    MAX_IMAGE_PIXELS,
    CropBox,
    center_square,
    fit_within,
    package_file,
    read_video,
    resize_image,
    write_gif,
    write_mp4,
)
from ..weights import WeightsError
from . import common
from .common import user_errors

MODEL = "inbetween"
MAX_SAMPLES = 8
DEFAULT_SAMPLES = 4
KEEP_SIDE = 1024         # keyframes are kept at most this large: the model sees 64 x 64 of them anyway
DISPLAY_SIDE = 192       # frames are shown upscaled (nearest neighbour, whole pixels) to about this size
FPS = 10                 # 16 frames: a 1.6 s loop (GIF frame times are whole centiseconds)
# The weights this tab knows (weights/inbetween/<variant>.safetensors): variant -> label. Only shipped ones are
# offered; other shipped files are offered too, labelled from their card.
VARIANTS = {
    "demo": "KTH-like figures (full model)",
    "bair": "BAIR-like robot arm pushing (full model)",
    "without_fusion": "KTH-like figures, ablation without gated fusion",
    "naive": "KTH-like figures, naive ablation (no latent representation generator)",
}
RANDOM_LABEL = "untrained tiny model (VSL_RANDOM_WEIGHTS)"
BLEND, FLOW, TRUTH = "linear blending", "optical flow (DIS)", "ground truth"
PROCEDURAL_NAMES = {"kth": "KTH-like", "bair": "BAIR-like", "digits": "Moving digits"}
# Real pairs without shared data: a camera pan across photos shipped inside installed packages.
PAN_PHOTOS = ("astronaut", "grace_hopper")


@dataclasses.dataclass(frozen=True, eq=False)
class Keyframe:
    """An uploaded or example keyframe. Never changed once made."""

    name: str
    path: str                           # the file it came from: shown again after a rejected upload
    image: np.ndarray                   # uint8 (h, w, 3), longest side <= KEEP_SIDE
    size: tuple[int, int]               # (W, H) as uploaded
    example: str | None = None          # the example pair it belongs to


@dataclasses.dataclass(frozen=True, eq=False)
class Inbetweening:
    """What `inbetween` made: the samples, the references beside them, and what to say about them."""

    samples: np.ndarray                 # uint8 (N, T, S, S, 3); frame 0 and T-1 are the keyframes
    references: dict[str, np.ndarray]   # label -> uint8 (T, S, S, 3): linear blending, flow, the truth if known
    seed: int
    model: str                          # the model's label
    seconds: float                      # the model's time (samples only)
    device: str
    notes: tuple[str, ...]              # crops, mismatched sizes, identical keyframes, ...

    @property
    def frames(self) -> int:
        return int(self.samples.shape[1])


# ---------------------------------------------------------------------------------------------------------------
# Models: only shipped weights are offered


def available_models() -> list[tuple[str, str]]:
    """(label, variant) of the weights that can run: every shipped file under weights/inbetween (known variants
    first), or the one untrained tiny model under VSL_RANDOM_WEIGHTS; [] when nothing is shipped."""
    if common.random_weights():
        return [(RANDOM_LABEL, registry.get(MODEL).default_variant)]
    folder = registry.weights_path(MODEL).parent
    shipped = sorted(p.stem for p in folder.glob("*.safetensors")) if folder.is_dir() else []
    ordered = [v for v in VARIANTS if v in shipped] + [v for v in shipped if v not in VARIANTS]
    return [(model_label(v), v) for v in ordered]


def model_label(variant: str | None) -> str:
    """The label of a weights variant in the page."""
    variant = variant or registry.get(MODEL).default_variant
    if common.random_weights():
        return RANDOM_LABEL
    if variant in VARIANTS:
        return VARIANTS[variant]
    config = common.model_config(MODEL, variant)
    return f"{variant} ({PROCEDURAL_NAMES.get(config['dataset'], config['dataset'])}, {config['variant']} model)"


def _pipeline(variant: str | None):
    """The pipeline of a weights variant (the default one keeps common's default cache key)."""
    default = registry.get(MODEL).default_variant
    offered = [v for _, v in available_models()]
    if not offered:
        raise WeightsError("No trained inbetweening model is shipped yet (weights/inbetween/ holds no "
                           f".safetensors file). {common.how_to_get_weights(MODEL, default)}")
    if variant and variant not in offered:
        raise ValueError(f"Unknown model {variant!r}; choose one of: {', '.join(offered)}.")
    return common.get_model(MODEL, None if (variant or default) == default else variant)


def model_side(variant: str | None) -> int:
    """S: the model's frames are S x S (read from the card or preset, without loading the model)."""
    return int(common.model_config(MODEL, variant)["image_size"])


def preferred_model(dataset: str | None, current: str | None) -> str | None:
    """The model to use for an example of `dataset`: the current one if it was trained on that data, else the first
    offered that was, else the current one (digits and real footage: no such model is planned)."""
    offered = [v for _, v in available_models()]
    matching = [v for v in offered if dataset and common.model_config(MODEL, v)["dataset"] == dataset]
    if current in matching or not matching:
        return current if current in offered or not offered else offered[0]
    return matching[0]


# ---------------------------------------------------------------------------------------------------------------
# Examples: held-out procedural clips (the kinds the models train on) and real footage


@dataclasses.dataclass(frozen=True)
class Example:
    start: str                          # image files, in the app's temp folder (Gradio serves files from there)
    end: str
    dataset: str | None                 # the procedural kind, None for real footage
    truth: np.ndarray | None = None     # the held-out clip, uint8 (T, 64, 64, 3), for procedural examples


def _pan_pair(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two 4:3 views of a still, the second panned right and a little down, as 320 x 240 frames: real pixels in a
    non-square frame, so the page shows how a keyframe is cropped."""
    h, w = image.shape[:2]
    win_h = int(0.55 * h)
    win_w = min(w, win_h * 4 // 3)
    x0, y0 = int(0.08 * (w - win_w)), int(0.3 * (h - win_h))
    dx, dy = int(0.12 * w), int(0.04 * h)
    views = [image[y:y + win_h, x:x + win_w] for x, y in ((x0, y0), (min(x0 + dx, w - win_w), min(y0 + dy,
                                                                                                   h - win_h)))]
    return tuple(resize_image(np.ascontiguousarray(v), (240, 320)) for v in views)


def _video_frames(path: Path, picks: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    frames, _ = read_video(path, max_frames=picks[1] + 1)     # decodes only up to the later frame
    return frames[picks[0]], frames[min(picks[1], len(frames) - 1)]


@common.written_once
def _examples(frames: int) -> dict[str, Example]:
    from ..data.inbetween_data import heldout_clips, real_sources

    folder = common.output_dir() / "inbetween-examples"
    folder.mkdir(parents=True, exist_ok=True)

    def save(start: np.ndarray, end: np.ndarray) -> tuple[str, str]:
        paths = [folder / f"example_{len(out):02d}_{which}.png" for which in ("start", "end")]
        for path, image in zip(paths, (start, end)):
            Image.fromarray(image).save(path)
        return str(paths[0]), str(paths[1])

    out: dict[str, Example] = {}
    # Held-out procedural clips: seeds never drawn for training; the first clip of each wanted label.
    for kind, count, wanted in (("kth", 12, ("walking", "boxing")), ("bair", 1, ("pushing",)), ("digits", 1, None)):
        clips = heldout_clips(kind, count, 64, frames)
        for label in wanted or (clips[0].label,):
            clip = next(c for c in clips if c.label == label)
            what = label.replace(",", " and ")
            name = f"{PROCEDURAL_NAMES[kind]} {what} (held-out procedural clip {clip.seed})"
            out[name] = Example(*save(clip.frames[0], clip.frames[-1]), kind, clip.frames)
    # Real footage, never seen by the models (they train on procedural clips).
    for key in PAN_PHOTOS:
        path = package_file(*paintings.PACKAGE_PHOTOS[key])
        if path is not None:
            out[f"Camera pan across {path.name} (real photo, 320x240 frames)"] = Example(
                *save(*_pan_pair(common.load_user_image(path))), None)
    sources = real_sources()
    if sources["sky"]:
        clip = sources["sky"][0][1]
        out[f"Sky time-lapse {clip.name}, frames 0 and 15 (real video)"] = Example(
            *save(*_video_frames(clip, (0, 15))), None)
    street = dict(sources["street"]).get(f"cityscapes/{HELDOUT_SEQUENCES[0]}", [])
    if len(street) > 8:         # copied as they are: 2048x1024 street frames, 8 frames (~0.5 s) apart
        paths = [str(shutil.copy(f, folder / f"example_{len(out):02d}_{which}{f.suffix}"))
                 for f, which in ((street[0], "start"), (street[8], "end"))]
        out[f"Cityscapes {HELDOUT_SEQUENCES[0]} street video, frames 0 and 8 (real, 2048x1024)"] = Example(*paths,
                                                                                                         None)
    return out


def examples() -> dict[str, Example]:
    """Name -> example pair, written once per process. The procedural clips have as many frames as the default
    model makes (so their truth lines up with its samples); the sky and street pairs join when ../shared/data
    holds them (they are not part of the project)."""
    return _examples(int(common.model_config(MODEL)["frames"]))


def _thumbnail(start: np.ndarray, end: np.ndarray, side: int = 96) -> np.ndarray:
    """start | end, each the centre square the model would see, `side` px, with a white gap."""
    squares = [center_square(image, side)[0] for image in (start, end)]
    return np.concatenate([squares[0], np.full((side, 6, 3), 255, np.uint8), squares[1]], axis=1)


@common.written_once
def _example_thumbnails(frames: int) -> tuple[tuple[str, str], ...]:
    folder = common.output_dir() / "inbetween-examples"
    out = []
    for k, (name, example) in enumerate(_examples(frames).items()):
        path = folder / f"thumb_{k:02d}.jpg"
        images = [common.load_user_image(f) for f in (example.start, example.end)]
        Image.fromarray(_thumbnail(*images)).save(path, quality=92)
        out.append((str(path), name))
    return tuple(out)


def example_thumbnails() -> list[tuple[str, str]]:
    """(file, name) per example: its two keyframes side by side."""
    return list(_example_thumbnails(int(common.model_config(MODEL)["frames"])))


# ---------------------------------------------------------------------------------------------------------------
# Loading


def _as_keyframe(image: np.ndarray, name: str, path: str, example: str | None = None) -> Keyframe:
    common.fitted_size(name, image.shape[:2], KEEP_SIDE)       # a strip too thin to keep is refused, not squashed
    return Keyframe(name, str(path), fit_within(image, KEEP_SIDE), (image.shape[1], image.shape[0]), example)


@user_errors
def read_keyframe(path: str | None, which: str = "start") -> Keyframe:
    """An uploaded file -> a keyframe (grayscale and alpha are converted to RGB); gr.Error saying why if it is not
    a usable image."""
    image = common.load_user_image(path, f"{which} frame")
    return _as_keyframe(image, Path(path).name, path)


@user_errors
def read_example(name: str) -> tuple[str, str, Keyframe, Keyframe]:
    """An example pair -> (start file, end file: shown in the upload boxes; the two keyframes)."""
    if name not in examples():
        raise gr.Error(f"Unknown example {name!r}.", print_exception=False)
    example = examples()[name]
    start, end = (_as_keyframe(common.load_user_image(f), f"{name} ({which})", f, name)
                  for f, which in ((example.start, "start"), (example.end, "end")))
    return example.start, example.end, start, end


def restore(keyframe: Keyframe | None) -> str | None:
    """After a rejected upload: show the keyframe in use again instead of the broken file."""
    return None if keyframe is None else keyframe.path


def _require(start: Keyframe | None, end: Keyframe | None) -> tuple[Keyframe, Keyframe]:
    for keyframe, which in ((start, "start"), (end, "end")):
        if keyframe is None:
            raise gr.Error(f"No {which} frame yet: upload one or pick an example.", print_exception=False)
    return start, end


def _crop_note(which: str, keyframe: Keyframe, box: CropBox, side: int) -> str:
    """How a keyframe became the model's S x S input, in the uploaded image's pixels."""
    w, h = keyframe.size
    scale = w / keyframe.image.shape[1]
    x0, y0, x1, y1 = (round(v * scale) for v in (box.x0, box.y0, box.x1, box.y1))
    if w == h == side:
        return f"{which} frame: {w}x{h}, used as it is"
    if w == h:
        return f"{which} frame: {w}x{h}, resized to {side}x{side}"
    where = f"columns {x0}-{x1 - 1}" if w > h else f"rows {y0}-{y1 - 1}"
    return (f"{which} frame: {w}x{h}, centre square {x1 - x0}x{y1 - y0} ({where}) cropped, resized to "
            f"{side}x{side}")


def keyframe_notes(start: Keyframe, end: Keyframe, side: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    """What will happen to the two keyframes: (notes, and each as the model sees it, uint8 (side, side, 3)).

    Identical keyframes are not refused: holding still is a fair request (a pause between two motions), and the
    samples then show plainly how much motion the model invents; the note says a faithful result is a still clip.
    """
    (seen_start, box_start), (seen_end, box_end) = (center_square(k.image, side) for k in (start, end))
    notes = [_crop_note("start", start, box_start, side), _crop_note("end", end, box_end, side)]
    if start.size != end.size:
        notes.append(f"The keyframes differ in size ({start.size[0]}x{start.size[1]} and {end.size[0]}x"
                     f"{end.size[1]}): each is centre-cropped and resized on its own, so they line up only if both "
                     f"frame the scene alike.")
    if np.array_equal(seen_start, seen_end):
        notes.append("The start and end frames are identical (as the model sees them): a faithful result is a "
                     "still clip; any motion in the samples is the model's own invention.")
    return notes, seen_start, seen_end


def _truth(start: Keyframe, end: Keyframe, frames: int, side: int) -> tuple[np.ndarray | None, str | None]:
    """The true clip of a procedural example pair at the model's size (None, and why not, otherwise)."""
    example = examples().get(start.example) if start.example == end.example else None
    if example is None or example.truth is None:
        return None, None
    if example.truth.shape[0] != frames:
        return None, (f"ground truth not shown: the clip has {example.truth.shape[0]} frames, this model makes "
                      f"{frames}")
    return np.stack([resize_image(f, (side, side)) for f in example.truth]), None


# ---------------------------------------------------------------------------------------------------------------
# Inbetweening, the scrubber and the downloads


def inbetween(start: Keyframe, end: Keyframe, variant: str | None = None, num_samples: int = DEFAULT_SAMPLES,
              seed: int = 0) -> Inbetweening:
    """`num_samples` clips from `start` to `end` (sample k from seed + k), and the references beside them."""
    n = int(num_samples)
    if not 1 <= n <= MAX_SAMPLES:
        raise ValueError(f"The number of samples must be between 1 and {MAX_SAMPLES}; got {n}.")
    model = _pipeline(variant)
    side, frames = model.cfg.image_size, model.cfg.frames
    notes, _, _ = keyframe_notes(start, end, side)
    begin = time.perf_counter()
    result = model.synthesize(start.image, end.image, n, seed)
    seconds = time.perf_counter() - begin
    references = {BLEND: model.blend(start.image, end.image),
                  FLOW: model.flow_interpolation(start.image, end.image)}
    truth, why_not = _truth(start, end, frames, side)
    if truth is not None:
        references[TRUTH] = truth
    notes += [why_not] if why_not else []
    return Inbetweening(result.frames, references, seed, model_label(variant), seconds, str(model.device),
                        tuple(notes))


def _upscale(frames: np.ndarray) -> np.ndarray:
    """(..., S, S, 3) -> nearest-neighbour upscaled by the whole factor that brings S nearest to DISPLAY_SIDE."""
    factor = max(1, round(DISPLAY_SIDE / frames.shape[-2]))
    return frames.repeat(factor, axis=-3).repeat(factor, axis=-2)


@functools.lru_cache(maxsize=1)
def _font() -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=14)
    except (OSError, TypeError):        # a Pillow without FreeType: the small bitmap font
        return ImageFont.load_default()


def mosaic(rows: list[list[tuple[str, np.ndarray]]]) -> np.ndarray:
    """Rows of (label, uint8 (S, S, 3) frame) -> one white uint8 picture: each frame upscaled, its label above."""
    label_h, gap = 20, 6
    tile = _upscale(rows[0][0][1]).shape[0]
    width = max(len(row) for row in rows) * (tile + gap) - gap
    canvas = Image.new("RGB", (width, len(rows) * (tile + label_h + gap) - gap), "white")
    draw = ImageDraw.Draw(canvas)
    for r, row in enumerate(rows):
        top = r * (tile + label_h + gap)
        for c, (label, frame) in enumerate(row):
            draw.text((c * (tile + gap) + 2, top + 2), label, fill=(40, 40, 40), font=_font())
            canvas.paste(Image.fromarray(_upscale(frame)), (c * (tile + gap), top + label_h))
    return np.asarray(canvas)


def frame_mosaic(result: Inbetweening, t: int) -> np.ndarray:
    """Frame t of every sample (top row) and of every reference (bottom row)."""
    t = min(max(int(t), 0), result.frames - 1)
    return mosaic([[(f"sample {k + 1}", clip[t]) for k, clip in enumerate(result.samples)],
                   [(label, clip[t]) for label, clip in result.references.items()]])


@user_errors
def scrub(result: Inbetweening | None, t) -> np.ndarray | None:
    """The scrubber's handler: the mosaic at frame t (nothing before a first run)."""
    return None if result is None else frame_mosaic(result, t or 0)


def readout(result: Inbetweening) -> str:
    """The line under the results: what ran, how long it took, and what happened to the keyframes."""
    n, t = result.samples.shape[:2]
    seeds = f"seed {result.seed}" if n == 1 else f"seeds {result.seed}-{result.seed + n - 1}"
    lines = [f"**{n} sample{'s' if n != 1 else ''}** of {t} frames from the *{html.escape(result.model)}* "
             f"({seeds}; sample k uses seed + k) · {common.timing(n * t, result.seconds, result.device)} · beside "
             f"them: {', '.join(result.references)}."]
    return "\n\n".join(lines + [f"*{html.escape(note)}*" for note in result.notes])


@user_errors
def run(start: Keyframe | None, end: Keyframe | None, variant: str | None, num_samples, seed, t=None,
        progress: gr.Progress = gr.Progress()):  # noqa: B008
    """The Generate button -> (samples gallery, references gallery, the mosaic at t, the scrubber, downloads,
    readout, the result for the scrubber)."""
    start, end = _require(start, end)
    seed = common.clean_seed(seed)
    progress(0.0, desc="Generating the samples and the references")
    result = inbetween(start, end, variant, int(num_samples or 1), seed)
    progress(0.6, desc="Encoding GIFs, MP4")

    def gif(stem: str, clip: np.ndarray) -> str:
        return str(write_gif(_upscale(clip), common.output_path(f"inbetween-{stem}", ".gif"), fps=FPS))

    samples = [(gif(f"sample{k + 1}", clip), f"sample {k + 1} · seed {seed + k}")
               for k, clip in enumerate(result.samples)]
    references = [(gif(label.split()[0], clip), label) for label, clip in result.references.items()]
    t = result.frames // 2 if t is None else min(max(int(t), 0), result.frames - 1)
    movie = np.stack([frame_mosaic(result, k) for k in range(result.frames)])
    downloads = [str(write_mp4(movie, common.output_path("inbetween-all", ".mp4"), fps=FPS)),
                 str(write_gif(movie, common.output_path("inbetween-all", ".gif"), fps=FPS))]
    scrubber = gr.Slider(minimum=0, maximum=result.frames - 1, value=t, step=1)
    return samples, references, frame_mosaic(result, t), scrubber, downloads, readout(result), result


@user_errors
def show_pair(start: Keyframe | None, end: Keyframe | None, variant: str | None) -> tuple[np.ndarray | None, str]:
    """After loading a keyframe or choosing a model: (the keyframes as the model will see them, the info line)."""
    if start is None or end is None:
        have = "start" if start is not None else "end" if end is not None else None
        return None, (f"{'Now' if have else 'Upload'} the {'end' if have == 'start' else 'start'} frame"
                      f"{'' if have else ' and the end frame'}, or pick an example.")
    side = model_side(variant)
    notes, seen_start, seen_end = keyframe_notes(start, end, side)
    picture = mosaic([[(f"start, {side}x{side} input", seen_start), (f"end, {side}x{side} input", seen_end)]])
    names = (f"**{html.escape(start.example)}**" if start.example and start.example == end.example else
             f"**{html.escape(start.name)}** → **{html.escape(end.name)}**")
    return picture, "\n\n".join([names] + [html.escape(note) for note in notes])


# ---------------------------------------------------------------------------------------------------------------
# Layout and wiring

INTRO = """\
### Video inbetweening with direct 3D convolutions
*Li, Roblek & Tagliasacchi: From Here to There: Video Inbetweening Using Direct 3D Convolutions, 2019*
([arXiv 1905.10240](https://arxiv.org/abs/1905.10240)).
Give a **start** and an **end** frame (upload them or click an example pair); the model makes the frames between
them, all at once, from one random vector per sample: **Generate** draws several samples, **Resample** new ones.
Beside them: linear blending (a cross-dissolve) and classical optical-flow interpolation, which need no training,
and, for the held-out procedural examples, the true clip. Drag the frame slider to compare frame *t* of all of them.
"""

UPLOAD_NOTE = """\
Any size up to {mp:.0f} megapixels: each keyframe is centre-cropped to a square and resized to the model's
{side}x{side} on its own (the page says how). Grayscale and transparent images are converted to RGB.
"""


def model_choices() -> gr.Dropdown:
    """The model dropdown as it should be now: the shipped variants (or the untrained model), the first chosen."""
    models = available_models()
    return gr.Dropdown(choices=models, value=models[0][1] if models else None)


def weights_markdown() -> str:
    """One weights line per shipped model, or how to train them when none is shipped."""
    models = available_models()
    if common.random_weights() or not models:
        return common.weights_status(MODEL)
    return "\n\n".join(f"*{label}:* {common.weights_status(MODEL, variant)}" for label, variant in models)


def about_markdown() -> str:
    return common.about_model(MODEL, (
        "An encoder turns each keyframe into a small latent map. A *latent representation generator* builds a "
        "latent video from the two maps and one noise vector, doubling its time resolution twice (T/4, T/2, T): "
        "in each of its residual 3D-convolution blocks, gates computed from the noise decide, per time step and "
        "channel, how much of the start and of the end keyframe re-enter the representation (*gated fusion*). A "
        "3D-convolutional decoder turns the latent video into all the frames at once; there is no recurrence. "
        "The paper trains adversarially only: a video discriminator judges the whole clip and an image "
        "discriminator each in-between frame (the shipped CPU-trained weights add a small L1 term to the true "
        "frames). Different noise vectors give different plausible motions between the same keyframes. "
        "The ablations drop the gated fusion, or the whole latent generator."),
        measured_on="held-out procedural clips, SSIM to the true in-between frames")


def build(demo: gr.Blocks | None = None) -> None:
    """Lay out the tab inside the current gr.Blocks / gr.Tab; with `demo`, also load an example on page load."""
    thumbnails = example_thumbnails()
    names = [name for _, name in thumbnails]
    models = available_models()
    default_model = models[0][1] if models else None
    gr.Markdown(INTRO)
    gr.Markdown(weights_markdown, elem_id="ib-weights")            # re-read on every page load
    start, end, result = common.session_state(), common.session_state(), common.session_state()
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            with gr.Row():
                start_box = common.PhotoUpload(label="Start frame", type="filepath", image_mode=None,
                                               sources=["upload", "clipboard"], height=220, elem_id="ib-start")
                end_box = common.PhotoUpload(label="End frame", type="filepath", image_mode=None,
                                             sources=["upload", "clipboard"], height=220, elem_id="ib-end")
            gr.Markdown(UPLOAD_NOTE.format(mp=MAX_IMAGE_PIXELS / 1e6, side=model_side(default_model)))
            gallery = gr.Gallery(value=thumbnails, label="Example pairs: start | end (click one)", columns=4,
                                 height="auto", allow_preview=False, interactive=False, object_fit="contain",
                                 elem_id="ib-examples")
        with gr.Column(scale=2):
            seen = gr.Image(label="The keyframes as the model sees them", show_label=False, type="numpy",
                            format="png", interactive=False, height=220, elem_id="ib-seen")
            info = gr.Markdown(show_pair(None, None, None)[1], elem_id="ib-info")
            model = gr.Dropdown(models, value=default_model, label="Model (trained weights)",
                                info=None if models else "No weights shipped yet: see the line at the top.",
                                elem_id="ib-model")
            count = gr.Slider(1, MAX_SAMPLES, value=DEFAULT_SAMPLES, step=1, label="Number of samples",
                              elem_id="ib-count")
            seed, resample = common.seed_row("Seed (sample k uses seed + k)", "Resample", "ib")
            go = gr.Button("Generate", variant="primary", elem_id="ib-generate")
    readout_md = gr.Markdown("", elem_id="ib-readout")
    with gr.Row(equal_height=False):
        samples = gr.Gallery(label="Samples (looping)", columns=4, height=380, object_fit="contain",
                             interactive=False, elem_id="ib-samples", scale=4)
        references = gr.Gallery(label="References: no training needed (and the truth, if known)", columns=3,
                                height=380, object_fit="contain", interactive=False, elem_id="ib-references",
                                scale=3)
    frames = int(common.model_config(MODEL, default_model)["frames"])
    scrubber = gr.Slider(0, frames - 1, value=frames // 2, step=1,
                         label="Frame t (0 = start keyframe, last = end keyframe)", elem_id="ib-t")
    frame = gr.Image(label="Frame t: samples (top), references (bottom)", type="numpy", format="png",
                     interactive=False, elem_id="ib-frame")
    downloads = gr.File(label="Downloads: everything side by side (MP4, GIF)", file_count="multiple",
                        interactive=False, height=110, elem_id="ib-files")
    with gr.Accordion("About this model", open=False):
        gr.Markdown(about_markdown())

    group = dict(concurrency_id="inbetween")
    show_kw = dict(fn=show_pair, inputs=[start, end, model], outputs=[seen, info], show_progress="hidden", **group)
    run_kw = dict(fn=run, inputs=[start, end, model, count, seed, scrubber],
                  outputs=[samples, references, frame, scrubber, downloads, readout_md, result],
                  concurrency_id="inbetween_run", concurrency_limit=1)

    def pick(current: str | None, evt: gr.SelectData):
        name = names[evt.index]
        return *read_example(name), preferred_model(examples()[name].dataset, current)

    # A new keyframe: decoded into its State first (a bad file fails there, and the keyframe in use comes back
    # into the upload box), then shown as the model will see it, with the notes on cropping.
    for box, state, which in ((start_box, start, "start"), (end_box, end, "end")):
        loaded = box.upload(functools.partial(read_keyframe, which=which), box, state, **group)
        loaded.success(**show_kw)
        loaded.failure(restore, state, box, show_progress="hidden")
        box.clear(lambda: None, None, state, **group).success(**show_kw)
    gallery.select(pick, model, [start_box, end_box, start, end, model], **group).success(**show_kw)
    model.input(**show_kw)
    go.click(**run_kw)
    resample.click(common.new_seed, None, seed, show_progress="hidden").success(**run_kw)
    scrubber.change(scrub, [result, scrubber], frame, show_progress="hidden", trigger_mode="always_last", **group)
    if demo is not None:
        # The offered models are re-read on every page load: weights exported while the app runs appear, and
        # the page always matches the process's current VSL_RANDOM_WEIGHTS.
        loaded_page = demo.load(model_choices, None, model, **group)
        if names:
            loaded_page.then(lambda: read_example(names[0]), None, [start_box, end_box, start, end], **group) \
                .success(**show_kw)


if __name__ == "__main__":
    with gr.Blocks(title="Video inbetweening") as tab_demo:
        build(tab_demo)
    tab_demo.queue(default_concurrency_limit=1).launch(server_name="127.0.0.1", max_file_size="25mb")
