"""Tab 3: photo to painting video, single-frame unsupervised video-to-video translation (MUNIT plus a temporal loss).

Handlers first (plain functions of numpy arrays and paths, tested without a browser in
tests/test_app_munit_video.py), then `build()`, which lays the tab out and wires the events. Run alone with
`python -m demo_lib.ui.munit_video_tab`.

The model translates every frame on its own (nothing is carried from one frame to the next): the frame's content
code and ONE style code for the whole clip (drawn from a seed, or encoded from a reference image) decode to a
painting. What keeps the video steady comes from training (the temporal loss: translating must commute with a
synthetic motion) and from inference (normalisation statistics shared by the frames of a clip). The tab shows
both effects: the temporal model beside the same training without the temporal loss (lambda_t = 0, plain MUNIT),
shared statistics on or off, and each output's flicker, measured as its warp error under the INPUT video's own
optical flow (the input's own warp error is the reference: what the flow itself misses on the input).

The clip in use lives in a `gr.State` as a `Clip`: at most MAX_FRAMES frames, already resized so that the longest
side is at most the model's inference size (`work_side()`): the model works at that size anyway, and the flow
for the flicker readout is cheaper there. `translate()` does the work of the Translate button and is what the
tests call; `run()` wraps it for the page (MP4s, downloads, the readout).
"""

from __future__ import annotations

import dataclasses
import functools
import html
import time
from collections.abc import Callable
from pathlib import Path

import gradio as gr
import numpy as np
from PIL import Image

from .. import registry
from ..data import paintings
from ..metrics import VideoMotion
from ..models.munit_video import DIRECTIONS
from ..video import MediaError, as_rgb_uint8, fit_within, package_file, read_image, read_video, write_mp4
from ..weights import WeightsError
from . import common
from .common import user_errors

MODEL = "munit_video"
MAX_FRAMES = 48                  # frames used from an upload: each output is 48 translations plus its flicker
EXAMPLE_FRAMES = 24
PLAYER_HEIGHT = 360
EXAMPLE_SIDE = 256               # the examples' longest side before `work_side()` (the demo model's inference size)
# The two models compared: key -> (weights variant, None = the default "demo"; label in the page).
MODELS: dict[str, tuple[str | None, str]] = {
    "temporal": (None, "temporal model (λ_t = 10)"),
    "lambda_t0": ("lambda_t0", "λ_t = 0 model (plain MUNIT, no temporal loss)"),
}
DIRECTION_CHOICES = [(direction.replace("2", " → "), direction) for direction in DIRECTIONS]   # photo → painting
# Camera pans over real photos shipped in installed packages (paintings.PACKAGE_PHOTOS), said honestly: the
# held-out photo never reached training, the others are domain-A training photos (new motion, known content).
PAN_PHOTOS = (("grace_hopper", "held out from training"), ("astronaut", "a training photo"),
              ("coffee", "a training photo"))


def work_side() -> int:
    """The longest side clips are brought to: the model's inference size, from the shipped card (read without
    loading the weights), else from the preset the tab runs (tiny with VSL_RANDOM_WEIGHTS, demo otherwise)."""
    return int(common.model_config(MODEL)["inference_size"])


@dataclasses.dataclass(frozen=True, eq=False)
class Clip:
    """The input in use: a video, or an image as a 1-frame clip. Never changed once made."""

    name: str
    frames: np.ndarray                  # uint8 (T, H, W, 3), read-only, longest side <= work_side()
    fps: float
    notes: tuple[str, ...] = ()         # what was done to the input (resized), said in the page

    @property
    def count(self) -> int:
        return int(self.frames.shape[0])

    @functools.cached_property
    def motion(self) -> VideoMotion | None:
        """The input's own optical flow and occlusions (None for a single image); computed once per clip, so
        'Resample style' does not compute it again."""
        return VideoMotion.of(self.frames) if self.count > 1 else None


@dataclasses.dataclass(frozen=True, eq=False)
class Translation:
    """What `translate` made: per model key of MODELS, its frames, flicker and time; the input's flicker."""

    clip: Clip
    outputs: dict[str, np.ndarray]      # key -> uint8 (T, H, W, 3), the clip's size
    flicker: dict[str, float | None]    # "input" and each key -> warp error; None for a single image
    seconds: dict[str, float]
    device: str
    settings: str                       # direction, style and statistics, in words


