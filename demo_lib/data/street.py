"""Procedural street videos in Cityscapes label ids: vid2vid training and tests without the real data.

A camera drives forward down a straight street (right-hand traffic). `StreetScene(seed)` draws the street from
the seed: a style (avenue, narrow street or leafy road), lane and sidewalk widths, and an endless sequence of
objects generated lazily per slot along the street (every building lot, tree, pole, car and person depends only on
(seed, its kind, its slot)), so a scene renders any stretch of time and one seed is one street at every resolution.

World units are metres: X to the right of the street's centre line, Y up, Z forward. The camera sits 1.4 m above
the ego lane at Z = speed * t (t in frames) and projects with a pinhole: u = cx + f X' / d, v = y_h + f (1.4 - Y) / d
(X' relative to the camera, d = Z - camera Z). `render` is ray casting for the ground and the two facade planes
(road 7, parking strip as road, grass verge 22, sidewalk 8, buildings 11 with gaps of wall 12 / fence 13 / hedge 21
showing a back row of buildings or trees, sky 23), then painter's-order polygons for trees 21, poles 17 with
traffic signs 20 and lights 19, cars 26 / trucks 27 / buses 28 and people 24. Everything moves continuously with t,
so frames change by a few pixels at 128x256 except right beside the camera, as in real driving footage.

`shade` colours the labels into pseudo-RGB frames (palette colours, per-instance tints, a sky gradient, noise), so
`ProceduralStreetDataset` gives exactly the item schema of `cityscapes.StreetClipDataset` (DIS flow included).
Seeds: training scenes are 0..num_scenes-1; `street_examples` uses seeds from 1_000_000 on, evaluation
(`HELDOUT_SEED`) from 2_000_000 on.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import cv2
import numpy as np
import torch

from .cityscapes import (
    HELDOUT_SEQUENCES,
    PALETTE,
    StreetClipDataset,
    StreetSequence,
    clip_item,
    default_cityscapes_root,
    load_sequences,
)

# Cityscapes ids used here
ROAD, SIDEWALK, BUILDING, WALL, FENCE, POLE, LIGHT, SIGN, VEGETATION, TERRAIN, SKY = 7, 8, 11, 12, 13, 17, 19, 20, 21, \
    22, 23
PERSON, CAR, TRUCK, BUS = 24, 26, 27, 28

# Per style: lanes per direction, parked-car probability, grass verge width, sidewalk width range, building height
# range, probability that a facade lot is a gap, tree probability, moving-traffic probability, pedestrians.
_STYLES = {
    "avenue": dict(lanes=2, parked=0.3, verge=(0.0, 0.0), sidewalk=(3.0, 5.0), height=(12.0, 26.0), gap=0.12,
                   trees=0.3, traffic=0.6, people=0.5),
    "narrow": dict(lanes=1, parked=0.85, verge=(0.0, 0.0), sidewalk=(1.5, 2.5), height=(11.0, 20.0), gap=0.05,
                   trees=0.05, traffic=0.2, people=0.6),
    "leafy": dict(lanes=1, parked=0.25, verge=(2.0, 3.5), sidewalk=(1.5, 2.5), height=(5.0, 10.0), gap=0.45,
                  trees=0.9, traffic=0.3, people=0.25),
}
STYLES = tuple(_STYLES)

CAMERA_HEIGHT = 1.4    # metres
NEAR, FAR = 1.0, 150.0  # depth range of drawn objects; beyond FAR, a static skyline closes the street
LOT, BACK_LOT = 9.0, 14.0  # facade lot lengths (front row, back row seen through gaps), metres
# Object kinds: slot spacing in metres, and a code that keeps random streams and instance ids apart.
_TREE, _POLE, _CAR, _PERSON = 1, 2, 3, 4
_SPACING = {_TREE: 9.0, _POLE: 32.0, _CAR: 11.0, _PERSON: 7.0}
_PARKED_SPACING = 5.5


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng([seed & 0xFFFFFFFF, *(int(k) + (1 << 31) for k in key)])


class StreetScene:
    """A seeded, endless street (see the module docstring) rendered at size = (H, W).

    Attributes: style ("avenue", "narrow" or "leafy"), speed (metres per frame), and the street's cross-section
    (road_edge, verge_edge, facade distances from the centre line)."""

    def __init__(self, seed: int, size: tuple[int, int] = (128, 256)):
        self.seed, self.size = int(seed), (int(size[0]), int(size[1]))
        rng = _rng(self.seed, 0)
        self.style = STYLES[int(rng.integers(len(STYLES)))]
        st = self.params = _STYLES[self.style]
        lane_w = float(rng.uniform(3.0, 3.5))
        self.lane_w = lane_w
        self.road_edge = st["lanes"] * lane_w + 2.2                    # through lanes + a parking strip
        self.verge_edge = self.road_edge + float(rng.uniform(*st["verge"]))
        self.facade = self.verge_edge + float(rng.uniform(*st["sidewalk"]))
        self.back = self.facade + float(rng.uniform(10.0, 25.0))       # the back row, seen through gaps
        self.camera_x = lane_w * (0.5 + int(rng.integers(st["lanes"])))  # a right-hand lane
        self.speed = float(rng.uniform(0.45, 0.8))                      # 6.5-11.5 m/s at 14.4 fps
        # lanes: (centre X, speed in m/frame, probability of a car per slot); the ego lane moves with the camera
        self.lanes = []
        for k in range(st["lanes"]):
            x = lane_w * (k + 0.5)
            same = math.isclose(x, self.camera_x)
            self.lanes.append((x, self.speed if same else self.speed * float(rng.uniform(0.7, 1.3)), st["traffic"]))
            self.lanes.append((-x, -self.speed * float(rng.uniform(0.6, 1.2)), st["traffic"]))
        for side in (-1.0, 1.0):
            self.lanes.append((side * (self.road_edge - 1.1), 0.0, st["parked"]))
        h, w = self.size
        self.f, self.cx, self.cy = 0.55 * w, 0.5 * w, 0.42 * h          # focal length, vanishing point (pixels)
        self._lots: dict[tuple[int, int, int], tuple[int, float, int, float]] = {}
        skyline = _rng(self.seed, 5)
        self._skyline = (skyline.uniform(8, 30, 64), skyline.random(64) < 0.3)   # 8 m wide blocks at FAR

    # -----------------------------------------------------------------------------------------------------------
    # Ray casting: ground, facades, gaps, skyline

    def _lot(self, side: int, row: int, j: int) -> tuple[int, float, int, float]:
        """(label, height, filler label, filler height) of lot j of a facade row; filler only for gaps."""
        key = (side, row, j)
        if key not in self._lots:
            st, rng = self.params, _rng(self.seed, 1, side, row, j)
            lo, hi = st["height"]
            if row == 1:      # back row: taller buildings, or a line of trees
                trees = rng.random() < (0.6 if self.style == "leafy" else 0.2)
                self._lots[key] = (VEGETATION, float(rng.uniform(6, 12)), 0, 0.0) if trees else \
                    (BUILDING, float(rng.uniform(lo, hi * 1.3)), 0, 0.0)
            elif rng.random() < st["gap"]:
                filler = int(rng.choice([WALL, FENCE, VEGETATION], p=[0.2, 0.3, 0.5] if self.style == "leafy"
                                        else [0.45, 0.4, 0.15]))
                self._lots[key] = (0, 0.0, filler, float(rng.uniform(1.0, 2.2)))
            else:
                self._lots[key] = (BUILDING, float(rng.uniform(lo, hi)), 0, 0.0)
        return self._lots[key]

    def _lot_table(self, side: int, row: int, z: np.ndarray, length: float) -> tuple[np.ndarray, ...]:
        """Per-point lot properties for world Z positions z (any shape): arrays label, height, filler, filler_h."""
        j = np.floor(z / length).astype(np.int64)
        j0, j1 = int(j.min()), int(j.max())
        table = np.array([self._lot(side, row, k) for k in range(j0, j1 + 1)], np.float64).reshape(-1, 4)
        rows = table[j - j0]
        return rows[..., 0].astype(np.uint8), rows[..., 1], rows[..., 2].astype(np.uint8), rows[..., 3]

    def _background(self, cz: float) -> np.ndarray:
        """uint8 (H, W) labels of ground, facades and sky for the camera at Z = cz."""
        h, w = self.size
        f, x0 = self.f, self.camera_x
        u = np.arange(w) + 0.5 - self.cx                          # (W,) pixels right of the vanishing point
        v = np.arange(h) + 0.5 - self.cy                          # (H,) pixels below the horizon
        uu, vv = np.broadcast_arrays(u[None, :], v[:, None])      # (H, W)
        with np.errstate(divide="ignore"):
            d_ground = np.where(vv > 0, f * CAMERA_HEIGHT / np.maximum(vv, 1e-9), np.inf)
        x_ground = np.abs(x0 + uu * np.minimum(d_ground, 1e6) / f)
        labels = np.select([vv <= 0, x_ground < self.road_edge, x_ground < self.verge_edge],
                           [SKY, ROAD, TERRAIN], SIDEWALK).astype(np.uint8)
        hit_any = np.zeros((h, w), bool)
        for side in (-1, 1):
            toward = side * uu > 1e-6
            with np.errstate(divide="ignore", invalid="ignore"):
                d_face = np.where(toward, f * (side * self.facade - x0) / uu, np.inf)
            hit = (d_face < d_ground) & (d_face < FAR)
            hit_any |= toward & (d_face < d_ground)
            if hit.any():
                labels[hit] = self._facade(side, cz, uu[hit], vv[hit], d_face[hit], d_ground[hit])
        # The end of the street: a static skyline at FAR for rays that reach it above the horizon.
        end = ~hit_any & (vv <= 0)
        if end.any():
            x_far = x0 + uu[end] * FAR / f
            y_far = CAMERA_HEIGHT - vv[end] * FAR / f
            block = np.floor(x_far / 8.0).astype(np.int64) % 64
            heights, trees = self._skyline
            labels[end] = np.where(y_far < heights[block], np.where(trees[block], VEGETATION, BUILDING), SKY)
        return labels

    def _facade(self, side: int, cz: float, u: np.ndarray, v: np.ndarray, d: np.ndarray,
                d_ground: np.ndarray) -> np.ndarray:
        """Labels of rays (1-D arrays u, v in pixels from the vanishing point) hitting facade plane `side` at depth d.

        Buildings stop at their height (sky above). Gap lots show their filler (wall, fence, hedge) up to its
        height; rays above it go on to the side wall of the next lot, the back row, or the ground of the yard."""
        f, x0 = self.f, self.camera_x
        z = cz + d
        y = CAMERA_HEIGHT - v * d / f
        label, height, filler, filler_h = self._lot_table(side, 0, z, LOT)
        out = np.where((label == BUILDING) & (y < height), BUILDING, SKY).astype(np.uint8)
        gap = label != BUILDING
        out[gap & (y < filler_h)] = filler[gap & (y < filler_h)]
        over = gap & (y >= filler_h)
        if over.any():
            u2, v2, dg = u[over], v[over], d_ground[over]
            d_exit = (np.floor(z[over] / LOT) + 1) * LOT - cz          # where the ray leaves the gap's Z range
            d_back = f * (side * self.back - x0) / u2
            y_exit = CAMERA_HEIGHT - v2 * d_exit / f
            nxt_label, nxt_height, _, _ = self._lot_table(side, 0, cz + d_exit + 1e-3, LOT)
            b_label, b_height, _, _ = self._lot_table(side, 1, cz + d_back, BACK_LOT)
            y_back = CAMERA_HEIGHT - v2 * d_back / f
            beyond = np.where(y_back < b_height, b_label, SKY)
            beyond = np.where((d_exit < d_back) & (nxt_label == BUILDING) & (y_exit < nxt_height), BUILDING, beyond)
            out[over] = np.where(dg < np.minimum(d_back, d_exit), TERRAIN, beyond)
        return out

    # -----------------------------------------------------------------------------------------------------------
    # Objects: lazily generated per slot, drawn as convex polygons far to near

    def _slots(self, spacing: float, speeds: tuple[float, float], t: float, cz: float) -> range:
        """Slot indices j whose object (base Z = (j + jitter) * spacing, moving at a speed in `speeds`) may be
        visible at time t (6 m of margin cover the cars' surge and the objects' length)."""
        lo = cz + NEAR - 6.0 - max(speeds[0] * t, speeds[1] * t)
        hi = cz + FAR + 6.0 - min(speeds[0] * t, speeds[1] * t)
        return range(math.floor(lo / spacing) - 1, math.ceil(hi / spacing) + 1)

    def _objects(self, t: float, cz: float) -> list[tuple[float, list[tuple[np.ndarray, int]], int]]:
        """[(depth, [(polygon (N, 3) world points, label), ...], raw instance id or 0)] at time t (frames)."""
        st, out = self.params, []
        for side in (-1, 1):
            for kind, prob in ((_TREE, st["trees"]), (_POLE, 0.75)):
                for j in self._slots(_SPACING[kind], (0.0, 0.0), t, cz):
                    rng = _rng(self.seed, kind, side, j)
                    if rng.random() >= prob:
                        continue
                    z = (j + rng.uniform(0, 0.5)) * _SPACING[kind]
                    if kind == _TREE:
                        x = side * ((self.road_edge + self.verge_edge) / 2 if self.verge_edge > self.road_edge
                                    else self.road_edge + 0.7)
                        out.append((z - cz, _tree(x, z, rng), 0))
                    else:
                        out.append((z - cz, _pole(side * (self.road_edge + 0.4), z, side, rng), 0))
            # pedestrians on this side's sidewalk
            for j in self._slots(_SPACING[_PERSON], (-0.12, 0.12), t, cz):
                rng = _rng(self.seed, _PERSON, side, j)
                if rng.random() >= st["people"] * 0.5:
                    continue
                walk = float(rng.choice([-1, 1]) * rng.uniform(0.06, 0.12))    # metres per frame
                z = (j + rng.uniform(0, 0.5)) * _SPACING[_PERSON] + walk * t
                x = side * (self.facade - rng.uniform(0.5, self.facade - self.verge_edge - 0.4))
                out.append((z - cz, _person(x, z, abs(walk) * t, rng), _instance_id(_PERSON, side, j)))
        for lane, (x, speed, prob) in enumerate(self.lanes):
            spacing = _PARKED_SPACING if speed == 0 else _SPACING[_CAR]
            for j in self._slots(spacing, (speed, speed), t, cz):
                rng = _rng(self.seed, _CAR, lane, j)
                if rng.random() >= prob:
                    continue
                z = (j + rng.uniform(0, 0.3 if speed == 0 else 0.5)) * spacing + speed * t
                if speed != 0:     # drivers keep no perfectly constant speed: a slow surge of up to 2 m
                    z += 2.0 * math.sin(0.04 * t + rng.uniform(0, 2 * math.pi))
                if math.isclose(x, self.camera_x) and z - cz < 12.0 + 2.0:
                    continue       # the ego lane keeps a safe distance ahead of the camera
                label = CAR if speed == 0 or rng.random() < 0.9 else int(rng.choice([TRUCK, BUS]))
                out.append((z - cz, _vehicle(x, z, label, rng), _instance_id(_CAR, lane, j)))
        return out

    def _project(self, points: np.ndarray, cz: float) -> np.ndarray | None:
        """World points (N, 3) -> pixel polygon (N, 2), or None if any point is nearer than NEAR."""
        d = points[:, 2] - cz
        if (d < NEAR).any():
            return None
        u = self.cx + self.f * (points[:, 0] - self.camera_x) / d
        v = self.cy + self.f * (CAMERA_HEIGHT - points[:, 1]) / d
        return np.stack([u, v], 1)

    def render(self, num_frames: int, start: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """Frames t = start, start + 1, ... -> labels uint8 (T, H, W) and instances int32 (T, H, W).

        Instances: 0 on stuff, 1..K for objects in order of first appearance; an object keeps its id in every
        frame of this call. render(n, s) and render(m, s')[s - s':] show the same pictures (ids may differ)."""
        h, w = self.size
        ids: dict[int, int] = {}
        labels = np.empty((num_frames, h, w), np.uint8)
        instances = np.zeros((num_frames, h, w), np.int32)
        for k in range(num_frames):
            t = start + k
            cz = self.speed * t
            labels[k] = self._background(cz)
            for depth, parts, raw in sorted(self._objects(t, cz), key=lambda o: -o[0]):
                if not NEAR <= depth <= FAR:
                    continue
                polys = [(self._project(points, cz), label) for points, label in parts]
                if any(p is None for p, _ in polys) or all(_outside(p, w, h) for p, _ in polys):
                    continue
                inst = ids.setdefault(raw, len(ids) + 1) if raw else 0
                for poly, label in polys:
                    pts = np.round(cv2.convexHull(poly.astype(np.float32))[:, 0] * 16).astype(np.int32)
                    cv2.fillConvexPoly(labels[k], pts, int(label), cv2.LINE_8, 4)   # shift 4: 1/16 px
                    cv2.fillConvexPoly(instances[k], pts, inst, cv2.LINE_8, 4)
        # Objects hidden behind nearer ones or thinner than a pixel got an id but no pixel: close the gaps.
        used, compact = np.unique(instances, return_inverse=True)
        if used[0] != 0:
            compact += 1
        return labels, compact.reshape(instances.shape).astype(np.int32)


def _instance_id(kind: int, lane: int, j: int) -> int:
    return ((kind * 64 + lane + 8) << 40) + j + (1 << 39)


def _outside(poly: np.ndarray, w: int, h: int) -> bool:
    return bool(poly[:, 0].max() < 0 or poly[:, 0].min() > w or poly[:, 1].max() < 0 or poly[:, 1].min() > h)


def _box(x0: float, x1: float, y0: float, y1: float, z0: float, z1: float) -> np.ndarray:
    """The 8 corners (8, 3) of an axis-aligned box; its picture is the convex hull of their projections."""
    return np.array([[x, y, z] for x in (x0, x1) for y in (y0, y1) for z in (z0, z1)], np.float64)


def _quad(x0: float, x1: float, y0: float, y1: float, z: float) -> np.ndarray:
    """A flat rectangle facing the camera at depth z."""
    return np.array([[x0, y0, z], [x1, y0, z], [x1, y1, z], [x0, y1, z]], np.float64)


def _ellipse(x: float, y: float, z: float, rx: float, ry: float, n: int = 16) -> np.ndarray:
    a = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([x + rx * np.cos(a), y + ry * np.sin(a), np.full(n, z)], 1)


def _vehicle(x: float, z: float, label: int, rng: np.random.Generator) -> list[tuple[np.ndarray, int]]:
    """A car (body box + cabin box), or a truck/bus (one tall box); centred at lane x, rear at z."""
    if label == CAR:
        w, length, body = rng.uniform(1.7, 1.9), rng.uniform(3.9, 4.8), rng.uniform(0.85, 1.0)
        cabin_top = body + rng.uniform(0.45, 0.6)
        return [(_box(x - w / 2, x + w / 2, 0.0, body, z, z + length), label),
                (_box(x - w / 2 + 0.12, x + w / 2 - 0.12, body, cabin_top, z + 0.25 * length, z + 0.75 * length),
                 label)]
    w, length, height = rng.uniform(2.3, 2.5), rng.uniform(7.0, 12.0), rng.uniform(2.8, 3.4)
    return [(_box(x - w / 2, x + w / 2, 0.0, height, z, z + length), label)]


def _person(x: float, z: float, walked: float, rng: np.random.Generator) -> list[tuple[np.ndarray, int]]:
    """A pedestrian facing along the street: legs that swing with the distance walked, torso, head."""
    height = rng.uniform(1.55, 1.9)
    hip, shoulder, half = 0.5 * height, 0.82 * height, rng.uniform(0.18, 0.24)
    swing = 0.25 * math.sin(walked / 0.35 + rng.uniform(0, 2 * math.pi))   # one stride ~ 2.2 m
    legs = [np.array([[x + dx - 0.07, hip, z], [x + dx + 0.07, hip, z], [x + dx + 0.07, 0.0, z + s],
                      [x + dx - 0.07, 0.0, z + s]]) for dx, s in ((-0.1, swing), (0.1, -swing))]
    return [(legs[0], PERSON), (legs[1], PERSON), (_quad(x - half, x + half, hip, shoulder, z), PERSON),
            (_ellipse(x, shoulder + 0.1 * height / 1.7, z, 0.11, 0.13, 10), PERSON)]


def _tree(x: float, z: float, rng: np.random.Generator) -> list[tuple[np.ndarray, int]]:
    """Trunk and crown (both vegetation, as Cityscapes labels trees)."""
    crown_y, rx, ry = rng.uniform(4.0, 7.0), rng.uniform(1.5, 3.0), rng.uniform(1.8, 3.2)
    return [(_quad(x - 0.15, x + 0.15, 0.0, crown_y, z), VEGETATION),
            (_ellipse(x, crown_y, z, rx, ry), VEGETATION)]


def _pole(x: float, z: float, side: int, rng: np.random.Generator) -> list[tuple[np.ndarray, int]]:
    """A pole with a traffic sign, a traffic light over the road on an arm, or a street lamp."""
    kind = rng.choice(3, p=[0.45, 0.2, 0.35])
    if kind == 0:                                            # sign: a square or a round plate at 2-3 m
        height = rng.uniform(2.8, 3.5)
        plate = _quad(x - 0.35, x + 0.35, height - 0.7, height, z) if rng.random() < 0.5 else \
            _ellipse(x, height - 0.35, z, 0.35, 0.35, 12)
        return [(_quad(x - 0.05, x + 0.05, 0.0, height - 0.3, z), POLE), (plate, SIGN)]
    height = rng.uniform(5.0, 6.5)
    pole = (_quad(x - 0.09, x + 0.09, 0.0, height, z), POLE)
    if kind == 1:                                            # traffic light hanging over the road
        arm_x = x - side * rng.uniform(2.5, 4.0)
        return [pole, (_quad(min(x, arm_x), max(x, arm_x), height - 0.15, height, z), POLE),
                (_quad(arm_x - 0.2, arm_x + 0.2, height - 1.1, height - 0.15, z), LIGHT)]
    return [pole, (_quad(min(x, x - side * 1.2), max(x, x - side * 1.2), height - 0.12, height, z), POLE)]


# ---------------------------------------------------------------------------------------------------------------
# Pseudo-RGB


def shade(labels: np.ndarray, instances: np.ndarray, seed: int) -> np.ndarray:
    """Pseudo-RGB frames uint8 (T, H, W, 3) for labels (T, H, W) and instances (T, H, W), deterministic in seed.

    Palette colours toned towards grey (and jittered per scene), a tint per object instance (cars of many colours),
    a vertical sky gradient, darker lower pixels, outlined objects and mild per-frame noise. Not photorealistic:
    just enough texture and motion for the training loop, the flow and the tests to work without real data."""
    rng = _rng(int(seed), 6)
    t, h, w = labels.shape
    base = 0.6 * PALETTE.astype(np.float32) + 45.0 + rng.normal(0, 8, (len(PALETTE), 3)).astype(np.float32)
    rgb = base[labels]                                                        # (T, H, W, 3)
    rows = (np.arange(h, dtype=np.float32) / max(h - 1, 1))[None, :, None, None]
    sky = labels[..., None] == SKY
    rgb = np.where(sky, rgb * (1.25 - 0.35 * (1 - rows)) + 25 * rows, rgb * (1.05 - 0.15 * rows))
    if instances.max() > 0:
        tint = rng.normal(0, 45, (int(instances.max()) + 1, 3)).astype(np.float32)
        tint[0] = 0
        rgb = rgb + tint[instances]
        edge = np.zeros(instances.shape, bool)
        edge[..., 1:, :] |= instances[..., 1:, :] != instances[..., :-1, :]
        edge[..., :, 1:] |= instances[..., :, 1:] != instances[..., :, :-1]
        rgb = np.where(edge[..., None], rgb * 0.6, rgb)
    rgb = rgb + _rng(int(seed), 7).normal(0, 3, rgb.shape).astype(np.float32)
    return np.clip(rgb, 0, 255).round().astype(np.uint8)


# ---------------------------------------------------------------------------------------------------------------
# Datasets and examples


@functools.lru_cache(maxsize=256)
def _scene(seed: int, size: tuple[int, int]) -> StreetScene:
    """Scenes keep their generated facade lots, so each worker reuses them."""
    return StreetScene(seed, size)


class ProceduralStreetDataset(torch.utils.data.Dataset):
    """Procedural vid2vid training clips: scene (seed 0..num_scenes-1) and start time drawn from (seed, i); the
    same item schema as cityscapes.StreetClipDataset, frames from `shade` and flows by DIS on them."""

    def __init__(self, size: tuple[int, int], frames: int, seed: int = 0, length: int = 100_000,
                 num_scenes: int = 200, with_flow: bool = True):
        if num_scenes < 1 or frames < 1:
            raise ValueError(f"num_scenes and frames must be >= 1, got {num_scenes} and {frames}")
        self.size, self.frames, self.seed = (int(size[0]), int(size[1])), frames, seed
        self.length, self.num_scenes, self.with_flow = length, num_scenes, with_flow

    def __len__(self) -> int:
        return self.length

    def describe(self) -> dict:
        """What the clips are made of, for run folders and model cards."""
        return {"type": type(self).__name__, "length": self.length, "clip_frames": self.frames,
                "size": f"{self.size[1]}x{self.size[0]}", "procedural_scenes": f"seeds 0..{self.num_scenes - 1}",
                "reference_flow": "OpenCV DIS" if self.with_flow else None}

    def __getitem__(self, i: int) -> dict:
        if not 0 <= i < self.length:
            raise IndexError(i)
        rng = _rng(self.seed, i, 36)
        scene_seed = int(rng.integers(self.num_scenes))
        labels, instances = _scene(scene_seed, self.size).render(self.frames, float(rng.uniform(0, 2000)))
        return clip_item(labels, instances, shade(labels, instances, scene_seed), self.with_flow)


HELDOUT_SEED = 2_000_000      # procedural evaluation scenes, never trained on


def procedural_sequences(seeds: range | list[int], size: tuple[int, int], frames: int,
                         start: float = 0.0) -> list[StreetSequence]:
    """StreetSequences (with `shade` frames) of the given scene seeds, e.g. range(HELDOUT_SEED, HELDOUT_SEED + 8)."""
    out = []
    for seed in seeds:
        labels, instances = StreetScene(seed, size).render(frames, start=start)
        out.append(StreetSequence(f"street{seed}", labels, instances, shade(labels, instances, seed)))
    return out


_EXAMPLE_STYLES = {"Avenue with traffic": "avenue", "Narrow street, parked cars": "narrow", "Leafy road": "leafy"}


def street_examples(size: tuple[int, int] = (128, 256), frames: int = 24) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Three named example label videos for the app: [(name, labels uint8 (T, H, W), instances int32 (T, H, W))].
    Each is the first seed from 1_000_000 on with the wanted style (never a training scene)."""
    out = []
    for name, style in _EXAMPLE_STYLES.items():
        seed = next(s for s in range(1_000_000, 1_000_100) if StreetScene(s, (8, 16)).style == style)
        out.append((name, *StreetScene(seed, size).render(frames, start=10.0)))
    return out


