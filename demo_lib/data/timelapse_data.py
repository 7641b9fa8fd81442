"""Training and evaluation data for the time-lapse model (Nam et al., CVPR 2019): two domains, real loaders, helpers.

The paper trains on two kinds of data at once (Sec. 4):
- Domain A, AMOS-like: many static webcams, frames WITH timestamps but of low quality (JPEG, noise, camera shake,
  passers-by, broken frames). The conditional set discriminator learns "what each hour looks like" from it.
- Domain B, TLVDB-like: continuous, clean time-lapse clips WITHOUT timestamps; only the unconditional
  discriminator of G_B sees them.
Neither dataset ships offline, so `AmosLikeDataset` and `ProceduralClipDataset` photograph the procedural world of
`outdoor.py`; `AmosFolderDataset` and `ClipFolderDataset` read the real layouts for users who have the data, and the
40 real sky time-lapse clips beside the repository (`default_sky_timelapse_root`) join domain B when present.

Tensors are float32 in [-1, 1]: images (3, H, W), frame sets (3, N, H, W). Every item is a pure function of
(seed, index), so runs are reproducible with any number of DataLoader workers.
"""

from __future__ import annotations

import functools
import io
import os
import re
from collections import OrderedDict
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image

from ..video import MediaError, frames_to_tensor, image_to_tensor, read_image, read_video, resize_image
from .errors import DatasetLayoutError
from .outdoor import OutdoorScene, Weather, sample_layout, scene_seeds

VIDEO_EXTS = (".mp4", ".avi", ".mov", ".webm")
IMAGE_EXTS = (".jpg", ".jpeg", ".png")
# AMOS file names: <YYYYMMDD>_<HHMMSS>[anything].jpg
_AMOS_NAME = re.compile(r"^(\d{4})(\d{2})(\d{2})_(\d{2})(\d{2})(\d{2})(?!\d)")


def _rng(*key: int) -> np.random.Generator:
    """A generator that depends only on `key` (non-negative ints), e.g. (seed, index, purpose)."""
    return np.random.default_rng([int(k) & 0xFFFFFFFF for k in key])


def _square(image: np.ndarray, size: int) -> np.ndarray:
    """Centre-crop uint8 (H, W, 3) to a square, then resize to (size, size)."""
    h, w = image.shape[:2]
    s = min(h, w)
    y, x = (h - s) // 2, (w - s) // 2
    return resize_image(np.ascontiguousarray(image[y:y + s, x:x + s]), (size, size))


@functools.lru_cache(maxsize=512)
def _scene(seed: int, size: int) -> OutdoorScene:
    """Building a scene costs ~10x a render, so cameras are kept (about 0.3 MB each at 64 px)."""
    return OutdoorScene(seed, (size, size))


def _as_item_tensors(source: np.ndarray, source_hour: float, times: np.ndarray, frames: np.ndarray) -> dict:
    return {"source": image_to_tensor(source)[0], "source_hour": torch.tensor(float(source_hour)),
            "times": torch.from_numpy(np.asarray(times, np.float32)), "target": frames_to_tensor(frames)[0]}


# ---------------------------------------------------------------------------------------------------------------
# Domain A: procedural webcams