def _as_clip(name: str, frames: np.ndarray, fps: float) -> Clip:
    """Frames of any size -> a Clip whose longest side is at most `work_side()` (never upscaled)."""
    h, w = frames.shape[1:3]
    if min(h, w) < common.MIN_SIDE:
        raise MediaError(f"{name}: {w}x{h} pixels is too small (at least {common.MIN_SIDE} pixels per side).")
    side = work_side()
    small_h, small_w = common.fitted_size(name, (h, w), side)
    frames = np.stack([fit_within(frame, side) for frame in frames])
    notes: tuple[str, ...] = ()
    if (small_h, small_w) != (h, w):
        notes = (f"resized from {w}x{h} to {small_w}x{small_h} (the model works at up to {side} pixels on the "
                 f"longest side)",)
    frames.flags.writeable = False
    return Clip(name, frames, common.clean_fps(fps), notes)


def _require(clip: Clip | None) -> Clip:
    if clip is None:
        raise gr.Error("No input yet: upload a video or an image, or pick an example.", print_exception=False)
    return clip


# ---------------------------------------------------------------------------------------------------------------
# Examples: camera pans over real package photos, and the real held-out videos beside the repository if present


@dataclasses.dataclass(frozen=True)
class Example:
    source: paintings.PhotoSource
    pan_seed: int | None = None         # a camera pan over the source's still (drawn with this seed), else its frames


@functools.lru_cache(maxsize=1)
def examples() -> dict[str, Example]:
    """Name -> example. Pans need only installed packages; the sky time-lapse clip and Cityscapes seq0004 join when
    ../shared/data holds them (they are not part of the project)."""
    out = {}
    for seed, (key, note) in enumerate(PAN_PHOTOS):
        path = package_file(*paintings.PACKAGE_PHOTOS[key])
        if path is not None:
            source = paintings.PhotoSource(key, "packages", files=(str(path),))
            out[f"Camera pan over {path.name} ({note})"] = Example(source, pan_seed=seed)
    real = {s.group: s for s in reversed(paintings.photo_sources("heldout", step=False))}   # the first per group
    if "sky_timelapse" in real:
        source = real["sky_timelapse"]
        out[f"Sky time-lapse {Path(source.video).name} (real video, held out from training)"] = Example(source)
    if "cityscapes" in real:
        source = real["cityscapes"]
        out[f"Cityscapes {source.name.split('/')[-1]} street video (real, held out from training)"] = Example(source)
    return out


@functools.lru_cache(maxsize=16)
def _example_frames(name: str, count: int = EXAMPLE_FRAMES) -> tuple[np.ndarray, float]:
    """(The first `count` frames of an example, longest side at most EXAMPLE_SIDE; fps)."""
    example = examples()[name]
    source = example.source
    if example.pan_seed is not None:
        rng = np.random.default_rng(example.pan_seed)
        pan = paintings.camera_pan(as_rgb_uint8(source.load(0)), EXAMPLE_SIDE, EXAMPLE_FRAMES, rng)
        return pan[:count], common.DEFAULT_FPS
    if source.video:    # not source.load(k): that decodes the whole clip
        frames, fps = read_video(source.video, max_frames=count)
    else:
        frames, fps = np.stack([read_image(f) for f in source.files[:count]]), common.DEFAULT_FPS
    return np.stack([fit_within(frame, EXAMPLE_SIDE) for frame in frames]), fps


@common.written_once
def _example_thumbnails() -> tuple[tuple[str, str], ...]:
    """(file, name) per example: its first frame, written once into the app's temp folder (Gradio serves files
    from there)."""
    folder = common.output_dir() / "munit-examples"
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for k, name in enumerate(examples()):
        path = folder / f"example_{k:02d}.jpg"
        Image.fromarray(_example_frames(name, 1)[0][0]).save(path, quality=90)
        out.append((str(path), name))
    return tuple(out)


# ---------------------------------------------------------------------------------------------------------------
# Loading


@user_errors
def read_example(name: str) -> Clip:
    """A bundled example -> the clip state."""
    if name not in examples():
        raise gr.Error(f"Unknown example {name!r}.", print_exception=False)
    frames, fps = _example_frames(name)
    return _as_clip(name, frames, fps)


@user_errors
def read_video_upload(path: str | None) -> Clip:
    """An uploaded video -> the clip state: at most MAX_FRAMES frames (the rest dropped, said in the page)."""
    side = work_side()
    frames, fps, dropped = common.read_user_video(path, "video", MAX_FRAMES,
                                                  works_at=f"up to {side} pixels on the longest side")
    return _as_clip(Path(path).name + common.cut_note(dropped, MAX_FRAMES), frames, fps)


