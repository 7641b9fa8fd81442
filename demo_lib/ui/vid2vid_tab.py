"""Tab 2: vid2vid, semantic label maps to street video (Wang et al., NeurIPS 2018).

Handlers first (plain functions of numpy arrays and paths, tested without a browser in tests/test_app_vid2vid.py),
then `build()`, which lays the tab out and wires the events. Run alone with `python -m demo_lib.ui.vid2vid_tab`.

The label video in use lives in a `gr.State` as a `StreetVideo`: the labels as loaded and as edited (so edits can
be undone), the instance maps, and the style choice. Every handler returns a new `StreetVideo` and never changes
the one it was given, so a handler that fails leaves the sequence in use untouched.

Everything works at the model's training size (`work_size()`, 256x512 for the demo weights): videos are
center-cropped to its 1:2 aspect ratio and resized (label maps with nearest neighbour: ids must not be blended),
and at most MAX_FRAMES frames are used.
"""

from __future__ import annotations

import dataclasses
import html
import time
from functools import lru_cache
from pathlib import Path

import cv2
import gradio as gr
import numpy as np

from .. import registry
from ..data import cityscapes as cs
from ..models import vid2vid as V
from ..video import resize_image, write_mp4
from ..weights import WeightsError
from . import common
from .common import timing, user_errors

MODEL = "vid2vid"
SEGMENTER = "street_segmenter"
MAX_FRAMES = 48                    # frames used from an upload (the generator makes them one after the other)
EXAMPLE_FRAMES = 24
# The brush colours: the 19 classes Cityscapes scores, then a few more that street label maps use.
PAINT_IDS: tuple[int, ...] = cs.EVAL_IDS + (9, 6, 5, 0)     # + parking, ground, dynamic, unlabeled


def work_size() -> tuple[int, int]:
    """(H, W) the tab works at: the shipped model's training size (read from its card, without loading it), else
    that of the `demo` preset (also with VSL_RANDOM_WEIGHTS: the untrained tiny net is fully convolutional)."""
    card = None if common.random_weights() else common.model_card(MODEL)
    config = (card or {}).get("config") or {}
    if "height" in config and "width" in config:
        return int(config["height"]), int(config["width"])
    cfg, _ = registry.get(MODEL).preset("demo")
    return cfg.height, cfg.width


@dataclasses.dataclass(frozen=True)
class StreetVideo:
    """The label video in use. Arrays are read-only; edits make a new StreetVideo (dataclasses.replace)."""

    name: str
    original: np.ndarray                 # uint8 (T, H, W) Cityscapes ids as loaded
    labels: np.ndarray                   # uint8 (T, H, W) ids after the edits
    original_instances: np.ndarray       # int32 (T, H, W), 0 = no instance (all 0 for uploads)
    instances: np.ndarray                # int32 (T, H, W) after the edits
    fps: float = 12.0
    style_seed: int = 0                  # draws a style per class
    styles: tuple[tuple[int, int], ...] = ()   # (class id, cluster) overrides of single classes
    edits: tuple[str, ...] = ()          # what was changed, in order

    @property
    def frames(self) -> int:
        return int(self.labels.shape[0])


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array)
    array.flags.writeable = False
    return array


def _new_video(name: str, labels: np.ndarray, instances: np.ndarray | None, fps: float) -> StreetVideo:
    labels = _frozen(np.asarray(labels, np.uint8))
    instances = _frozen(np.zeros(labels.shape, np.int32) if instances is None else np.asarray(instances, np.int32))
    return StreetVideo(name, labels, labels, instances, instances, fps=common.clean_fps(fps))


def _require(video: StreetVideo | None) -> StreetVideo:
    if video is None:
        raise gr.Error("No label video yet: pick an example or upload a video.", print_exception=False)
    return video


# ---------------------------------------------------------------------------------------------------------------
# Classes, names and colours


def class_label(class_id: int) -> str:
    """11 -> 'building (11)'."""
    return f"{cs.CLASS_NAMES[class_id]} ({class_id})"


