"""Two unpaired domains for photo -> painting translation (single-frame unsupervised video translation, MUNIT).

Domain A (photos) are real photographs; domain B (paintings) are the painterly renders of `paint`, this project's
own renderer, applied to a DISJOINT set of photographs, so no painting in B depicts a photo of A (the domains stay
unpaired, as MUNIT assumes). Everything works offline from installed packages; the real videos beside the
repository join when present. The split, by source (never by crop, so no content crosses it):

    source                                   domain A (photos)          domain B (paintings)       held out
    photos inside packages (always)          skimage astronaut,         skimage chelsea, rocket;   matplotlib
                                             coffee, motorcycle_left;   sklearn flower.jpg         grace_hopper.jpg
                                             sklearn china.jpg
    ../shared/data/sky_timelapse/*.mp4       even clips of the first    odd clips of the first     the last 10%
                                             90% (sorted names)         90%
    ../shared/data/cityscapes_vid2vid        seq0000, seq0002, ...      seq0001, seq0003, ...      seq0004 (vid2vid's
        /train_B/<seq>/*.jpg                 (alternating, sorted)                                 held-out sequence)

Held-out sources feed only the evaluation (`heldout_videos`, `heldout_paintings`); the renderer's seeds for
held-out paintings (`HELDOUT_SEED` on) never occur in training.

The renderer (`paint`): colour grading and a palette pulled toward a few k-means colours, then brush strokes
coarse to fine (Hertzmann, SIGGRAPH 1998: strokes of several sizes, finer ones only where the canvas is still far
from the picture) that follow the image structure (the structure tensor's orientation: strokes run along edges,
Kass & Witkin 1987), an impasto relief from the strokes' paint thickness, and a canvas weave. `method` swaps the
strokes for OpenCV's non-photorealistic filters (`cv2.stylization`, `cv2.edgePreservingFilter`). A render is a pure
function of (image, seed, method).

`UnpairedFolderDataset` reads real unpaired datasets in the CycleGAN/MUNIT layout (root/trainA, root/trainB).
Items are {"a": (3, S, S), "b": (3, S, S)} float32 in [-1, 1], each a pure function of (seed, index).
"""

from __future__ import annotations

import dataclasses
import functools
import zlib
from pathlib import Path

import cv2
import numpy as np
import torch

from ..video import as_rgb_uint8, image_to_tensor, package_file, read_image, read_video, resize_image
from .cityscapes import HELDOUT_SEQUENCES, default_cityscapes_root
from .errors import DatasetLayoutError
from .timelapse_data import IMAGE_EXTS, VIDEO_EXTS, default_sky_timelapse_root

# name -> (package, file inside it): real photographs that ship with installed packages (found without importing
# them). skimage: public-domain / CC0 images of its gallery; sklearn: CC-BY images; matplotlib: US Navy photo.
PACKAGE_PHOTOS = {
    "astronaut": ("skimage", "data/astronaut.png"),
    "coffee": ("skimage", "data/coffee.png"),
    "motorcycle_left": ("skimage", "data/motorcycle_left.png"),
    "china": ("sklearn", "datasets/images/china.jpg"),
    "chelsea": ("skimage", "data/chelsea.png"),
    "rocket": ("skimage", "data/rocket.jpg"),
    "flower": ("sklearn", "datasets/images/flower.jpg"),
    "grace_hopper": ("matplotlib", "mpl-data/sample_data/grace_hopper.jpg"),
}
PACKAGE_SPLIT = {
    "photo": ("astronaut", "coffee", "motorcycle_left", "china"),
    "painting": ("chelsea", "rocket", "flower"),
    "heldout": ("grace_hopper",),
}
DOMAINS = ("photo", "painting")
HELDOUT_SEED = 1_000_000           # renderer seeds from here on are for evaluation paintings only
SKY_FRAME_STEP, STREET_FRAME_STEP = 4, 3   # training keeps every n-th frame of a video (neighbours are near copies)
PAINT_METHODS = ("strokes", "stylization", "edge_preserving")


def _rng(*key: int) -> np.random.Generator:
    """A generator that depends only on `key` (ints), e.g. (seed, index, purpose)."""
    return np.random.default_rng([int(k) & 0xFFFFFFFF for k in key])


