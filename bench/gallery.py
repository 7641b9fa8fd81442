"""The README's pictures: one small file per model under docs/, made by the shipped weights on the app's examples.

    python -m bench.gallery                 # all four: 15 s to 1.5 min on a shared 2-core CPU (mostly vid2vid)
    python -m bench.gallery vid2vid         # just one (timelapse, vid2vid, munit_video, inbetween)

Writes:
    docs/timelapse.png    two of the time-lapse tab's examples (the procedural lake it opens with, scikit-image's
                          rocket photo): the input, then the model at 2, 6, 10, 14, 18 and 22 h (seed 0).
    docs/vid2vid.gif      the vid2vid tab's first example label video (a procedural street never trained on):
                          label map | generated frames (seed 0) at the model's 128x256, every third of 24 frames.
    docs/munit_video.gif  the photo-to-painting tab's first example (a camera pan over matplotlib's grace_hopper.jpg,
                          held out from training): input | painting (lambda_t = 10, seed 0) at 128x128, every third
                          of 24 frames.
    docs/inbetween.png    two of the inbetweening tab's examples (held-out procedural clips: KTH-like walking with
                          `demo`, BAIR-like pushing with `bair`): rows truth / model (seed 0) / linear blending, all
                          16 frames; the first and last column are the keyframes the model was given.

Nothing is chosen by looking at the output: every seed is 0 and every example is the first of its kind in the app.
PNGs are lossless; GIFs use one 256-colour palette for all frames (no palette flicker) and no dithering. Reruns on
one machine give the same bytes.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from demo_lib import registry
from demo_lib.data import cityscapes, inbetween_data, paintings, street, timelapse_data
from demo_lib.video import package_file, read_image, resize_image

DOCS = Path(__file__).resolve().parent.parent / "docs"
LABEL_HEIGHT = 14               # a caption strip above each tile
GAP = 2                         # white pixels between tiles


# ---------------------------------------------------------------------------------------------------------------
# Drawing: tiles with captions, grids, GIFs with one shared palette


def caption(image: np.ndarray, text: str) -> np.ndarray:
    """uint8 (H, W, 3) -> (LABEL_HEIGHT + H, W, 3) with `text` in black on white above it."""
    strip = Image.new("RGB", (image.shape[1], LABEL_HEIGHT), "white")
    ImageDraw.Draw(strip).text((2, 1), text, fill="black", font=ImageFont.load_default())
    return np.concatenate([np.asarray(strip), image])


def row(tiles: list[np.ndarray]) -> np.ndarray:
    """Tiles of one height side by side, GAP white pixels apart."""
    gap = np.full((tiles[0].shape[0], GAP, 3), 255, np.uint8)
    return np.concatenate([part for tile in tiles for part in (tile, gap)][:-1], axis=1)


def column(rows: list[np.ndarray]) -> np.ndarray:
    """Rows stacked, GAP white pixels apart; narrower rows padded with white on the right."""
    width = max(r.shape[1] for r in rows)
    padded = [np.pad(r, ((0, GAP), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    return np.concatenate(padded)[:-GAP]


def save_png(image: np.ndarray, path: Path) -> None:
    """Lossless RGB: a 256-colour palette halves the bytes but bands smooth skies (up to 80 grey levels off)."""
    Image.fromarray(image).save(path, optimize=True)


def save_gif(frames: list[np.ndarray], path: Path, fps: float) -> None:
    """Frames -> a looping GIF quantised to one 256-colour palette made from all of them, without dithering."""
    montage = Image.fromarray(np.concatenate(frames))
    palette = montage.quantize(256, method=Image.Quantize.MEDIANCUT)
    images = [Image.fromarray(f).quantize(palette=palette, dither=Image.Dither.NONE) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0, optimize=True)


def fit_height(image: np.ndarray, height: int) -> np.ndarray:
    h, w = image.shape[:2]
    return resize_image(image, (height, round(w * height / h)))


# ---------------------------------------------------------------------------------------------------------------
# One picture per model


def timelapse() -> Path:
    """Input photo, then the same place at six hours, for the tab's first procedural example and a real photo."""
    hours = [2.0, 6.0, 10.0, 14.0, 18.0, 22.0]
    lake = next(iter(timelapse_data.example_images(size=(384, 512)).values()))   # "procedural lake at noon"
    rocket = read_image(package_file("skimage", "data/rocket.jpg"))
    model = registry.load("timelapse")
    rows = []
    for name, photo in (("lake, 12:00", lake), ("rocket", rocket)):
        frames = model.generate(photo, times=hours, seed=0)
        tiles = [caption(fit_height(photo, 96), f"input: {name}")]
        tiles += [caption(fit_height(f, 96), f"{h:02.0f}:00") for f, h in zip(frames, hours)]
        rows.append(row(tiles))
    path = DOCS / "timelapse.png"
    save_png(column(rows), path)
    return path


