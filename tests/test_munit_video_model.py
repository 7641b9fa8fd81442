"""Single-frame unsupervised video translation (MUNIT + temporal loss): shapes, finite losses and gradients, the
synthetic second frame, the temporal loss on equivariant maps, shared normalisation statistics, styles from seeds
and images, the pipeline on good and bad input, a weights round trip, and the trainer on the tiny preset."""

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn as nn
from conftest import check_phases

from demo_lib import registry
from demo_lib.flow import warp
from demo_lib.layers import MultiscalePatchDiscriminator, patch_logits
from demo_lib.models import munit_video as M
from demo_lib.trainer import GANTrainer, StepState
from demo_lib.video import image_to_tensor, tensor_to_image
from demo_lib.weights import save_weights


class RandomUnpairedBatches(torch.utils.data.Dataset):
    """Random tensors with the munit_video batch schema; deterministic per index."""

    def __init__(self, size: int, length: int = 16):
        self.size, self.length = size, length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        g = torch.Generator().manual_seed(i)
        return {"a": torch.rand(3, self.size, self.size, generator=g) * 2 - 1,
                "b": torch.rand(3, self.size, self.size, generator=g) * 2 - 1}


@pytest.fixture
def tiny():
    spec = registry.get("munit_video")
    cfg, train_cfg = spec.preset("tiny")
    return spec, cfg, train_cfg


def batch_of(cfg, n=2):
    data = RandomUnpairedBatches(cfg.image_size)
    return torch.utils.data.default_collate([data[i] for i in range(n)])