def _name_key(name: str) -> int:
    """A stable integer for a name (Python's hash() changes between processes)."""
    return zlib.crc32(name.encode())


# ---------------------------------------------------------------------------------------------------------------
# The painterly renderer


@dataclasses.dataclass(frozen=True)
class PaintLook:
    """The random choices of one painting: its palette, brushes and canvas. `draw(rng)` samples one."""

    hue_shift: float          # degrees
    saturation: float         # gain
    warmth: float             # + warmer (red up, blue down), - cooler
    colours: int              # palette size (k-means)
    palette_strength: float   # 0 = original colours, 1 = fully quantised
    brush_scale: float        # brush radii (8, 4, 2 px at 256 px) times this
    max_steps: int            # stroke length in brush radii
    colour_jitter: float      # per-stroke colour noise (fraction)
    relief: float             # impasto shading strength
    canvas: float             # canvas weave strength

    @staticmethod
    def draw(rng: np.random.Generator) -> PaintLook:
        return PaintLook(hue_shift=float(rng.uniform(-15, 15)), saturation=float(rng.uniform(1.1, 1.6)),
                         warmth=float(rng.uniform(-0.08, 0.12)), colours=int(rng.integers(8, 17)),
                         palette_strength=float(rng.uniform(0.3, 0.7)), brush_scale=float(rng.uniform(0.8, 1.3)),
                         max_steps=int(rng.integers(3, 7)), colour_jitter=float(rng.uniform(0.02, 0.06)),
                         relief=float(rng.uniform(0.15, 0.35)), canvas=float(rng.uniform(0.03, 0.08)))


def _grade(image: np.ndarray, look: PaintLook) -> np.ndarray:
    """uint8 RGB -> float32 RGB in [0, 1]: hue shift, saturation gain, warm/cool tint."""
    hsv = cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2HSV)    # H in degrees, S and V in [0, 1]
    hsv[..., 0] = (hsv[..., 0] + look.hue_shift) % 360.0
    hsv[..., 1] = np.clip(hsv[..., 1] * look.saturation, 0.0, 1.0)
    rgb = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB) * np.array([1 + look.warmth, 1.0, 1 - look.warmth], np.float32)
    return np.clip(rgb, 0.0, 1.0)


def _pull_to_palette(rgb: np.ndarray, look: PaintLook, rng: np.random.Generator, iters: int = 8) -> np.ndarray:
    """Blend float RGB (H, W, 3) toward its nearest of `look.colours` k-means colours (Lloyd on 4096 pixels)."""
    pixels = rgb.reshape(-1, 3)
    sample = pixels[rng.choice(len(pixels), min(4096, len(pixels)), replace=False)]
    centres = sample[rng.choice(len(sample), min(look.colours, len(sample)), replace=False)].copy()
    for _ in range(iters):
        nearest = ((sample[:, None] - centres[None]) ** 2).sum(-1).argmin(1)
        for k in range(len(centres)):
            members = sample[nearest == k]
            if len(members):
                centres[k] = members.mean(0)
    nearest = ((pixels[:, None] - centres[None]) ** 2).sum(-1).argmin(1)
    out = (1 - look.palette_strength) * pixels + look.palette_strength * centres[nearest]
    return out.reshape(rgb.shape).astype(np.float32)