def class_id(value) -> int:
    """A class as the dropdowns give it (id), or by name ('building', 'building (11)') -> its id."""
    if isinstance(value, (int, np.integer)) and 0 <= int(value) < cs.NUM_LABELS:
        return int(value)
    text = str(value or "").strip()
    if text.endswith(")") and "(" in text:
        text = text[: text.rindex("(")].strip()
    if text.isdigit() and int(text) < cs.NUM_LABELS:
        return int(text)
    if text in cs.CLASS_NAMES:
        return cs.CLASS_NAMES.index(text)
    raise ValueError(f"Unknown class {value!r}: pick one of the Cityscapes classes "
                     f"({', '.join(cs.CLASS_NAMES[i] for i in cs.EVAL_IDS)}, ...).")


def hex_color(class_id: int) -> str:
    r, g, b = (int(v) for v in cs.PALETTE[class_id])
    return f"#{r:02x}{g:02x}{b:02x}"


def brush_colors() -> list[str]:
    return [hex_color(i) for i in PAINT_IDS]


def legend_html() -> str:
    """A compact table of the brush colours: swatch, class name, id (what each colour paints)."""
    cells = []
    for i in PAINT_IDS:
        swatch = (f'<span style="display:inline-block;width:1.1em;height:1.1em;background:{hex_color(i)};'
                  f'border:1px solid #888;vertical-align:middle;margin-right:0.35em"></span>')
        thing = " *" if cs.CLASSES[i].has_instances else ""
        cells.append(f'<div style="white-space:nowrap;font-size:0.85em">{swatch}{html.escape(cs.CLASS_NAMES[i])}'
                     f'{thing} <span style="opacity:0.6">{i}</span></div>')
    return ('<div id="v2v-legend-grid" style="display:grid;grid-template-columns:repeat(2,minmax(0,1fr));'
            'gap:0.15em 0.8em">' + "".join(cells) + '</div><div style="font-size:0.8em;opacity:0.75;'
            'margin-top:0.4em">* objects (the foreground branch paints them; each painted blob is one object)</div>')


def class_choices(ids) -> list[tuple[str, int]]:
    return [(class_label(int(i)), int(i)) for i in ids]


# ---------------------------------------------------------------------------------------------------------------
# Loading: examples, label-map videos, real videos


@lru_cache(maxsize=2)
def _examples(size: tuple[int, int]) -> tuple[tuple[str, np.ndarray, np.ndarray], ...]:
    from ..data.street import street_examples

    return tuple((name, _frozen(labels), _frozen(instances))
                 for name, labels, instances in street_examples(size=size, frames=EXAMPLE_FRAMES))


def example_names() -> list[str]:
    return [name for name, _, _ in _examples(work_size())]


@common.written_once
def _example_thumbnails(size: tuple[int, int]) -> tuple[tuple[str, str], ...]:
    """(file, name) per example: its first label map in colour, written once into the app's temp folder (Gradio
    serves files from there)."""
    from PIL import Image

    folder = common.output_dir() / "vid2vid-examples"
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for k, (name, labels, _) in enumerate(_examples(size)):
        path = folder / f"street_{k:02d}.png"
        Image.fromarray(cs.colorize(labels[0])).save(path)
        out.append((str(path), name))
    return tuple(out)


@user_errors
def read_example(name: str) -> StreetVideo:
    """A procedural street (Cityscapes ids, with instance maps) -> the video state."""
    for example, labels, instances in _examples(work_size()):
        if example == name:
            return _new_video(example, labels, instances, fps=12.0)
    raise gr.Error(f"Unknown example {name!r}.", print_exception=False)


def _read_frames(path: str | None, what: str) -> tuple[np.ndarray, float, str]:
    """An upload -> (at most MAX_FRAMES frames uint8 (T, H, W, 3), fps, its name with a note if it was cut)."""
    h, w = work_size()
    frames, fps, dropped = common.read_user_video(path, what, MAX_FRAMES, works_at=f"{w}x{h}")
    return frames, fps, Path(path).name + common.cut_note(dropped, MAX_FRAMES)


def center_crop(frames: np.ndarray, aspect: float) -> np.ndarray:
    """Crop (T, H, W, ...) around the centre to width / height = aspect (the model's 2:1), keeping the most."""
    h, w = frames.shape[1:3]
    if w > round(h * aspect):
        new_w = max(1, round(h * aspect))
        x0 = (w - new_w) // 2
        return frames[:, :, x0:x0 + new_w]
    new_h = max(1, round(w / aspect))
    y0 = (h - new_h) // 2
    return frames[:, y0:y0 + new_h]


