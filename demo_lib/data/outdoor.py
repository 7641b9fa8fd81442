"""Procedural outdoor scenes under a 24-hour illumination model: the ground-truth world of the time-lapse demo.

Nam et al. (CVPR 2019) learn time-lapse from AMOS webcams and TLVDB clips; neither can be had offline, so this
module builds the world they photograph: a seeded landscape (sky, hills, water, town, trees, ground) that renders at
any hour and in any weather, deterministically. Because a scene can be re-rendered at any hour, a generated frame can
be dated against the truth (the timestamp-error benchmark), which no real dataset allows.

- `sample_layout(seed)` draws the content in normalized coordinates (u across, v down, both in [0, 1]), so one seed
  is one scene at every resolution.
- `OutdoorScene.__init__` rasterizes it once (supersampled, then box-filtered) into per-pixel maps: sky / water /
  surface coverage, albedo, normal, ambient occlusion, depth, window brightness and lighting rank, and the cloud,
  star, lamp, ripple and mist textures.
- `OutdoorScene.render(hour, weather)` turns the hour into a few dozen numbers (`_lighting`: sun position and colour,
  sky colours, ambient light, fog, mist, how many windows are lit) and then does per-pixel arithmetic on those maps,
  in linear light, encoded with gamma 2 (a square root) at the end.

Hours are told apart by design: the sun crosses from left (morning) to right (evening) and lights the sides of
hills, trees and buildings that face it; dawn glows pink on the left with a cool low mist, dusk glows orange-red on
the right in golden light; twilight is purple; night is dark navy with stars and lit windows, more of them in the
evening than before dawn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Sequence

import cv2
import numpy as np

SPLIT_OFFSETS = {"train": 0, "heldout": 1_000_000, "example": 2_000_000}


def scene_seeds(split: str, n: int) -> list[int]:
    """Scene seeds of a split; "train", "heldout" and "example" never share a scene (up to a million per split)."""
    if split not in SPLIT_OFFSETS:
        raise ValueError(f"unknown split {split!r}; expected one of {sorted(SPLIT_OFFSETS)}")
    if not 0 <= n <= 1_000_000:
        raise ValueError(f"n must be in [0, 1_000_000], got {n}")
    return [SPLIT_OFFSETS[split] + i for i in range(n)]


def sun_elevation(hour: float, sunrise: float = 6.0, sunset: float = 18.0) -> float:
    """The sine of the sun's altitude, in [-1, 1]: 0 at sunrise and sunset, 1 at solar noon, -1 at solar midnight.

    Day and night are each half a sine wave (of their own lengths), so it is continuous over the 24 h wrap.
    """
    day = sunset - sunrise
    t = (hour - sunrise) % 24.0
    if t <= day:
        return math.sin(math.pi * t / day)
    return -math.sin(math.pi * (t - day) / (24.0 - day))


# Fraction of a town's windows lit at each clock hour: busy evenings, nearly dark at 3-5 h, a little light at dawn.
_WINDOW_HOURS = np.array([0.0, 2.0, 4.0, 5.5, 7.0, 9.0, 17.0, 19.0, 21.0, 23.0, 24.0])
_WINDOW_LIT = np.array([0.40, 0.22, 0.08, 0.10, 0.30, 0.12, 0.25, 0.60, 0.70, 0.55, 0.40])


def window_lit_fraction(hour: float) -> float:
    """Fraction of windows lit at a clock hour (the lit set grows and shrinks as one nested, per-scene random order)."""
    return float(np.interp(hour % 24.0, _WINDOW_HOURS, _WINDOW_LIT))


@dataclass(frozen=True)
class Weather:
    cloud_cover: float = 0.3   # 0 clear .. 1 overcast (the fraction of the sky under cloud)
    haze: float = 0.1          # 0 clear .. 1 thick haze/fog (lowers contrast, greys the sky)
    cloud_phase: float = 0.0   # horizontal drift of the cloud texture, in scene widths (clips animate it)

    @staticmethod
    def random(rng: np.random.Generator) -> "Weather":
        """Mostly fair weather, sometimes overcast or hazy."""
        return Weather(cloud_cover=float(rng.uniform(0, 1) ** 1.5), haze=float(0.7 * rng.uniform(0, 1) ** 2),
                       cloud_phase=float(rng.uniform(0, 1)))


def _smoothstep(e0: float, e1: float, x):
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def _lin(rgb) -> np.ndarray:
    """A display-space colour -> linear light (gamma 2, matching the square-root encoding of `render`)."""
    return np.asarray(rgb, np.float32) ** 2


def _fractal_noise(rng: np.random.Generator, x, y, period: tuple[int, int] = (8, 8), octaves: int = 4,
                   gain: float = 0.5) -> np.ndarray:
    """Periodic fractal value noise in [0, 1] at lattice coordinates (x, y); period = octave-0 lattice (rows, cols).

    The lattices are drawn from `rng` in a fixed order whatever the coordinates, so the same rng state gives the same
    continuous field at every resolution; coordinates wrap, so x in [0, period[1]) tiles horizontally.
    """
    total, norm, amp = 0.0, 0.0, 1.0
    for o in range(octaves):
        s = 2 ** o
        py, px = period[0] * s, period[1] * s
        lattice = rng.random((py, px), dtype=np.float32)
        xs, ys = np.asarray(x, np.float32) * s, np.asarray(y, np.float32) * s
        x0, y0 = np.floor(xs), np.floor(ys)
        fx, fy = xs - x0, ys - y0
        fx, fy = fx * fx * (3 - 2 * fx), fy * fy * (3 - 2 * fy)                   # smoothstep interpolation
        x0, y0 = x0.astype(np.int64) % px, y0.astype(np.int64) % py
        x1, y1 = (x0 + 1) % px, (y0 + 1) % py
        a, b, c, d = lattice[y0, x0], lattice[y0, x1], lattice[y1, x0], lattice[y1, x1]
        total = total + amp * (a + (b - a) * fx + (c - a) * fy + (a - b - c + d) * fx * fy)
        norm += amp
        amp *= gain
    return (total / norm).astype(np.float32)


# ---------------------------------------------------------------------------------------------------------------
# Layout: what is where, in normalized coordinates

# Display-space colours per ground type: (ground A, ground B, near hills, far mountains).
GROUND_PALETTES = {
    "grass": ((0.34, 0.52, 0.20), (0.24, 0.42, 0.15), (0.24, 0.40, 0.20), (0.44, 0.48, 0.52)),
    "dry grass": ((0.68, 0.60, 0.34), (0.56, 0.47, 0.27), (0.52, 0.45, 0.29), (0.54, 0.48, 0.44)),
    "sand": ((0.86, 0.75, 0.54), (0.76, 0.64, 0.45), (0.74, 0.50, 0.33), (0.68, 0.46, 0.36)),
    "rock": ((0.50, 0.48, 0.44), (0.40, 0.38, 0.35), (0.42, 0.40, 0.37), (0.52, 0.52, 0.55)),
    "snow": ((0.84, 0.86, 0.90), (0.74, 0.78, 0.85), (0.78, 0.82, 0.88), (0.60, 0.64, 0.72)),
}
_BUILDING_COLOURS = ((0.72, 0.70, 0.66), (0.62, 0.42, 0.34), (0.82, 0.76, 0.62), (0.50, 0.52, 0.56), (0.86, 0.84, 0.80))
_TREE_COLOURS = ((0.20, 0.36, 0.14), (0.26, 0.42, 0.16), (0.14, 0.28, 0.16), (0.58, 0.40, 0.14))


@dataclass
class SceneLayout:
    """A scene's content, independent of resolution. v grows downward; 'm units' are fractions of min(H, W)."""

    seed: int
    horizon: float                     # v of the horizon line
    sunrise: float                     # hours
    sunset: float
    ground: str                        # key of GROUND_PALETTES
    hills: list[dict]                  # far to near: ridge shape, colour, depth
    water: dict | None                 # {"kind": "sea"|"lake", "top": v, ...}
    buildings: list[dict]
    trees: list[dict]
    lamps: list[tuple[float, float]]   # (u, v) of street lights
    stars: np.ndarray                  # (n, 3): u, v, brightness
    moon: tuple[float, float] | None
    mist: float                        # strength of the morning mist
    window_rgb: tuple[float, float, float]
    features: dict = field(default_factory=dict)