def stroke_orientation(gray: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Angle (radians, (H, W)) along which strokes run: along edges, i.e. perpendicular to the dominant gradient of
    the structure tensor J = G_sigma * (grad I grad I^T). Where the structure is weak (low coherence) the angle is
    blended, in the double-angle representation of orientations, toward one random angle for the whole picture."""
    g = cv2.GaussianBlur(gray, (0, 0), 1.0)
    gx, gy = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3)
    jxx, jxy, jyy = (cv2.GaussianBlur(v, (0, 0), sigma) for v in (gx * gx, gx * gy, gy * gy))
    spread = np.sqrt((jxx - jyy) ** 2 + 4 * jxy**2)
    coherence = spread / (jxx + jyy + 1e-6)                      # 1 = one clear direction, 0 = flat or isotropic
    gradient_2 = np.arctan2(2 * jxy, jxx - jyy)                  # twice the dominant gradient angle
    default_2 = 2 * rng.uniform(0, np.pi)
    c, s = np.cos(gradient_2 + np.pi), np.sin(gradient_2 + np.pi)   # +pi in double angle = +90 degrees: along edges
    c = coherence * c + (1 - coherence) * np.cos(default_2)
    s = coherence * s + (1 - coherence) * np.sin(default_2)
    return 0.5 * np.arctan2(s, c)


def _trace(starts: np.ndarray, angle: np.ndarray, steps: np.ndarray, step: float,
           rng: np.random.Generator) -> np.ndarray:
    """Curved strokes: from each start (N, 2) (x, y), follow the orientation field for steps[n] moves of `step`
    pixels (never turning back). Returns (N, max_steps + 1, 2) points; strokes that stopped repeat their end."""
    h, w = angle.shape
    pos = starts.astype(np.float32)
    heading = np.where(rng.random(len(pos)) < 0.5, 1.0, -1.0).astype(np.float32)[:, None]
    prev = None
    points = [pos.copy()]
    for k in range(int(steps.max(initial=0))):
        a = angle[pos[:, 1].astype(int).clip(0, h - 1), pos[:, 0].astype(int).clip(0, w - 1)]
        d = np.stack([np.cos(a), np.sin(a)], 1) * heading
        if prev is not None:                                          # an orientation has two directions: keep going
            d = np.where(((d * prev).sum(1) < 0)[:, None], -d, d)
        moving = (k < steps)[:, None]
        pos = np.where(moving, np.clip(pos + step * d, 0, [w - 1, h - 1]), pos).astype(np.float32)
        prev = d
        points.append(pos.copy())
    return np.stack(points, 1)


def _brush_strokes(base: np.ndarray, look: PaintLook, rng: np.random.Generator,
                   threshold: float = 0.05) -> np.ndarray:
    """Paint float RGB base (H, W, 3) in [0, 1] with strokes, coarse to fine; returns float RGB in [0, 1]."""
    h, w = base.shape[:2]
    scale = min(h, w) / 256 * look.brush_scale
    radii = sorted({max(1, round(r * scale)) for r in (8, 4, 2)}, reverse=True)
    angle = stroke_orientation(cv2.cvtColor(base, cv2.COLOR_RGB2GRAY), max(2.0, 3 * scale), rng)
    canvas = cv2.GaussianBlur(base, (0, 0), 1.5 * radii[0])            # the underpainting
    thickness = np.zeros((h, w), np.float32)                            # paint height, for the relief
    for layer, r in enumerate(radii):
        reference = cv2.GaussianBlur(base, (0, 0), 0.5 * r)
        ys, xs = np.mgrid[r // 2:h:r, r // 2:w:r]
        starts = np.stack([xs.ravel(), ys.ravel()], 1) + rng.uniform(-r / 2, r / 2, (xs.size, 2))
        starts = np.clip(starts, 0, [w - 1, h - 1])
        sx, sy = starts[:, 0].astype(int), starts[:, 1].astype(int)
        if layer:  # finer brushes only where the canvas is still far from this layer's reference (Hertzmann)
            error = cv2.blur(np.abs(canvas - reference).mean(2), (r, r))
            keep = error[sy, sx] > threshold
            starts, sx, sy = starts[keep], sx[keep], sy[keep]
        steps = rng.integers(1, look.max_steps + 1, len(starts))
        strokes = np.round(_trace(starts, angle, steps, float(r), rng) * 16).astype(np.int32)   # 4 bits sub-pixel
        colours = reference[sy, sx] * (1 + rng.normal(0, look.colour_jitter, (len(starts), 3)))
        heights = rng.uniform(0.5, 1.0, len(starts))
        for n in rng.permutation(len(starts)):
            pts = strokes[n, : steps[n] + 1]
            cv2.polylines(canvas, [pts], False, colours[n].tolist(), 2 * r, cv2.LINE_AA, 4)
            cv2.polylines(thickness, [pts], False, float(heights[n]), max(1, 2 * r - 1), cv2.LINE_AA, 4)
    # Impasto: light from the top left on the paint's height field.
    gx = cv2.Sobel(thickness, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(thickness, cv2.CV_32F, 0, 1, ksize=3)
    shade = 1 + look.relief * np.clip(-(gx + gy) / 8, -1, 1)
    return np.clip(canvas * shade[..., None], 0, 1)


def _canvas_weave(rgb: np.ndarray, look: PaintLook, rng: np.random.Generator) -> np.ndarray:
    """Multiply float RGB by a woven-canvas texture (crossing threads plus fine grain)."""
    h, w = rgb.shape[:2]
    period = rng.uniform(3.0, 4.5)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    weave = np.sin(2 * np.pi * x / period) * np.sin(2 * np.pi * y / period)
    grain = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), 0.7)
    texture = 0.6 * weave + 0.4 * grain / max(float(grain.std()), 1e-6)
    return np.clip(rgb * (1 + look.canvas * texture)[..., None], 0, 1)


def paint(image: np.ndarray, seed: int = 0, method: str = "strokes") -> np.ndarray:
    """A painting of uint8 RGB (H, W, 3): uint8 (H, W, 3), a pure function of (image, seed, method).

    method: "strokes" (this project's brush-stroke renderer, see the module docstring), "stylization"
    (cv2.stylization, an edge-aware smoothing) or "edge_preserving" (cv2.edgePreservingFilter); the palette and
    canvas steps apply to all three.
    """
    if method not in PAINT_METHODS:
        raise ValueError(f"unknown painting method {method!r}; choose from {PAINT_METHODS}")
    image = as_rgb_uint8(image)
    rng = _rng(seed, 7)
    look = PaintLook.draw(rng)
    base = _pull_to_palette(_grade(image, look), look, rng)
    if method == "strokes":
        out = _brush_strokes(base, look, rng)
    else:
        bgr = cv2.cvtColor((base * 255).round().astype(np.uint8), cv2.COLOR_RGB2BGR)
        sigma_s = 30 + 30 * look.brush_scale
        bgr = cv2.stylization(bgr, sigma_s=sigma_s, sigma_r=0.45) if method == "stylization" else \
            cv2.edgePreservingFilter(bgr, flags=cv2.RECURS_FILTER, sigma_s=sigma_s, sigma_r=0.4)
        out = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
    return (_canvas_weave(out, look, rng) * 255).round().astype(np.uint8)


# ---------------------------------------------------------------------------------------------------------------
# Sources: photos and video frames on disk, by domain


@dataclasses.dataclass(frozen=True)
class PhotoSource:
    """A still, the frames of a folder, or the kept frames of a video file, read lazily by `load(k)`.

    Plain strings only, so sources hash (the render caches are keyed by them) and pickle (DataLoader workers).
    """

    name: str
    group: str                       # "packages", "sky_timelapse" or "cityscapes": groups are sampled evenly
    files: tuple[str, ...] = ()      # image files, one per frame
    video: str = ""                  # or a video file, of which every `step`-th frame is kept
    step: int = 1

    @property
    def frames(self) -> int:
        return len(self.files) if self.files else (len(_video(self.video)) + self.step - 1) // self.step

    def load(self, k: int) -> np.ndarray:
        """Frame k as uint8 (H, W, 3)."""
        return read_image(self.files[k]) if self.files else _video(self.video)[k * self.step]


@functools.lru_cache(maxsize=64)
def _video(path: str) -> np.ndarray:
    return read_video(path)[0]


def _split_three(names: list, heldout: tuple = ()) -> dict[str, list]:
    """Sorted names -> {"photo": even, "painting": odd, "heldout": ...}: the named ones, else the last 10%."""
    if heldout:
        held = [n for n in names if n in heldout]
    else:
        held = names[len(names) - max(1, len(names) // 10):] if len(names) > 2 else []
    rest = [n for n in names if n not in held]
    return {"photo": rest[0::2], "painting": rest[1::2], "heldout": held}


def photo_sources(split: str, shared_data: bool = True, step: bool = True) -> list[PhotoSource]:
    """The sources of one split ("photo", "painting" or "heldout"; see the module docstring). shared_data adds the
    real videos beside the repository when present; step keeps every n-th video frame (training) or all of them."""
    if split not in ("photo", "painting", "heldout"):
        raise ValueError(f"unknown split {split!r}")
    sources = []
    for name in PACKAGE_SPLIT[split]:
        path = package_file(*PACKAGE_PHOTOS[name])
        if path is not None:
            sources.append(PhotoSource(name, "packages", files=(str(path),)))
    if not shared_data:
        return sources
    sky = default_sky_timelapse_root()
    if sky is not None:
        clips = sorted(p.name for p in sky.iterdir() if p.suffix.lower() in VIDEO_EXTS)
        for name in _split_three(clips)[split]:
            sources.append(PhotoSource(f"sky_timelapse/{name}", "sky_timelapse", video=str(sky / name),
                                       step=SKY_FRAME_STEP if step else 1))
    street = default_cityscapes_root()
    if street is not None and (street / "train_B").is_dir():
        seqs = sorted(p.name for p in (street / "train_B").iterdir() if p.is_dir())
        for name in _split_three(seqs, HELDOUT_SEQUENCES)[split]:
            files = sorted(p for p in (street / "train_B" / name).iterdir() if p.suffix.lower() in IMAGE_EXTS)
            files = files[::STREET_FRAME_STEP if step else 1]
            if files:
                sources.append(PhotoSource(f"cityscapes/{name}", "cityscapes", files=tuple(map(str, files))))
    return sources


def _short_side(image: np.ndarray, side: int) -> np.ndarray:
    """Resize uint8 (H, W, 3) so that its shorter side is `side` (aspect ratio kept)."""
    h, w = image.shape[:2]
    s = side / min(h, w)
    return resize_image(image, (max(side, round(h * s)), max(side, round(w * s))))


def random_crop(image: np.ndarray, size: int, rng: np.random.Generator, flip: bool = True) -> np.ndarray:
    """A random square crop (side between `size` and the shorter side), resized to size x size, maybe mirrored."""
    h, w = image.shape[:2]
    side = int(rng.integers(min(size, h, w), min(h, w) + 1))
    y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    crop = resize_image(np.ascontiguousarray(image[y:y + side, x:x + side]), (size, size))
    return np.ascontiguousarray(crop[:, ::-1]) if flip and rng.random() < 0.5 else crop


def _frozen(image: np.ndarray) -> np.ndarray:
    """A read-only copy: cached arrays are shared by every caller."""
    image = np.array(image)
    image.flags.writeable = False
    return image


@functools.lru_cache(maxsize=2048)
def _photo_at(source: PhotoSource, k: int, side: int) -> np.ndarray:
    return _frozen(_short_side(as_rgb_uint8(source.load(k)), side))


@functools.lru_cache(maxsize=2048)
def _painting_at(source: PhotoSource, k: int, side: int, seed: int, method: str) -> np.ndarray:
    return _frozen(paint(_photo_at(source, k, side), seed, method))


@functools.lru_cache(maxsize=4096)
def _image_file(path: Path, side: int) -> np.ndarray:
    return _frozen(_short_side(read_image(path), side))


def _pick(sources: list[PhotoSource], rng: np.random.Generator) -> tuple[PhotoSource, int]:
    """A group uniformly, a source of it uniformly, a frame of it uniformly."""
    groups = sorted({s.group for s in sources})
    group = groups[int(rng.integers(len(groups)))]
    members = [s for s in sources if s.group == group]
    source = members[int(rng.integers(len(members)))]
    return source, int(rng.integers(source.frames))


class PhotoPaintingDataset(torch.utils.data.Dataset):
    """Unpaired photo and painting crops: item i = {"a": photo, "b": painting}, each (3, S, S) in [-1, 1].

    Photos come from `photo_sources("photo")`, paintings are `paint` renders (one of `variants` seeds per frame,
    drawn per item, so every frame has several looks) of `photo_sources("painting")` frames. Frames are scaled to
    a shorter side of 1.5 S, then randomly cropped, resized to S and mirrored. Renders are cached per process.
    Item i is a pure function of (seed, i); "a" and "b" use independent random streams (unpaired).
    """

    def __init__(self, image_size: int = 128, seed: int = 0, length: int = 100_000, variants: int = 4,
                 methods: tuple[str, ...] = ("strokes",), shared_data: bool = True):
        if not methods or any(m not in PAINT_METHODS for m in methods):
            raise ValueError(f"methods must be a non-empty subset of {PAINT_METHODS}, got {methods}")
        self.size, self.seed, self.length, self.variants, self.methods = image_size, seed, length, variants, methods
        self.side = round(1.5 * image_size)
        self.sources = {d: photo_sources(d, shared_data) for d in DOMAINS}
        for domain, found in self.sources.items():
            if not found:
                raise DatasetLayoutError(f"no {domain} sources found: the photos of scikit-image and scikit-learn "
                                         f"are missing (pip install -r requirements.txt)")

    def __len__(self) -> int:
        return self.length

    def describe(self) -> dict:
        return {"type": type(self).__name__, "length": self.length, "image_size": self.size,
                "painting_variants": self.variants, "methods": list(self.methods),
                **{f"{d}_sources": [f"{s.name} ({s.frames} frames)" for s in self.sources[d]] for d in DOMAINS}}

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        if not 0 <= i < self.length:
            raise IndexError(i)
        rng_a, rng_b = _rng(self.seed, i, 1), _rng(self.seed, i, 2)
        source, k = _pick(self.sources["photo"], rng_a)
        photo = random_crop(_photo_at(source, k, self.side), self.size, rng_a)
        source, k = _pick(self.sources["painting"], rng_b)
        variant, method = int(rng_b.integers(self.variants)), self.methods[int(rng_b.integers(len(self.methods)))]
        seed = _rng(self.seed, _name_key(source.name), k, variant).integers(HELDOUT_SEED)   # below held-out seeds
        painting = random_crop(_painting_at(source, k, self.side, int(seed), method), self.size, rng_b)
        return {"a": image_to_tensor(photo)[0], "b": image_to_tensor(painting)[0]}


# ---------------------------------------------------------------------------------------------------------------
# Real unpaired datasets


class UnpairedFolderDataset(torch.utils.data.Dataset):
    """A real unpaired dataset in the CycleGAN/MUNIT layout: root/trainA/* (photos, translated from) and
    root/trainB/* (paintings, translated to), any number of images each (jpg/png), no pairing by name.

    Items as `PhotoPaintingDataset` (random crops after scaling to a shorter side of 1.5 S), a pure function of
    (seed, i). For a dataset named the other way round (e.g. cezanne2photo, where A are paintings), swap the
    folders.
    """

    def __init__(self, root: str | Path, image_size: int = 128, seed: int = 0, length: int = 100_000):
        self.root, self.size, self.seed, self.length = Path(root), image_size, seed, length
        self.side = round(1.5 * image_size)
        self.files = {}
        for key in ("trainA", "trainB"):
            folder = self.root / key
            found = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS) if folder.is_dir() else []
            if not found:
                present = sorted(p.name for p in self.root.iterdir()) if self.root.is_dir() else "nothing (no folder)"
                raise DatasetLayoutError(
                    f"No images in {folder}. Expected the unpaired layout of CycleGAN/MUNIT: {self.root}/trainA/*.jpg "
                    f"(photos) and {self.root}/trainB/*.jpg (paintings), .jpg/.jpeg/.png; found {present}.")
            self.files[key] = found

    def __len__(self) -> int:
        return self.length

    def describe(self) -> dict:
        return {"type": type(self).__name__, "root": str(self.root), "length": self.length,
                "images_a": len(self.files["trainA"]), "images_b": len(self.files["trainB"])}

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        if not 0 <= i < self.length:
            raise IndexError(i)
        item = {}
        for key, out, stream in (("trainA", "a", 1), ("trainB", "b", 2)):
            rng = _rng(self.seed, i, stream)
            files = self.files[key]
            image = _image_file(files[int(rng.integers(len(files)))], self.side)
            item[out] = image_to_tensor(random_crop(image, self.size, rng))[0]
        return item


# ---------------------------------------------------------------------------------------------------------------
# Evaluation: held-out videos and paintings


def camera_pan(image: np.ndarray, size: int, frames: int, rng: np.random.Generator) -> np.ndarray:
    """A video of a still: a square window drifting and zooming smoothly over it, sub-pixel (cv2.warpAffine,
    bilinear). About 1-3 output pixels of motion per frame. Returns uint8 (frames, size, size, 3)."""
    h, w = image.shape[:2]
    side0 = rng.uniform(0.45, 0.7) * min(h, w)
    zoom = rng.uniform(0.9, 1.1) ** (1 / max(frames - 1, 1))           # window scale change per frame
    speed = rng.uniform(1.0, 3.0) * side0 / size                       # source pixels per frame
    direction = rng.uniform(0, 2 * np.pi)
    travel = np.array([np.cos(direction), np.sin(direction)]) * speed * (frames - 1)
    max_side = side0 * max(1.0, zoom ** (frames - 1))
    lo = np.array([max_side / 2 + abs(min(travel[0], 0)), max_side / 2 + abs(min(travel[1], 0))])
    hi = np.array([w - max_side / 2 - max(travel[0], 0), h - max_side / 2 - max(travel[1], 0)])
    start = rng.uniform(lo, np.maximum(hi, lo)) if (hi > lo).all() else np.array([w / 2, h / 2]) - travel / 2
    out = []
    for t in range(frames):
        side = side0 * zoom**t
        cx, cy = start + travel * t / max(frames - 1, 1)
        s = side / size                                                 # source pixels per output pixel
        matrix = np.array([[s, 0, cx - s * (size - 1) / 2], [0, s, cy - s * (size - 1) / 2]], np.float32)
        out.append(cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                  borderMode=cv2.BORDER_REFLECT))
    return np.stack(out)


def heldout_videos(count: int, size: int = 128, frames: int = 8, seed: int = 0,
                   shared_data: bool = True) -> list[tuple[str, np.ndarray]]:
    """`count` held-out clips (source, uint8 (frames, size, size, 3)), none from a training source: real held-out
    videos beside the repository when present (shorter side scaled to `size`, a square window of consecutive
    frames), then camera pans over the held-out photos, in turn."""
    rng = _rng(seed, 11)
    real = [s for s in photo_sources("heldout", shared_data, step=False) if s.frames >= frames]
    stills = [s for s in photo_sources("heldout", shared_data=False)]
    kinds = [("video", s) for s in real] + [("pan", s) for s in stills]
    if not kinds:
        raise DatasetLayoutError("no held-out photos found (matplotlib's sample data is missing)")
    out = []
    for i in range(count):
        kind, source = kinds[i % len(kinds)]
        if kind == "video":
            start = int(rng.integers(source.frames - frames + 1))
            clip = np.stack([_photo_at(source, k, size) for k in range(start, start + frames)])
            y, x = (int(rng.integers(n - size + 1)) for n in clip.shape[1:3])        # a square window
            clip = np.ascontiguousarray(clip[:, y:y + size, x:x + size])
        else:
            clip = camera_pan(as_rgb_uint8(source.load(0)), size, frames, rng)
        out.append((source.name if kind == "video" else f"camera pans over {source.name}", clip))
    return out


def heldout_paintings(count: int, size: int = 128, seed: int = 0, shared_data: bool = True,
                      method: str = "strokes") -> np.ndarray:
    """uint8 (count, size, size, 3): renders (seeds HELDOUT_SEED on) of random crops of held-out sources."""
    rng = _rng(seed, 12)
    sources = photo_sources("heldout", shared_data)
    if not sources:
        raise DatasetLayoutError("no held-out photos found (matplotlib's sample data is missing)")
    out = []
    for i in range(count):
        source = sources[i % len(sources)]
        photo = _photo_at(source, int(rng.integers(source.frames)), round(1.5 * size))
        out.append(paint(random_crop(photo, size, rng), HELDOUT_SEED + seed * 10_000 + i, method))
    return np.stack(out)


def build_training_data(size: int, seed: int, data_root: str = "") -> torch.utils.data.Dataset:
    """munit_video's training set: data_root/trainA (photos) + data_root/trainB (paintings) when given, else photos
    from installed packages (and shared/data videos when present) against painterly renders of a disjoint set."""
    if data_root:
        return UnpairedFolderDataset(data_root, size, seed=seed)
    return PhotoPaintingDataset(size, seed=seed)
