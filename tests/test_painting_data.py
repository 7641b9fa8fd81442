"""Photo -> painting data: the painterly renderer, the disjoint photo/painting/held-out split, the unpaired
dataset, the trainA/trainB folder loader and its error, and the held-out evaluation clips. Offline package photos
only (shared_data=False), so nothing here needs ../shared."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from demo_lib.data import paintings as P
from demo_lib.data.errors import DatasetLayoutError
from demo_lib.flow import dis_flow


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """A real photo (scikit-image's chelsea) at 64 px on the shorter side."""
    source = next(s for s in P.photo_sources("painting", shared_data=False) if s.name == "chelsea")
    return P._short_side(source.load(0), 64)


def test_paint_is_deterministic_and_differs_from_its_input(photo):
    for method in P.PAINT_METHODS:
        painting = P.paint(photo, seed=3, method=method)
        assert painting.shape == photo.shape and painting.dtype == np.uint8
        assert np.array_equal(painting, P.paint(photo, seed=3, method=method)), method
        assert np.abs(painting.astype(int) - photo).mean() > 5, method
    assert not np.array_equal(P.paint(photo, seed=3), P.paint(photo, seed=4))
    with pytest.raises(ValueError, match="strokes"):
        P.paint(photo, method="watercolour")


def test_strokes_run_along_edges():
    """Vertical stripes have horizontal gradients: strokes must run vertically (angle +-90 degrees)."""
    x = np.arange(64, dtype=np.float32)
    stripes = np.tile(np.sin(x / 3.0)[None], (64, 1))
    angle = P.stroke_orientation(stripes, 2.0, np.random.default_rng(0))[8:-8, 8:-8]
    assert np.abs(np.abs(np.sin(angle)) - 1).max() < 1e-2


def test_the_domains_are_disjoint_by_source():
    splits = {name: set(names) for name, names in P.PACKAGE_SPLIT.items()}
    assert not splits["photo"] & splits["painting"]
    assert not splits["heldout"] & (splits["photo"] | splits["painting"])
    assert set().union(*splits.values()) == set(P.PACKAGE_PHOTOS)
    found = {d: {s.name for s in P.photo_sources(d, shared_data=False)} for d in ("photo", "painting", "heldout")}
    assert found["photo"] and found["painting"] and found["heldout"]
    assert not (found["photo"] & found["painting"]) and not (found["heldout"] & (found["photo"] | found["painting"]))
    # Videos beside the repository are split by clip/sequence the same way: even/odd, named or last 10% held out.
    clips = [f"clip_{i:02d}.mp4" for i in range(40)]
    split = P._split_three(clips)
    assert split["heldout"] == clips[36:] and split["photo"] == clips[0:36:2] and split["painting"] == clips[1:36:2]
    seqs = P._split_three(["seq0000", "seq0001", "seq0002", "seq0003", "seq0004"], heldout=("seq0004",))
    assert seqs == {"photo": ["seq0000", "seq0002"], "painting": ["seq0001", "seq0003"], "heldout": ["seq0004"]}


def test_unpaired_items_are_deterministic_in_range_and_unpaired():
    data = P.PhotoPaintingDataset(image_size=32, seed=0, length=50, variants=2, shared_data=False)
    item = data[3]
    assert set(item) == {"a", "b"}
    for x in item.values():
        assert x.shape == (3, 32, 32) and x.dtype == torch.float32 and x.min() >= -1 and x.max() <= 1
    again = P.PhotoPaintingDataset(image_size=32, seed=0, length=50, variants=2, shared_data=False)[3]
    assert all(torch.equal(item[k], again[k]) for k in item)
    assert not torch.equal(item["a"], data[4]["a"])
    assert not torch.equal(item["a"], P.PhotoPaintingDataset(32, seed=1, length=50, shared_data=False)[3]["a"])
    described = data.describe()
    assert {s.split(" ")[0] for s in described["photo_sources"]} == set(P.PACKAGE_SPLIT["photo"])
    with pytest.raises(IndexError):
        data[50]


def test_random_crops_keep_the_size_and_stay_inside_the_image(photo):
    rng = np.random.default_rng(0)
    crops = [P.random_crop(photo, 24, rng) for _ in range(5)]
    assert all(c.shape == (24, 24, 3) and c.dtype == np.uint8 for c in crops)
    assert len({c.tobytes() for c in crops}) == 5


def _write_images(folder, n, size=(40, 30)):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(len(str(folder)))
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(folder / f"{i}.png")


def test_the_folder_loader_reads_train_a_and_train_b(tmp_path):
    _write_images(tmp_path / "trainA", 2)
    _write_images(tmp_path / "trainB", 3)
    data = P.UnpairedFolderDataset(tmp_path, image_size=16, seed=0, length=8)
    item = data[5]
    assert item["a"].shape == item["b"].shape == (3, 16, 16)
    assert torch.equal(item["a"], P.UnpairedFolderDataset(tmp_path, 16, seed=0, length=8)[5]["a"])
    assert data.describe()["images_a"] == 2 and data.describe()["images_b"] == 3


def test_the_folder_loader_names_the_expected_layout(tmp_path):
    _write_images(tmp_path / "trainA", 1)
    with pytest.raises(DatasetLayoutError, match=r"trainA/\*\.jpg \(photos\) and .*trainB/\*\.jpg \(paintings\)"):
        P.UnpairedFolderDataset(tmp_path)
    with pytest.raises(DatasetLayoutError, match="no folder"):
        P.UnpairedFolderDataset(tmp_path / "missing")


def test_camera_pans_move_smoothly_by_a_few_pixels(photo):
    clip = P.camera_pan(photo, 48, 4, np.random.default_rng(0))
    assert clip.shape == (4, 48, 48, 3) and clip.dtype == np.uint8
    for t in range(1, 4):
        motion = np.linalg.norm(dis_flow(clip[t - 1], clip[t]), axis=-1)[8:-8, 8:-8]
        assert 0.3 < np.median(motion) < 5.0


def test_heldout_clips_and_paintings_come_from_heldout_sources_only():
    clips = P.heldout_videos(3, size=32, frames=3, shared_data=False)
    assert len(clips) == 3 and all(c.shape == (3, 32, 32, 3) for _, c in clips)
    assert all(name.endswith(P.PACKAGE_SPLIT["heldout"]) for name, _ in clips)
    paintings = P.heldout_paintings(2, size=32, shared_data=False)
    assert paintings.shape == (2, 32, 32, 3) and paintings.dtype == np.uint8
    assert np.array_equal(paintings, P.heldout_paintings(2, size=32, shared_data=False))