# ---------------------------------------------------------------------------------------------------------------
# Dataset builders: the real Cityscapes sequences when present, else procedural streets


def street_root(data_root: str = "") -> Path | None:
    """The Cityscapes sequences to use: `data_root` if given, else the default location (None if absent)."""
    return Path(data_root) if data_root else default_cityscapes_root()


def build_street_clips(model: str, size: tuple[int, int], frames: int, seed: int, data_root: str = "",
                       with_flow: bool = True) -> torch.utils.data.Dataset:
    """Training clips of `frames` labelled frames at `size` (vid2vid: clips; the segmenter: single frames):
    the real training sequences (held-out ones excluded) when present, else procedural streets."""
    root = street_root(data_root)
    if root is None:
        print(f"{model}: no Cityscapes data found; training on procedural streets")
        return ProceduralStreetDataset(size, frames, seed=seed, with_flow=with_flow)
    sequences = load_sequences(root, size, exclude=HELDOUT_SEQUENCES)
    return StreetClipDataset(sequences, frames, seed=seed, with_flow=with_flow)


def street_sequences(size: tuple[int, int], root: Path | None, held_out: bool, count: int = 16,
                     frames: int = 12) -> tuple[list[StreetSequence], str]:
    """Cityscapes sequences (training ones, or the held-out ones) at `size`, else `count` procedural streets;
    with a description of which."""
    if root is not None:
        kept = {"include": HELDOUT_SEQUENCES} if held_out else {"exclude": HELDOUT_SEQUENCES}
        seqs = load_sequences(root, size, **kept)
        return seqs, f"Cityscapes {'held-out ' if held_out else ''}sequences {', '.join(s.name for s in seqs)}"
    seeds = range(HELDOUT_SEED, HELDOUT_SEED + count) if held_out else range(count)
    return (procedural_sequences(seeds, size, frames),
            f"{count} procedural street sequences (seeds {seeds.start}..{seeds.stop - 1})")