def vid2vid() -> Path:
    """Label map | generated frame, for the tab's first example label video."""
    name, labels, instances = street.street_examples()[0]     # uint8 (24, 128, 256), int32 (24, 128, 256)
    frames = registry.load("vid2vid").generate(labels, instances, seed=0)
    colours = cityscapes.colorize(labels)
    shown = range(0, len(frames), 3)                          # every third frame at a third of 12 fps: real speed
    gif = [row([caption(colours[t], f"labels: {name}"), caption(frames[t], "vid2vid, seed 0")]) for t in shown]
    path = DOCS / "vid2vid.gif"
    save_gif(gif, path, fps=4)
    return path


def munit_video() -> Path:
    """Input clip | painting, for the tab's first example (the camera pan the tab draws with pan seed 0)."""
    photo = read_image(package_file(*paintings.PACKAGE_PHOTOS["grace_hopper"]))
    clip = paintings.camera_pan(photo, 256, 24, np.random.default_rng(0))          # uint8 (24, 256, 256, 3)
    painted = registry.load("munit_video").generate(clip, direction="photo2painting", seed=0)
    shown = range(0, len(clip), 3)                            # every third frame at a third of 12 fps: real speed
    gif = [row([caption(fit_height(clip[t], 128), "input (held out)"),
                caption(fit_height(painted[t], 128), "painting (lambda_t=10)")]) for t in shown]
    path = DOCS / "munit_video.gif"
    save_gif(gif, path, fps=4)
    return path


def linear_blend(start: np.ndarray, end: np.ndarray, frames: int) -> np.ndarray:
    """The cross-dissolve baseline: frame t = (1 - t / (T - 1)) start + t / (T - 1) end, uint8 (T, H, W, 3)."""
    w = np.linspace(0.0, 1.0, frames, dtype=np.float32)[:, None, None, None]
    return np.rint((1 - w) * start.astype(np.float32) + w * end.astype(np.float32)).astype(np.uint8)


def inbetween() -> Path:
    """Truth, model and linear blending for the tab's first KTH-like and BAIR-like held-out clips."""
    blocks = []
    for kind, label, variant in (("kth", "walking", "demo"), ("bair", "pushing", "bair")):
        clip = next(c for c in inbetween_data.heldout_clips(kind, 12, 64, 16) if c.label == label)
        start, end = clip.frames[0], clip.frames[-1]                               # uint8 (64, 64, 3)
        made = registry.load("inbetween", variant).generate(start, end, num_samples=1, seed=0)[0]  # (16, 64, 64, 3)
        for what, video in ((f"truth (held-out {kind.upper()}-like clip, {label})", clip.frames),
                            (f"model ({variant} weights, seed 0)", made),
                            ("linear blend of the two keyframes", linear_blend(start, end, len(made)))):
            blocks.append(caption(row(list(video)), what))
    path = DOCS / "inbetween.png"
    save_png(column(blocks), path)
    return path


PICTURES: dict[str, Callable[[], Path]] = {"timelapse": timelapse, "vid2vid": vid2vid, "munit_video": munit_video,
                                           "inbetween": inbetween}


def main(argv: list[str] | None = None) -> list[Path]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="*", metavar="MODEL", help=f"any of {', '.join(PICTURES)} (default: all)")
    args = parser.parse_args(argv)
    unknown = [m for m in args.models if m not in PICTURES]
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(PICTURES)}")
    DOCS.mkdir(exist_ok=True)
    written = []
    for name in args.models or PICTURES:
        t0 = time.perf_counter()
        path = PICTURES[name]()
        print(f"{path.relative_to(DOCS.parent)}: {path.stat().st_size / 1024:.0f} KiB, "
              f"{time.perf_counter() - t0:.1f} s")
        written.append(path)
    return written


if __name__ == "__main__":
    main()