def webcam_defects(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """What an AMOS webcam does to a clean uint8 (H, W, 3) frame: sometimes a passer-by (a dark blob), camera
    jitter up to ~3% of the size (edge-replicated), sensor noise, JPEG at quality 30-90, and ~3% broken frames
    (black, a colour channel dropped, or a band of garbage rows)."""
    h, w = frame.shape[:2]
    img = frame.copy()
    if rng.random() < 0.3:                                           # a car or person somewhere on the ground
        cx, cy = int(rng.uniform(0.05, 0.95) * w), int(rng.uniform(0.6, 0.95) * h)
        ax, ay = max(1, int(rng.uniform(0.02, 0.05) * w)), max(1, int(rng.uniform(0.015, 0.04) * h))
        colour = tuple(int(c) for c in rng.integers(10, 70, 3))
        cv2.ellipse(img, (cx, cy), (ax, ay), 0.0, 0.0, 360.0, colour, -1, cv2.LINE_AA)
    s = max(1, round(0.03 * min(h, w)))
    dy, dx = (int(d) for d in rng.integers(-s, s + 1, 2))
    img = np.pad(img, ((s, s), (s, s), (0, 0)), mode="edge")[s + dy:s + dy + h, s + dx:s + dx + w]
    noisy = img.astype(np.float32) + rng.normal(0.0, rng.uniform(1.0, 6.0), img.shape).astype(np.float32)
    buf = io.BytesIO()
    Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(buf, format="JPEG",
                                                                 quality=int(rng.integers(30, 91)))
    img = np.asarray(Image.open(buf).convert("RGB")).copy()
    if rng.random() < 0.03:
        kind = int(rng.integers(3))
        if kind == 0:
            img[:] = 0
        elif kind == 1:
            img[..., int(rng.integers(3))] = 0
        else:
            y0, bh = int(rng.integers(0, h)), max(1, int(rng.uniform(0.05, 0.25) * h))
            img[y0:y0 + bh] = rng.integers(0, 256, img[y0:y0 + bh].shape, dtype=np.uint8)
    return img


class _ProceduralScenes(torch.utils.data.Dataset):
    """Items 0 .. length-1, each a pure function of (seed, index): a random one of `scenes`, rendered at `size`."""

    scenes: list[int]
    size: int
    seed: int
    length: int

    def __len__(self) -> int:
        return self.length

    def _scene_and_rng(self, i: int, stream: int) -> tuple[OutdoorScene, np.random.Generator]:
        if not 0 <= i < self.length:
            raise IndexError(i)
        rng = _rng(self.seed, i, stream)
        return _scene(self.scenes[int(rng.integers(len(self.scenes)))], self.size), rng


class AmosLikeDataset(_ProceduralScenes):
    """Domain A: many static webcams (one OutdoorScene per camera, seeds from scene_seeds(split, num_cameras)),
    random times WITH timestamps, webcam defects.

    Item: "source" (3, H, W) a clean render of camera c at a random hour h0 and weather w0 (the generator's input),
    "source_hour" (), "times" (N,) uniform hours in [0, 24), "target" (3, N, H, W) webcam frames of the same camera at
    those hours, the weather drifting a little from w0 (new cloud positions), with `webcam_defects` if `defects`.
    """

    def __init__(self, num_cameras: int = 2000, size: int = 64, frames: int = 4, seed: int = 0,
                 split: str = "train", length: int = 1_000_000, defects: bool = True):
        self.scenes = scene_seeds(split, num_cameras)                      # one static camera each
        if not self.scenes:
            raise ValueError("num_cameras must be at least 1")
        self.size, self.frames, self.seed, self.length, self.defects = size, frames, seed, length, defects

    def __getitem__(self, i: int) -> dict:
        scene, rng = self._scene_and_rng(i, 1)
        h0, w0 = float(rng.uniform(0, 24)), Weather.random(rng)
        # The set comes from another day than the photo: its own weather, drifting a little from frame to frame.
        # So the photo does not tell the generator the set's weather; only z can (the paper's reason for z).
        day = Weather.random(rng)
        times = rng.uniform(0, 24, self.frames)
        frames = []
        for t in times:
            w = Weather(cloud_cover=float(np.clip(day.cloud_cover + rng.normal(0, 0.08), 0, 1)),
                        haze=float(np.clip(day.haze + rng.normal(0, 0.04), 0, 1)), cloud_phase=float(rng.uniform()))
            frame = scene.render(t, w)
            frames.append(webcam_defects(frame, rng) if self.defects else frame)
        return _as_item_tensors(scene.render(h0, w0), h0, times, np.stack(frames))


# ---------------------------------------------------------------------------------------------------------------
# Domain B: procedural time-lapse clips


class ProceduralClipDataset(_ProceduralScenes):
    """Domain B (TLVDB-like): continuous high-quality time-lapse clips WITHOUT timestamps: OutdoorScene.render_clip
    over a random contiguous span of hours (random start, 0.5-2 h between frames), clouds drifting, no defects."""

    def __init__(self, num_scenes: int = 500, size: int = 64, frames: int = 4, seed: int = 0, split: str = "train",
                 length: int = 1_000_000):
        self.scenes = scene_seeds(split, num_scenes)
        if not self.scenes:
            raise ValueError("num_scenes must be at least 1")
        self.size, self.frames, self.seed, self.length = size, frames, seed, length

    def __getitem__(self, i: int) -> dict:
        scene, rng = self._scene_and_rng(i, 2)
        hours = rng.uniform(0, 24) + rng.uniform(0.5, 2.0) * np.arange(self.frames)   # unwrapped: render takes % 24
        clip = scene.render_clip(hours, Weather.random(rng), cloud_speed=float(rng.uniform(0.01, 0.05)))
        return {"clip": frames_to_tensor(clip)[0]}


# ---------------------------------------------------------------------------------------------------------------
# Real data: time-lapse clips (TLVDB, sky time-lapse) and AMOS webcam archives

# Decoded, resized videos, shared by every dataset in the process; oldest dropped beyond the byte budget.
_VIDEO_CACHE: OrderedDict[tuple[str, int], np.ndarray] = OrderedDict()
_VIDEO_CACHE_BYTES = 1 << 30


def _load_video(path: Path, size: int) -> np.ndarray:
    key = (str(path), size)
    if key in _VIDEO_CACHE:
        _VIDEO_CACHE.move_to_end(key)
        return _VIDEO_CACHE[key]
    frames, _ = read_video(path)
    clip = np.stack([_square(f, size) for f in frames])
    _VIDEO_CACHE[key] = clip
    while sum(v.nbytes for v in _VIDEO_CACHE.values()) > _VIDEO_CACHE_BYTES and len(_VIDEO_CACHE) > 1:
        _VIDEO_CACHE.popitem(last=False)
    return clip


@functools.lru_cache(maxsize=8192)
def _load_image(path: str, size: int) -> np.ndarray:
    return _square(read_image(path), size)


def _window(rng: np.random.Generator, length: int, n: int) -> np.ndarray:
    """n evenly strided indices at a random stride and start inside [0, length); repeats frames if length < n."""
    if length < n:
        return np.round(np.linspace(0, length - 1, n)).astype(int)
    max_stride = (length - 1) // (n - 1) if n > 1 else 1
    stride = int(rng.integers(1, max_stride + 1))
    start = int(rng.integers(0, length - stride * (n - 1)))
    return start + stride * np.arange(n)


class ClipFolderDataset(torch.utils.data.Dataset):
    """Real TLVDB-style clips: root/*.mp4|*.avi|*.mov|*.webm, or root/<clip>/*.jpg|*.png frame folders.

    Each item is N frames (an evenly strided random window), centre-cropped to a square and resized:
    {"clip": (3, N, size, size)}. Videos are decoded once and kept in memory; frame folders are read per item.
    """

    def __init__(self, root: str | Path, size: int = 64, frames: int = 4, seed: int = 0, length: int | None = None):
        self.root = Path(root)
        self.size, self.frames, self.seed = size, frames, seed
        self.clips: list[Path | list[Path]] = []      # a video file, or the sorted frames of a folder
        if self.root.is_dir():
            for p in sorted(self.root.iterdir()):
                if p.is_file() and p.suffix.lower() in VIDEO_EXTS:
                    self.clips.append(p)
                elif p.is_dir():
                    images = sorted(q for q in p.iterdir() if q.suffix.lower() in IMAGE_EXTS)
                    if len(images) >= frames:
                        self.clips.append(images)
        if not self.clips:
            raise DatasetLayoutError(
                f"No time-lapse clips found in {self.root}. Expected video files root/*.mp4 (or .avi, .mov, .webm), "
                f"or one folder of frames per clip, root/<clip>/*.jpg|*.png with at least {frames} frames each.")
        self.length = len(self.clips) if length is None else int(length)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> dict:
        if not 0 <= i < self.length:
            raise IndexError(i)
        clip = self.clips[i % len(self.clips)]
        rng = _rng(self.seed, i, 3)
        if isinstance(clip, Path):
            video = _load_video(clip, self.size)
            frames = video[_window(rng, len(video), self.frames)]
        else:
            frames = np.stack([_load_image(str(clip[k]), self.size) for k in _window(rng, len(clip), self.frames)])
        return {"clip": frames_to_tensor(frames)[0]}


def parse_amos_hour(name: str) -> float | None:
    """Hour of day from an AMOS file name like 20130612_143000.jpg or 20130612_143000_cam.jpg; None if no match."""
    m = _AMOS_NAME.match(name)
    if m is None:
        return None
    _, month, day, hh, mm, ss = (int(g) for g in m.groups())
    if not (1 <= month <= 12 and 1 <= day <= 31 and hh < 24 and mm < 60 and ss < 60):
        return None
    return hh + mm / 60 + ss / 3600


class AmosFolderDataset(torch.utils.data.Dataset):
    """Real AMOS-style webcam archive: root/<camera_id>/<YYYYMMDD_HHMMSS>.jpg (or .png; names may go on after the
    time, e.g. 20130612_143000_something.jpg). Hour = HH + MM/60 + SS/3600.

    Same item schema as AmosLikeDataset: "source" one image of a camera, "target" N other images of it and "times"
    their hours. Unreadable images (real archives have some) are replaced by another image of the same camera.
    """

    def __init__(self, root: str | Path, size: int = 64, frames: int = 4, seed: int = 0, length: int | None = None):
        self.root = Path(root)
        self.size, self.frames, self.seed = size, frames, seed
        self.cameras: list[tuple[list[Path], np.ndarray]] = []    # (image paths, their hours) per camera
        folders, unparsed = 0, []
        if self.root.is_dir():
            for cam in sorted(p for p in self.root.iterdir() if p.is_dir()):
                folders += 1
                paths, hours = [], []
                for p in sorted(cam.iterdir()):
                    hour = parse_amos_hour(p.name) if p.suffix.lower() in IMAGE_EXTS else None
                    if hour is None:
                        unparsed.append(p.name)
                        continue
                    paths.append(p)
                    hours.append(hour)
                if len(paths) >= frames + 1:
                    self.cameras.append((paths, np.asarray(hours, np.float32)))
        if not self.cameras:
            found = f"{folders} camera folder(s) found, none with {frames + 1} or more parseable images"
            if unparsed:
                found += f"; {len(unparsed)} file(s) with unparseable names, e.g. {unparsed[0]!r}"
            raise DatasetLayoutError(
                f"No usable webcam data in {self.root}. Expected root/<camera_id>/<YYYYMMDD_HHMMSS>.jpg (or .png; "
                f"e.g. cam01/20130612_143000.jpg) with at least {frames + 1} images per camera. {found}.")
        self.length = sum(len(p) for p, _ in self.cameras) if length is None else int(length)

    def __len__(self) -> int:
        return self.length

    def _read(self, path: Path) -> np.ndarray | None:
        try:
            return _load_image(str(path), self.size)
        except MediaError:
            return None

    def __getitem__(self, i: int) -> dict:
        if not 0 <= i < self.length:
            raise IndexError(i)
        rng = _rng(self.seed, i, 4)
        paths, hours = self.cameras[int(rng.integers(len(self.cameras)))]
        picked, images = [], []
        for k in rng.permutation(len(paths)):                    # first readable frames+1 images, in random order
            image = self._read(paths[k])
            if image is not None:
                picked.append(int(k))
                images.append(image)
                if len(images) == self.frames + 1:
                    break
        if len(images) < self.frames + 1:
            raise MediaError(f"Camera folder {paths[0].parent.name} has fewer than {self.frames + 1} readable images.")
        return _as_item_tensors(images[0], hours[picked[0]], hours[picked[1:]], np.stack(images[1:]))


# ---------------------------------------------------------------------------------------------------------------
# Both domains together


class TwoDomainDataset(torch.utils.data.Dataset):
    """Zips a domain-A dataset with domain-B datasets: item i = domain-A item i plus a "clip" from one B dataset, the
    dataset and its index drawn from (seed, i), datasets weighted by `b_weights` (default equal).
    Keys: source, source_hour, times, target, clip."""

    def __init__(self, domain_a: torch.utils.data.Dataset, domain_b: list, seed: int = 0, length: int | None = None,
                 b_weights: list[float] | None = None):
        if not domain_b:
            raise ValueError("domain_b needs at least one dataset")
        weights = np.ones(len(domain_b)) if b_weights is None else np.asarray(b_weights, np.float64)
        if len(weights) != len(domain_b) or (weights < 0).any() or weights.sum() <= 0:
            raise ValueError(f"b_weights must be {len(domain_b)} non-negative numbers with a positive sum")
        self.domain_a, self.domain_b, self.seed = domain_a, list(domain_b), seed
        self.b_weights = weights / weights.sum()
        self.length = len(domain_a) if length is None else int(length)

    def __len__(self) -> int:
        return self.length

    def describe(self) -> dict:
        """What this set is made of, for run folders and model cards."""
        def one(d) -> dict:
            info = {"type": type(d).__name__, "items": len(d)}
            for attr in ("root", "cameras", "scenes"):
                value = getattr(d, attr, None)
                if value is not None:
                    info[attr] = len(value) if isinstance(value, list) else Path(value).name
            return info

        return {"domain_a": one(self.domain_a),
                "domain_b": [dict(one(d), weight=round(float(w), 3)) for d, w in zip(self.domain_b, self.b_weights)]}

    def __getitem__(self, i: int) -> dict:
        if not 0 <= i < self.length:
            raise IndexError(i)
        item = dict(self.domain_a[i % len(self.domain_a)])
        rng = _rng(self.seed, i, 5)
        b = self.domain_b[int(rng.choice(len(self.domain_b), p=self.b_weights))]
        item["clip"] = b[int(rng.integers(len(b)))]["clip"]
        return item


def default_sky_timelapse_root() -> Path | None:
    """The 40 real sky time-lapse clips: $VSL_SKY_TIMELAPSE if set, else <repo>/../shared/data/sky_timelapse."""
    env = os.environ.get("VSL_SKY_TIMELAPSE")
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parents[2].parent / "shared" / "data" / "sky_timelapse")
    return next((p for p in candidates if p.is_dir()), None)