@user_errors
def read_image_upload(path: str | None) -> Clip:
    """An uploaded image -> a 1-frame clip (grayscale and alpha are converted to RGB)."""
    image = common.load_user_image(path, "image")
    return _as_clip(Path(path).name, image[None], common.DEFAULT_FPS)


def describe(clip: Clip | None) -> str:
    """The info line under the inputs: what will be translated."""
    if clip is None:
        return "Pick an example or upload a video or an image."
    t, h, w = clip.frames.shape[:3]
    what = "a single image" if t == 1 else f"{t} frames at {clip.fps:g} fps"
    notes = "".join(f" · {note}" for note in clip.notes)
    return f"**{html.escape(clip.name)}** · {what}, {w}x{h}{notes}"


@user_errors
def show_clip(clip: Clip | None) -> tuple[str, str]:
    """After loading: (the clip as the model sees it, MP4; the info line)."""
    clip = _require(clip)
    return str(write_mp4(clip.frames, common.output_path("munit-input", ".mp4"), fps=clip.fps)), describe(clip)


# ---------------------------------------------------------------------------------------------------------------
# Translation and flicker


def _model(key: str):
    """The pipeline of MODELS[key]; a readable error that says what to do when its weights are missing."""
    variant, label = MODELS[key]
    try:
        return common.get_model(MODEL, variant)
    except WeightsError as exc:
        if key == "temporal":
            raise
        raise WeightsError(f"The {label} is not available: {exc} Untick 'Also run the λ_t = 0 model' to translate "
                           f"with the temporal model alone.") from None


def translate(clip: Clip, direction: str = "photo2painting", seed: int = 0, style_image: np.ndarray | None = None,
              shared_norm: bool = True, compare: bool = False,
              progress: Callable[[int, int], None] | None = None) -> Translation:
    """The clip through the temporal model (and the λ_t = 0 model if `compare`), and each output's flicker.

    style_image (uint8 RGB, of the target domain) overrides the seed. progress is called with (frames done,
    frames in all), over both models.
    """
    models = {key: _model(key) for key in MODELS if key == "temporal" or compare}   # fail before any work
    total = clip.count * len(models)
    outputs, seconds = {}, {}
    for k, (key, model) in enumerate(models.items()):
        report = None if progress is None else \
            lambda done, _, offset=k * clip.count: progress(offset + done, total)
        start = time.perf_counter()
        outputs[key] = model.generate(clip.frames, direction, seed=seed, style_image=style_image,
                                      shared_norm=shared_norm, progress=report)
        seconds[key] = time.perf_counter() - start
    motion = clip.motion
    flicker = {key: None if motion is None else motion.warp_error(frames)
               for key, frames in {"input": clip.frames, **outputs}.items()}
    style = "style from the reference image (the seed is not used)" if style_image is not None else \
        f"style seed {seed}"
    settings = (f"{direction.replace('2', ' → ')}, {style}, normalisation statistics "
                f"{'shared across the frames' if shared_norm else 'per frame'}")
    return Translation(clip, outputs, flicker, seconds, str(models["temporal"].device), settings)


def readout(result: Translation) -> str:
    """The flicker table (Markdown): the input's warp error (the reference), then each output's, and the time taken."""
    n = result.clip.count

    def flicker(key: str) -> str:
        value = result.flicker[key]
        return "n/a for a single image" if value is None else f"{value:.4f}"

    rows = [f"| input video (reference) | {flicker('input')} | |"]
    rows += [f"| {MODELS[key][1]} | **{flicker(key)}** | {common.timing(n, result.seconds[key], result.device)} |"
             for key in result.outputs]
    return "\n".join([
        "| | flicker (warp error, lower = steadier) | time |", "|---|---|---|", *rows, "",
        f"{result.settings}. Flicker: mean |warp(y<sub>t-1</sub>) - y<sub>t</sub>| in [-1, 1] units, each output "
        f"frame warped onto the next with the *input* video's own optical flow (DIS), pixels that flow cannot see "
        f"(occlusions) left out. The input's own value is what the flow itself misses: a translation that kept "
        f"every detail would score about that; a smoother one can score below it."])


