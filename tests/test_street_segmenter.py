"""The street segmenter: confusion matrix and mIoU by hand, id mappings, the tiny preset, the pipeline on good and
bad input, and two trainer steps on a fake dataset."""

import dataclasses
import math

import numpy as np
import pytest
import torch

from demo_lib import registry
from demo_lib.data import cityscapes
from demo_lib.metrics import confusion_matrix, mean_iou
from demo_lib.models import street_segmenter as seg
from demo_lib.trainer import GANTrainer, StepState
from demo_lib.video import MediaError


class FakeStreetFrames(torch.utils.data.Dataset):
    """Random items with the street clip schema (T = 1): each label region gets its own colour, so it is learnable."""

    def __init__(self, size: tuple[int, int], length: int = 16):
        self.size, self.length = size, length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        g = torch.Generator().manual_seed(i)
        h, w = self.size
        ids = torch.tensor([7, 11, 21, 23, 26, 0])                                 # road building veg. sky car unlab.
        labels = ids[torch.randint(0, len(ids), (1, h // 8, w // 8), generator=g)]
        labels = labels.repeat_interleave(8, 1).repeat_interleave(8, 2)             # (1, H, W) blocks
        frames = (labels.float() / 17 - 1).expand(3, 1, h, w) + 0.1 * torch.randn(3, 1, h, w, generator=g)
        return {"labels": labels, "instances": torch.zeros_like(labels), "frames": frames.clamp(-1, 1)}


@pytest.fixture(scope="module")
def tiny():
    spec = registry.get("street_segmenter")
    cfg, train_cfg = spec.preset("tiny")
    return spec, cfg, train_cfg


@pytest.fixture(scope="module")
def pipeline():
    return registry.random_pipeline("street_segmenter", "tiny")


# -- metrics ----------------------------------------------------------------------------------------------------


def test_confusion_matrix_and_mean_iou_by_hand():
    target = np.array([[0, 0, 1, 255], [2, 1, 0, 0]])
    pred = np.array([[0, 1, 1, 2], [2, 0, 0, 0]])              # the 255 pixel's prediction (2) is not counted
    conf = confusion_matrix(pred, target, num_classes=4)
    assert conf.dtype == np.int64
    np.testing.assert_array_equal(conf, [[3, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0]])
    miou, per_class = mean_iou(conf)
    # IoU = TP / (TP + FP + FN): class 0: 3 / (3 + 1 + 1); class 1: 1 / (1 + 1 + 1); class 2: 1; class 3 absent.
    np.testing.assert_allclose(per_class[:3], [0.6, 1 / 3, 1.0])
    assert math.isnan(per_class[3])
    assert miou == pytest.approx((0.6 + 1 / 3 + 1.0) / 3)
    # Tensors work too.
    np.testing.assert_array_equal(confusion_matrix(torch.from_numpy(pred), torch.from_numpy(target), 4), conf)


def test_mean_iou_counts_a_class_that_is_only_predicted_and_skips_absent_ones():
    conf = confusion_matrix(np.array([0, 1]), np.array([0, 0]), num_classes=3)
    miou, per_class = mean_iou(conf)
    np.testing.assert_allclose(per_class[:2], [0.5, 0.0])        # class 1: predicted, never true -> IoU 0, counted
    assert math.isnan(per_class[2]) and miou == pytest.approx(0.25)
    assert math.isnan(mean_iou(np.zeros((3, 3), np.int64))[0])  # nothing at all


def test_confusion_matrix_refuses_out_of_range_classes():
    with pytest.raises(ValueError, match="outside"):
        confusion_matrix(np.array([0, 19]), np.array([0, 1]), num_classes=19)
    with pytest.raises(ValueError, match="outside"):
        confusion_matrix(np.array([0, 1]), np.array([0, 33]), num_classes=19)   # ids, not train ids
    with pytest.raises(ValueError, match="size"):
        confusion_matrix(np.zeros(3), np.zeros(4), num_classes=2)


# -- label spaces -----------------------------------------------------------------------------------------------


def test_id_train_id_round_trip():
    eval_ids = np.array(cityscapes.EVAL_IDS)
    np.testing.assert_array_equal(seg.to_train_ids(eval_ids), np.arange(19))
    np.testing.assert_array_equal(seg.to_ids(seg.to_train_ids(eval_ids)), eval_ids)
    np.testing.assert_array_equal(seg.to_train_ids(seg.to_ids(np.arange(19))), np.arange(19))
    unscored = [i for i in range(cityscapes.NUM_LABELS) if i not in cityscapes.EVAL_IDS]
    assert (seg.to_train_ids(np.array(unscored + [35, 200, -1])) == 255).all()
    # The tensor path agrees with the numpy one.
    ids = torch.arange(-2, 40)
    np.testing.assert_array_equal(seg.to_train_ids(ids).numpy(), seg.to_train_ids(ids.numpy()))


def test_augment_identity_flip_and_zoom_out():
    torch.manual_seed(0)
    frames = torch.rand(4, 3, 16, 32) * 2 - 1
    labels = torch.randint(0, 19, (4, 16, 32))
    same_f, same_l = seg.augment(frames, labels, (16, 32))
    torch.testing.assert_close(same_f, frames, atol=1e-5, rtol=0)
    assert torch.equal(same_l, labels)
    flip_f, flip_l = seg.augment(frames, labels, (16, 32), flip=True)
    for i in range(4):  # each frame is either unchanged or mirrored
        assert torch.equal(flip_l[i], labels[i]) or torch.equal(flip_l[i], labels[i].flip(-1))
    _, small_l = seg.augment(frames, labels, (16, 32), scale=(0.5, 0.5))
    assert (small_l == 255).float().mean() == pytest.approx(0.75, abs=0.1)  # a half-size frame in a border
    assert set(small_l[small_l != 255].unique().tolist()) <= set(range(19))


# -- networks and loss ------------------------------------------------------------------------------------------


def test_tiny_preset_forward_shape_and_finite_gradients(tiny):
    spec, cfg, _ = tiny
    torch.manual_seed(0)
    nets = spec.build_nets(cfg)
    assert set(nets) == {"S"}
    logits = nets["S"](torch.rand(2, 3, cfg.height, cfg.width) * 2 - 1)
    assert logits.shape == (2, 19, cfg.height, cfg.width)
    phases, ema = spec.build_objective(cfg)
    assert [p.name for p in phases] == ["S"] and ema == ("S",)
    data = FakeStreetFrames((cfg.height, cfg.width))
    batch = torch.utils.data.default_collate([data[0], data[1]])
    loss, logs = phases[0].loss(nets, batch, StepState(0))
    loss.backward()
    assert torch.isfinite(loss) and 0 <= float(logs["pixel_accuracy"]) <= 1
    grads = [p.grad for p in nets["S"].parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


def test_config_is_checked():
    with pytest.raises(ValueError, match="architecture"):
        seg.StreetSegmenterConfig(architecture="Linknet")
    with pytest.raises(ValueError, match="multiples of 32"):
        seg.StreetSegmenterConfig(height=100)
    with pytest.raises(ValueError, match="train_crop"):
        seg.StreetSegmenterConfig(train_crop=0.3)                              # 128 x 0.3: not a multiple of 32


def test_train_crop_trains_on_windows_at_the_inference_pixel_scale(tiny, monkeypatch):
    """train_crop=0.5: the net sees (H/2, W/2) crops, and zoom 1 is a half-frame window (the same pixels per object
    as a whole frame at (H, W)), so each zoom in [min, max] becomes [min / 0.5, max / 0.5] of the frame."""
    spec, _, _ = tiny
    cfg = seg.StreetSegmenterConfig(height=64, width=128, encoder="tu-mobilenetv3_small_050", decoder_channels=16,
                                    scale_min=1.0, scale_max=1.5, train_crop=0.5)
    seen, augment = {}, seg.augment

    def spy(frames, labels, size, scale, flip):
        seen.update(size=size, scale=scale)
        return augment(frames, labels, size, scale, flip)

    monkeypatch.setattr(seg, "augment", spy)
    nets = spec.build_nets(cfg)
    batch = torch.utils.data.default_collate([FakeStreetFrames((64, 128))[0]])
    seg.StreetSegmenterObjective(cfg).loss(nets, batch, StepState(0))[0].backward()
    assert seen == {"size": (32, 64), "scale": (2.0, 3.0)}


def test_median_frequency_weights():
    labels = torch.tensor([0, 0, 0, 0, 0, 0, 1, 1, 2, 255])           # freq 6/9, 2/9, 1/9: median 2/9
    w = seg.median_frequency_weights(labels, 4)
    torch.testing.assert_close(w, torch.tensor([1 / 3, 1.0, 2.0, 1.0]))


# -- pipeline ---------------------------------------------------------------------------------------------------


def test_segment_odd_sizes_returns_valid_ids(pipeline):
    rng = np.random.default_rng(0)
    video = rng.integers(0, 256, (3, 37, 53, 3), dtype=np.uint8)
    calls = []
    out = pipeline.segment(video, batch=2, progress=lambda done, total: calls.append((done, total)))
    assert out.shape == (3, 37, 53) and out.dtype == np.uint8
    assert set(np.unique(out)) <= set(cityscapes.EVAL_IDS)
    assert calls == [(2, 3), (3, 3)]
    single = pipeline.segment(video[1])
    assert single.shape == (37, 53)
    np.testing.assert_array_equal(single, out[1])


def test_miou_of_a_segmentation_against_itself_is_one(pipeline):
    video = np.random.default_rng(1).integers(0, 256, (2, 40, 72, 3), dtype=np.uint8)
    result = pipeline.miou(video, pipeline.segment(video))
    assert result["miou"] == pytest.approx(1.0) and result["pixel_accuracy"] == pytest.approx(1.0)
    assert set(result["per_class"]) == {cityscapes.CLASS_NAMES[i] for i in cityscapes.EVAL_IDS}
    with pytest.raises(ValueError, match="match"):
        pipeline.miou(video, np.zeros((2, 40, 70), np.uint8))


@pytest.mark.parametrize("bad, message", [
    (np.zeros((40, 60), np.uint8), "RGB frames"),                    # grayscale 2-D
    (np.zeros((2, 40, 60, 1), np.uint8), "RGB frames"),              # one channel
    (np.zeros((0, 40, 60, 3), np.uint8), "empty"),
    (np.zeros((2, 40, 60, 3), np.float32), "uint8"),
    (np.zeros((2, 4, 4, 3), np.uint8), "too small"),
    ([[1, 2, 3]], "numpy array"),
])
def test_segment_refuses_bad_input_with_a_clear_message(pipeline, bad, message):
    with pytest.raises(MediaError, match=message):
        pipeline.segment(bad)


# -- training ---------------------------------------------------------------------------------------------------


def test_two_trainer_steps_with_the_tiny_preset(tiny, tmp_path):
    spec, cfg, train_cfg = tiny
    torch.manual_seed(0)
    nets = spec.build_nets(cfg)
    before = [p.detach().clone() for p in nets["S"].parameters()]
    phases, ema = spec.build_objective(cfg)
    trainer = GANTrainer(nets, phases, ema, FakeStreetFrames((cfg.height, cfg.width)), train_cfg, tmp_path,
                         {"tiny": True}, "street_segmenter")
    rows = trainer.fit(steps=2, progress=False)
    assert len(rows) == 2 and trainer.step == 2
    assert all(math.isfinite(v) for row in rows for v in row.values())
    assert {"S/ce", "S/pixel_accuracy", "S/total"} <= set(rows[-1])
    assert any(not torch.equal(a, b) for a, b in zip(before, nets["S"].parameters(), strict=True))


def test_evaluate_on_procedural_streets(pipeline, monkeypatch):
    pytest.importorskip("demo_lib.data.street")
    monkeypatch.setattr(cityscapes, "default_cityscapes_root", lambda: None)   # tests never need ../shared
    metrics = seg.evaluate(pipeline, num_items=2)
    assert 0 <= metrics["miou"] <= 1 and "procedural" in metrics["protocol"]
    assert 0 <= metrics["baseline_majority_class_miou"] <= 1


def test_lite_unet_starts_from_imagenet_and_segments_at_the_input_size():
    """architecture="LiteUnet": the encoder holds EfficientNet-Lite0's ImageNet weights (those of the frozen
    feature network), the classifier head is dropped, and logits come back at the input's size."""
    from demo_lib.features import get_efficientnet_features

    cfg = seg.StreetSegmenterConfig(height=64, width=128, architecture="LiteUnet", decoder_channels=32)
    net = seg.build_nets(cfg)["S"]
    reference = get_efficientnet_features().net.state_dict()
    encoder = net.encoder.state_dict()
    assert encoder and all(torch.equal(v, reference[k]) for k, v in encoder.items())
    assert not any(k.startswith("_fc") or k.startswith("_conv_head") for k in encoder)
    assert net(torch.zeros(2, 3, 64, 128)).shape == (2, 19, 64, 128)
    scratch = seg.build_nets(dataclasses.replace(cfg, pretrained_encoder=False))["S"].encoder.state_dict()
    assert not torch.equal(scratch["_conv_stem.weight"], reference["_conv_stem.weight"])