def build_training_data(size: int, frames: int, seed: int, data_root: str = "", num_cameras: int = 400,
                        num_clip_scenes: int = 100, sky_weight: float = 0.25) -> TwoDomainDataset:
    """The training set.

    Domain A: data_root/amos (real webcams) if present, else `num_cameras` procedural webcams. Domain B: procedural
    clips of `num_clip_scenes` scenes, the real sky clips (when present) with weight `sky_weight`, and
    data_root/tlvdb (weighted as much as the others together). The sky clips show sky only, unlike the photos the
    generator is given, so they get a minority weight: enough for D_B to learn real cloud texture, not so much that
    it can tell generated frames apart by content alone. The defaults keep every scene in the renderer's cache.
    """
    root = Path(data_root) if data_root else None
    if root is not None and not ((root / "amos").is_dir() or (root / "tlvdb").is_dir()):
        raise DatasetLayoutError(
            f"data_root={data_root!r} has neither an 'amos' nor a 'tlvdb' folder. Expected "
            f"{data_root}/amos/<camera_id>/<YYYYMMDD_HHMMSS>.jpg (timestamped webcam images) and/or "
            f"{data_root}/tlvdb/ (time-lapse videos *.mp4, or one folder of frames per clip). "
            f"Leave data_root empty to train on procedural data only.")
    if root is not None and (root / "amos").is_dir():
        domain_a: torch.utils.data.Dataset = AmosFolderDataset(root / "amos", size, frames, seed)
    else:
        domain_a = AmosLikeDataset(num_cameras, size, frames, seed)
    domain_b: list = [ProceduralClipDataset(num_clip_scenes, size=size, frames=frames, seed=seed)]
    weights = [1.0 - sky_weight]
    sky = default_sky_timelapse_root()
    if sky is not None and sky_weight > 0:
        domain_b.append(ClipFolderDataset(sky, size, frames, seed))
        weights.append(sky_weight)
    if root is not None and (root / "tlvdb").is_dir():
        domain_b.append(ClipFolderDataset(root / "tlvdb", size, frames, seed))
        weights.append(sum(weights))
    return TwoDomainDataset(domain_a, domain_b, seed=seed, b_weights=weights)