@user_errors
def run(clip: Clip | None, direction: str, seed, style_path: str | None, shared_norm: bool, compare: bool,
        progress: gr.Progress = gr.Progress()):  # noqa: B008
    """The Translate button -> (temporal model MP4, λ_t = 0 MP4 or None, downloads, readout)."""
    clip = _require(clip)
    style = common.load_user_image(style_path, "style image") if style_path else None
    if style is not None:           # the model brings it to work_side() as well: a thin strip would be squashed
        common.fitted_size(Path(style_path).name, style.shape[:2], work_side())
    if clip.count > 1:
        progress(0.0, desc="Optical flow of the input (for the flicker readout)")
        _ = clip.motion                     # cached on the clip: a resample does not compute it again
    result = translate(clip, direction, common.clean_seed(seed), style, bool(shared_norm), bool(compare),
                       progress=lambda done, total: progress((done, total), desc="Translating frames",
                                                             unit="frames"))
    progress(0.99, desc="Encoding MP4s")
    videos = {key: str(write_mp4(frames, common.output_path(f"munit-{key}", ".mp4"), fps=clip.fps))
              for key, frames in result.outputs.items()}
    downloads = list(videos.values())
    if clip.count == 1:                     # a picture in, a picture to download too
        for key, frames in result.outputs.items():
            path = common.output_path(f"munit-{key}", ".png")
            Image.fromarray(frames[0]).save(path)
            downloads.append(str(path))
    return videos["temporal"], videos.get("lambda_t0"), downloads, readout(result)


# ---------------------------------------------------------------------------------------------------------------
# Layout and wiring

INTRO = """\
### Photo to painting video: MUNIT with a temporal loss
*Single-frame unsupervised video-to-video translation*: MUNIT (Huang et al., ECCV 2018,
[arXiv 1804.04732](https://arxiv.org/abs/1804.04732)) trained on still images with a temporal loss on synthetic
motion, and normalisation statistics shared by the frames of a clip. Every frame is translated on its own, with one
style for the whole clip; the temporal loss and the shared statistics are what keep it from flickering. Pick an
example or upload a video or an image, then **Translate**; the table scores each output's flicker.
"""

SHARED_NORM_INFO = ("Normalise every frame with statistics of frames sampled from the whole clip (the paper's "
                    "inference). Off: each frame its own (plain MUNIT).")
UPLOAD_NOTE = """\
At most {n} frames of a video are used (longer ones are cut, and the page says so) and frames of at most
{mp:.1f} megapixels are accepted; everything is resized so that the longest side is at most {side} pixels, the
model's working size. An image is translated as a single frame (no flicker to measure).
"""


def comparison_available() -> bool:
    """Whether the λ_t = 0 weights are there (or untrained models are asked for): the comparison's default."""
    return common.random_weights() or registry.weights_path(MODEL, MODELS["lambda_t0"][0]).is_file()


def weights_markdown() -> str:
    """The weights line of both models (each says whether its file is there)."""
    if common.random_weights():
        return common.weights_status(MODEL)
    return "\n\n".join(f"*{label}:* {common.weights_status(MODEL, variant)}" for variant, label in MODELS.values())


def about_markdown() -> str:
    return common.about_model(MODEL, (
        "MUNIT splits a picture into a *content* code (a spatial map shared by both domains) and "
        "a *style* code (8 numbers per domain). A frame's content code decoded with a painting style code gives "
        "the painting; the style comes from the seed (a draw from N(0, I)) or from a reference image's style "
        "encoding, and is the same for every frame. Training sees still images only: a second frame is made "
        "from each by a random smooth flow, and the **temporal loss** asks translation to commute with that "
        "motion. At inference the **shared statistics** normalise every frame with the mean and spread of "
        "frames sampled from the whole clip, so a frame's colours do not jump with its content. The λ_t = 0 "
        f"model is the same training without the temporal loss. Works at up to {work_side()} pixels here."),
        measured_on="held-out clips, temporal model")


