"""Tab 1: time-lapse from a single outdoor photo (Nam et al., CVPR 2019).

Handlers first (plain functions of numpy arrays and paths, tested without a browser in tests/test_app.py), then
`build()`, which lays the tab out and wires the events. Run alone with `python -m demo_lib.ui.timelapse_tab`.

The photo is kept in a `gr.State` twice: a preview (longest side PREVIEW_SIDE) that the time slider re-renders
as it moves, and a larger copy (RENDER_SIDE) for the day-cycle video.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from pathlib import Path

import gradio as gr
import numpy as np

from .. import registry
from ..video import fit_within, package_file, write_gif, write_mp4
from . import common
from .common import hhmm, timing, user_errors

MODEL = "timelapse"
PREVIEW_SIDE = 512     # the slider's frames: ~50-250 ms on 2 CPU cores
RENDER_SIDE = 1024     # day-cycle video (a 40-megapixel upload would need gigabytes for 48 frames)
GIF_SIDE = 384         # GIFs are big and slow to quantize: smaller
STRIP_SIDE = 192       # the filmstrip's frames: the smallest the photo is shown at
STRIP_HOURS = (0.0, 3.0, 6.0, 9.0, 12.0, 15.0, 18.0, 21.0)
VIDEO_FPS = 8


@dataclasses.dataclass
class LoadedPhoto:
    name: str
    full: np.ndarray       # uint8 (H, W, 3), longest side <= RENDER_SIDE
    preview: np.ndarray    # uint8 (h, w, 3), longest side <= PREVIEW_SIDE


# ---------------------------------------------------------------------------------------------------------------
# Examples: the procedural scenes the model was trained on, and real photos shipped inside installed packages,
# as files (they take the same road as an upload), found without importing scikit-learn or scikit-image, which
# would add seconds to `import app`.

REAL_PHOTOS = {
    "Rocket (scikit-image)": ("skimage", "data/rocket.jpg"),
    "Summer palace (scikit-learn)": ("sklearn", "datasets/images/china.jpg"),
    "Cameraman, grayscale (scikit-image)": ("skimage", "data/camera.png"),
}


@common.written_once
def example_files() -> dict[str, str]:
    """Example name -> image file: the procedural scenes the model knows (written once per process into the
    app's temp folder), then real photos from installed packages."""
    from PIL import Image

    from ..data.timelapse_data import example_images

    folder = common.output_dir() / "examples"
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for i, (name, image) in enumerate(example_images(size=(384, 512)).items()):
        path = folder / f"scene_{i:02d}.jpg"
        Image.fromarray(image).save(path, quality=92)
        files[name[:1].upper() + name[1:]] = str(path)
    for name, (package, relative) in REAL_PHOTOS.items():
        source = package_file(package, relative)
        if source is not None:  # copied: Gradio serves only files from the temp folder or the working directory
            files[name] = shutil.copy(source, folder / f"photo_{len(files):02d}{source.suffix}")
    return files


# ---------------------------------------------------------------------------------------------------------------
# Handlers


def _as_photo(image: np.ndarray, name: str) -> LoadedPhoto:
    common.fitted_size(name, image.shape[:2], STRIP_SIDE)      # a strip too thin to show is refused, not squashed
    full = fit_within(image, RENDER_SIDE)
    return LoadedPhoto(name=name, full=full, preview=fit_within(full, PREVIEW_SIDE))


@user_errors
def read_photo(path: str | None) -> LoadedPhoto:
    """An uploaded file -> the photo state; gr.Error saying why if it is not a usable image."""
    image = common.load_user_image(path)
    return _as_photo(image, Path(path).name)


@user_errors
def read_example(name: str) -> tuple[str, LoadedPhoto]:
    """A bundled example -> (its file, shown in the upload box; the photo state)."""
    files = example_files()
    if name not in files:
        raise gr.Error(f"Unknown example {name!r}.", print_exception=False)
    return files[name], _as_photo(common.load_user_image(files[name]), name)


def restore_photo(photo: LoadedPhoto | None) -> np.ndarray | None:
    """After a rejected upload: show the photo in use again instead of the broken file."""
    return None if photo is None else photo.preview


@user_errors
def render_frame(photo: LoadedPhoto | None, hour: float, seed: int, guided: bool) -> tuple[np.ndarray, str]:
    """The slider's handler: one frame of the preview at `hour` (fast; called as the slider moves)."""
    if photo is None:
        raise gr.Error("No photo yet: upload one or pick an example.", print_exception=False)
    model = common.get_model(MODEL)
    hour = float(hour or 0.0) % 24.0           # the slider's 24:00 is the next midnight
    start = time.perf_counter()
    frame = model.generate(photo.preview, [hour], seed=common.clean_seed(seed), guided=bool(guided))[0]
    info = (f"**{hhmm(hour)}** · seed {common.clean_seed(seed)} · {photo.name} · "
            f"{timing(1, time.perf_counter() - start, model.device)} ({frame.shape[1]}x{frame.shape[0]})")
    return frame, info


@user_errors
def render_filmstrip(photo: LoadedPhoto | None, seed: int, guided: bool) -> list[tuple[np.ndarray, str]]:
    """Eight small frames, every 3 hours, made jointly with one z: the day at a glance."""
    if photo is None:
        return []
    model = common.get_model(MODEL)
    small = fit_within(photo.preview, STRIP_SIDE)
    frames = model.generate(small, list(STRIP_HOURS), seed=common.clean_seed(seed), guided=bool(guided))
    return [(f, hhmm(h)) for f, h in zip(frames, STRIP_HOURS)]


@user_errors
def render_day_cycle(photo: LoadedPhoto | None, n_frames: int, seed: int, guided: bool,
                     progress: gr.Progress = gr.Progress()) -> tuple[str, list[str], str]:
    """N frames over 24 h (one shared z) -> (MP4 path for the player, [GIF, MP4] downloads, timing line)."""
    if photo is None:
        raise gr.Error("No photo yet: upload one or pick an example.", print_exception=False)
    n = int(n_frames)
    if not 2 <= n <= 240:
        raise ValueError(f"The number of frames must be between 2 and 240; got {n}.")
    model = common.get_model(MODEL)
    hours = [24.0 * i / n for i in range(n)]   # 00:00 up to, not including, the next midnight: it loops
    progress((0, n), desc="Rendering frames", unit="frames")
    start = time.perf_counter()
    frames = model.generate(photo.full, hours, seed=common.clean_seed(seed), guided=bool(guided), chunk=4,
                            progress=lambda done, total: progress((done, total), desc="Rendering frames",
                                                                  unit="frames"))
    render_s = time.perf_counter() - start
    progress(0.99, desc="Encoding MP4 and GIF")
    start = time.perf_counter()
    mp4 = write_mp4(frames, common.output_path("timelapse-day", ".mp4"), fps=VIDEO_FPS)
    gif_frames = np.stack([fit_within(f, GIF_SIDE) for f in frames])
    gif = write_gif(gif_frames, common.output_path("timelapse-day", ".gif"), fps=VIDEO_FPS)
    info = (f"{timing(n, render_s, model.device)} at {frames.shape[2]}x{frames.shape[1]} "
            f"(seed {common.clean_seed(seed)}, guided upsampling {'on' if guided else 'off'}); "
            f"MP4 + GIF encoded in {time.perf_counter() - start:.2f} s.")
    return str(mp4), [str(gif), str(mp4)], info


# ---------------------------------------------------------------------------------------------------------------
# Layout and wiring

INTRO = """\
### Time-lapse from a single photo
*Nam et al.: End-to-End Time-Lapse Video Synthesis from a Single Outdoor Image, CVPR 2019*
([arXiv 1904.00680](https://arxiv.org/abs/1904.00680)).
Pick an example or upload an outdoor photo, then **drag the time of day**: the generator repaints the photo's
light for that hour. A random vector *z*, shared by every frame of a day, sets the weather and colour mood:
**Resample z** draws a new one. **Render day cycle** makes a looping video of the whole day.
"""


def about_markdown() -> str:
    spec = registry.get(MODEL)
    card = common.model_card(MODEL)
    lines = [
        "**How it works.** An encoder-decoder generator takes the photo, the hour (as cos/sin of the angle on the "
        "24 h clock) and *z*. It was trained adversarially with a per-frame discriminator and a *set* "
        "discriminator that checks frames against their timestamps. The generator works at low resolution, the "
        f"one it was trained at ({common.model_config(MODEL)['image_size']} px); **guided upsampling** fits a local "
        "colour transform between the small input and output and applies it to the full-resolution photo, so the "
        "result keeps the photo's detail.",
        f"**Limitations.** {(card or {}).get('limitations') or spec.limitations}",
    ]
    metrics = (card or {}).get("metrics") or {}
    metrics = (metrics.get("benchmark") or {}).get("timestamp_error") or metrics   # the benchmark's, if recorded
    if "timestamp_error_hours" in metrics:
        lines.append(
            f"**Measured** (held-out procedural scenes): the hour a frame shows is off by "
            f"{metrics['timestamp_error_hours']} h on average, against "
            f"{metrics.get('time_blind_input_copy_hours', '?')} h for a time-blind model that returns the photo "
            f"unchanged. {metrics.get('protocol', '')}")
    lines.append(f"**Licence.** {(card or {}).get('license') or spec.license}")
    return "\n\n".join(lines)


def build(demo: gr.Blocks | None = None) -> None:
    """Lay out the tab inside the current gr.Blocks / gr.Tab; with `demo`, also show an example on page load."""
    names = list(example_files())
    gr.Markdown(INTRO)
    gr.Markdown(lambda: common.weights_status(MODEL), elem_id="tl-weights")   # re-read on every page load
    photo = common.session_state()
    with gr.Row(equal_height=False):
        with gr.Column(scale=1):
            upload = common.PhotoUpload(label="Your photo (upload, paste or drop)", type="filepath",
                                        image_mode=None, sources=["upload", "clipboard"], height=300,
                                        elem_id="tl-upload")
            gallery = gr.Gallery(value=[(example_files()[n], n) for n in names], label="Examples (click one)",
                                 columns=4, height=270, allow_preview=False, interactive=False,
                                 object_fit="cover", elem_id="tl-examples")
        with gr.Column(scale=1):
            frame = gr.Image(label="Frame", type="numpy", format="jpeg", interactive=False, height=300,
                             elem_id="tl-frame")
            hour = gr.Slider(0, 24, value=9.0, step=0.25, label="Time of day (hours; 6.5 = 06:30)",
                             elem_id="tl-hour")
            seed, resample = common.seed_row("Seed (picks z)", "Resample z", "tl")
            guided = gr.Checkbox(True, label="Guided upsampling",
                                 info="Transfer the generator's low-resolution colour change onto the full-resolution "
                                      "photo (keeps its detail). Off: plain bilinear upsampling of the output.",
                                 elem_id="tl-guided")
            info = gr.Markdown("Pick an example or upload a photo.", elem_id="tl-info")
    strip = gr.Gallery(label="The day at a glance (every 3 h, one z)", columns=8, height=150, allow_preview=True,
                       interactive=False, elem_id="tl-strip")
    with gr.Row(equal_height=False):
        with gr.Column(scale=1):
            n_frames = gr.Slider(8, 48, value=24, step=1, label="Frames in the day cycle", elem_id="tl-nframes")
            render = gr.Button("Render day cycle", variant="primary", elem_id="tl-render")
            render_info = gr.Markdown("", elem_id="tl-render-info")
            files = gr.File(label="Downloads (GIF, MP4)", file_count="multiple", interactive=False, height=110,
                            elem_id="tl-files")
        with gr.Column(scale=1):
            video = gr.Video(label="Day cycle", autoplay=True, loop=True, interactive=False, elem_id="tl-video")
    with gr.Accordion("About this model", open=False):
        gr.Markdown(about_markdown())

    frame_inputs = [photo, hour, seed, guided]
    frame_kw = dict(fn=render_frame, inputs=frame_inputs, outputs=[frame, info], show_progress="hidden",
                    concurrency_id="timelapse_frame")
    strip_kw = dict(fn=render_filmstrip, inputs=[photo, seed, guided], outputs=strip, show_progress="hidden",
                    concurrency_id="timelapse_frame")

    def pick(evt: gr.SelectData):
        return read_example(names[evt.index])

    # A new photo: decode it into the State first (a bad file fails there, leaving the frame shown untouched and
    # putting the photo in use back in the upload box), then render its frame and the filmstrip.
    loaded = upload.upload(read_photo, upload, photo, concurrency_id="timelapse_frame")
    loaded.success(**frame_kw).success(**strip_kw)
    loaded.failure(restore_photo, photo, upload, show_progress="hidden")
    gallery.select(pick, None, [upload, photo], concurrency_id="timelapse_frame").success(**frame_kw) \
        .success(**strip_kw)
    # As the slider moves: only the latest position is rendered once the previous frame is done.
    hour.change(trigger_mode="always_last", **frame_kw)
    gr.on([seed.change, guided.change], trigger_mode="always_last", **frame_kw).success(**strip_kw)
    resample.click(common.new_seed, None, seed, show_progress="hidden")   # seed.change above re-renders
    render.click(render_day_cycle, [photo, n_frames, seed, guided], [video, files, render_info],
                 concurrency_id="timelapse_render", concurrency_limit=1)
    if demo is not None and names:
        demo.load(lambda: read_example(names[0]), None, [upload, photo], concurrency_id="timelapse_frame") \
            .success(**frame_kw).success(**strip_kw)

if __name__ == "__main__":
    with gr.Blocks(title="Time-lapse from a single photo") as tab_demo:
        build(tab_demo)
    tab_demo.queue(default_concurrency_limit=1).launch(server_name="127.0.0.1", max_file_size="25mb")
