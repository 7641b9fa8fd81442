"""Cityscapes labels and the vid2vid folder layout: the real labelled street video of vid2vid (Wang et al. 2018).

vid2vid conditions on semantic label maps with the 35 Cityscapes label ids (`--label_nc 35`) plus a boundary map
from instance maps (as pix2pixHD does), and learns from the matching RGB frames. This module holds:

- The official Cityscapes label table (Cordts et al., CVPR 2016; the `labels.py` of cityscapesScripts, written out
  here as data): `CLASSES`, `PALETTE`, `TRAIN_IDS`, `EVAL_IDS`, `FOREGROUND_IDS`. The license plate, id -1 in
  Cityscapes, becomes id 34 so that every id fits 0..34.
- Conversions: `colorize` (ids -> palette colours), `labels_from_colors` (painted colour maps -> ids, what the app
  gets when a user paints), `labels_from_video_colors` (the same, tolerant of video compression).
- The loader of vid2vid's layout, `load_sequences`, and `StreetClipDataset`, which cuts training clips with DIS
  optical flow out of the sequences. `street.py` makes procedural sequences with the same ids and item schema.

The layout (as in the official vid2vid code), frame order = sorted file names:
    root/{split}_A/<seq>/*.png      label ids 0..34, 8-bit single channel
    root/{split}_B/<seq>/*.jpg|png  RGB frames
    root/{split}_inst/<seq>/*.png   instance maps (optional)

Instance maps come in two flavours, both read into one convention (0 = no instance, k > 0 = one object):
- 8-bit, as in the copy beside this repository (`default_cityscapes_root`): 255 = no instance (all stuff, and also
  some thing pixels the instance masks miss), 0..N = object index within the frame. We map 255 -> 0 and k -> k + 1.
  Inspecting those files: values 0..53 occur, almost all objects are cars (id 26) with some bicycles (33); indices
  are NOT tracked (the same car gets another index in the next frame) and the masks come from another model than
  the labels (a few objects lie mostly on building or fence labels, and some car pixels have no instance).
- 16-bit or wider, as Cityscapes' own `*_instanceIds.png`: values < 1000 are a class id (stuff, or a crowd of
  things) -> 0; values >= 1000 (class * 1000 + k) are objects and are kept as they are.
Without an instance folder the instances are all 0 (no object boundaries).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image

from ..flow import dis_flow_video, flow_to_tensor
from ..video import MediaError, frames_to_tensor
from .errors import DatasetLayoutError

# ---------------------------------------------------------------------------------------------------------------
# The label table


@dataclass(frozen=True)
class CityscapesClass:
    id: int                          # 0..34, the value in label maps
    name: str
    train_id: int                    # 0..18 for the 19 evaluated classes, 255 = ignored in evaluation
    color: tuple[int, int, int]      # RGB of the official colour maps
    has_instances: bool              # a "thing" class whose objects are told apart in instance maps


_C = CityscapesClass
CLASSES: tuple[CityscapesClass, ...] = (
    _C(0, "unlabeled", 255, (0, 0, 0), False),
    _C(1, "ego vehicle", 255, (0, 0, 0), False),
    _C(2, "rectification border", 255, (0, 0, 0), False),
    _C(3, "out of roi", 255, (0, 0, 0), False),
    _C(4, "static", 255, (0, 0, 0), False),
    _C(5, "dynamic", 255, (111, 74, 0), False),
    _C(6, "ground", 255, (81, 0, 81), False),
    _C(7, "road", 0, (128, 64, 128), False),
    _C(8, "sidewalk", 1, (244, 35, 232), False),
    _C(9, "parking", 255, (250, 170, 160), False),
    _C(10, "rail track", 255, (230, 150, 140), False),
    _C(11, "building", 2, (70, 70, 70), False),
    _C(12, "wall", 3, (102, 102, 156), False),
    _C(13, "fence", 4, (190, 153, 153), False),
    _C(14, "guard rail", 255, (180, 165, 180), False),
    _C(15, "bridge", 255, (150, 100, 100), False),
    _C(16, "tunnel", 255, (150, 120, 90), False),
    _C(17, "pole", 5, (153, 153, 153), False),
    _C(18, "polegroup", 255, (153, 153, 153), False),
    _C(19, "traffic light", 6, (250, 170, 30), False),
    _C(20, "traffic sign", 7, (220, 220, 0), False),
    _C(21, "vegetation", 8, (107, 142, 35), False),
    _C(22, "terrain", 9, (152, 251, 152), False),
    _C(23, "sky", 10, (70, 130, 180), False),
    _C(24, "person", 11, (220, 20, 60), True),
    _C(25, "rider", 12, (255, 0, 0), True),
    _C(26, "car", 13, (0, 0, 142), True),
    _C(27, "truck", 14, (0, 0, 70), True),
    _C(28, "bus", 15, (0, 60, 100), True),
    _C(29, "caravan", 255, (0, 0, 90), True),
    _C(30, "trailer", 255, (0, 0, 110), True),
    _C(31, "train", 16, (0, 80, 100), True),
    _C(32, "motorcycle", 17, (0, 0, 230), True),
    _C(33, "bicycle", 18, (119, 11, 32), True),
    _C(34, "license plate", 255, (0, 0, 142), True),     # Cityscapes id -1, train id -1
)
del _C

NUM_LABELS = 35
CLASS_NAMES: tuple[str, ...] = tuple(c.name for c in CLASSES)
PALETTE: np.ndarray = np.array([c.color for c in CLASSES], np.uint8)           # (35, 3) RGB
TRAIN_IDS: np.ndarray = np.array([c.train_id for c in CLASSES], np.uint8)      # (35,) id -> train id, 255 ignore
EVAL_IDS: tuple[int, ...] = tuple(sorted((c.id for c in CLASSES if c.train_id != 255),
                                         key=lambda i: CLASSES[i].train_id))   # the 19 scored ids, train-id order
FOREGROUND_IDS: tuple[int, ...] = (24, 25, 26, 27, 28, 31, 32, 33)             # person ... bicycle
HELDOUT_SEQUENCES: tuple[str, ...] = ("seq0004",)                              # kept out of training, for evaluation

PALETTE.flags.writeable = False
TRAIN_IDS.flags.writeable = False


class LabelColorError(MediaError):
    """A colour map with colours that are not (close to) any Cityscapes palette colour."""


# ---------------------------------------------------------------------------------------------------------------
# Conversions


def colorize(labels: np.ndarray) -> np.ndarray:
    """Label ids (..., H, W), any integer dtype, -> uint8 RGB (..., H, W, 3) in the Cityscapes palette."""
    labels = np.asarray(labels)
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"label ids must be integers, got {labels.dtype}")
    if labels.size and (labels.min() < 0 or labels.max() >= NUM_LABELS):
        raise ValueError(f"label ids must be in 0..{NUM_LABELS - 1}, got {labels.min()}..{labels.max()}")
    return PALETTE[labels]


def _pack(rgb: np.ndarray) -> np.ndarray:
    """uint8 (..., 3) -> uint32 (...) as 0xRRGGBB."""
    rgb = rgb.astype(np.uint32)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


@functools.cache
def _exact_colour_lut() -> np.ndarray:
    """uint8 (2^24,): packed colour -> id, 255 where the colour is not in the palette (16 MB, built once).

    Colours shared by several ids map to the smallest of them: black -> 0 (unlabeled; also ego vehicle,
    rectification border, out of roi, static), grey (153, 153, 153) -> 17 (pole, not polegroup), dark blue
    (0, 0, 142) -> 26 (car, not license plate)."""
    lut = np.full(1 << 24, 255, np.uint8)
    for c in reversed(CLASSES):                  # smaller ids written last, so they win
        lut[_pack(np.array(c.color, np.uint8))] = c.id
    return lut


def labels_from_colors(rgb: np.ndarray, max_distance: float = 40.0) -> np.ndarray:
    """A colour map uint8 (..., H, W, 3) painted in the Cityscapes palette -> label ids uint8 (..., H, W).

    Exact palette colours map to their id (shared colours to the smallest id, see `_exact_colour_lut`); any other
    colour (anti-aliased brush strokes, JPEG artefacts) maps to the nearest palette colour within `max_distance`
    (Euclidean, RGB 0..255). Colours farther than that raise LabelColorError naming up to five of them.
    Costs one table look-up per pixel; only the pixels with non-palette colours go through np.unique.
    """
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim < 3 or rgb.shape[-1] != 3:
        raise LabelColorError(f"A colour label map must be uint8 RGB (..., H, W, 3); got {rgb.dtype} {rgb.shape}.")
    packed = _pack(rgb)
    labels = _exact_colour_lut()[packed]
    off = labels == 255
    if not off.any():
        return labels
    colours, inverse, counts = np.unique(packed[off], return_inverse=True, return_counts=True)
    unique_rgb = np.stack([(colours >> 16) & 255, (colours >> 8) & 255, colours & 255], -1).astype(np.float32)
    distance = np.linalg.norm(unique_rgb[:, None, :] - PALETTE[None].astype(np.float32), axis=-1)  # (U, 35)
    nearest = distance.argmin(1)                 # argmin takes the first (smallest) id among equal colours
    far = distance[np.arange(len(colours)), nearest] > max_distance
    if far.any():
        order = np.argsort(-counts[far], kind="stable")[:5]
        listed = ", ".join(f"RGB{tuple(int(v) for v in unique_rgb[far][k])}: {int(counts[far][k])} px"
                           for k in order)
        raise LabelColorError(
            f"The label map has {int(far.sum())} colour(s) that are not Cityscapes label colours (e.g. {listed}). "
            f"Paint with the Cityscapes palette only (road = RGB(128, 64, 128), car = RGB(0, 0, 142), ...); "
            f"colours within {max_distance:g} of a palette colour are accepted.")
    labels[off] = nearest.astype(np.uint8)[inverse.reshape(-1)]
    return labels


# ---------------------------------------------------------------------------------------------------------------
# Colour-coded label videos, after lossy compression

COLOR_TOLERANCE = 40.0             # RGB distance within which an off-palette colour counts as a palette colour
CLEAN_DISTANCE = 30.0              # near a class border, colours farther than this from the palette are blends
EXACT_FRACTION = 0.0005            # a class outside the 19 scored ones counts as painted from this share of pixels
STRAY_FRACTION = 0.002             # off-palette pixels away from class borders tolerated (as nearest class)
BORDER_RADIUS = 1                  # pixels from a class border where compression blur is expected
OFF_PALETTE_FRACTION = 0.25        # beyond this share of off-palette pixels, borders included, it is no label video
                                   #   (a lossy label video at 64x32 has ~7%; a photo ~58%, noise ~76%)


def labels_from_video_colors(rgb: np.ndarray) -> np.ndarray:
    """Colour-coded label frames uint8 (T, H, W, 3) -> ids uint8 (T, H, W), tolerant of video compression.

    Lossy video shifts colours a little everywhere (car blue (0, 0, 142) can come back closer to trailer
    (0, 0, 110)) and blends them along class borders (chroma subsampling). So:
    - exact palette colours map to their class (`cityscapes.labels_from_colors`);
    - other colours map to the nearest palette colour among the 19 scored classes and the classes whose exact
      colour the video shows in at least EXACT_FRACTION of its pixels (a rare class such as trailer only when it
      was really painted);
    - near class borders (BORDER_RADIUS), pixels whose colour is more than CLEAN_DISTANCE from their class's colour
      are blends: they take the class of the nearest clean pixel;
    - colours farther than COLOR_TOLERANCE from every palette colour away from borders (a region painted in an
      unknown colour) are tolerated up to STRAY_FRACTION of the pixels, and beyond raise LabelColorError naming them;
    - a video whose pixels are off the palette almost everywhere is not a label video at all (a photo, noise: every
      noisy pixel is a class border, so none would count as stray): beyond OFF_PALETTE_FRACTION, LabelColorError.
    """
    nearest = labels_from_colors(rgb, max_distance=float("inf"))
    distance = np.linalg.norm(rgb.astype(np.float32) - PALETTE[nearest].astype(np.float32), axis=-1)
    off_palette = float((distance > COLOR_TOLERANCE).mean())
    if off_palette > OFF_PALETTE_FRACTION:
        raise LabelColorError(
            f"This does not look like a label video: {off_palette:.0%} of its pixels are far from every Cityscapes "
            f"label colour (a label video is flat regions in the palette, e.g. road = RGB(128, 64, 128)).")
    kernel = np.ones((2 * BORDER_RADIUS + 1,) * 2, np.uint8)
    border = np.stack([cv2.dilate(f, kernel) != cv2.erode(f, kernel) for f in nearest])
    stray = (distance > COLOR_TOLERANCE) & ~border
    if stray.sum() > STRAY_FRACTION * stray.size:
        labels_from_colors(rgb[stray][None], COLOR_TOLERANCE)   # raises, naming the unknown colours
    exact = distance == 0
    shown = np.bincount(nearest[exact], minlength=NUM_LABELS) >= EXACT_FRACTION * nearest.size
    candidates = np.array(sorted(set(EVAL_IDS) | set(np.flatnonzero(shown).tolist())))
    labels = nearest.copy()
    colours, inverse = np.unique(rgb[~exact].reshape(-1, 3), axis=0, return_inverse=True)
    to_candidates = np.linalg.norm(colours[:, None].astype(np.float32) - PALETTE[candidates][None], axis=-1)
    labels[~exact] = candidates[to_candidates.argmin(1)][inverse.reshape(-1)]
    distance = np.linalg.norm(rgb.astype(np.float32) - PALETTE[labels].astype(np.float32), axis=-1)
    blurred = border & (distance > CLEAN_DISTANCE)
    for t in range(len(labels)):
        clean = ~blurred[t]
        if blurred[t].any() and clean.any():
            # Index (1-based, raster order) of the nearest clean pixel, for every pixel.
            _, index = cv2.distanceTransformWithLabels(blurred[t].astype(np.uint8), cv2.DIST_L2, 3,
                                                       labelType=cv2.DIST_LABEL_PIXEL)
            lookup = np.concatenate([[0], labels[t][clean]]).astype(np.uint8)
            labels[t][blurred[t]] = lookup[index[blurred[t]]]
    return labels


# ---------------------------------------------------------------------------------------------------------------
# Real data: the vid2vid layout


@dataclass
class StreetSequence:
    name: str
    labels: np.ndarray                 # uint8 (T, H, W) ids 0..34
    instances: np.ndarray              # int32 (T, H, W), 0 = no instance
    frames: np.ndarray | None = None   # uint8 (T, H, W, 3) RGB; None for label-only sequences


def default_cityscapes_root() -> Path | None:
    """The real sequences: $VSL_CITYSCAPES if set, else <repo>/../shared/data/cityscapes_vid2vid; None if absent."""
    env = os.environ.get("VSL_CITYSCAPES")
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parents[2].parent / "shared" / "data" / "cityscapes_vid2vid")
    return next((p for p in candidates if p.is_dir()), None)


_IMAGE_EXTS = (".png", ".jpg", ".jpeg")


def _files(folder: Path, exts: tuple[str, ...]) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in exts)


def _imread(path: Path, flags: int) -> np.ndarray:
    image = cv2.imread(str(path), flags)
    if image is None:
        raise DatasetLayoutError(f"{path} could not be read as an image (missing, corrupt or not an image).")
    return image


def _read_labels(path: Path, size: tuple[int, int]) -> np.ndarray:
    """uint8 (H, W) ids, nearest-neighbour resized (ids must not be blended)."""
    ids = _imread(path, cv2.IMREAD_UNCHANGED)
    if ids.ndim != 2:
        raise DatasetLayoutError(f"{path} must be a single-channel image of label ids 0..{NUM_LABELS - 1}; it has "
                                 f"{ids.shape[2]} channels (a colour map? convert it with labels_from_colors).")
    if ids.max() >= NUM_LABELS:
        raise DatasetLayoutError(f"{path} has label id {int(ids.max())}; ids must be 0..{NUM_LABELS - 1} "
                                 f"(vid2vid's --label_nc 35; map 255/-1 'ignore' pixels to 0 first).")
    return cv2.resize(ids.astype(np.uint8), size[::-1], interpolation=cv2.INTER_NEAREST)


def _read_instances(path: Path, size: tuple[int, int]) -> np.ndarray:
    """int32 (H, W), 0 = no instance (the two on-disk conventions are described in the module docstring)."""
    raw = _imread(path, cv2.IMREAD_UNCHANGED)
    if raw.ndim != 2:
        raise DatasetLayoutError(f"{path} must be a single-channel instance map; it has {raw.shape[2]} channels.")
    eight_bit = raw.dtype == np.uint8
    raw = cv2.resize(raw, size[::-1], interpolation=cv2.INTER_NEAREST).astype(np.int32)
    if eight_bit:
        return np.where(raw == 255, 0, raw + 1)
    return np.where(raw < 1000, 0, raw)


# JPEG can be decoded at 1/2, 1/4 or 1/8 scale: libjpeg scales in the DCT domain, several times faster than a full
# decode and already area-averaged (2048x1024 -> 256x128 costs ~4 ms instead of ~25 ms).
_JPEG_REDUCED = ((8, cv2.IMREAD_REDUCED_COLOR_8), (4, cv2.IMREAD_REDUCED_COLOR_4), (2, cv2.IMREAD_REDUCED_COLOR_2))


def _read_frame(path: Path, size: tuple[int, int]) -> np.ndarray:
    """uint8 RGB (H, W, 3) of `size`, area-averaged."""
    flags = cv2.IMREAD_COLOR
    if path.suffix.lower() in (".jpg", ".jpeg"):
        try:
            with Image.open(path) as im:             # reads the header only
                w, h = im.size
        except OSError as exc:
            raise DatasetLayoutError(f"{path} could not be read as an image (corrupt or not an image).") from exc
        flags = next((flag for k, flag in _JPEG_REDUCED if h // k >= size[0] and w // k >= size[1]), flags)
    bgr = _imread(path, flags)
    if bgr.shape[:2] != tuple(size):
        bgr = cv2.resize(bgr, size[::-1], interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _sequence_folders(root: Path, split: str) -> tuple[dict[str, Path], dict[str, Path], dict[str, Path] | None]:
    """Checks the layout; returns {seq: folder} for labels, frames and instances (None without an _inst folder)."""
    if not root.is_dir():
        raise DatasetLayoutError(f"Cityscapes root {root} is not a folder.")
    expected = (f"Expected the vid2vid layout: {root}/{split}_A/<seq>/*.png (label ids), "
                f"{root}/{split}_B/<seq>/*.jpg|png (frames), optionally {root}/{split}_inst/<seq>/*.png.")
    found = ", ".join(sorted(p.name for p in root.iterdir() if p.is_dir())) or "no folders"
    folders = []
    for suffix in ("A", "B", "inst"):
        top = root / f"{split}_{suffix}"
        if not top.is_dir():
            if suffix == "inst":
                folders.append(None)
                continue
            raise DatasetLayoutError(f"Missing folder {top.name} in {root} (found: {found}). {expected}")
        folders.append({p.name: p for p in sorted(top.iterdir()) if p.is_dir()})
    labels, frames, instances = folders
    if not labels:
        raise DatasetLayoutError(f"{root / f'{split}_A'} has no sequence folders. {expected}")
    for other, name in ((frames, f"{split}_B"), (instances, f"{split}_inst")):
        if other is not None and set(other) != set(labels):
            only_a, only_o = sorted(set(labels) - set(other)), sorted(set(other) - set(labels))
            raise DatasetLayoutError(
                f"Sequence folders differ between {split}_A and {name}: only in {split}_A: {only_a or 'none'}; "
                f"only in {name}: {only_o or 'none'}. Every sequence needs labels and frames of the same name.")
    return labels, frames, instances


@functools.lru_cache(maxsize=8)
def _load_split(root: str, size: tuple[int, int], split: str, stamp: tuple) -> tuple[StreetSequence, ...]:
    """Decodes and resizes a whole split (the slow part: ~450 full-resolution files for the bundled data).
    `stamp` (folder modification times) only makes the cache forget folders that changed."""
    labels_dirs, frames_dirs, inst_dirs = _sequence_folders(Path(root), split)
    sequences = []
    for name, a_dir in labels_dirs.items():
        label_files = _files(a_dir, (".png",))
        frame_files = _files(frames_dirs[name], _IMAGE_EXTS)
        inst_files = _files(inst_dirs[name], (".png",)) if inst_dirs is not None else None
        if not label_files:
            raise DatasetLayoutError(f"{a_dir} has no .png label maps.")
        for files, what in ((frame_files, f"{split}_B"), (inst_files, f"{split}_inst")):
            if files is not None and len(files) != len(label_files):
                raise DatasetLayoutError(
                    f"Sequence {name}: {len(label_files)} label maps in {split}_A but {len(files)} files in {what}; "
                    f"every frame needs one label map (and one instance map when {split}_inst exists).")
        labels = np.stack([_read_labels(p, size) for p in label_files])                    # (T, H, W)
        frames = np.stack([_read_frame(p, size) for p in frame_files])                     # (T, H, W, 3)
        if inst_files is None:
            instances = np.zeros(labels.shape, np.int32)
        else:
            instances = np.stack([_read_instances(p, size) for p in inst_files])           # (T, H, W)
        for array in (labels, instances, frames):
            array.flags.writeable = False        # shared by every caller of the cache
        sequences.append(StreetSequence(name, labels, instances, frames))
    return tuple(sequences)


def load_sequences(root: str | Path, size: tuple[int, int] = (128, 256), split: str = "train",
                   include: Sequence[str] | None = None, exclude: Sequence[str] = ()) -> list[StreetSequence]:
    """Read the vid2vid layout (see the module docstring) at size = (H, W): labels and instances resized with
    nearest neighbour, frames with area averaging. `include` keeps only the named sequences, `exclude` drops some
    (e.g. HELDOUT_SEQUENCES). Decoded splits are kept in memory, so a second call is instant; the arrays are
    read-only (copy before editing). Raises DatasetLayoutError for a missing or inconsistent layout."""
    root = Path(root).expanduser().resolve()
    size = (int(size[0]), int(size[1]))
    stamp = tuple((str(p), p.stat().st_mtime_ns) for p in sorted(root.glob(f"{split}_*/*")) if p.is_dir())
    sequences = _load_split(str(root), size, split, stamp)
    names = [s.name for s in sequences]
    unknown = sorted((set(include or ()) | set(exclude)) - set(names))
    if unknown:
        raise DatasetLayoutError(f"Unknown sequence(s) {unknown} in {root}/{split}_A; it has {names}.")
    kept = [s for s in sequences if (include is None or s.name in include) and s.name not in exclude]
    if not kept:
        raise DatasetLayoutError(f"No sequences left in {root} after include={include}, exclude={list(exclude)}.")
    return kept


# ---------------------------------------------------------------------------------------------------------------
# Training clips


def clip_item(labels: np.ndarray, instances: np.ndarray, frames: np.ndarray, with_flow: bool = True) -> dict:
    """The vid2vid training item from uint8 labels (T, H, W), int instances (T, H, W), uint8 frames (T, H, W, 3).

    Returns "labels", "instances" int64 (T, H, W); "frames" float32 (3, T, H, W) in [-1, 1]; with_flow also
    "flows" float32 (2, T-1, H, W): DIS flow in pixels (x, y) such that warp(frame t-1, flows[:, t-1]) ~ frame t,
    the reference flow of vid2vid's flow loss.
    """
    item = {"labels": torch.from_numpy(np.ascontiguousarray(labels, np.int64)),
            "instances": torch.from_numpy(np.ascontiguousarray(instances, np.int64)),
            "frames": frames_to_tensor(np.ascontiguousarray(frames))[0]}
    if with_flow:
        t, h, w = labels.shape
        flows = (flow_to_tensor(dis_flow_video(np.ascontiguousarray(frames))) if t > 1
                 else torch.zeros(0, 2, h, w))                                   # (T-1, 2, H, W)
        item["flows"] = flows.permute(1, 0, 2, 3).contiguous()                   # (2, T-1, H, W)
    return item


class StreetClipDataset(torch.utils.data.Dataset):
    """Clips of `frames` frames cut from StreetSequences (with frames), for vid2vid training.

    Item i is a pure function of (seed, i): a sequence drawn with probability proportional to its length, a
    frame step in 1..max_frame_step (frame-rate augmentation, capped so the window fits), a start, and with
    `flip` a horizontal flip half of the time (the flow is computed after flipping). Schema: see `clip_item`.
    """

    def __init__(self, sequences: list[StreetSequence], frames: int, seed: int = 0, length: int = 100_000,
                 max_frame_step: int = 1, flip: bool = True, with_flow: bool = True):
        if frames < 1 or max_frame_step < 1:
            raise ValueError(f"frames and max_frame_step must be >= 1, got {frames} and {max_frame_step}")
        if any(s.frames is None for s in sequences):
            raise ValueError("StreetClipDataset needs sequences with RGB frames")
        self.sequences = [s for s in sequences if len(s.labels) >= frames]
        if not self.sequences:
            raise ValueError(f"no sequence has at least {frames} frames")
        lengths = np.array([len(s.labels) for s in self.sequences], np.float64)
        self.weights = lengths / lengths.sum()
        self.frames, self.seed, self.length = frames, seed, length
        self.max_frame_step, self.flip, self.with_flow = max_frame_step, flip, with_flow

    def __len__(self) -> int:
        return self.length

    def describe(self) -> dict:
        """What the clips are cut from, for run folders and model cards."""
        return {"type": type(self).__name__, "length": self.length, "clip_frames": self.frames,
                "max_frame_step": self.max_frame_step, "flip": self.flip,
                "reference_flow": "OpenCV DIS" if self.with_flow else None,
                "sequences": [f"{s.name}: {s.labels.shape[0]} frames at {s.labels.shape[2]}x{s.labels.shape[1]}"
                              for s in self.sequences]}

    def __getitem__(self, i: int) -> dict:
        if not 0 <= i < self.length:
            raise IndexError(i)
        rng = np.random.default_rng([self.seed & 0xFFFFFFFF, i, 35])
        seq = self.sequences[int(rng.choice(len(self.sequences), p=self.weights))]
        n, total = self.frames, len(seq.labels)
        max_step = min(self.max_frame_step, (total - 1) // (n - 1)) if n > 1 else 1
        step = int(rng.integers(1, max_step + 1))
        start = int(rng.integers(0, total - step * (n - 1)))
        index = start + step * np.arange(n)
        labels, instances, frames = seq.labels[index], seq.instances[index], seq.frames[index]   # copies
        if self.flip and rng.random() < 0.5:
            labels, instances, frames = labels[..., ::-1], instances[..., ::-1], frames[:, :, ::-1]
        return clip_item(labels, instances, frames, self.with_flow)