def smooth_frames(t=4, h=36, w=44, seed=0):
    """uint8 (t, h, w, 3) frames of smooth random colour fields, different per frame."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(t, 3, 4, 4, generator=g)
    return (torch.nn.functional.interpolate(coarse, (h, w), mode="bilinear") * 255).round().byte() \
        .permute(0, 2, 3, 1).numpy()


def tiny_pipeline(cfg, **changes):
    torch.manual_seed(0)
    cfg = dataclasses.replace(cfg, **changes)
    return M.MunitVideoPipeline(M.MunitVideoGenerator(cfg), cfg, torch.device("cpu"))


def test_shapes_of_codes_translations_and_discriminators(tiny):
    spec, cfg, _ = tiny
    torch.manual_seed(0)
    nets = spec.build_nets(cfg)
    assert set(nets) == {"G", "D_a", "D_b"}
    x = torch.rand(2, 3, 32, 40) * 2 - 1
    domain = nets["G"].domains["a"]
    content, style = domain.encode(x)
    d = cfg.content_downsamples
    assert content.shape == (2, cfg.channels * 2**d, 32 // 2**d, 40 // 2**d) and style.shape == (2, cfg.style_dim)
    image = nets["G"].domains["b"].decode(content, torch.randn(2, cfg.style_dim))
    assert image.shape == x.shape and image.abs().max() <= 1
    logits = patch_logits(nets["D_a"](x))
    assert len(logits) == cfg.d_scales and all(t.shape[:2] == (2, 1) for t in logits)


def test_every_phase_gives_finite_losses_and_gradients(tiny):
    spec, cfg, _ = tiny
    torch.manual_seed(0)
    nets = spec.build_nets(cfg)
    phases, ema = spec.build_objective(cfg)
    assert [p.name for p in phases] == ["G", "D"] and ema == ("G",)
    batch = batch_of(cfg)
    logs, state = check_phases(nets, phases, batch, every_parameter=True)       # every part of the nets is used
    assert {"adv_a", "adv_b", "image", "content", "style", "cycle", "temporal_recon", "temporal_cycle",
            "temporal_translation", "temporal"} == set(logs["G"])
    # [X^{n-1}; X^n] for the temporal loss
    assert state["translations"]["x_ab"].shape[0] == 2 * batch["a"].shape[0]


def test_plain_munit_synthesises_no_second_frame(tiny):
    spec, cfg, _ = tiny
    cfg = dataclasses.replace(cfg, lambda_temporal=0.0, lambda_cycle=0.0)
    torch.manual_seed(0)
    nets, state = spec.build_nets(cfg), StepState(0)
    _, logs = M.MunitVideoObjective(cfg).generator_loss(nets, batch_of(cfg), state)
    assert set(logs) == {"adv_a", "adv_b", "image", "content", "style"} and state["translations"]["x_ab"].shape[0] == 2


def test_synthetic_second_frame_is_the_warped_first_plus_noise():
    torch.manual_seed(0)
    x = torch.rand(3, 3, 48, 40) * 2 - 1
    torch.manual_seed(1)
    second, flow = M.synthetic_next_frame(x, 3.0, (2, 4), 0.0)
    assert flow.shape == (3, 2, 48, 40) and flow.norm(dim=1).max() <= 3.0 + 1e-5 and flow.abs().max() > 0.1
    assert torch.equal(second, warp(x, flow))
    torch.manual_seed(1)
    noisy, same_flow = M.synthetic_next_frame(x, 3.0, (2, 4), 0.05)
    assert torch.equal(same_flow, flow)                                     # seeded from the global generator
    assert abs(float((noisy - second).std()) - 0.05) < 0.005


def test_temporal_loss_vanishes_for_maps_that_commute_with_warping():
    torch.manual_seed(0)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    _, flow = M.synthetic_next_frame(x, 4.0, (2, 4), 0.0)
    second = warp(x, flow)
    assert M.temporal_loss(x, second, flow) == 0                            # identity: exactly
    pointwise = nn.Conv2d(3, 5, 1)                                          # linear per pixel: commutes with bilinear
    with torch.no_grad():
        assert M.temporal_loss(pointwise(x), pointwise(second), flow) < 1e-6
        ramp = torch.linspace(-1, 1, 32).view(1, 1, 1, 32)                 # position-dependent: does not commute
        assert M.temporal_loss(x + ramp, second + ramp, flow) > 1e-3


class IdentityTranslator(nn.Module):
    """A 'generator' whose every map is the identity: the temporal terms must then be exactly 0."""

    def forward(self, x_a, x_b, style_a, style_b, cycle=True):
        return {"c_a": x_a, "s_a": style_a, "c_b": x_b, "s_b": style_b, "x_aa": x_a, "x_bb": x_b, "x_ab": x_a,
                "x_ba": x_b, "c_ab": x_a, "s_ab": style_b, "c_ba": x_b, "s_ba": style_a, "x_aba": x_a, "x_bab": x_b}


def test_the_objective_pairs_each_output_with_its_own_domains_flow(tiny):
    spec, cfg, _ = tiny
    cfg = dataclasses.replace(cfg, temporal_noise_std=0.0)
    torch.manual_seed(0)
    nets = spec.build_nets(cfg)
    nets["G"] = IdentityTranslator()
    _, logs = M.MunitVideoObjective(cfg).generator_loss(nets, batch_of(cfg), StepState(0))
    for name in ("temporal_recon", "temporal_cycle", "temporal_translation", "temporal"):
        assert float(logs[name]) == 0.0, name
    assert float(logs["image"]) == 0.0 and float(logs["style"]) == 0.0


def test_sequence_norm_matches_instance_and_layer_norm_per_frame():
    torch.manual_seed(0)
    x = torch.randn(3, 4, 6, 5) * 2 + 1
    norm = M.SequenceNorm2d(4)
    nn.init.normal_(norm.weight)
    nn.init.normal_(norm.bias)
    reference = nn.InstanceNorm2d(4, affine=True)
    reference.load_state_dict(norm.state_dict())
    assert torch.allclose(norm(x), reference(x), atol=1e-5)
    layer = M.SequenceNorm2d(4, across_channels=True)
    expected = (x - x.mean((1, 2, 3), keepdim=True)) / (x.var((1, 2, 3), keepdim=True, unbiased=False) + 1e-5).sqrt()
    assert torch.allclose(layer(x), expected, atol=1e-5)


def test_shared_statistics_are_pooled_over_the_sampled_frames_clamped_and_reset():
    torch.manual_seed(0)
    norm = M.SequenceNorm2d(2, affine=False)
    frames = torch.randn(4, 2, 5, 5) * torch.tensor([1.0, 1e-4]).view(1, 2, 1, 1)   # channel 1 nearly constant
    with M.shared_statistics(norm, min_std=0.01, clamp=True) as freeze:
        recorded = norm(frames)
        mean = frames.mean((0, 2, 3), keepdim=True)
        std = (frames.var((0, 2, 3), keepdim=True, unbiased=False) + 1e-5).sqrt().clamp_min(0.01)
        assert torch.allclose(recorded, (frames - mean) / std, atol=1e-5)
        freeze()
        new = torch.randn(1, 2, 5, 5) * 10
        shared = norm(new)
        low, high = recorded.amin((0, 2, 3), keepdim=True), recorded.amax((0, 2, 3), keepdim=True)
        assert torch.allclose(shared, ((new - mean) / std).clamp(low, high), atol=1e-5)
        assert (shared >= low - 1e-6).all() and (shared <= high + 1e-6).all()
    assert norm.mode == "frame" and norm.stats is None                       # per-frame again after the block
    with pytest.raises(RuntimeError, match="boom"), M.shared_statistics(norm):
        raise RuntimeError("boom")
    assert norm.mode == "frame"


def test_shared_statistics_on_a_static_clip_equal_per_frame_statistics(tiny):
    _, cfg, _ = tiny
    pipe = tiny_pipeline(cfg, shared_min_std=0.0)
    static = np.repeat(smooth_frames(1), 4, axis=0)
    shared = pipe.generate(static, shared_norm=True)
    per_frame = pipe.generate(static, shared_norm=False)
    assert all(np.abs(shared[0].astype(int) - f).max() <= 1 for f in shared)  # identical frames in, same out
    assert np.abs(shared.astype(int) - per_frame).max() <= 1                # pooled == per-frame statistics
    moving = smooth_frames(4)
    assert not np.array_equal(pipe.generate(moving, shared_norm=True), pipe.generate(moving, shared_norm=False))


def test_outputs_do_not_depend_on_chunking(tiny):
    _, cfg, _ = tiny
    pipe = tiny_pipeline(cfg)
    frames = smooth_frames(5)
    for shared in (True, False):   # batch size may change the convolutions' float rounding, nothing more
        one, all_at_once = (pipe.generate(frames, shared_norm=shared, chunk=c).astype(int) for c in (1, 8))
        assert np.abs(one - all_at_once).max() <= 1 and (one != all_at_once).mean() < 1e-3


def test_sampled_frames_keep_their_recording_pass_output(tiny, monkeypatch):
    """The frames sampled for the shared statistics are translated once (their recording-pass output is the
    shared-statistics output), and equal what a shared-statistics pass would give them."""
    _, cfg, _ = tiny
    pipe = tiny_pipeline(cfg)
    frames = smooth_frames(7)
    calls = []
    encode = pipe.generator.domains["a"].content_encoder
    monkeypatch.setattr(encode, "forward", lambda x, f=encode.forward: calls.append(len(x)) or f(x))
    out = pipe.generate(frames, shared_norm=True, chunk=2)
    assert sum(calls) == len(frames) and calls[0] == cfg.shared_sample_frames == 3
    with M.shared_statistics(pipe.generator) as freeze:        # record on the same frames, then re-translate them
        sampled = [0, 3, 6]
        x = torch.cat([image_to_tensor(frames[i]) for i in sampled])     # 36x44: a multiple of 4, no padding
        style = pipe.style_code("photo2painting").expand(len(sampled), -1)
        with torch.no_grad():
            pipe.generator.domains["b"].decoder(encode(x), style)
            freeze()
            again = np.stack([tensor_to_image(y) for y in pipe.generator.domains["b"].decoder(encode(x), style)])
    assert np.abs(again.astype(int) - out[sampled]).max() <= 1


def test_generation_is_deterministic_and_keeps_the_size():
    pipe = registry.random_pipeline("munit_video", "tiny")
    frames = smooth_frames(3, 37, 61)
    a = pipe.generate(frames, seed=1)
    assert a.shape == frames.shape and a.dtype == np.uint8
    assert np.array_equal(a, pipe.generate(frames, seed=1))
    assert not np.array_equal(a, pipe.generate(frames, seed=2))
    assert pipe.generate(frames[:1], direction="painting2photo").shape == (1, 37, 61, 3)
    big = np.repeat(np.repeat(frames[:1], 3, axis=1), 3, axis=2)             # larger than inference_size: resized
    assert pipe.generate(big).shape == big.shape


def test_style_from_a_seed_or_from_a_reference_image(tiny):
    _, cfg, _ = tiny
    pipe = tiny_pipeline(cfg)
    s1, s2 = pipe.style_code("photo2painting", seed=1), pipe.style_code("photo2painting", seed=2)
    assert s1.shape == (1, cfg.style_dim) and torch.equal(s1, pipe.style_code("photo2painting", seed=1))
    assert not torch.equal(s1, s2)
    reference = smooth_frames(1, 40, 40, seed=5)[0]
    from_image = pipe.style_code("photo2painting", style_image=reference)
    x = torch.from_numpy(reference).permute(2, 0, 1)[None].float() / 127.5 - 1
    with torch.no_grad():
        assert torch.allclose(from_image, pipe.generator.domains["b"].style_encoder(x), atol=1e-5)   # target's
        assert not torch.allclose(from_image, pipe.generator.domains["a"].style_encoder(x))
    frames = smooth_frames(2)
    guided = pipe.generate(frames, style_image=reference)
    assert np.array_equal(guided, pipe.generate(frames, seed=7, style_image=reference))   # the image wins
    assert not np.array_equal(guided, pipe.generate(frames, seed=7))


@pytest.mark.parametrize("frames, kwargs, message", [
    (np.zeros((32, 32, 3), np.uint8), {}, r"\(T, H, W, 3\)"),
    (np.zeros((2, 32, 32, 4), np.uint8), {}, r"\(T, H, W, 3\)"),
    (np.zeros((2, 32, 32, 3), np.float32), {}, "uint8"),
    (np.zeros((0, 32, 32, 3), np.uint8), {}, "no frames"),
    (np.zeros((2, 8, 32, 3), np.uint8), {}, "at least 16"),
    ([[0]], {}, "numpy array"),
    (np.zeros((2, 32, 32, 3), np.uint8), {"direction": "photo2cartoon"}, "photo2painting"),
    (np.zeros((2, 32, 32, 3), np.uint8), {"style_image": np.zeros(5, np.uint8)}, "style image"),
])
def test_bad_input_gets_a_clear_message(frames, kwargs, message):
    pipe = registry.random_pipeline("munit_video", "tiny")
    with pytest.raises(ValueError, match=message):
        pipe.generate(frames, **kwargs)


def test_the_pipeline_holds_no_discriminator_and_round_trips_through_a_weights_file(tiny, tmp_path):
    spec, cfg, _ = tiny
    torch.manual_seed(0)
    nets = spec.build_nets(cfg)
    card = {"model": "munit_video", "variant": "t", "paper": {}, "config": dataclasses.asdict(cfg), "train": {},
            "metrics": {}, "license": "MIT", "limitations": ""}
    path = save_weights(nets[spec.inference_net].state_dict(), tmp_path / "t", card)
    pipe = registry.pipeline_from_file("munit_video", path, "cpu")
    assert isinstance(pipe.generator, M.MunitVideoGenerator)
    assert not any(isinstance(m, MultiscalePatchDiscriminator) for m in pipe.generator.modules())
    direct = M.MunitVideoPipeline(nets["G"], cfg, torch.device("cpu"))
    frames = smooth_frames(2)
    assert np.array_equal(pipe.generate(frames, seed=3), direct.generate(frames, seed=3))


def test_two_trainer_steps_then_exact_resume(tiny, tmp_path):
    spec, cfg, train_cfg = tiny

    def trainer(run):
        torch.manual_seed(0)
        phases, ema = spec.build_objective(cfg)
        return GANTrainer(spec.build_nets(cfg), phases, ema, RandomUnpairedBatches(cfg.image_size), train_cfg, run,
                          {}, "munit_video")

    straight = trainer(tmp_path / "a")
    straight.fit(steps=3, progress=False)
    first = trainer(tmp_path / "b")
    first.fit(steps=2, progress=False)
    checkpoint = first.save_checkpoint()   # before building the next trainer: that reseeds the global RNG
    resumed = trainer(tmp_path / "c")
    resumed.load_checkpoint(checkpoint)
    resumed.fit(steps=3, progress=False)
    for name in straight.nets:
        ours, theirs = straight.nets[name].state_dict(), resumed.nets[name].state_dict()
        assert all(torch.equal(ours[k], theirs[k]) for k in ours), name