def _jitter(rng: np.random.Generator, rgb, amount: float = 0.06) -> tuple[float, float, float]:
    return tuple(float(c) for c in np.clip(np.asarray(rgb) + rng.uniform(-amount, amount, 3), 0, 1))


def sample_layout(seed: int) -> SceneLayout:
    """Draw a scene's content from its seed (cheap; no pixels)."""
    rng = np.random.default_rng([seed, 0])
    horizon = float(rng.uniform(0.45, 0.66))
    ground = str(rng.choice(list(GROUND_PALETTES), p=[0.35, 0.2, 0.15, 0.15, 0.15]))
    pal = GROUND_PALETTES[ground]
    mountainous = rng.random() < 0.5
    n_hills = int(rng.integers(1, 4))
    hills = []
    for k in range(n_hills):                                     # far (k = 0) to near
        near = k / 2.0
        tall = mountainous and k == 0
        height = rng.uniform(0.16, 0.34) if tall else rng.uniform(0.05, 0.15) * (1.0 - 0.4 * near)
        colour = np.asarray(pal[3]) * (1 - near) + np.asarray(pal[2]) * near if not tall else pal[3]
        hills.append(dict(height=float(height), sharp=bool(tall), snow=bool(tall and rng.random() < 0.6),
                          freqs=(np.array([1, 2, 4, 8]) * rng.uniform(0.7, 1.4, 4)).tolist(),
                          amps=(np.array([1, 0.5, 0.25, 0.12]) * rng.uniform(0.5, 1.5, 4)).tolist(),
                          phases=rng.uniform(0, 2 * np.pi, 4).tolist(), colour=_jitter(rng, colour),
                          depth=0.97 - 0.17 * k))
    town = rng.random() < 0.4
    town_base = horizon + float(rng.uniform(0.015, 0.08))
    water = None
    if rng.random() < 0.4:
        top = town_base + 0.004 if town else horizon                  # the water mirrors the town across it
        if rng.random() < 0.4:                                         # a sea (or a harbour in front of the town)
            water = dict(kind="sea", top=top, bottom=top + float(rng.uniform(0.06, 0.22)),
                         rgb=_jitter(rng, (0.10, 0.22, 0.32), 0.03))
        else:                                                          # a lake in front of the far shore or town
            water = dict(kind="lake", top=top + (0.0 if town else float(rng.uniform(0.0, 0.05))),
                         uc=float(rng.uniform(0.3, 0.7)), half_w=float(rng.uniform(0.25, 0.55)),
                         depth_v=float(rng.uniform(0.06, 0.18)), rgb=_jitter(rng, (0.12, 0.22, 0.24), 0.03))
    buildings, lamps = [], []
    if town:
        scale = rng.uniform(0.6, 1.3)
        u = float(rng.uniform(-0.05, 0.4))
        u_end = min(1.05, u + rng.uniform(0.35, 0.9))
        while u < u_end:
            w = float(rng.uniform(0.05, 0.13))
            top = town_base - float(rng.uniform(0.05, 0.28) * scale)
            cell_w, cell_h = float(rng.uniform(0.018, 0.03)), float(rng.uniform(0.022, 0.034))
            rows, cols = max(1, int((town_base - top - 0.02) / cell_h)), max(1, int((w - 0.01) / cell_w))
            buildings.append(dict(u0=u, u1=u + w, top=top, base=town_base,
                                  colour=_jitter(rng, _BUILDING_COLOURS[rng.integers(len(_BUILDING_COLOURS))]),
                                  side=1 if u + w / 2 < 0.5 else -1, cell=(cell_h, cell_w), grid=(rows, cols),
                                  rank=rng.random((rows, cols)), bright=rng.uniform(0.5, 1.0, (rows, cols))))
            u += w + float(rng.uniform(0.0, 0.04))
        lamps = [(float(x), town_base + 0.012) for x in np.arange(buildings[0]["u0"] + 0.03, u, 0.09)]
    trees = []
    if rng.random() < (0.25 if ground == "sand" else 0.7):
        for _ in range(int(rng.integers(2, 20))):
            vb = float(horizon + 0.015 + rng.uniform(0, 1) ** 1.5 * (1.0 - horizon))
            ub = float(rng.uniform(0, 1))
            in_sea = water is not None and water["kind"] == "sea" and vb < water["bottom"] + 0.01
            in_lake = water is not None and water["kind"] == "lake" and vb > water["top"] and \
                ((ub - water["uc"]) / water["half_w"]) ** 2 + ((vb - water["top"]) / water["depth_v"]) ** 2 < 1.2
            if in_sea or in_lake or (town and vb < town_base + 0.02):
                continue
            conifer = ground in ("snow", "rock") or rng.random() < 0.3
            trees.append(dict(u=ub, v=vb, h=float((0.04 + 0.9 * (vb - horizon)) * rng.uniform(0.25, 0.5)),
                              conifer=bool(conifer), colour=_jitter(rng, _TREE_COLOURS[2 if conifer else
                                                                    rng.choice([0, 1, 0, 1, 3])], 0.04)))
        trees.sort(key=lambda t: t["v"])                         # far first (painter's algorithm)
    stars = np.stack([rng.uniform(0, 1, 220), rng.uniform(0, horizon, 220), rng.uniform(0.15, 1, 220) ** 2], 1)
    moon = (float(rng.uniform(0.12, 0.88)), float(rng.uniform(0.06, 0.28))) if rng.random() < 0.5 else None
    window_rgb = (1.0, 0.78, 0.45) if rng.random() < 0.8 else (0.92, 0.92, 1.0)
    return SceneLayout(seed=seed, horizon=horizon, sunrise=float(rng.uniform(5.3, 6.7)),
                       sunset=float(rng.uniform(17.3, 18.7)), ground=ground, hills=hills, water=water,
                       buildings=buildings, trees=trees, lamps=lamps, stars=stars.astype(np.float32), moon=moon,
                       mist=float(rng.uniform(0.3, 0.55)), window_rgb=window_rgb,
                       features=dict(ground=ground, hills=n_hills, mountains=mountainous, town=town,
                                     water=None if water is None else water["kind"], trees=len(trees)))


