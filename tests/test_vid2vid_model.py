"""vid2vid (Wang et al. 2018): shapes, gradients, determinism, eq. 4 composition, flows and the video D's frame rates,
styles, the per-frame baseline, the pipeline on good and bad input, and the trainer on the tiny preset."""

import numpy as np
import pytest
import torch
from conftest import check_phases

from demo_lib import registry
from demo_lib.flow import compose_flows, warp
from demo_lib.models import vid2vid as V
from demo_lib.trainer import GANTrainer


class RandomStreetBatches(torch.utils.data.Dataset):
    """Random tensors with the vid2vid batch schema; deterministic per index."""

    def __init__(self, cfg: V.Vid2VidConfig, length: int = 16):
        self.cfg, self.length = cfg, length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        g = torch.Generator().manual_seed(i)
        T, H, W = self.cfg.frames, self.cfg.height, self.cfg.width
        return {"labels": torch.randint(0, 35, (T, H, W), generator=g),
                "instances": torch.randint(0, 3, (T, H, W), generator=g),
                "frames": torch.rand(3, T, H, W, generator=g) * 2 - 1,
                "flows": torch.randn(2, T - 1, H, W, generator=g)}


@pytest.fixture
def tiny():
    spec = registry.get("vid2vid")
    cfg, train_cfg = spec.preset("tiny")
    return spec, cfg, train_cfg


def batch_of(cfg, n=2):
    data = RandomStreetBatches(cfg)
    return torch.utils.data.default_collate([data[i] for i in range(n)])


def test_every_phase_gives_finite_losses_and_gradients(tiny):
    spec, cfg, _ = tiny
    torch.manual_seed(0)
    nets = spec.build_nets(cfg)
    assert {"G", "E", "D_image", "D_video0", "D_video1"} == set(nets)
    phases, ema = spec.build_objective(cfg)
    assert [p.name for p in phases] == ["G", "D"] and ema == ("G",)
    logs, _ = check_phases(nets, phases, batch_of(cfg))
    assert {"flow", "warp_real", "warp_fake", "mask", "adv_video0", "adv_video1"} <= set(logs["G"])


def test_the_projected_image_discriminator_trains_its_heads_and_skips_feature_matching(tiny):
    """d_type="projected": D_image is heads on frozen EfficientNet-Lite0 features (projected.py), label-conditional;
    every head gets a gradient in the D phase; the G phase has no image feature matching (DiffAugment draws differ
    between real and fake)."""
    spec, cfg, _ = tiny
    cfg = V.Vid2VidConfig(**{**cfg.__dict__, "d_type": "projected"})
    torch.manual_seed(0)
    nets = spec.build_nets(cfg)
    assert type(nets["D_image"]).__name__ == "ProjectedDiscriminator"
    phases, _ = spec.build_objective(cfg)
    logs, _ = check_phases(nets, phases, batch_of(cfg), every_parameter=True)
    assert "adv_image" in logs["G"] and "feat_image" not in logs["G"] and "feat_video0" in logs["G"]
    with pytest.raises(ValueError, match="d_type"):
        V.Vid2VidConfig(d_type="huge")


def test_output_is_the_mask_blend_of_warped_and_hallucinated(tiny):
    """Eq. 4: with the mask forced to 0 the frame is the warped previous frame; forced to 1, the hallucination."""
    _, cfg, _ = tiny
    cfg = V.Vid2VidConfig(**{**cfg.__dict__, "foreground": False})
    torch.manual_seed(0)
    g = V.Vid2VidGenerator(cfg).eval()
    B, H, W, L = 1, cfg.height, cfg.width, cfg.past_frames
    labels = torch.randint(0, 35, (B, L + 1, H, W))
    semantic = V.semantic_maps(cfg, labels)
    past = torch.rand(B, L, 3, H, W) * 2 - 1
    fg = torch.zeros(B, 1, H, W)
    with torch.no_grad():
        g.to_mask.bias.fill_(-1e4)
        step = g(semantic, past, fg)
        assert torch.allclose(step.image, warp(past[:, -1], step.flow), atol=1e-6)
        g.to_mask.bias.fill_(1e4)
        step = g(semantic, past, fg)
        assert torch.allclose(step.image, step.hallucinated, atol=1e-6)


def test_foreground_classes_come_from_the_foreground_branch(tiny):
    _, cfg, _ = tiny
    torch.manual_seed(0)
    g = V.Vid2VidGenerator(cfg).eval()
    labels = torch.full((1, cfg.past_frames + 1, cfg.height, cfg.width), 7)   # road
    labels[..., 8:16, 8:24] = 26                                                # a car
    fg = V.foreground_mask(labels[:, -1]).unsqueeze(1)
    assert fg.sum() == 8 * 16
    with torch.no_grad():
        step = g(V.semantic_maps(cfg, labels), torch.zeros(1, cfg.past_frames, 3, cfg.height, cfg.width), fg)
    car = fg.bool().expand_as(step.image)
    assert torch.equal(step.image[car], step.foreground[car])
    assert not torch.equal(step.image[~car], step.foreground[~car])