def build(demo: gr.Blocks | None = None) -> None:
    """Lay out the tab inside the current gr.Blocks / gr.Tab; with `demo`, also load an example on page load."""
    thumbnails = list(_example_thumbnails())
    names = [name for _, name in thumbnails]
    gr.Markdown(INTRO)
    gr.Markdown(weights_markdown, elem_id="mv-weights")        # re-read on every page load
    clip = common.session_state()
    with gr.Row(equal_height=False):
        with gr.Column(scale=1):
            gallery = gr.Gallery(value=thumbnails, label="Examples (click one)", columns=3, height="auto",
                                 allow_preview=False, interactive=False, object_fit="cover", elem_id="mv-examples")
            with gr.Row():
                video_upload = gr.Video(label="Your video", sources=["upload"], height=200,
                                        elem_id="mv-video-upload")
                image_upload = common.PhotoUpload(label="Or an image (one frame)", type="filepath",
                                                  image_mode=None, sources=["upload", "clipboard"], height=200,
                                                  elem_id="mv-image-upload")
            gr.Markdown(UPLOAD_NOTE.format(n=MAX_FRAMES, mp=common.MAX_FRAME_PIXELS / 1e6, side=work_side()))
            info = gr.Markdown(describe(None), elem_id="mv-info")
        with gr.Column(scale=1):
            input_video = gr.Video(label="Input in use (as the model sees it)", autoplay=True, loop=True,
                                   interactive=False, height=PLAYER_HEIGHT, elem_id="mv-input")
    with gr.Row(equal_height=False):
        with gr.Column(scale=2):
            direction = gr.Radio(DIRECTION_CHOICES, value="photo2painting", label="Direction",
                                 elem_id="mv-direction")
            seed, resample = common.seed_row("Style seed", "Resample style", "mv")
            shared = gr.Checkbox(True, label="Share normalisation statistics across frames", info=SHARED_NORM_INFO,
                                 elem_id="mv-shared")
            compare = gr.Checkbox(comparison_available, label="Also run the λ_t = 0 model (no temporal loss)",
                                  info="The same training without the temporal loss, shown beside the temporal "
                                       "model.", elem_id="mv-compare")
        with gr.Column(scale=1):
            style_upload = common.PhotoUpload(label="Reference style image (optional; overrides the seed)",
                                              type="filepath", image_mode=None, sources=["upload", "clipboard"],
                                              height=180, elem_id="mv-style")
            gr.Markdown("A painting for photo → painting, a photo for the reverse: its style code replaces the "
                        "seed's. Clear it to use the seed again.")
    go = gr.Button("Translate", variant="primary", elem_id="mv-translate")
    result_info = gr.Markdown("", elem_id="mv-readout")
    with gr.Row(equal_height=False):
        out_temporal = gr.Video(label=MODELS["temporal"][1], autoplay=True, loop=True, interactive=False,
                                height=PLAYER_HEIGHT, elem_id="mv-output")
        out_baseline = gr.Video(label=MODELS["lambda_t0"][1], autoplay=True, loop=True, interactive=False,
                                height=PLAYER_HEIGHT, elem_id="mv-output-t0")
    downloads = gr.File(label="Downloads (MP4; also PNG for an image)", file_count="multiple", interactive=False,
                        height=110, elem_id="mv-files")
    with gr.Accordion("About this model", open=False):
        gr.Markdown(about_markdown())

    group = dict(concurrency_id="munit_video")
    show_kw = dict(fn=show_clip, inputs=clip, outputs=[input_video, info], show_progress="hidden", **group)
    run_kw = dict(fn=run, inputs=[clip, direction, seed, style_upload, shared, compare],
                  outputs=[out_temporal, out_baseline, downloads, result_info], concurrency_id="munit_video_run",
                  concurrency_limit=1)

    def pick(evt: gr.SelectData):
        return read_example(names[evt.index])

    # A new input: shown as the model sees it; an upload box that no longer holds the input in use is cleared.
    # A bad upload: a readable message, the clip in use stays, and the upload box is cleared.
    gallery.select(pick, None, clip, **group).success(**show_kw) \
        .success(lambda: (None, None), None, [video_upload, image_upload], show_progress="hidden")
    for upload, reader, other in ((video_upload, read_video_upload, image_upload),
                                  (image_upload, read_image_upload, video_upload)):
        event = upload.upload(reader, upload, clip, **group)
        event.success(**show_kw).success(lambda: None, None, other, show_progress="hidden")
        event.failure(lambda: None, None, upload, show_progress="hidden")
    go.click(**run_kw)
    resample.click(common.new_seed, None, seed, show_progress="hidden").success(**run_kw)
    if demo is not None and names:
        demo.load(lambda: read_example(names[0]), None, clip, **group).success(**show_kw)


if __name__ == "__main__":
    with gr.Blocks(title="Photo to painting video") as tab_demo:
        build(tab_demo)
    tab_demo.queue(default_concurrency_limit=1).launch(server_name="127.0.0.1", max_file_size="25mb")