def _ridge_profile(layer: dict, u: np.ndarray) -> np.ndarray:
    """Height of a hill layer's silhouette in [0, 1] along u: smooth sines, or ridged peaks for mountains."""
    s = sum(a * np.sin(2 * np.pi * f * u + p) for a, f, p in zip(layer["amps"], layer["freqs"], layer["phases"]))
    s = s / sum(layer["amps"])                                       # in [-1, 1]
    return 0.3 + 0.7 * (1 - np.abs(s)) ** 2 if layer["sharp"] else 0.5 + 0.5 * s


# ---------------------------------------------------------------------------------------------------------------
# Rasterization: attribute maps, painted back to front at a supersampled resolution


class _Canvas:
    """Per-pixel attributes at supersampled resolution; `paint` writes a layer into a box where its mask is set."""

    def __init__(self, h: int, w: int):
        self.h, self.w, m = h, w, min(h, w)
        self.u = ((np.arange(w) + 0.5) / w).astype(np.float32)[None, :]      # (1, w)
        self.v = ((np.arange(h) + 0.5) / h).astype(np.float32)[:, None]      # (h, 1)
        self.ax, self.ay = w / m, h / m                                       # normalized -> m units
        self.kind = np.zeros((h, w), np.int8)                                 # 0 sky, 1 surface, 2 water
        self.albedo = np.zeros((h, w, 3), np.float32)
        self.normal = np.zeros((h, w, 3), np.float32)
        self.ao = np.ones((h, w), np.float32)
        self.depth = np.ones((h, w), np.float32)
        self.win_bright = np.zeros((h, w), np.float32)
        self.win_rank = np.full((h, w), 2.0, np.float32)                      # 2 = no window (never lit)

    def rows(self, v0: float, v1: float) -> slice:
        return slice(int(np.clip(round(v0 * self.h), 0, self.h)), int(np.clip(round(v1 * self.h), 0, self.h)))

    def cols(self, u0: float, u1: float) -> slice:
        return slice(int(np.clip(round(u0 * self.w), 0, self.w)), int(np.clip(round(u1 * self.w), 0, self.w)))

    def paint(self, r: slice, c: slice, mask: np.ndarray, **attrs) -> None:
        for name, value in attrs.items():
            target = getattr(self, name)[r, c]
            target[mask] = np.broadcast_to(np.asarray(value, target.dtype), target.shape)[mask]


def _unit(nx, ny, nz) -> np.ndarray:
    n = np.stack(np.broadcast_arrays(nx, ny, nz), -1).astype(np.float32)
    return n / np.linalg.norm(n, axis=-1, keepdims=True)