def test_warp_with_the_true_flow_of_a_translation_reproduces_the_shifted_frame():
    torch.manual_seed(0)
    frame = torch.rand(1, 3, 24, 40)
    dx, dy = 3, -2
    shifted = torch.roll(frame, shifts=(dy, dx), dims=(2, 3))       # content moves right by 3 and up by 2
    flow = torch.zeros(1, 2, 24, 40)
    flow[:, 0], flow[:, 1] = -dx, -dy                                # each pixel of the new frame comes from p - d
    out = warp(frame, flow)
    inner = (slice(None), slice(None), slice(2, -2), slice(3, -3))   # away from the border that rolled around
    assert torch.equal(out[inner], shifted[inner])


def test_chained_flows_of_two_translations_add_up():
    a = torch.zeros(1, 2, 16, 16)
    a[:, 0] = 1.0
    b = torch.zeros(1, 2, 16, 16)
    b[:, 1] = -2.0
    assert torch.allclose(compose_flows(a, b), a + b)


def test_the_video_discriminator_sees_the_right_frame_rate_subsampling():
    T, H, W, K = 7, 4, 4, 3
    frames = torch.arange(T, dtype=torch.float32).view(1, 1, T, 1, 1).expand(1, 3, T, H, W)   # frame t filled with t
    flows = torch.ones(1, 2, T - 1, H, W)                                                    # 1 px per frame
    for step in (1, 2, 3):
        x = V.video_windows(frames, flows, step, K)
        n = T - (K - 1) * step
        assert x.shape == (n, 3 * K + 2 * (K - 1), H, W)
        for w in range(n):
            seen = x[w, 0:9:3, 0, 0].tolist()
            assert seen == [w, w + step, w + 2 * step]                       # frames `step` apart
            assert torch.allclose(x[w, 9:], torch.full((4, H, W), float(step)))   # flows chained over `step`
    with pytest.raises(ValueError, match="cannot hold"):
        V.video_windows(frames, flows, 4, K)


def test_region_edges_and_averages():
    regions = torch.tensor([[[0, 0, 1], [0, 0, 1], [2, 2, 2]]])
    edges = V.region_edges(regions)
    assert edges.tolist() == [[[0, 1, 1], [1, 1, 1], [1, 1, 1]]]
    feats = torch.arange(9, dtype=torch.float32).view(1, 1, 3, 3)
    avg = V.region_average(feats, regions)
    assert avg[0, 0].tolist() == [[2.0, 2.0, 3.5], [2.0, 2.0, 3.5], [7.0, 7.0, 7.0]]
    labels = torch.tensor([[5, 26, 26]])
    instances = torch.tensor([[0, 1, 2]])
    assert V.region_ids(labels, instances, 35).tolist() == [[5, 36, 37]]   # two cars are two regions


def test_generation_is_deterministic_and_keeps_the_size(tiny):
    _, cfg, _ = tiny
    model = registry.random_pipeline("vid2vid", "tiny")
    labels = np.random.default_rng(0).integers(0, 35, (3, 37, 61)).astype(np.uint8)
    a = model.synthesize(labels, seed=1)
    b = model.synthesize(labels, seed=1)
    assert a.frames.shape == (3, 37, 61, 3) and a.frames.dtype == np.uint8
    assert a.mask.shape == (3, 37, 61) and a.hallucinated.shape == (3, 37, 61, 3)
    assert np.array_equal(a.frames, b.frames)
    single = model.generate(labels[0])
    assert single.shape == (1, 37, 61, 3)


def test_bfloat16_arithmetic_stays_close_to_float32():
    model = registry.random_pipeline("vid2vid", "tiny")
    labels = np.random.default_rng(0).integers(0, 35, (3, 32, 64)).astype(np.uint8)
    exact = model.synthesize(labels, seed=1)
    fast = model.synthesize(labels, seed=1, precision="bfloat16")
    assert fast.frames.dtype == np.uint8 and fast.frames.shape == exact.frames.shape
    diff = np.abs(fast.frames.astype(int) - exact.frames.astype(int))
    # Rounded differently (so autocast is on), not a different picture. An untrained net on random labels is the
    # hard case (about 0.35 grey levels on average for the shipped weights on a street example).
    assert 0 < diff.mean() < 8.0
    assert np.corrcoef(fast.frames.ravel(), exact.frames.ravel())[0, 1] > 0.95
    assert np.abs(fast.mask.astype(int) - exact.mask.astype(int)).mean() < 8.0
    with pytest.raises(ValueError, match="precision"):
        model.generate(labels, precision="float8")


