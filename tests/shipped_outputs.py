"""Fixed inputs through every shipped weights file: the outputs a refactor must not change.

    python tests/shipped_outputs.py      # writes tests/data/shipped_outputs.npz from the weights as they are now

`tests/test_shipped_outputs.py` recomputes these outputs and compares them with the file. The reference was taken
before the code moved out of `demo_lib/registry.py` into each paper's file (issue 23); re-take it only when a
change is meant to change what shipped weights draw (new weights, a new inference path), and say so in the commit.
Inputs are small and synthetic, so the file stays small and the comparison takes seconds.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "tests" / "data" / "shipped_outputs.npz"


def _photo(size: tuple[int, int], seed: int) -> np.ndarray:
    """A smooth synthetic RGB photo, uint8 (H, W, 3): gradients plus a few blobs, the same on every machine."""
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w] / np.array([h, w]).reshape(2, 1, 1)
    rng = np.random.default_rng(seed)
    image = np.stack([0.3 + 0.5 * yy, 0.4 + 0.3 * xx, 0.8 - 0.5 * yy], axis=-1)
    for cy, cx, r, colour in zip(rng.random(4), rng.random(4), 0.1 + 0.2 * rng.random(4), rng.random((4, 3))):
        image[(yy - cy) ** 2 + (xx - cx) ** 2 < r ** 2] = colour
    return np.round(image.clip(0, 1) * 255).astype(np.uint8)


def _clip(size: int, frames: int, seed: int) -> np.ndarray:
    """A camera pan over a synthetic photo: uint8 (T, S, S, 3)."""
    photo = _photo((size, size + 2 * frames), seed)
    return np.stack([photo[:, 2 * t:2 * t + size] for t in range(frames)])


def shipped_outputs() -> dict[str, np.ndarray]:
    """{"<model>/<variant>": uint8 output} for every shipped weights file, on CPU."""
    sys.path.insert(0, str(ROOT))
    from demo_lib import registry
    from demo_lib.data.street import street_examples

    out: dict[str, np.ndarray] = {}
    photo = _photo((48, 64), seed=0)
    out["timelapse/demo"] = registry.load("timelapse", device="cpu").generate(photo, [0.0, 7.0, 12.0, 19.0], seed=3)

    _, labels, instances = street_examples(size=(64, 128), frames=3)[0]
    for variant in ("demo", "demo_per_frame"):
        out[f"vid2vid/{variant}"] = registry.load("vid2vid", variant, "cpu").generate(labels, instances, seed=1)
    out["street_segmenter/demo"] = registry.load("street_segmenter", device="cpu").segment(_clip(64, 2, seed=1))

    clip = _clip(64, 3, seed=2)
    for variant in ("demo", "lambda_t0", "lambda_t15", "lambda_t20"):
        out[f"munit_video/{variant}"] = registry.load("munit_video", variant, "cpu").generate(
            clip, "photo2painting", seed=4)
    out["munit_video/demo/painting2photo"] = registry.load("munit_video", device="cpu").generate(
        clip, "painting2photo", seed=5, shared_norm=False)

    start, end = _photo((64, 64), seed=3), _photo((64, 64), seed=4)
    for variant in ("demo", "bair", "without_fusion", "naive"):
        clips = registry.load("inbetween", variant, "cpu").generate(start, end, 2, seed=6)   # (2, 16, 64, 64, 3)
        out[f"inbetween/{variant}"] = clips[:, 1:-1:3]        # in-between frames 1, 4, ..., 13: a smaller file
    return out


if __name__ == "__main__":
    import torch

    torch.set_num_threads(2)
    outputs = shipped_outputs()
    REFERENCE.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(REFERENCE, **outputs)
    for name, array in outputs.items():
        print(f"{name}: {array.shape} {array.dtype}")
    print(f"wrote {REFERENCE} ({REFERENCE.stat().st_size / 1024:.0f} KiB)")