def _box(a: np.ndarray, ss: int, reduce=None) -> np.ndarray:
    """Downsample by ss x ss boxes: the exact area average (INTER_AREA at an integer factor), or `reduce` over each."""
    h, w = a.shape[:2]
    if reduce is None:
        return cv2.resize(a.astype(np.float32), (w // ss, h // ss), interpolation=cv2.INTER_AREA)
    return reduce(a.reshape(h // ss, ss, w // ss, ss, *a.shape[2:]), axis=(1, 3)).astype(np.float32)


def _rasterize(lay: SceneLayout, cv: _Canvas) -> None:
    u, v, vh = cv.u, cv.v, lay.horizon
    tex = _fractal_noise(np.random.default_rng([lay.seed, 1]), u * 8, v * 8, (8, 8), 4)      # shared fine texture
    hr = cv.rows(0, vh)
    for k, layer in enumerate(lay.hills):
        ridge = vh - layer["height"] * _ridge_profile(layer, u)                               # (1, w)
        slope = -np.gradient(ridge[0], u[0])[None, :] * cv.ay / cv.ax    # dh/du in m units: > 0 rises to the right
        below = v[hr] - ridge                                           # > 0 inside the layer
        # Spurs and gullies run diagonally down from the crest: noise sheared along both diagonals.
        gully = _fractal_noise(np.random.default_rng([lay.seed, 10 + k]), u * 8 + v[hr] * 6, v[hr] * 10, (10, 8), 3)
        spur = _fractal_noise(np.random.default_rng([lay.seed, 20 + k]), u * 8 - v[hr] * 6, v[hr] * 10, (10, 8), 3)
        nx = -np.clip(slope, -2, 2) * np.exp(-below / 0.1) + 1.2 * (gully - spur)   # faces left where it rises
        normal = _unit(nx, 0.45 + 0.5 * np.exp(-below / 0.04), 0.6)
        albedo = np.asarray(_lin(layer["colour"]))[None, None] * (0.75 + 0.5 * tex[hr])[..., None]
        if layer["snow"]:
            snow = below < layer["height"] * (0.15 + 0.35 * gully)
            albedo = np.where(snow[..., None], _lin((0.93, 0.94, 0.97)), albedo)
        cv.paint(hr, slice(None), below >= 0, kind=1, albedo=albedo, normal=normal, ao=0.9, depth=layer["depth"])
    # Ground, textured in perspective (the texture scale shrinks toward the horizon).
    gr = cv.rows(vh, 1.0)
    z = 1.0 / np.maximum(v[gr] - vh, 0.004)
    gnoise = _fractal_noise(np.random.default_rng([lay.seed, 2]), (u - 0.5) * z * 0.25 + 64, np.minimum(z, 200) * 0.06,
                            (16, 16), 3)
    ga, gb = _lin(GROUND_PALETTES[lay.ground][0]), _lin(GROUND_PALETTES[lay.ground][1])
    albedo = (ga + (gb - ga) * gnoise[..., None]) * (0.85 + 0.3 * tex[gr])[..., None]
    cv.paint(gr, slice(None), np.ones(albedo.shape[:2], bool), kind=1, albedo=albedo,
             normal=_unit(0.5 * (gnoise - 0.5), 0.9, 0.35), ao=1.0, depth=1.0 / (1.0 + 12.0 * (v[gr] - vh)))
    wat = lay.water
    if wat is not None:
        if wat["kind"] == "sea":
            r = cv.rows(wat["top"], wat["bottom"])
            mask = np.ones((r.stop - r.start, cv.w), bool)
        else:
            r = cv.rows(wat["top"], wat["top"] + wat["depth_v"])
            mask = ((u - wat["uc"]) / wat["half_w"]) ** 2 + ((v[r] - wat["top"]) / wat["depth_v"]) ** 2 < 1
        cv.paint(r, slice(None), mask, kind=2, depth=1.0 / (1.0 + 12.0 * (v[r] - vh)))
    for b in lay.buildings:
        r = cv.rows(b["top"], b["base"])
        depth = 1.0 / (1.0 + 12.0 * (b["base"] - vh))
        side_w = 0.22 * (b["u1"] - b["u0"])
        c = cv.cols(b["u1"], b["u1"] + side_w) if b["side"] > 0 else cv.cols(b["u0"] - side_w, b["u0"])
        box = np.ones((r.stop - r.start, c.stop - c.start), bool)
        cv.paint(r, c, box, kind=1, albedo=_lin(b["colour"]) * 0.85, normal=_unit(b["side"], 0.05, 0.25),
                 ao=0.8, depth=depth, win_bright=0.0, win_rank=2.0)
        c = cv.cols(b["u0"], b["u1"])
        lu = (u[:, c] - b["u0"] - 0.008) / b["cell"][1]
        lv = (v[r] - b["top"] - 0.012) / b["cell"][0]
        i, j = np.floor(lv).astype(int), np.floor(lu).astype(int)
        inside = (i >= 0) & (i < b["grid"][0]) & (j >= 0) & (j < b["grid"][1]) & (lu - j < 0.6) & (lv - i < 0.55)
        ii, jj = np.clip(i, 0, b["grid"][0] - 1), np.clip(j, 0, b["grid"][1] - 1)
        ii, jj = np.broadcast_arrays(ii, jj)
        albedo = np.where(inside[..., None], _lin((0.22, 0.26, 0.32)), _lin(b["colour"]))
        cv.paint(r, c, np.ones(inside.shape, bool), kind=1, albedo=albedo, normal=_unit(0.0, 0.05, 1.0), ao=0.9,
                 depth=depth, win_bright=np.where(inside, b["bright"][ii, jj], 0.0),
                 win_rank=np.where(inside, b["rank"][ii, jj], 2.0))
    for t in lay.trees:                                          # round shapes in m units, so they stay round
        h = t["h"]
        trunk_r, trunk_c = cv.rows(t["v"] - 0.4 * h, t["v"]), cv.cols(t["u"] - 0.03 * h, t["u"] + 0.03 * h)
        cv.paint(trunk_r, trunk_c, np.ones((trunk_r.stop - trunk_r.start, trunk_c.stop - trunk_c.start), bool),
                 kind=1, albedo=_lin((0.25, 0.18, 0.12)), normal=_unit(0, 0, 1), ao=0.7, depth=0.3)
        r, c = cv.rows(t["v"] - 1.05 * h, t["v"] - 0.1 * h), cv.cols(t["u"] - 0.6 * h, t["u"] + 0.6 * h)
        dx, vv = (u[:, c] - t["u"]) * cv.ax, v[r]
        leaf = _lin(t["colour"]) * (0.7 + 0.6 * tex[r, c])[..., None]
        depth = 1.0 / (1.0 + 12.0 * (t["v"] - vh))
        if t["conifer"]:                                             # a triangle: half-width grows downward
            half = np.maximum(0.28 * h * cv.ay * (vv - (t["v"] - 1.05 * h)) / (0.95 * h), 1e-4)
            cv.paint(r, c, np.abs(dx) < half, kind=1, albedo=leaf, normal=_unit(0.8 * dx / half, 0.35, 0.7),
                     ao=0.8, depth=depth)
            continue
        for cx, cy, rad in ((0.0, 0.55, 0.34), (-0.2, 0.42, 0.24), (0.2, 0.45, 0.26)):   # canopy: three spheres
            ddx, ddy = dx / (h * cv.ay) - cx, (vv - (t["v"] - (0.1 + cy) * h)) / h
            d2 = (ddx ** 2 + ddy ** 2) / rad ** 2
            cv.paint(r, c, d2 < 1, kind=1, albedo=leaf, ao=0.85, depth=depth,
                     normal=_unit(ddx / rad, -ddy / rad, np.sqrt(np.clip(1 - d2, 0.05, 1))))


# ---------------------------------------------------------------------------------------------------------------
# Illumination over 24 h: colour tables indexed by the sun's elevation, one for dawn and one for dusk

_E_KEYS = np.array([-1.0, -0.4, -0.25, -0.12, -0.03, 0.03, 0.12, 0.3, 1.0])
_NIGHT_ZEN, _NIGHT_HOR = (0.02, 0.03, 0.08), (0.05, 0.07, 0.15)
_DAY_ZEN, _DAY_HOR = (0.17, 0.40, 0.84), (0.64, 0.79, 0.94)


def _sky_table(zen, hor, glow, sun) -> np.ndarray:
    """(K, 12): zenith, horizon (display colours -> linear), glow colour x strength and sun colour (linear)."""
    return np.concatenate([_lin(zen), _lin(hor), np.asarray(glow, np.float32), np.asarray(sun, np.float32)], 1)


_O, _W = (0.0, 0.0, 0.0), (1.0, 0.97, 0.93)
_DAWN = _sky_table(
    zen=[_NIGHT_ZEN, _NIGHT_ZEN, (.07, .08, .20), (.17, .18, .40), (.30, .33, .58), (.36, .48, .74), (.33, .52, .82),
         (.25, .48, .86), _DAY_ZEN],
    hor=[_NIGHT_HOR, _NIGHT_HOR, (.14, .12, .28), (.52, .36, .56), (.95, .62, .70), (1.0, .76, .72), (.90, .85, .84),
         (.72, .83, .93), _DAY_HOR],
    glow=[_O, _O, _O, (.18, .06, .12), (.75, .30, .42), (.66, .36, .32), (.25, .17, .12), _O, _O],
    sun=[(1, .5, .4)] * 5 + [(1, .56, .44), (1, .72, .56), (1, .9, .78), _W])
_DUSK = _sky_table(
    zen=[_NIGHT_ZEN, _NIGHT_ZEN, (.09, .07, .19), (.22, .16, .38), (.34, .28, .50), (.38, .44, .66), (.35, .50, .78),
         (.26, .48, .85), _DAY_ZEN],
    hor=[_NIGHT_HOR, _NIGHT_HOR, (.22, .10, .22), (.68, .28, .28), (1.0, .50, .24), (1.0, .64, .36), (.98, .80, .60),
         (.76, .82, .88), _DAY_HOR],
    glow=[_O, _O, _O, (.26, .06, .03), (.95, .30, .05), (.80, .34, .08), (.32, .18, .07), _O, _O],
    sun=[(1, .36, .1)] * 5 + [(1, .44, .16), (1, .62, .32), (1, .84, .62), _W])


def _lookup(x: float, keys: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Piecewise-linear lookup of the rows of `table` at x (clamped to the key range)."""
    x = min(max(x, float(keys[0])), float(keys[-1]))
    i = min(int(np.searchsorted(keys, x, side="right")) - 1, len(keys) - 2)
    t = (x - keys[i]) / (keys[i + 1] - keys[i])
    return (table[i] + np.float32(t) * (table[i + 1] - table[i])).astype(np.float32)


@dataclass
class _Light:
    """Everything `render` needs about one hour and weather; colours are float32 linear RGB."""
    zenith: np.ndarray
    horizon: np.ndarray
    glow: np.ndarray          # dawn/dusk glow colour x strength, in a lobe around the sun's side
    sun_rgb: np.ndarray       # colour of the direct light
    sun_x: float              # sun disk centre (m units)
    sun_y: float
    sun_dir: tuple[float, float, float]   # direction to the sun (x right, y up, z toward the camera)
    direct: float             # direct-light intensity
    ambient: np.ndarray       # sky light
    cloud_a: np.ndarray       # cloud colour = density * (cloud_a + shade * cloud_b)
    cloud_b: np.ndarray
    stars: float
    moon: float
    windows: float            # window emission strength
    lamps: float
    fog_surface: float        # fog amount = depth * fog_surface (+ sky coverage * fog_sky)
    fog_sky: float
    fog_rgb: np.ndarray
    mist: float
    mist_rgb: np.ndarray
    disk: float               # visibility of the sun disk and halo


# ---------------------------------------------------------------------------------------------------------------
# The scene


STAR_GRID = 128   # stars are one pixel each on a grid whose shorter side has this many pixels


def _star_layer(stars: np.ndarray, H: int, W: int) -> np.ndarray:
    """(H, W) float32: each star (u, v, brightness) adds its brightness to one pixel of a grid whose shorter side
    is STAR_GRID pixels, and that grid is resampled to (H, W) by area, so the stars add the same light to the night
    sky at any size. (Added one pixel per star at the final size, the 220 stars lit a 64-px night sky four times as
    much as a 128-px one: the generator, trained at 64 px, learned nights too bright for the 128-px ground truth.)"""
    m = min(H, W)
    gh, gw = max(1, round(H * STAR_GRID / m)), max(1, round(W * STAR_GRID / m))
    grid = np.zeros((gh, gw), np.float32)
    su, sv, sb = stars.T
    np.add.at(grid, (np.minimum((sv * gh).astype(int), gh - 1), np.minimum((su * gw).astype(int), gw - 1)), sb)
    return cv2.resize(grid, (W, H), interpolation=cv2.INTER_AREA)   # at the grid's own size: the grid, unchanged


class OutdoorScene:
    """One seeded place, renderable at any hour and weather. size = (H, W); layout maps are computed once here."""

    def __init__(self, seed: int, size: tuple[int, int] = (128, 128)):
        self.seed, self.size = int(seed), (int(size[0]), int(size[1]))
        H, W = self.size
        self.layout = lay = sample_layout(self.seed)
        self.sunrise, self.sunset = lay.sunrise, lay.sunset
        self.features = lay.features
        # Supersampling for anti-aliased edges and windows: a canvas of at least 128 px, at least 2x up to 256 px.
        ss = max(min(math.ceil(128 / min(H, W)), 4), 2 if min(H, W) <= 256 else 1)
        cv = _Canvas(H * ss, W * ss)
        _rasterize(lay, cv)
        surface, sky, water = [_box((cv.kind == k).astype(np.float32), ss) for k in (1, 0, 2)]
        self._sky_cov = sky[..., None]                                               # (H, W, 1)
        self._water_cov = water
        self._albedo = _box(cv.albedo * (cv.kind == 1)[..., None], ss)               # premultiplied by coverage
        normal = _box(cv.normal * (cv.kind == 1)[..., None], ss) / np.maximum(surface, 1e-4)[..., None]
        self._nx, self._ny, self._nz = (np.ascontiguousarray(normal[..., i]) for i in range(3))
        ao = _box(cv.ao * (cv.kind == 1), ss) / np.maximum(surface, 1e-4)
        self._albedo_ao = self._albedo * ao[..., None]
        self._depth = _box(cv.depth * (cv.kind != 0), ss)
        self._win_bright = _box(cv.win_bright, ss)
        self._win_rank = _box(cv.win_rank, ss, np.min)     # a pixel lights up with the first of its windows
        self._has_windows = bool(self._win_bright.max() > 0)
        self._win_rgb = _lin(lay.window_rgb)

        # Final-resolution textures. Coordinates: u, v normalized; ux, vy in m units (for round sun, moon, lamps).
        m = min(H, W)
        u = ((np.arange(W) + 0.5) / W).astype(np.float32)
        v = ((np.arange(H) + 0.5) / H).astype(np.float32)
        self._ux, self._vy = u * (W / m), v * (H / m)
        vh = lay.horizon
        above = np.clip((vh - v) / vh, 0, 1)                         # 1 at the top of the frame, 0 at the horizon
        self._sky_t = ((1 - above) ** 2.2)[:, None, None]             # zenith -> horizon blend (H, 1, 1)
        self._glow_y = np.exp(-np.clip(vh - v, 0, None) / 0.2)[:, None, None]
        # Clouds: perspective-compressed toward the horizon, tiling horizontally (4 lattice cells per width).
        cy = 1.0 / (np.clip(vh - v, 0, None) + 0.1)
        raw = _fractal_noise(np.random.default_rng([self.seed, 3]), u[None, :] * 5, cy[:, None], (4, 5), 5)
        ranks = np.empty(raw.size, np.float32)
        ranks[np.argsort(raw, axis=None, kind="stable")] = np.linspace(0, 1, raw.size, dtype=np.float32)
        gx = (np.roll(raw, -1, 1) - np.roll(raw, 1, 1)) * (W / 10)   # density gradient, ~unit scale
        gy = np.gradient(raw, axis=0) * (H / 4)                       # toward the ground
        self._clouds = np.stack([ranks.reshape(raw.shape), gx, gy], -1).astype(np.float32)   # (H, W, 3)
        # Stars (fixed per scene), moon, street lamps.
        self._stars = _star_layer(lay.stars, H, W)[..., None]
        self._moon = np.zeros((H, W, 1), np.float32)
        if lay.moon is not None:
            r2 = (self._ux[None] - lay.moon[0] * W / m) ** 2 + (self._vy[:, None] - lay.moon[1] * H / m) ** 2
            self._moon = (np.clip((0.025 ** 2 - r2) * 40000 + 0.5, 0, 1) + 0.25 * np.exp(-r2 / 0.004))[..., None]
        lamps = np.zeros((H, W), np.float32)
        for lu, lv in lay.lamps:
            r2 = (self._ux[None] - lu * W / m) ** 2 + (self._vy[:, None] - lv * H / m) ** 2
            lamps += np.exp(-r2 / 0.008 ** 2) + 0.08 * np.exp(-r2 / 0.03 ** 2)
        self._lamps = lamps[..., None].astype(np.float32)
        # Morning mist lies low: strongest just below the ridgelines near the horizon and over the near ground.
        self._mist = (np.exp(-np.abs(v - vh - 0.01) / 0.05)[:, None] * (1 - sky)).astype(np.float32)
        self._init_water(u, v)

    def _init_water(self, u: np.ndarray, v: np.ndarray) -> None:
        """Water pixels reflect the picture mirrored about the water's far edge, broken up by ripples."""
        H, W = self.size
        idx = np.flatnonzero(self._water_cov > 0)
        self._water_idx = idx
        if not len(idx):
            return
        wat = self.layout.water
        r, c = idx // W, idx % W
        dv = np.maximum(v[r] - wat["top"], 1e-3)
        rng = np.random.default_rng([self.seed, 4])
        ripple = _fractal_noise(rng, u[c] * 6, 0.25 / (dv + 0.01), (8, 6), 3)     # stretched along the horizontal
        src_r = np.clip(np.round(2 * wat["top"] * H - r - 1 + (ripple - 0.5) * H * (0.02 + 0.1 * dv)), 0, H - 1)
        src_c = np.clip(c + np.round((ripple - 0.5) * W * (0.01 + 0.05 * dv)), 0, W - 1)   # nearer = wavier
        self._water_src = (src_r * W + src_c).astype(np.int64)
        self._water_k = self._water_cov.ravel()[idx][:, None]
        self._fresnel = np.clip(0.85 - 1.2 * dv, 0.35, 0.85)[:, None] * (0.85 + 0.3 * ripple)[:, None]
        self._water_ux = self._ux[c]
        self._glint = np.clip(ripple - 0.5, 0, None)[:, None] * 6
        self._water_rgb = _lin(wat["rgb"])

    # -------------------------------------------------------------------------------------------------------------
    def _lighting(self, hour: float, w: Weather) -> _Light:
        lay = self.layout
        e = sun_elevation(hour, lay.sunrise, lay.sunset)
        day = lay.sunset - lay.sunrise
        t = (hour - lay.sunrise) % 24.0
        dusk_side = day / 2 <= t < day / 2 + 12.0              # from solar noon to solar midnight
        f = min(t / day, 1.0) if t <= day + (24 - day) / 2 else 0.0   # 0 at sunrise .. 1 at sunset (held at night)
        row = _lookup(e, _E_KEYS, _DUSK if dusk_side else _DAWN)
        zen, hor, glow, sun_rgb = row[0:3], row[3:6], row[6:9], row[9:12]
        H, W = self.size
        m = min(H, W)
        sun_u, sun_v = 0.06 + 0.88 * f, lay.horizon - e * ((lay.horizon - 0.1) if e > 0 else 0.3)
        alt = math.asin(e) * 0.8
        phi = math.pi * f
        sun_dir = (-math.cos(phi) * math.cos(alt), math.sin(alt), 0.45)
        direct = float(_smoothstep(-0.02, 0.1, e)) * (0.85 + 0.45 * max(e, 0.0))
        # Evening light is golden, morning light cool; both fade out at night.
        warm = float(_smoothstep(day / 2 + 1.0, day - 0.3, t) * (1 - _smoothstep(day + 0.5, day + 2.0, t)))
        x = t if t < 12 else t - 24                              # hours since sunrise, negative before dawn
        cool = float(_smoothstep(-1.5, 0.3, x) * (1 - _smoothstep(1.0, 3.5, x)))
        sun_rgb = sun_rgb * np.array([1.0, 1 - 0.06 * warm, 1 - 0.3 * warm], np.float32)
        # Weather: overcast greys the sky and turns direct light into diffuse light; haze dims the sun a little.
        og = float(_smoothstep(0.3, 1.0, w.cloud_cover))
        grey_z, grey_h = zen.mean() * 0.9, hor.mean() * 0.95
        zen, hor = zen + 0.85 * og * (grey_z - zen), hor + 0.85 * og * (grey_h - hor)
        glow = glow * (1 - 0.6 * og)
        direct *= (1 - 0.8 * og) * (1 - 0.35 * w.haze)
        ambient = 0.5 * (0.55 * zen + 0.45 * hor) * (1 + 0.8 * og) + _lin((0.06, 0.07, 0.10))
        if lay.moon is not None:
            ambient = ambient + float(_smoothstep(-0.05, -0.25, e)) * _lin((0.07, 0.08, 0.10))
        ambient = ambient * np.array([1 + 0.08 * warm - 0.06 * cool, 1.0, 1 - 0.1 * warm + 0.1 * cool], np.float32)
        lit = sun_rgb * direct
        cloud_a = (ambient + ambient.mean()) * 0.8 * (1 - 0.45 * og) + lit * 0.45 + glow * 0.4   # thick = grey
        daylight = float(_smoothstep(-0.1, 0.3, e))
        lamps = float(_smoothstep(0.06, -0.06, e))
        fog_rgb = hor * 0.9 + ambient * 0.2
        if lamps and lay.lamps:
            hor = hor + lamps * _lin((0.18, 0.12, 0.06))          # light pollution over a town
        mist = cool * lay.mist * (1 - 0.5 * w.haze)
        mist_level = min(float(ambient.mean()) * 2.0 + direct * 0.25, 1.0)
        return _Light(
            zenith=zen.astype(np.float32), horizon=hor.astype(np.float32), glow=glow.astype(np.float32),
            sun_rgb=sun_rgb.astype(np.float32), sun_x=sun_u * W / m, sun_y=sun_v * H / m,
            sun_dir=sun_dir, direct=direct, ambient=ambient.astype(np.float32), cloud_a=cloud_a.astype(np.float32),
            cloud_b=(lit * 0.5).astype(np.float32), stars=float(_smoothstep(-0.12, -0.3, e)) * (1 - w.haze) * 0.5,
            moon=float(_smoothstep(-0.05, -0.25, e)) * (1 - 0.7 * w.haze) * 0.6,
            windows=(1 - 0.9 * daylight) * 1.4, lamps=lamps * 0.9,
            fog_surface=0.18 + 0.75 * w.haze, fog_sky=0.8 * w.haze, fog_rgb=fog_rgb.astype(np.float32),
            mist=mist, mist_rgb=(_lin((0.78, 0.84, 0.95)) * mist_level).astype(np.float32),
            disk=float(_smoothstep(-0.05, 0.02, e)) * (1 - 0.85 * og) * (1 - 0.6 * w.haze))

    def lit_windows(self, hour: float) -> np.ndarray:
        """(H, W) coverage of the windows lit at this clock hour (the same nested random order at every hour)."""
        return (self._win_rank < window_lit_fraction(hour)) * self._win_bright

    def render(self, hour: float, weather: Weather | None = None) -> np.ndarray:
        """The scene at a clock hour (any float; taken modulo 24) -> uint8 (H, W, 3) RGB."""
        w = weather if weather is not None else Weather()
        hour = float(hour) % 24.0
        L = self._lighting(hour, w)
        H, W = self.size
        # Sky: zenith-to-horizon gradient (H, 1, 3) plus the dawn/dusk glow lobe on the sun's side (H, W, 3).
        fx = np.exp(-((self._ux - L.sun_x) / 0.45) ** 2)[None, :, None]     # centred on the sun's side
        lobe = self._glow_y * fx                                                # (H, W, 1)
        sky = (L.zenith + self._sky_t * (L.horizon - L.zenith)) + lobe * L.glow
        if L.stars > 0:
            sky = sky + self._stars * L.stars
        if L.moon > 0:
            sky = sky + self._moon * (L.moon * _lin((0.95, 0.93, 0.85)))
        # Clouds: equalized noise thresholded at (1 - cover), so `cloud_cover` is the covered fraction of the sky.
        d = None
        direct = L.direct
        if w.cloud_cover > 1e-3:
            tex = self._shifted_clouds(w.cloud_phase)
            d = np.clip((tex[..., 0] - (1 - w.cloud_cover)) * 8.0, 0, 1)[..., None]              # (H, W, 1)
            shade = np.clip(0.5 - L.sun_dir[0] * tex[..., 1:2] + 0.5 * tex[..., 2:3], 0, 1.5)   # sun-facing side
            sky = sky * (1 - 0.95 * d) + d * (L.cloud_a + shade * L.cloud_b) + (d * (1 - d) * 4) * lobe * L.glow
            m = min(H, W)
            sr, sc = int(np.clip(L.sun_y * m, 0, H - 1)), int(np.clip(L.sun_x * m, 0, W - 1))
            direct *= 1 - 0.7 * float(d[sr, sc, 0])                                 # a cloud over the sun
        if L.disk > 0:
            r2 = (self._ux[None, :] - L.sun_x) ** 2 + (self._vy[:, None] - L.sun_y) ** 2
            sun = (np.clip((0.032 ** 2 - r2) * 20000, 0, 1) * 6 + 0.6 * np.exp(-r2 / 0.012))[..., None] * L.disk
            sky = sky + (sun if d is None else sun * (1 - d)) * L.sun_rgb
        # Surfaces: Lambert direct light from the sun's side plus ambient sky light.
        sx, sy, sz = L.sun_dir
        lam = np.clip(self._nx * sx + self._ny * sy + self._nz * sz, 0, None)[..., None]
        img = sky * self._sky_cov + self._albedo * (lam * (L.sun_rgb * direct)) + self._albedo_ao * L.ambient
        if self._has_windows and L.windows > 0:
            img += (self.lit_windows(hour) * L.windows)[..., None] * self._win_rgb
        if L.lamps > 0 and self.layout.lamps:
            img += self._lamps * (L.lamps * _lin((1.0, 0.75, 0.4)))
        if len(self._water_idx):
            flat = img.reshape(-1, 3)
            refl = flat[self._water_src]
            base = self._water_rgb * (L.ambient + 0.3 * direct * L.sun_rgb)
            water = refl * self._fresnel + base * (1 - self._fresnel)
            if direct > 0 and L.disk > 0:
                glint = np.exp(-((self._water_ux - L.sun_x) / 0.06) ** 2)[:, None] * self._glint
                water += glint * (direct * L.sun_rgb)
            flat[self._water_idx] += self._water_k * water
        # Haze: blend toward the horizon colour by depth (receding hills get hazier); the sky greys with haze.
        fog = (self._depth * L.fog_surface)[..., None] + self._sky_cov * L.fog_sky
        img += fog * ((L.fog_rgb + fx * L.glow * 0.5) - img)
        if L.mist > 1e-3:
            img += (self._mist * L.mist)[..., None] * (L.mist_rgb - img)
        np.sqrt(np.clip(img, 0, 1, out=img), out=img)                        # gamma-2 encoding
        return (img * 255.0 + 0.5).astype(np.uint8)

    def _shifted_clouds(self, phase: float) -> np.ndarray:
        """The cloud texture moved right by `phase` scene widths, wrapping around (sub-pixel shifts interpolate)."""
        s = (phase % 1.0) * self.size[1]
        k, frac = int(s), s - int(s)
        a = np.roll(self._clouds, k, axis=1)
        return a if frac < 1e-6 else a + np.float32(frac) * (np.roll(self._clouds, k + 1, axis=1) - a)

    def render_clip(self, hours: Sequence[float], weather: Weather | None = None,
                    cloud_speed: float = 0.02) -> np.ndarray:
        """uint8 (T, H, W, 3): the scene at each hour, clouds drifting `cloud_speed` scene widths per elapsed hour.

        Elapsed time is measured from hours[0] without wrapping, so pass increasing hours (e.g. 22, 23, 24.5).
        """
        w = weather if weather is not None else Weather()
        h0 = float(hours[0])
        return np.stack([self.render(h, replace(w, cloud_phase=w.cloud_phase + cloud_speed * (float(h) - h0)))
                         for h in hours])