@pytest.mark.parametrize("bad, message", [
    (np.zeros((2, 3, 4, 5), np.uint8), "must be"),
    (np.zeros((0, 32, 32), np.uint8), "no frames"),
    (np.zeros((2, 32, 32), np.float32), "integer"),
    (np.full((2, 32, 32), 40, np.uint8), "Cityscapes ids"),
    (np.zeros((2, 8, 32), np.uint8), "at least 16"),
])
def test_bad_labels_get_a_clear_message(bad, message):
    model = registry.random_pipeline("vid2vid", "tiny")
    with pytest.raises(ValueError, match=message):
        model.generate(bad)


def test_style_clusters_are_stored_in_the_generator_and_sampled_per_class(tiny):
    spec, cfg, _ = tiny
    torch.manual_seed(0)
    nets = spec.build_nets(cfg)
    rng = np.random.default_rng(0)

    class Seq:
        labels = np.where(np.arange(cfg.width)[None, None] < cfg.width // 2, 7, 11).repeat(cfg.height, 1)
        labels = np.broadcast_to(labels, (2, cfg.height, cfg.width)).astype(np.uint8)
        instances = np.zeros_like(labels, dtype=np.int32)
        frames = rng.integers(0, 256, (2, cfg.height, cfg.width, 3), dtype=np.uint8)

    info = V.cluster_styles(nets["G"], nets["E"], [Seq(), Seq()])
    assert info["classes"] == 2 and set(info["samples"]) == {7, 11}
    pipe = V.Vid2VidPipeline(nets["G"], cfg, torch.device("cpu"))
    assert set(pipe.style_classes()) == {7, 11}
    assert pipe.sample_styles(3) == pipe.sample_styles(3)
    maps = V.style_maps(nets["G"], torch.from_numpy(Seq.labels.astype(np.int64))[None], {7: 0, 11: 1})
    assert torch.equal(maps[0, 0, :, 0, 0], nets["G"].style_centers[7, 0])
    assert torch.equal(maps[0, 0, :, 0, -1], nets["G"].style_centers[11, 1 % int(nets["G"].style_counts[11])])


def test_the_per_frame_baseline_has_no_flow_and_no_video_discriminator():
    cfg, _ = registry.get("vid2vid").preset("demo_per_frame")
    nets = registry.get("vid2vid").build_nets(cfg)
    assert not any(n.startswith("D_video") for n in nets)
    assert not nets["G"].warps and nets["G"].global_g.past is None


def test_two_trainer_steps_then_exact_resume(tiny, tmp_path):
    spec, cfg, train_cfg = tiny

    def trainer(run):
        torch.manual_seed(0)
        phases, ema = spec.build_objective(cfg)
        return GANTrainer(spec.build_nets(cfg), phases, ema, RandomStreetBatches(cfg), train_cfg, run, {}, "vid2vid")

    straight = trainer(tmp_path / "a")
    straight.fit(steps=3, progress=False)
    first = trainer(tmp_path / "b")
    first.fit(steps=2, progress=False)
    checkpoint = first.save_checkpoint()      # before the next trainer reseeds the global RNG
    resumed = trainer(tmp_path / "c")
    resumed.load_checkpoint(checkpoint)
    resumed.fit(steps=3, progress=False)
    for name in straight.nets:
        ours, theirs = straight.nets[name].state_dict(), resumed.nets[name].state_dict()
        assert all(torch.equal(ours[k], theirs[k]) for k in ours), name


def test_mechanism_scores_report_the_mask_by_region_and_how_much_styles_differ():
    from demo_lib.data.street import procedural_sequences
    from demo_lib.metrics import VideoMotion

    sequence = procedural_sequences([5], (64, 128), 4)[0]
    pipeline = registry.random_pipeline("vid2vid")
    scores = V.mechanism_scores(pipeline, sequence, VideoMotion.of(sequence.frames), seeds=2)
    masks = [scores[k] for k in ("mask_background", "mask_foreground", "mask_newly_visible") if k in scores]
    assert "mask_background" in scores and all(0 <= m <= 1 or np.isnan(m) for m in masks)
    assert all(v >= 0 for k, v in scores.items() if k.startswith("style_difference"))


def test_mask_by_region_averages_frames_after_the_first_by_class():
    labels = np.full((3, 4, 4), 7, np.int64)                   # road
    labels[:, :2] = 26                                         # car on the top half
    mask = np.zeros((3, 4, 4), np.uint8)
    mask[0] = 255                                              # frame 0 does not count
    mask[1:, :2] = 255                                         # the car is hallucinated, the road warped
    assert V.mask_by_region(mask, labels) == {"background": 0.0, "foreground": 1.0}
    new = np.zeros((2, 4, 4), bool)
    new[:, 2, 0] = True
    mask[1:, 2, 0] = 255
    scores = V.mask_by_region(mask, labels, new)
    assert scores == {"background": 0.0, "foreground": 1.0, "newly_visible": 1.0}
    assert np.isnan(V.mask_by_region(mask, np.full_like(labels, 7))["foreground"])