def _resize_nearest(frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if frames.shape[1:3] == tuple(size):
        return frames
    return np.stack([cv2.resize(f, size[::-1], interpolation=cv2.INTER_NEAREST) for f in frames])


@user_errors
def read_label_video(path: str | None) -> StreetVideo:
    """An uploaded colour-coded label video (Cityscapes palette) -> the video state (no instance maps)."""
    frames, fps, name = _read_frames(path, "label video")
    h, w = work_size()
    small = _resize_nearest(center_crop(frames, w / h), (h, w))
    try:
        labels = cs.labels_from_video_colors(small)
    except cs.LabelColorError as exc:
        raise gr.Error(f"{Path(path).name} is not a Cityscapes label video: {exc} Upload a real street video in "
                       f"the other box instead to have it labelled by the segmenter.", print_exception=False) from None
    return _new_video(name, labels, None, fps)


@user_errors
def read_real_video(path: str | None, progress: gr.Progress = gr.Progress()) -> StreetVideo:  # noqa: B008
    """An uploaded street video -> label maps by the street segmenter -> the video state (no instance maps)."""
    frames, fps, name = _read_frames(path, "street video")
    h, w = work_size()
    small = np.stack([resize_image(f, (h, w)) for f in center_crop(frames, w / h)])
    segmenter = common.get_model(SEGMENTER)
    progress((0, len(small)), desc="Labelling frames", unit="frames")
    labels = segmenter.segment(small, progress=lambda done, total: progress((done, total), desc="Labelling frames",
                                                                            unit="frames"))
    return _new_video(f"{name}, labelled by the segmenter", labels, None, fps)


# ---------------------------------------------------------------------------------------------------------------
# Showing the sequence


def editor_value(video: StreetVideo | None, key_frame) -> dict | None:
    """The painting editor's value: the key frame's labels in colour, nothing painted yet."""
    if video is None:
        return None
    rgb = cs.colorize(video.labels[_key(video, key_frame)])
    return {"background": rgb, "layers": [], "composite": rgb}


def _key(video: StreetVideo, key_frame) -> int:
    try:
        k = int(key_frame or 0)
    except (TypeError, ValueError):
        k = 0
    return min(max(k, 0), video.frames - 1)


def _labels_mp4(video: StreetVideo) -> str:
    return str(write_mp4(cs.colorize(video.labels), common.output_path("vid2vid-labels", ".mp4"), fps=video.fps))


def _present(video: StreetVideo) -> list[int]:
    return [int(i) for i in np.unique(video.labels)]


def describe(video: StreetVideo | None) -> str:
    if video is None:
        return "Pick an example or upload a video."
    t, h, w = video.labels.shape
    names = ", ".join(cs.CLASS_NAMES[i] for i in _present(video))
    edits = f" · **edits:** {'; '.join(video.edits)}" if video.edits else " · no edits"
    return f"**{video.name}** · {t} frames at {w}x{h}, {video.fps:g} fps · classes: {names}{edits}"


@user_errors
def show_video(video: StreetVideo | None):
    """After loading: the editor on frame 0, the frame slider's range, the info line, the labels video and the
    class-replacement choices (classes present -> any paintable class)."""
    video = _require(video)
    return (editor_value(video, 0), gr.update(maximum=max(video.frames - 1, 1), value=0,
                                              interactive=video.frames > 1),
            describe(video), _labels_mp4(video), gr.update(choices=class_choices(_present(video)),
                                                          value=_present(video)[0]))


@user_errors
def show_key_frame(video: StreetVideo | None, key_frame) -> dict | None:
    """The frame slider's handler: the editor shows that frame (strokes not yet applied are dropped)."""
    return editor_value(video, key_frame)


# ---------------------------------------------------------------------------------------------------------------
# Edits: painting carried through the sequence, class replacement, reset


def _as_rgba(image, what: str) -> np.ndarray | None:
    if image is None:
        return None
    if isinstance(image, (str, Path)):
        image = common.load_user_image(image, what)
    array = np.asarray(image)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] not in (3, 4):
        raise ValueError(f"The {what} must be an RGB(A) picture; got {array.dtype} {array.shape}.")
    if array.shape[2] == 3:
        array = np.dstack([array, np.full(array.shape[:2], 255, np.uint8)])
    return array