# ---------------------------------------------------------------------------------------------------------------
# Evaluation and the app


def reference_weathers() -> list[Weather]:
    """The 9 weathers (cloud cover x haze) of the ground-truth renders that the timestamp error dates frames by."""
    return [Weather(cloud_cover=c, haze=h) for c in (0.05, 0.5, 0.95) for h in (0.05, 0.3, 0.6)]


def heldout_scenes(n: int, size: tuple[int, int], first: int = 0) -> list[OutdoorScene]:
    """Scenes never used for training, held-out scenes first .. first + n - 1: the timestamp-error benchmark uses
    0 .. n - 1; choosing between checkpoints uses another range (bench.timelapse --compare) so that the benchmark's
    scenes never pick the model they then score."""
    return [OutdoorScene(s, size) for s in scene_seeds("heldout", first + n)[first:]]


# name -> (what the scene must contain, hour)
_EXAMPLES = {
    "procedural lake at noon": (lambda f: f["water"] == "lake" and not f["town"], 12.0),
    "procedural town at 9:00": (lambda f: f["town"] and f["water"] is None, 9.0),
    "procedural mountains at 16:30": (lambda f: f["mountains"] and f["hills"] >= 2 and not f["town"], 16.5),
    "procedural coast at 17:30": (lambda f: f["water"] == "sea", 17.5),
}


def example_images(size: tuple[int, int] = (384, 512)) -> dict[str, np.ndarray]:
    """A few named procedural photos (uint8 (H, W, 3)) for the app's examples, from scene_seeds("example", ...)."""
    seeds = scene_seeds("example", 200)
    out = {}
    for name, (wanted, hour) in _EXAMPLES.items():
        seed = next(s for s in seeds if wanted(sample_layout(s).features))
        out[name] = OutdoorScene(seed, size).render(hour, Weather(cloud_cover=0.3, haze=0.1))
    return out
