"""The procedural outdoor world and the time-lapse training data: determinism, the illumination model's promises
(dark nights, warm sunsets, distinguishable mornings and evenings, evening windows), and the real-data loaders."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from demo_lib.data.outdoor import (OutdoorScene, Weather, sample_layout, scene_seeds, sun_elevation,
                                   window_lit_fraction)
from demo_lib.data.timelapse_data import (AmosFolderDataset, AmosLikeDataset, ClipFolderDataset, DatasetLayoutError,
                                          ProceduralClipDataset, TwoDomainDataset, build_training_data,
                                          default_sky_timelapse_root, example_images, heldout_scenes,
                                          parse_amos_hour)
from demo_lib.video import resize_image, write_mp4

CLEAR = Weather(cloud_cover=0.0, haze=0.0)


def luminance(image: np.ndarray) -> float:
    return float((image.astype(np.float32) / 255.0 @ np.array([0.299, 0.587, 0.114], np.float32)).mean())


def red_blue(image: np.ndarray) -> float:
    return float(image[..., 0].mean() / max(image[..., 2].mean(), 1.0))


def first_seed(**wanted) -> int:
    return next(s for s in range(500) if all(sample_layout(s).features[k] == v for k, v in wanted.items()))


# ---------------------------------------------------------------------------------------------------------------
# The renderer


def test_scene_seeds_are_disjoint_splits():
    train, held, ex = (set(scene_seeds(s, 100)) for s in ("train", "heldout", "example"))
    assert len(train) == len(held) == len(ex) == 100 and not (train & held or train & ex or held & ex)
    assert scene_seeds("train", 3) == [0, 1, 2]
    with pytest.raises(ValueError):
        scene_seeds("test", 3)


def test_sun_elevation_is_a_continuous_day_curve():
    assert sun_elevation(6.0) == pytest.approx(0.0, abs=1e-9) and sun_elevation(18.0) == pytest.approx(0.0, abs=1e-9)
    assert sun_elevation(12.0) == pytest.approx(1.0) and sun_elevation(0.0) == pytest.approx(-1.0)
    values = np.array([sun_elevation(h, 5.5, 18.5) for h in np.arange(0, 24.01, 0.05)])
    assert np.abs(np.diff(values)).max() < 0.02 and values.min() >= -1 and values.max() <= 1


def test_render_is_deterministic_and_seeds_differ():
    a, b, c = OutdoorScene(3, (48, 64)), OutdoorScene(3, (48, 64)), OutdoorScene(4, (48, 64))
    w = Weather(cloud_cover=0.5, haze=0.2, cloud_phase=0.3)
    image = a.render(10.5, w)
    assert image.dtype == np.uint8 and image.shape == (48, 64, 3)
    assert np.array_equal(image, b.render(10.5, w))
    assert np.abs(image.astype(int) - c.render(10.5, w)).mean() > 5


def test_every_scene_looks_different():
    images = [OutdoorScene(s, (32, 32)).render(11.0).astype(np.float32) for s in range(12)]
    gaps = [np.abs(images[i] - images[j]).mean() for i in range(12) for j in range(i + 1, 12)]
    assert min(gaps) > 3


def test_same_seed_is_the_same_scene_at_two_sizes():
    small, big = OutdoorScene(7, (64, 64)).render(14.0), OutdoorScene(7, (128, 128)).render(14.0)
    other = OutdoorScene(8, (64, 64)).render(14.0)
    gap = np.abs(resize_image(big, (64, 64)).astype(int) - small).mean()
    assert gap < 8 and gap < 0.5 * np.abs(other.astype(int) - small).mean()


def test_the_night_sky_is_as_bright_at_any_size():
    """The stars add the same light at 64 px (training) as at 128 px (the benchmark's ground truth). They were once
    one pixel each at the final size, which made a 64-px night sky 1.2-1.5x as bright as a 128-px one; spreading a
    star's light over four pixels still brightens it a little after gamma encoding (concave), hence 1.2."""
    for seed in range(6):
        small, big = OutdoorScene(seed, (64, 64)), OutdoorScene(seed, (128, 128))
        sky = 0.8 * small.layout.horizon
        ratio = luminance(small.render(0.0, CLEAR)[:int(sky * 64)]) / luminance(big.render(0.0, CLEAR)[:int(sky * 128)])
        assert 0.95 < ratio < 1.2


@pytest.mark.parametrize("seed", range(6))
def test_nights_are_dark_and_sunsets_warm(seed):
    scene = OutdoorScene(seed, (48, 48))
    noon = scene.render(12.0, CLEAR)
    assert luminance(scene.render(0.0, CLEAR)) < 0.25 * luminance(noon)
    assert red_blue(scene.render(scene.sunset - 0.2, CLEAR)) > red_blue(noon) + 0.1
    assert 5.3 <= scene.sunrise <= 6.7 and 17.3 <= scene.sunset <= 18.7


def test_morning_and_evening_differ_clearly():
    for seed in range(4):
        scene = OutdoorScene(seed, (48, 48))
        morning, evening = scene.render(9.0).astype(int), scene.render(15.0).astype(int)
        nudge = np.abs(morning - scene.render(9.05)).mean()          # what a few minutes change
        assert np.abs(morning - evening).mean() > max(4.0, 5 * nudge)


def test_more_windows_lit_in_the_evening_than_before_dawn():
    assert window_lit_fraction(21.0) > window_lit_fraction(23.5) > window_lit_fraction(4.0)
    assert window_lit_fraction(4.0) <= min(window_lit_fraction(h) for h in np.arange(0, 24, 0.5)) + 0.03
    scene = OutdoorScene(first_seed(town=True), (96, 96))
    assert scene.lit_windows(21.0).sum() > 2 * scene.lit_windows(4.0).sum() > 0
    assert luminance(scene.render(21.0, CLEAR)) > luminance(scene.render(4.0, CLEAR))


def test_weather_changes_the_picture():
    scene = OutdoorScene(2, (48, 48))
    clear = scene.render(13.0, CLEAR).astype(int)
    for w in (Weather(cloud_cover=0.8, haze=0.0), Weather(cloud_cover=0.0, haze=0.8)):
        assert np.abs(scene.render(13.0, w) - clear).mean() > 4
    cloudy = Weather(cloud_cover=0.5, haze=0.0)
    moved = scene.render(13.0, Weather(cloud_cover=0.5, haze=0.0, cloud_phase=0.25))
    assert np.abs(scene.render(13.0, cloudy).astype(int) - moved).mean() > 1
    # Overcast greys the sky and flattens the directional light (morning and afternoon look more alike).
    overcast = Weather(cloud_cover=1.0, haze=0.0)
    top = (slice(0, 8), slice(None))
    assert np.ptp(scene.render(13.0, overcast)[top], axis=-1).mean() < 0.5 * np.ptp(clear[top], axis=-1).mean()
    swing = {w: np.abs(scene.render(9.0, w).astype(int) - scene.render(15.0, w)).mean() for w in (CLEAR, overcast)}
    assert swing[overcast] < swing[CLEAR]


def test_render_clip_drifts_clouds():
    scene = OutdoorScene(5, (32, 32))
    w = Weather(cloud_cover=0.5, haze=0.1, cloud_phase=0.1)
    clip = scene.render_clip([8.0, 9.0, 10.0], w, cloud_speed=0.05)
    assert clip.shape == (3, 32, 32, 3) and clip.dtype == np.uint8
    assert np.array_equal(clip[0], scene.render(8.0, w))
    assert np.array_equal(clip[2], scene.render(10.0, Weather(0.5, 0.1, 0.1 + 0.05 * 2.0)))


# ---------------------------------------------------------------------------------------------------------------
# Datasets


def check_item(item: dict, n: int, size: int, keys=("source", "source_hour", "times", "target")) -> None:
    assert set(keys) <= set(item)
    shapes = {"source": (3, size, size), "source_hour": (), "times": (n,), "target": (3, n, size, size),
              "clip": (3, n, size, size)}
    for k in keys:
        assert item[k].dtype == torch.float32 and tuple(item[k].shape) == shapes[k], k
    for k in set(keys) & {"source", "target", "clip"}:
        assert item[k].min() >= -1 and item[k].max() <= 1
    if "times" in keys:
        assert (item["times"] >= 0).all() and (item["times"] < 24).all() and 0 <= item["source_hour"] < 24


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_procedural_domains_have_the_documented_items():
    a = AmosLikeDataset(num_cameras=4, size=32, frames=3, seed=1, length=10)
    check_item(a[0], 3, 32)
    assert same(a[5], AmosLikeDataset(num_cameras=4, size=32, frames=3, seed=1, length=10)[5])
    assert not same(a[5], a[6])
    clean = AmosLikeDataset(num_cameras=4, size=32, frames=3, seed=1, defects=False)[0]
    assert torch.equal(clean["source"], a[0]["source"])               # the source image is always clean
    b = ProceduralClipDataset(num_scenes=4, size=32, frames=3, seed=1, length=10)
    check_item(b[0], 3, 32, keys=("clip",))
    assert same(b[2], b[2]) and len(b) == 10
    with pytest.raises(IndexError):
        b[10]
    both = TwoDomainDataset(a, [b, b], seed=0, b_weights=[1.0, 3.0])
    check_item(both[3], 3, 32, keys=("source", "source_hour", "times", "target", "clip"))
    assert same(both[3], both[3]) and len(both) == len(a)


def write_image(path, value: int, size=(40, 50)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((*size, 3), value, np.uint8)).save(path)


def test_amos_folder_reads_hours_from_names(tmp_path):
    names = ["20130612_000000.jpg", "20130612_063000.jpg", "20130612_143015_extra.jpg", "20130613_235959.png"]
    for k, name in enumerate(names):
        write_image(tmp_path / "cam01" / name, 40 * k)
    write_image(tmp_path / "cam01" / "notes_about_camera.jpg", 0)     # ignored: no timestamp
    assert parse_amos_hour("20130612_143015_extra.jpg") == pytest.approx(14.5 + 15 / 3600)
    assert parse_amos_hour("20131312_143015.jpg") is None and parse_amos_hour("photo.jpg") is None
    ds = AmosFolderDataset(tmp_path, size=16, frames=3, seed=0)
    item = ds[0]
    check_item(item, 3, 16)
    hours = sorted([float(item["source_hour"])] + item["times"].tolist())
    assert hours == pytest.approx([0.0, 6.5, 14.5 + 15 / 3600, 23 + 59 / 60 + 59 / 3600], abs=1e-4)
    assert same(ds[1], AmosFolderDataset(tmp_path, size=16, frames=3, seed=0)[1])


def test_amos_folder_explains_a_wrong_layout(tmp_path):
    with pytest.raises(DatasetLayoutError, match="YYYYMMDD_HHMMSS"):
        AmosFolderDataset(tmp_path)                                    # empty
    for k in range(6):
        write_image(tmp_path / f"20130612_0{k}0000.jpg", 10)           # images at the root, not in camera folders
    write_image(tmp_path / "cam" / "IMG_0001.jpg", 10)                 # a camera folder without timestamps
    with pytest.raises(DatasetLayoutError, match="IMG_0001.jpg"):
        AmosFolderDataset(tmp_path, frames=4)


def test_clip_folder_reads_frame_folders_and_videos(tmp_path):
    for k in range(6):
        write_image(tmp_path / "clip_a" / f"{k:04d}.png", 30 * k, size=(48, 64))
    frames = np.stack([np.full((32, 48, 3), 20 * k, np.uint8) for k in range(10)])
    write_mp4(frames, tmp_path / "clip_b.mp4")
    ds = ClipFolderDataset(tmp_path, size=24, frames=4, seed=0)
    assert len(ds) == 2
    for i in range(2):
        item = ds[i]
        check_item(item, 4, 24, keys=("clip",))
        means = item["clip"].mean(dim=(0, 2, 3))
        assert (means[1:] > means[:-1]).all()                         # frames in time order
    assert same(ds[1], ClipFolderDataset(tmp_path, size=24, frames=4, seed=0)[1])
    with pytest.raises(DatasetLayoutError, match="mp4"):
        ClipFolderDataset(tmp_path / "clip_a" / "nothing_here")


def test_real_sky_clips_load_when_present():
    root = default_sky_timelapse_root()
    if root is None:
        pytest.skip("the real sky time-lapse clips are not available here")
    ds = ClipFolderDataset(root, size=32, frames=4, seed=0)
    assert len(ds) >= 1
    check_item(ds[0], 4, 32, keys=("clip",))
    assert ds[0]["clip"].std() > 0.02


def test_build_training_data_and_eval_helpers(tmp_path):
    ds = build_training_data(size=32, frames=3, seed=0, data_root="", num_cameras=8)
    assert isinstance(ds.domain_a, AmosLikeDataset)
    with pytest.raises(DatasetLayoutError, match="neither an 'amos' nor a 'tlvdb'"):
        build_training_data(size=32, frames=3, seed=0, data_root=str(tmp_path))  # a folder with neither
    check_item(ds[0], 3, 32, keys=("source", "source_hour", "times", "target", "clip"))
    assert same(ds[4], ds[4])
    scenes = heldout_scenes(2, (24, 32))
    assert [s.seed for s in scenes] == scene_seeds("heldout", 2) and scenes[0].render(12).shape == (24, 32, 3)
    examples = example_images((48, 64))
    assert len(examples) >= 3 and all(im.shape == (48, 64, 3) and im.dtype == np.uint8 for im in examples.values())