def painted_pixels(painting: dict | None, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The editor's value -> (mask bool (H, W) of painted pixels, their class ids uint8 (H, W), valid on the mask).

    Strokes are read from the layers (alpha >= 128: the brush's colour, not the anti-aliased fringe blended with
    the picture underneath); without layers, from where the composite differs from the background. Painted
    colours must be palette colours (within cs.COLOR_TOLERANCE), else LabelColorError names them.
    """
    if not isinstance(painting, dict) or painting.get("background") is None and painting.get("composite") is None:
        raise gr.Error("Nothing to apply: load a label video first, then paint on its key frame.",
                       print_exception=False)
    h, w = size
    mask = np.zeros((h, w), bool)
    colors = np.zeros((h, w, 3), np.uint8)
    for k, layer in enumerate(painting.get("layers") or []):
        layer = _as_rgba(layer, f"painting layer {k + 1}")
        if layer is None:
            continue
        if layer.shape[:2] != (h, w):
            raise ValueError(f"The painting is {layer.shape[1]}x{layer.shape[0]} but the key frame is {w}x{h}: "
                             f"move the frame slider to reload the key frame, then paint again.")
        stroke = layer[..., 3] >= 128
        mask |= stroke
        colors[stroke] = layer[..., :3][stroke]     # later layers lie on top
    if not painting.get("layers"):
        background = _as_rgba(painting.get("background"), "painting background")
        composite = _as_rgba(painting.get("composite"), "painting")
        if background is None or composite is None:
            raise gr.Error("Nothing to apply: the editor holds no picture. Move the frame slider to reload it.",
                           print_exception=False)
        for image, what in ((background, "background"), (composite, "painting")):
            if image.shape[:2] != (h, w):
                raise ValueError(f"The {what} is {image.shape[1]}x{image.shape[0]} but the key frame is {w}x{h}: "
                                 f"move the frame slider to reload the key frame, then paint again.")
        diff = np.abs(composite[..., :3].astype(np.int16) - background[..., :3].astype(np.int16)).max(-1)
        mask = diff > 8                              # image codecs move a colour by a few levels at most
        colors = composite[..., :3]
    ids = np.zeros((h, w), np.uint8)
    if mask.any():
        try:
            ids[mask] = cs.labels_from_colors(colors[mask][None], cs.COLOR_TOLERANCE)[0]
        except cs.LabelColorError as exc:
            raise gr.Error(f"The painting uses colours that are not Cityscapes classes: {exc}",
                           print_exception=False) from None
    return mask, ids


def _new_instances(region: np.ndarray, ids: np.ndarray, instances: np.ndarray) -> np.ndarray:
    """Instance ids for a painted region (H, W) with class ids (H, W): one fresh object per connected blob of an
    object class, 0 (stuff) elsewhere; the same ids in every frame, since the region is the same."""
    new = np.zeros(region.shape, np.int32)
    next_id = int(max(instances.max(), 0)) + 1
    for c in np.unique(ids[region]):
        if not cs.CLASSES[int(c)].has_instances:
            continue
        count, blobs = cv2.connectedComponents((region & (ids == c)).astype(np.uint8), connectivity=8)
        for b in range(1, count):
            new[blobs == b] = next_id
            next_id += 1
    return new


@user_errors
def apply_painting(video: StreetVideo | None, painting: dict | None, key_frame) -> tuple[StreetVideo, dict, str]:
    """Write the pixels painted on the key frame into every frame at the same positions.

    The painted region stays fixed in the picture (it does not follow the camera's motion): paint what should be
    there in every frame, e.g. a tree in front of the camera or a change of the sky. Returns the new state, the
    editor reloaded with the result, and a message.
    """
    video = _require(video)
    mask, ids = painted_pixels(painting, video.labels.shape[1:])
    k = _key(video, key_frame)
    if not mask.any():
        return video, editor_value(video, k), ("Nothing was painted: pick a colour and paint on the key frame, then "
                                               "press *Apply painting*.")
    labels = video.labels.copy()
    labels[:, mask] = ids[mask]
    instances = video.instances.copy()
    instances[:, mask] = _new_instances(mask, ids, video.instances)[mask]
    painted = ", ".join(f"{cs.CLASS_NAMES[int(c)]} {int((ids[mask] == c).sum())} px" for c in np.unique(ids[mask]))
    edit = f"painted {painted} into all {video.frames} frames"
    new = dataclasses.replace(video, labels=_frozen(labels), instances=_frozen(instances),
                              edits=video.edits + (edit,))
    return new, editor_value(new, k), f"Applied: {edit}."


@user_errors
def replace_class(video: StreetVideo | None, source, target, key_frame) -> tuple[StreetVideo, dict, str]:
    """Replace class `source` by class `target` in every frame (e.g. building -> vegetation)."""
    video = _require(video)
    a, b = class_id(source), class_id(target)
    k = _key(video, key_frame)
    where = video.labels == a
    if a == b or not where.any():
        why = "they are the same class" if a == b else f"there is no {cs.CLASS_NAMES[a]} in this video"
        return video, editor_value(video, k), f"Nothing replaced: {why}."
    labels = video.labels.copy()
    labels[where] = b
    instances = video.instances.copy()
    if not cs.CLASSES[b].has_instances:
        instances[where] = 0                                   # stuff has no objects
    elif not cs.CLASSES[a].has_instances:                       # stuff -> objects: one object per frame's blob
        for t in range(video.frames):
            instances[t][where[t]] = _new_instances(where[t], labels[t], instances)[where[t]]
    edit = f"{cs.CLASS_NAMES[a]} -> {cs.CLASS_NAMES[b]} ({int(where.sum())} px)"
    new = dataclasses.replace(video, labels=_frozen(labels), instances=_frozen(instances),
                              edits=video.edits + (edit,))
    return new, editor_value(new, k), f"Replaced {edit} in all {video.frames} frames."


@user_errors
def reset_edits(video: StreetVideo | None, key_frame) -> tuple[StreetVideo, dict, str]:
    """Back to the labels as loaded (the style choice stays)."""
    video = _require(video)
    new = dataclasses.replace(video, labels=video.original, instances=video.original_instances, edits=())
    return new, editor_value(new, key_frame), "Edits undone: the labels are as loaded."


# ---------------------------------------------------------------------------------------------------------------
# Styles (multimodal synthesis: per-class clusters of the style encoder's features)


def _style_choice(video: StreetVideo) -> dict[int, int]:
    model = common.get_model(MODEL)
    return {**model.sample_styles(video.style_seed), **dict(video.styles)}


def styles_markdown(video: StreetVideo | None) -> str:
    if video is None:
        return ""
    available = common.get_model(MODEL).style_classes()
    if not available:
        return ("*This model has no styles* (untrained weights, or trained without the style encoder): every "
                "synthesis looks the same for the same labels.")
    choice = _style_choice(video)
    present = [c for c in _present(video) if c in available]
    parts = [f"{cs.CLASS_NAMES[c]} {choice[c] + 1}/{available[c]}" for c in present]
    return f"Styles (seed {video.style_seed}): " + (", ".join(parts) or "none of this video's classes has styles")


@user_errors
def style_controls(video: StreetVideo | None):
    """The style dropdown (classes of this video that have styles), the buttons' state and the current choice."""
    video = _require(video)
    try:
        available = common.get_model(MODEL).style_classes()
    except WeightsError:   # runs on page load: the weights line already says what is missing, no error toast
        off = gr.update(choices=[], value=None, interactive=False)
        return off, gr.update(interactive=False), gr.update(interactive=False), "Styles: no weights loaded."
    present = [c for c in _present(video) if c in available]
    return (gr.update(choices=class_choices(present), value=present[0] if present else None,
                      interactive=bool(present)),
            gr.update(interactive=bool(present)), gr.update(interactive=bool(available)), styles_markdown(video))


@user_errors
def new_class_style(video: StreetVideo | None, style_class) -> tuple[StreetVideo, str]:
    """The next style of one class (the others stay)."""
    video = _require(video)
    available = common.get_model(MODEL).style_classes()
    if not available:
        return video, styles_markdown(video)
    if style_class is None or style_class == "":
        raise gr.Error("Pick a class first.", print_exception=False)
    c = class_id(style_class)
    if c not in available:
        raise gr.Error(f"The model has no styles for {cs.CLASS_NAMES[c]}.", print_exception=False)
    styles = {**dict(video.styles), c: (_style_choice(video)[c] + 1) % available[c]}
    new = dataclasses.replace(video, styles=tuple(sorted(styles.items())))
    return new, styles_markdown(new)


@user_errors
def resample_styles(video: StreetVideo | None, seed: int | None = None) -> tuple[StreetVideo, str]:
    """A new style for every class: a fresh seed, and no per-class overrides."""
    video = _require(video)
    seed = common.new_seed() if seed is None else common.clean_seed(seed)
    new = dataclasses.replace(video, style_seed=seed, styles=())
    return new, styles_markdown(new)


# ---------------------------------------------------------------------------------------------------------------
# Synthesis


HALLUCINATED_TINT = np.array([255, 0, 255], np.float32)     # magenta: far from every street colour


def mask_overlay(frames: np.ndarray, mask: np.ndarray, strength: float = 0.6) -> np.ndarray:
    """The output frames (T, H, W, 3) tinted magenta by the occlusion mask (T, H, W) m * 255: what is painted anew
    shows magenta, what is warped from the previous frame shows as it is (paper, eq. 4)."""
    m = mask[..., None].astype(np.float32) / 255 * strength
    return (frames.astype(np.float32) * (1 - m) + HALLUCINATED_TINT * m).round().astype(np.uint8)


def mask_markdown(mask: np.ndarray, labels: np.ndarray) -> str:
    """The mean mask on background and foreground classes, and what it means (issue 24: warp against hallucinate)."""
    by_region = V.mask_by_region(mask, labels)
    parts = [f"{name} {value:.2f}" for name, value in by_region.items() if not np.isnan(value)]
    return ("mean occlusion mask after frame 0 (0 = warped from the previous frame, 1 = hallucinated): "
            + ", ".join(parts) + "; the paper's idea is low on the static background, high where something new "
            "appears")


@user_errors
def synthesize(video: StreetVideo | None, key_frame=0, progress: gr.Progress = gr.Progress()):  # noqa: B008
    """The whole label video -> (labels MP4, generated MP4, occlusion-mask MP4 or None, key-frame gallery,
    download, timing line)."""
    video = _require(video)
    model = common.get_model(MODEL)
    n = video.frames
    progress((0, n), desc="Synthesizing frames", unit="frames")
    start = time.perf_counter()
    result = model.synthesize(video.labels, video.instances, seed=video.style_seed, styles=dict(video.styles),
                              progress=lambda done, total: progress((done, total), desc="Synthesizing frames",
                                                                    unit="frames"))
    seconds = time.perf_counter() - start
    progress(0.99, desc="Encoding MP4s")
    colors = cs.colorize(video.labels)
    labels_mp4 = str(write_mp4(colors, common.output_path("vid2vid-labels", ".mp4"), fps=video.fps))
    output_mp4 = str(write_mp4(result.frames, common.output_path("vid2vid-output", ".mp4"), fps=video.fps))
    mask_mp4 = None
    k = _key(video, key_frame)
    gallery = [(colors[k], f"labels, frame {k}"), (result.frames[k], "output"),
               (result.hallucinated[k], "hallucinated h")]
    if result.mask is not None:
        overlay = mask_overlay(result.frames, result.mask)
        mask_mp4 = str(write_mp4(overlay, common.output_path("vid2vid-mask", ".mp4"), fps=video.fps))
        gallery += [(overlay[k], "warped vs hallucinated: magenta = hallucinated"),
                    (np.repeat(result.mask[k, ..., None], 3, axis=-1), "mask m: white = hallucinated, black = warped")]
        mask_note = mask_markdown(result.mask, video.labels) if n > 1 else ""
    else:
        mask_note = "no occlusion mask: this model makes every frame on its own (per-frame baseline)"
    h, w = video.labels.shape[1:]
    info = "; ".join(x for x in (f"{timing(n, seconds, model.device)} at {w}x{h}", f"style seed {video.style_seed}",
                                 mask_note) if x) + "."
    return labels_mp4, output_mp4, mask_mp4, gallery, output_mp4, info


# ---------------------------------------------------------------------------------------------------------------
# Layout and wiring

INTRO = """\
### vid2vid: label maps to street video
*Wang et al.: Video-to-Video Synthesis, NeurIPS 2018* ([arXiv 1808.06601](https://arxiv.org/abs/1808.06601)).
Pick a procedural street, upload a label-map video, or upload a real street video that the segmenter labels.
**Paint** on a key frame or **replace a class** in every frame, pick **styles**, then **Synthesize**: each frame is
made from its labels and the two frames made before it, by warping the previous frame where it can and painting
what is newly seen. The third video shows which is which: magenta where a pixel is hallucinated, the frame as it is
where it is warped (the occlusion mask *m*; the key-frame gallery shows it in grey too).
"""

UPLOAD_NOTE = """\
Uploads are center-cropped to the model's 2:1 shape and resized to {w}x{h}; at most {n} frames are used.
A **label-map video** must be coloured with the Cityscapes palette (the legend below): colours close to a palette
colour, and compression blur along class borders, are mapped to the nearest class; a region of another colour is
refused. A lossless format (GIF, PNG-in-MKV) keeps the colours exact.
"""

EDIT_NOTE = """\
**Painting** changes the same pixels in *every* frame: the painted region stays fixed in the picture (it does not
move with the camera). Pick a colour from the legend's palette, paint, then press **Apply painting**; moving the
frame slider drops strokes not yet applied.
"""


def about_markdown() -> str:
    h, w = work_size()
    return common.about_model(MODEL, (
        "A sequential generator (L = 2): frame *t* is made from the label maps of frames "
        "*t-2..t* and the two frames made before it. Label and past-frame encoders are summed; an image head gives "
        "a hallucinated frame *h*, a flow head a flow *w* and an occlusion mask *m*, and the output is "
        "*(1 - m) warp(x<sub>t-1</sub>, w) + m h* (paper, eq. 4). Foreground classes (cars, people, ...) come "
        "from a separate single-frame branch (eq. 5). Coarse-to-fine generator (a global generator plus a local "
        "enhancer); a video discriminator at two frame rates; per-class style clusters (K-means of an instance "
        "encoder's features) give multimodal synthesis. The image discriminator is a *projected* one (Sauer et al. "
        "2021: small heads on frozen ImageNet EfficientNet-Lite0 features, with DiffAugment), which trained faster "
        f"than the paper's PatchGAN on this CPU. Works at {w}x{h} here."), measured_on="held-out video")


def build(demo: gr.Blocks | None = None) -> None:
    """Lay out the tab inside the current gr.Blocks / gr.Tab; with `demo`, also load an example on page load."""
    h, w = work_size()
    thumbnails = list(_example_thumbnails((h, w)))
    names = [name for _, name in thumbnails]
    gr.Markdown(INTRO)
    gr.Markdown(lambda: common.weights_status(MODEL), elem_id="v2v-weights")   # re-read on every page load
    video = common.session_state()
    with gr.Row(equal_height=False):
        with gr.Column(scale=1):
            gallery = gr.Gallery(value=thumbnails, label="Procedural streets (click one)", columns=3, height=160,
                                 allow_preview=False, interactive=False, object_fit="contain",
                                 elem_id="v2v-examples")
            with gr.Row():
                label_upload = gr.File(label="Label-map video (Cityscapes colours)", file_count="single",
                                       file_types=["video", ".gif", ".mkv"], type="filepath", height=110,
                                       elem_id="v2v-label-upload")
                real_upload = gr.File(label="Real street video (the segmenter labels it)", file_count="single",
                                      file_types=["video", ".gif", ".mkv"], type="filepath", height=110,
                                      elem_id="v2v-real-upload")
            gr.Markdown(UPLOAD_NOTE.format(w=w, h=h, n=MAX_FRAMES))
            info = gr.Markdown(describe(None), elem_id="v2v-info")
        with gr.Column(scale=1):
            labels_video = gr.Video(label="Label video in use", autoplay=True, loop=True, interactive=False,
                                    elem_id="v2v-labels-video")
    gr.Markdown("#### Edit the labels")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            editor = gr.ImageEditor(label="Key frame (paint with the palette colours)", type="numpy",
                                    image_mode="RGBA", format="png", sources=(), transforms=(), layers=False,
                                    canvas_size=(w, h),   # (eraser=False would hide the whole toolbar)
                                    brush=gr.Brush(colors=brush_colors(), default_color=hex_color(21),
                                                   color_mode="fixed", default_size=max(2, w // 40)),
                                    buttons=["fullscreen"], elem_id="v2v-editor")
            key_frame = gr.Slider(0, 1, value=0, step=1, label="Key frame", elem_id="v2v-frame")
            with gr.Row():
                apply = gr.Button("Apply painting", variant="primary", elem_id="v2v-apply")
                reset = gr.Button("Reset edits", elem_id="v2v-reset")
            gr.Markdown(EDIT_NOTE)
        with gr.Column(scale=2):
            gr.HTML(legend_html(), label="Classes", elem_id="v2v-legend")
            with gr.Row():
                source = gr.Dropdown([], label="Replace class", elem_id="v2v-from")
                target = gr.Dropdown(class_choices(PAINT_IDS), value=21, label="with", elem_id="v2v-to")
            replace = gr.Button("Replace in all frames", elem_id="v2v-replace")
            edit_info = gr.Markdown("", elem_id="v2v-edit-info")
    with gr.Row(equal_height=False):
        with gr.Column(scale=2):
            style_class = gr.Dropdown([], label="Style of class", interactive=False, elem_id="v2v-style-class")
        with gr.Column(scale=1, min_width=120):
            style_new = gr.Button("New style for this class", interactive=False, elem_id="v2v-style-new")
            style_all = gr.Button("Resample all styles", interactive=False, elem_id="v2v-style-all")
    style_info = gr.Markdown("", elem_id="v2v-styles")
    synth = gr.Button("Synthesize", variant="primary", elem_id="v2v-synth")
    synth_info = gr.Markdown("", elem_id="v2v-synth-info")
    with gr.Row(equal_height=False):
        out_labels = gr.Video(label="Labels", autoplay=True, loop=True, interactive=False, elem_id="v2v-out-labels")
        out_video = gr.Video(label="Generated video", autoplay=True, loop=True, interactive=False,
                             elem_id="v2v-output")
        out_mask = gr.Video(label="Warped or hallucinated (magenta = hallucinated, as is = warped)", autoplay=True,
                            loop=True, interactive=False, elem_id="v2v-mask")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            frame_gallery = gr.Gallery(label="Key frame: labels, output, hallucinated frame, warped vs "
                                             "hallucinated, mask", columns=5, height=180, interactive=False,
                                       elem_id="v2v-keyframe")
        with gr.Column(scale=1):
            download = gr.File(label="Download (MP4)", interactive=False, height=110, elem_id="v2v-file")
    with gr.Accordion("About this model", open=False):
        gr.Markdown(about_markdown())

    group = dict(concurrency_id="vid2vid")
    show_kw = dict(fn=show_video, inputs=video, outputs=[editor, key_frame, info, labels_video, source],
                   show_progress="hidden", **group)
    styles_kw = dict(fn=style_controls, inputs=video, outputs=[style_class, style_new, style_all, style_info],
                     show_progress="hidden", **group)
    edited = [video, editor, edit_info]

    def pick(evt: gr.SelectData):
        return read_example(names[evt.index])

    def loaded(event):   # a new sequence: show it and its styles; a bad upload leaves the one in use and clears
        event.success(**show_kw).success(**styles_kw)

    loaded(gallery.select(pick, None, video, **group))
    for upload, reader in ((label_upload, read_label_video), (real_upload, read_real_video)):
        event = upload.upload(reader, upload, video, **group)
        loaded(event)
        event.failure(lambda: None, None, upload, show_progress="hidden")
    key_frame.input(show_key_frame, [video, key_frame], editor, show_progress="hidden", trigger_mode="always_last",
                    **group)
    apply.click(apply_painting, [video, editor, key_frame], edited, **group).success(
        lambda v: (describe(v), _labels_mp4(v)), video, [info, labels_video], show_progress="hidden", **group)
    replace.click(replace_class, [video, source, target, key_frame], edited, **group).success(
        lambda v: (describe(v), _labels_mp4(v)), video, [info, labels_video], show_progress="hidden", **group) \
        .success(**styles_kw)
    reset.click(reset_edits, [video, key_frame], edited, **group).success(
        lambda v: (describe(v), _labels_mp4(v)), video, [info, labels_video], show_progress="hidden", **group) \
        .success(**styles_kw)
    style_new.click(new_class_style, [video, style_class], [video, style_info], **group)
    style_all.click(resample_styles, video, [video, style_info], **group)
    synth.click(synthesize, [video, key_frame], [out_labels, out_video, out_mask, frame_gallery, download,
                                                 synth_info], concurrency_id="vid2vid_synth", concurrency_limit=1)
    if demo is not None and names:
        loaded(demo.load(lambda: read_example(names[0]), None, video, **group))


if __name__ == "__main__":
    with gr.Blocks(title="vid2vid: label maps to street video") as tab_demo:
        build(tab_demo)
    tab_demo.queue(default_concurrency_limit=1).launch(server_name="127.0.0.1", max_file_size="25mb")
