"""vid2vid's data: the Cityscapes label table and conversions, the vid2vid folder layout (on tiny fake folders),
training clips with DIS flow, and the procedural street generator."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from demo_lib.data.cityscapes import (
    CLASSES,
    EVAL_IDS,
    FOREGROUND_IDS,
    NUM_LABELS,
    PALETTE,
    TRAIN_IDS,
    LabelColorError,
    StreetClipDataset,
    StreetSequence,
    colorize,
    labels_from_colors,
    load_sequences,
)
from demo_lib.data.errors import DatasetLayoutError
from demo_lib.data.street import ProceduralStreetDataset, StreetScene, shade, street_examples
from demo_lib.flow import warp
from demo_lib.video import MediaError

SIZE = (32, 64)


# ---------------------------------------------------------------------------------------------------------------
# Label table and conversions


def test_label_table():
    assert NUM_LABELS == len(CLASSES) == len(PALETTE) == len(TRAIN_IDS) == 35
    assert [c.id for c in CLASSES] == list(range(35)) and PALETTE.dtype == np.uint8
    assert [int(TRAIN_IDS[i]) for i in EVAL_IDS] == list(range(19))
    assert len({tuple(PALETTE[i]) for i in EVAL_IDS}) == 19
    assert CLASSES[7].name == "road" and CLASSES[26].name == "car" and CLASSES[34].name == "license plate"
    assert TRAIN_IDS[34] == 255 and all(CLASSES[i].has_instances for i in FOREGROUND_IDS)


def test_colorize_round_trip_and_canonical_ids():
    labels = np.random.default_rng(0).choice(EVAL_IDS, (2, 6, 7)).astype(np.uint8)
    rgb = colorize(labels)
    assert rgb.shape == (2, 6, 7, 3) and rgb.dtype == np.uint8
    np.testing.assert_array_equal(labels_from_colors(rgb), labels)
    # colours shared by several ids go to the smallest: black -> unlabeled, grey -> pole, dark blue -> car
    np.testing.assert_array_equal(labels_from_colors(colorize(np.array([[3, 18, 34]]))), [[0, 17, 26]])
    with pytest.raises(ValueError):
        colorize(np.array([[35]]))


def test_labels_from_colors_nearest_and_far_colour():
    rgb = colorize(np.full((4, 5), 7, np.uint8))
    rgb[0, 0] = (133, 60, 125)                       # a little off road's (128, 64, 128)
    assert labels_from_colors(rgb)[0, 0] == 7
    rgb[1:3, 1:3] = (10, 250, 10)                    # nothing like any Cityscapes colour
    with pytest.raises(LabelColorError, match=r"RGB\(10, 250, 10\): 4 px.*Cityscapes palette") as err:
        labels_from_colors(rgb)
    assert isinstance(err.value, MediaError)


def test_region_edges_by_hand():
    from demo_lib.models.vid2vid import region_edges

    inst = np.zeros((5, 5), np.int32)
    inst[1:3, 1:3] = 4
    expected = np.array([[0, 1, 1, 0, 0],
                         [1, 1, 1, 1, 0],
                         [1, 1, 1, 1, 0],
                         [0, 1, 1, 0, 0],
                         [0, 0, 0, 0, 0]], bool)
    np.testing.assert_array_equal(region_edges(torch.from_numpy(inst)).bool().numpy(), expected)
    stacked = region_edges(torch.from_numpy(np.stack([inst, np.zeros_like(inst)]))).bool().numpy()   # batches too
    np.testing.assert_array_equal(stacked, [expected, np.zeros_like(expected)])


# ---------------------------------------------------------------------------------------------------------------
# The vid2vid layout on fake folders


def make_layout(root: Path, sequences=("seqA", "seqB"), frames: int = 3, size=(40, 80)) -> Path:
    """root/train_{A,B,inst}/<seq>/: label ids with a moving car, JPG frames of its colours, 8-bit instances."""
    h, w = size
    for s, name in enumerate(sequences):
        for sub in ("train_A", "train_B", "train_inst"):
            (root / sub / name).mkdir(parents=True)
        for t in range(frames):
            labels = np.full(size, 11, np.uint8)
            labels[h // 2:] = 7
            labels[h // 2:h // 2 + 8, 10 + 4 * t + s:30 + 4 * t + s] = 26
            inst = np.where(labels == 26, 0, 255).astype(np.uint8)       # one object, index 0; 255 = none
            rgb = cv2.GaussianBlur(colorize(labels), (5, 5), 0)
            stem = f"frame_{t:04d}"
            cv2.imwrite(str(root / "train_A" / name / f"{stem}.png"), labels)
            cv2.imwrite(str(root / "train_inst" / name / f"{stem}.png"), inst)
            cv2.imwrite(str(root / "train_B" / name / f"{stem}.jpg"), rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])
    return root


def test_load_sequences_resizes_and_filters(tmp_path):
    root = make_layout(tmp_path)
    seqs = load_sequences(root, (20, 40))
    assert [s.name for s in seqs] == ["seqA", "seqB"]
    s = seqs[0]
    assert s.labels.shape == (3, 20, 40) and s.labels.dtype == np.uint8
    assert s.instances.shape == (3, 20, 40) and s.instances.dtype == np.int32
    assert s.frames.shape == (3, 20, 40, 3) and s.frames.dtype == np.uint8
    assert set(np.unique(s.labels)) == {7, 11, 26} and set(np.unique(s.instances)) == {0, 1}
    assert (s.instances == 1).sum() == (s.labels == 26).sum()                # 8-bit index 0 -> 1, 255 -> 0
    assert np.abs(s.frames[0, 2, 2].astype(int) - PALETTE[11]).max() < 12    # building colour at the top
    assert [q.name for q in load_sequences(root, (20, 40), exclude=["seqA"])] == ["seqB"]
    assert [q.name for q in load_sequences(root, (20, 40), include=["seqA"])] == ["seqA"]
    with pytest.raises(DatasetLayoutError, match="seqZ"):
        load_sequences(root, (20, 40), exclude=["seqZ"])


def test_layout_errors(tmp_path):
    root = make_layout(tmp_path / "a")
    for p in (root / "train_B").rglob("*.jpg"):
        p.unlink()
    for p in sorted((root / "train_B").iterdir()):
        p.rmdir()
    (root / "train_B").rmdir()
    with pytest.raises(DatasetLayoutError, match="Missing folder train_B"):
        load_sequences(root, SIZE)
    root = make_layout(tmp_path / "b")
    (root / "train_B" / "seqB" / "frame_0002.jpg").unlink()
    with pytest.raises(DatasetLayoutError, match=r"seqB: 3 label maps in train_A but 2 files in train_B"):
        load_sequences(root, SIZE)
    root = make_layout(tmp_path / "c")
    cv2.imwrite(str(root / "train_A" / "seqA" / "frame_0001.png"), np.full((40, 80), 200, np.uint8))
    with pytest.raises(DatasetLayoutError, match="label id 200"):
        load_sequences(root, SIZE)


# ---------------------------------------------------------------------------------------------------------------
# Training clips


def warp_errors(item: dict) -> tuple[float, float]:
    """Mean |warp(frame t-1, flow) - frame t| and the same with zero flow, over the clip."""
    frames = item["frames"].permute(1, 0, 2, 3)                      # (T, 3, H, W)
    flows = item["flows"].permute(1, 0, 2, 3)                        # (T-1, 2, H, W)
    warped = warp(frames[:-1], flows)
    return float((warped - frames[1:]).abs().mean()), float((frames[:-1] - frames[1:]).abs().mean())


def test_street_clip_dataset(tmp_path):
    seqs = load_sequences(make_layout(tmp_path, frames=5, size=(64, 128)), (64, 128))
    ds = StreetClipDataset(seqs, frames=3, seed=1, length=10, max_frame_step=2)
    item = ds[3]
    assert item["labels"].shape == item["instances"].shape == (3, 64, 128) and item["labels"].dtype == torch.int64
    assert item["frames"].shape == (3, 3, 64, 128) and item["frames"].dtype == torch.float32
    assert item["flows"].shape == (2, 2, 64, 128) and item["flows"].dtype == torch.float32
    assert -1 <= item["frames"].min() and item["frames"].max() <= 1
    assert set(item["labels"].unique().tolist()) <= {7, 11, 26}
    again = ds[3]
    assert all(torch.equal(item[k], again[k]) for k in item)
    assert not torch.equal(ds[0]["frames"], ds[1]["frames"]) or not torch.equal(ds[1]["frames"], ds[2]["frames"])
    assert "flows" not in StreetClipDataset(seqs, 2, with_flow=False)[0]
    described = ds.describe()                                         # what a model card records as its data
    assert described["sequences"] == [f"{s.name}: 5 frames at 128x64" for s in seqs]
    assert described["clip_frames"] == 3 and described["reference_flow"] == "OpenCV DIS"
    with pytest.raises(ValueError):
        StreetClipDataset([StreetSequence("x", seqs[0].labels, seqs[0].instances, None)], 2)


def test_flows_explain_the_motion():
    labels, instances = StreetScene(2, (64, 128)).render(4, start=30.0)
    rgb = shade(labels, instances, 2)
    item = StreetClipDataset([StreetSequence("s", labels, instances, rgb)], 4, flip=False)[0]
    with_flow, without = warp_errors(item)
    assert with_flow < 0.8 * without
    flipped = StreetClipDataset([StreetSequence("s", labels, instances, rgb)], 4, seed=0, length=50)
    for i in range(50):                 # some item is flipped; its flow must still explain the motion
        item = flipped[i]
        if torch.equal(item["labels"], torch.from_numpy(labels[:, :, ::-1].astype(np.int64))):
            with_flow, without = warp_errors(item)
            assert with_flow < 0.8 * without
            break
    else:
        pytest.fail("no flipped item in 50")


# ---------------------------------------------------------------------------------------------------------------
# Procedural streets


def test_street_scene_is_deterministic_and_smooth():
    a = StreetScene(3, SIZE).render(6, start=5.0)
    b = StreetScene(3, SIZE).render(6, start=5.0)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    labels, instances = a
    assert labels.dtype == np.uint8 and instances.dtype == np.int32 and labels.shape == (6, *SIZE)
    np.testing.assert_array_equal(StreetScene(3, SIZE).render(3, start=7.0)[0], labels[2:5])   # any stretch
    agree = [(labels[t] == labels[t + 1]).mean() for t in range(5)]
    assert min(agree) > 0.75 and max(agree) < 1.0
    assert {7, 8, 11, 23, 26} <= set(np.unique(labels).tolist())
    assert not np.array_equal(StreetScene(4, SIZE).render(1)[0], labels[:1])


def test_instances_persist_across_frames():
    labels, instances = StreetScene(1, (64, 128)).render(8)
    ids = np.unique(instances)
    assert ids[0] == 0 and list(ids) == list(range(len(ids)))          # 1..K, 0 for stuff
    assert np.isin(labels[instances > 0], [24, 26, 27, 28]).all()
    assert not np.isin(labels[instances == 0], [24, 26, 27, 28]).any()
    # most objects of frame 0 are still there in frame 1 with the same id, and stay one class
    first, second = set(np.unique(instances[0])) - {0}, set(np.unique(instances[1])) - {0}
    assert len(first & second) >= 0.8 * len(first) > 0
    for k in first & second:
        assert np.unique(labels[0][instances[0] == k]).tolist() == np.unique(labels[1][instances[1] == k]).tolist()


def test_procedural_street_dataset_schema():
    ds = ProceduralStreetDataset(SIZE, frames=3, seed=0, length=5, num_scenes=4)
    item = ds[2]
    assert set(item) == {"labels", "instances", "frames", "flows"}
    assert item["labels"].shape == item["instances"].shape == (3, *SIZE) and item["labels"].dtype == torch.int64
    assert item["frames"].shape == (3, 3, *SIZE) and item["flows"].shape == (2, 2, *SIZE)
    assert item["frames"].dtype == item["flows"].dtype == torch.float32
    assert torch.equal(ds[2]["frames"], item["frames"])
    assert "flows" not in ProceduralStreetDataset(SIZE, frames=2, length=1, with_flow=False)[0]
    assert ds.describe()["procedural_scenes"] == "seeds 0..3"


def test_street_examples():
    examples = street_examples(SIZE, frames=2)
    assert [name for name, _, _ in examples] == ["Avenue with traffic", "Narrow street, parked cars", "Leafy road"]
    for _, labels, instances in examples:
        assert labels.shape == instances.shape == (2, *SIZE) and labels.max() < 35
